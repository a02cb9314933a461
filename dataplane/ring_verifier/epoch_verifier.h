// EpochVerifier: a dataplane-side consumer without the network. It reads a capture ring, sends every
// page through the sender's codec chain and the receiver's decoder (as the two appliances would),
// stages each epoch, checks the shim's end-of-epoch checksum against the decoded content, applies it
// to an in-memory replica and completes the epoch. With the guest's memory mapped read-only (strict
// mode: the guest is stopped until the completion) it also compares every committed page with the
// guest's own copy. Used by the foundation demo and tests; the DPDK dataplane replaces it on the wire.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <set>
#include <optional>
#include <vector>

#include "capture/capture_ring_reader.h"
#include "capture/epoch_checksum.h"
#include "codec/codec_policy.h"
#include "codec/page_decoder.h"
#include "codec/page_encoder.h"

namespace replink {

struct VerifierStats {
  uint64_t epochs_committed = 0;
  uint64_t epochs_failed = 0;
  uint64_t pages = 0;
  uint64_t zero_records = 0;
  uint64_t payload_bytes = 0;   // encoded page payloads (what would cross the wire)
  uint64_t page_bytes = 0;      // raw bytes of those pages
  uint64_t memory_mismatches = 0;
  uint64_t pages_compared = 0;
  uint64_t catch_up_epochs = 0;
  uint64_t epochs_discarded = 0;  // after a failure, until the next catch-up epoch
  uint64_t disk_bytes = 0;
};

class EpochVerifier {
 public:
  EpochVerifier(CaptureRingReader& reader, codec::PageEncoder encoder, codec::CodecSetting setting,
                const std::byte* guest_memory /* nullable, read-only */);

  // Processes whatever the ring holds. Returns an error when the stream failed (malformed ring) or
  // an epoch failed verification (the epoch is completed as failed first).
  Result<void> Poll();
  const VerifierStats& stats() const { return stats_; }
  const codec::PageEncoder& encoder() const { return encoder_; }
  // Test hook: these epochs are completed as failed instead of committed (as if the peer lost them).
  std::set<uint64_t> fail_epochs;
  // The replica disk (disk 0), for comparison with the primary's.
  std::span<const std::byte> replica_disk() const { return replica_disk_; }
  // Called with each epoch after it is applied to the replica and before its completion is posted.
  std::function<void(uint64_t epoch)> on_commit;
  // Full comparison of the replica with the guest's memory (at a quiescent point).
  uint64_t CountReplicaMismatches(const std::byte* guest_memory) const;

 private:
  Result<void> Stage(const CaptureRecord& record);
  Result<void> Commit(const CaptureRecord& end);
  Result<void> CompleteWithRetry(uint64_t epoch, capture_abi::CompletionStatus status);
  std::byte* ReplicaPage(uint64_t gfn) { return replica_.data() + gfn * kPageSize; }

  CaptureRingReader& reader_;
  codec::PageEncoder encoder_;
  codec::FixedPolicy policy_;
  codec::CodecSetting setting_;
  codec::PageDecoder decoder_;
  const std::byte* guest_memory_;
  std::vector<std::byte> replica_;
  std::vector<uint64_t> replica_version_;   // epoch that last wrote each page (0 = never)
  std::vector<std::byte> replica_disk_;
  struct StagedDiskWrite {
    uint64_t sector;
    std::vector<std::byte> data;
  };
  std::vector<StagedDiskWrite> staged_disk_;
  bool discarding_ = false;  // an epoch failed: drop everything until a catch-up epoch
  // The epoch being staged.
  uint64_t epoch_ = 0;
  std::vector<uint64_t> staged_gfns_;
  std::vector<std::byte> staged_pages_;
  std::vector<int64_t> staged_index_;       // gfn -> index in staged_gfns_, -1 if not staged
  EpochChecksum checksum_;
  std::array<std::byte, kPageSize> payload_{};
  std::vector<std::byte> blob_;
  std::vector<CaptureRecord> batch_;
  VerifierStats stats_;
};

}  // namespace replink
