// Applying one staged epoch in place: pages and state blobs into the mapped memory image, disk writes
// through io_uring. Used for live commits and for replaying a journal at open, so a replay is exactly
// a re-run of the same code. Applying writes absolute content (no read-modify-write), which makes it
// idempotent: re-applying an epoch that was partly or fully applied yields the same replica.
#pragma once

#include <cstddef>
#include <span>

#include "errors/result.h"
#include "replica/commit_step.h"
#include "replica/replica_image_layout.h"
#include "replica/staged_epoch.h"
#include "replica/uring_disk_writer.h"

namespace replink::replica {

struct ApplyTarget {
  const ReplicaGeometry* geometry = nullptr;
  std::byte* image = nullptr;  // the writable mapping of the memory image
  ImageLayout layout;
  std::span<const int> disk_fds;  // one per geometry->disk_sectors entry
  UringDiskWriter* disk_writer = nullptr;
};

struct ApplyStats {
  uint64_t pages = 0;
  uint64_t zero_pages = 0;
  uint64_t blob_bytes = 0;
  uint64_t disk_bytes = 0;
};

// Checks every record against the geometry and the payload before anything is applied: a journal
// read back from disk is untrusted, and a bad record must not leave a half-applied epoch behind.
Result<void> ValidateEpochRecords(const StagedEpoch& epoch, const ReplicaGeometry& geometry);

// Precondition: ValidateEpochRecords succeeded. Calls hook at kPagesHalfApplied, kMemoryApplied and
// kDisksWritten.
Result<ApplyStats> ApplyEpoch(const StagedEpoch& epoch, const ApplyTarget& target, const CommitHook& hook);

}  // namespace replink::replica
