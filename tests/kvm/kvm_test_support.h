// Shared pieces of the KVM tests: the skip-with-77 main, a capture ring with a consumer thread (the
// network-less EpochVerifier or a writer into a real ReplicaStore), guest images, and parsers for the
// guests' output and the ledger's log.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "capture/capture_ring_reader.h"
#include "capture/capture_ring_writer.h"
#include "errors/result.h"
#include "guests/ledger_format.h"
#include "hostshim/kvm/kvm_backend.h"

namespace replink::kvm::testing {

std::string GuestImagePath(const std::string& name);  // build tree's guests/<name>.bin
Result<std::unique_ptr<KvmBackend>> BootGuest(const std::string& name, KvmGuestSpec spec,
                                              const std::vector<uint64_t>& args, uint64_t seed = 7);

// A capture ring sized for a guest, and a consumer thread polling it.
struct RingHarness {
  std::unique_ptr<CaptureRingWriter> ring;
  std::unique_ptr<CaptureRingReader> reader;
  std::atomic<bool> stop{false};
  std::thread consumer;
  std::string consumer_error;

  static std::unique_ptr<RingHarness> Create(const GuestInfo& info, uint32_t slots = 4096);
  // poll() is called until stop; returns false when it found nothing to do.
  void Start(std::function<Result<bool>()> poll);
  void Stop();
  ~RingHarness() { Stop(); }
};

// Consumes a capture ring into a real replica directory (EpochStager + ReplicaStore), completing each
// epoch as committed: the secondary's commit path without the network.
class RingReplicaWriter {
 public:
  static Result<std::unique_ptr<RingReplicaWriter>> Open(CaptureRingReader& reader, const std::string& dir,
                                                         const GuestInfo& info);
  ~RingReplicaWriter();
  Result<bool> Poll();
  Result<void> Close();  // makes the replica openable by ReplicaImage
  uint64_t committed_epoch() const;

 private:
  struct Impl;
  explicit RingReplicaWriter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct Receipt {
  uint64_t seq = 0, from = 0, to = 0, amount = 0, total = 0;
  std::string line;
};
// Parses `receipt ...` lines; other lines are ignored. Fails on a malformed receipt line.
Result<std::vector<Receipt>> ParseReceipts(const std::string& text);

// Replays the ledger's disk log (records 1..through) from the initial balances.
Result<std::vector<int64_t>> ReplayLedgerLog(std::span<const std::byte> disk, uint64_t accounts, uint64_t initial,
                                             uint64_t through, std::vector<ledger_record>* records);

// The ledger's state header in a guest memory image.
const ledger_state* LedgerState(const std::byte* memory);

// A scratch directory removed at destruction.
struct TempDir {
  std::string path;
  TempDir();
  ~TempDir();
};

}  // namespace replink::kvm::testing
