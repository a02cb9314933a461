// CaptureLoop: the mechanism that turns a backend's I/O events into epochs in the capture ring.
// At each I/O event: pause the guest, read and clear the dirty set, copy dirty pages, vCPU and device
// state and the disk write into the ring, end the epoch; then either wait for the peer's commit before
// resuming (strict) or resume at once and hold only the I/O until its epoch commits (pipelined).
// Written once for every backend (see GuestBackend).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <vector>

#include "capture/capture_ring_writer.h"
#include "errors/result.h"
#include "hostshim/disk_extents.h"
#include "hostshim/guest_backend.h"

namespace replink {

enum class SyncMode {
  kStrict,     // the vCPUs stay stopped until the epoch is committed
  kPipelined,  // the vCPUs resume after the copy; only the I/O waits for the commit
};

struct CaptureLoopOptions {
  SyncMode mode = SyncMode::kPipelined;
  uint32_t max_inflight_epochs = 64;       // pipelined: bound on epochs captured but not committed
  uint64_t commit_timeout_ns = 10'000'000'000ULL;  // a commit slower than this is a failure
  uint64_t slot_timeout_ns = 10'000'000'000ULL;
  uint64_t event_timeout_ns = 100'000'000;  // how long WaitIoEvent may block before we re-check
  uint32_t copy_batch = 256;               // pages per CopyPages call (Xen maps in batches)
  uint32_t deferred_retries = 8;           // attempts for frames the backend could not read
  bool release_io_on_failure = true;       // degrade (run unprotected) rather than stall the guest
};

struct CaptureStats {
  uint64_t epochs = 0;
  uint64_t committed = 0;
  uint64_t failed = 0;
  uint64_t pages = 0;
  uint64_t zero_pages = 0;
  uint64_t disk_write_bytes = 0;
  uint64_t blob_bytes = 0;
  uint64_t deferred_pages = 0;
  uint64_t pause_ns_total = 0;   // time the guest was stopped for syncs
  uint64_t pause_ns_max = 0;
  uint64_t last_committed_epoch = 0;
  uint64_t catch_up_epochs = 0;  // epochs that resynchronised the peer (the first one included)
};

class CaptureLoop {
 public:
  CaptureLoop(GuestBackend& backend, CaptureRingWriter& ring, CaptureLoopOptions options);

  // Captures up to `max_epochs` epochs (0 = forever) or until `stop()` returns true, then waits for
  // the completion of every epoch in flight.
  Result<void> Run(uint64_t max_epochs, const std::function<bool()>& stop);
  const CaptureStats& stats() const { return stats_; }
  // Called after each epoch is captured (for progress output); may be empty.
  std::function<void(const CaptureStats&)> on_epoch;

 private:
  struct HeldIo {
    uint64_t epoch;
    IoEvent event;
    bool released = false;  // let go unprotected after its epoch failed; kept until a commit covers it
  };
  // What an epoch changed, kept until the epoch commits: a catch-up epoch resends all of it.
  struct Footprint {
    uint64_t epoch;
    std::vector<uint64_t> gfns;
    std::vector<DiskExtent> disk;
  };
  Result<void> CaptureEpoch(const IoEvent& event);
  Result<void> CopyDirtyPages();
  Result<void> PushDiskWrite(uint16_t disk, uint64_t sector, std::span<const std::byte> data);
  Result<void> PushCatchUpDisk(const IoEvent& event);
  Result<void> DrainCompletions(bool wait, uint64_t until_epoch);
  Result<void> ReleaseThrough(uint64_t epoch, bool committed);

  GuestBackend& backend_;
  CaptureRingWriter& ring_;
  CaptureLoopOptions options_;
  GuestInfo info_;
  DirtyBitmap dirty_;
  uint64_t next_epoch_;
  std::deque<HeldIo> held_;
  std::deque<Footprint> footprints_;
  bool need_catch_up_ = true;  // the first epoch copies everything
  uint64_t resolved_epochs_ = 0;      // completions received (committed or failed)
  uint64_t last_resolved_epoch_ = 0;
  CaptureStats stats_;
  std::vector<std::byte> blob_buffer_;
  std::vector<uint64_t> batch_gfns_;
  std::vector<std::byte*> batch_dsts_;
  std::vector<std::byte> disk_buffer_;
};

}  // namespace replink
