// Replica disk writes and syncs through io_uring: all writes of an epoch are in flight at once and
// the call returns only when every byte has been written (short writes are resubmitted), so
// ReplicaStore::Commit can promise "applied" when it returns.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>

#include "errors/result.h"

struct io_uring;

namespace replink::replica {

struct DiskWriteOp {
  int fd = -1;
  uint64_t offset = 0;
  const std::byte* data = nullptr;
  uint32_t length = 0;
};

class UringDiskWriter {
 public:
  static Result<UringDiskWriter> Create(unsigned queue_depth);

  // Writes every op completely. `while_in_flight` runs once the first batch is submitted, so other
  // work (the memory apply) overlaps the writes. On error, waits for the writes already in flight
  // before returning.
  Result<void> WriteAll(std::span<const DiskWriteOp> ops, const std::function<void()>& while_in_flight = {});
  // fdatasync of every fd, issued together.
  Result<void> SyncAll(std::span<const int> fds);

 private:
  struct RingCloser {
    void operator()(io_uring* ring) const;
  };
  UringDiskWriter() = default;
  // Submits queued entries and waits for at least one completion; retries EINTR.
  Result<void> SubmitAndWait();

  std::unique_ptr<io_uring, RingCloser> ring_;  // heap: the ring struct must not move
  unsigned depth_ = 0;
};

}  // namespace replink::replica
