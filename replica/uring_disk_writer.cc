#include "replica/uring_disk_writer.h"

#include <liburing.h>

#include <optional>
#include <vector>

namespace replink::replica {

void UringDiskWriter::RingCloser::operator()(io_uring* ring) const {
  io_uring_queue_exit(ring);
  delete ring;
}

Result<UringDiskWriter> UringDiskWriter::Create(unsigned queue_depth) {
  if (queue_depth == 0 || queue_depth > 4096)
    return MakeError(Errc::kInvalidArgument, "io_uring queue depth {} outside [1, 4096]", queue_depth);
  auto* ring = new io_uring{};
  int rc = io_uring_queue_init(queue_depth, ring, 0);
  if (rc < 0) {
    delete ring;
    errno = -rc;
    return SysError("io_uring_queue_init(depth {})", queue_depth);
  }
  UringDiskWriter writer;
  writer.ring_.reset(ring);
  writer.depth_ = queue_depth;
  return writer;
}

Result<void> UringDiskWriter::SubmitAndWait() {
  for (;;) {
    int rc = io_uring_submit_and_wait(ring_.get(), 1);
    if (rc >= 0) return Ok();
    // EINTR: entries not yet consumed stay in the submission queue for the next attempt.
    if (rc != -EINTR) {
      errno = -rc;
      return SysError("io_uring_submit_and_wait");
    }
  }
}

Result<void> UringDiskWriter::WriteAll(std::span<const DiskWriteOp> ops,
                                       const std::function<void()>& while_in_flight) {
  std::vector<uint32_t> written(ops.size(), 0);
  std::vector<std::size_t> resubmit;  // ops with bytes left after a short write or EAGAIN
  std::size_t next = 0;
  unsigned in_flight = 0;
  std::optional<Error> failure;
  bool overlap_pending = static_cast<bool>(while_in_flight);

  for (;;) {
    while (!failure && in_flight < depth_) {
      std::size_t i;
      if (!resubmit.empty()) {
        i = resubmit.back();
        resubmit.pop_back();
      } else if (next < ops.size()) {
        i = next++;
        if (ops[i].length == 0) continue;
      } else {
        break;
      }
      io_uring_sqe* sqe = io_uring_get_sqe(ring_.get());
      if (sqe == nullptr) {  // queue full; retry after reaping
        resubmit.push_back(i);
        break;
      }
      const DiskWriteOp& op = ops[i];
      io_uring_prep_write(sqe, op.fd, op.data + written[i], op.length - written[i], op.offset + written[i]);
      io_uring_sqe_set_data64(sqe, i);
      ++in_flight;
    }
    if (overlap_pending) {
      // Buffered writes on ext4 cannot complete inline and go to an io-wq worker: let it run while
      // the caller works. A submit error here resurfaces from SubmitAndWait below.
      if (in_flight > 0) (void)io_uring_submit(ring_.get());
      while_in_flight();
      overlap_pending = false;
    }
    if (in_flight == 0) break;
    if (auto waited = SubmitAndWait(); !waited.ok()) return std::move(waited).error();

    unsigned head = 0;
    unsigned seen = 0;
    io_uring_cqe* cqe = nullptr;
    io_uring_for_each_cqe(ring_.get(), head, cqe) {
      ++seen;
      --in_flight;
      auto i = static_cast<std::size_t>(io_uring_cqe_get_data64(cqe));
      int res = cqe->res;
      if (res == -EINTR || res == -EAGAIN) {
        resubmit.push_back(i);
      } else if (res < 0) {
        if (!failure) {
          errno = -res;
          failure = SysError("io_uring write of {} bytes at offset {} (fd {})", ops[i].length,
                             ops[i].offset, ops[i].fd);
        }
      } else if (res == 0) {
        if (!failure)
          failure = MakeError(Errc::kIo, "io_uring write made no progress at offset {} (fd {})",
                              ops[i].offset + written[i], ops[i].fd);
      } else {
        written[i] += static_cast<uint32_t>(res);
        if (written[i] < ops[i].length) resubmit.push_back(i);
      }
    }
    io_uring_cq_advance(ring_.get(), seen);
  }
  if (failure) return std::move(*failure);
  return Ok();
}

Result<void> UringDiskWriter::SyncAll(std::span<const int> fds) {
  std::size_t next = 0;
  unsigned in_flight = 0;
  std::optional<Error> failure;
  while (next < fds.size() || in_flight > 0) {
    while (next < fds.size() && in_flight < depth_) {
      io_uring_sqe* sqe = io_uring_get_sqe(ring_.get());
      if (sqe == nullptr) break;
      io_uring_prep_fsync(sqe, fds[next], IORING_FSYNC_DATASYNC);
      io_uring_sqe_set_data64(sqe, next);
      ++next;
      ++in_flight;
    }
    if (auto waited = SubmitAndWait(); !waited.ok()) return std::move(waited).error();
    unsigned head = 0;
    unsigned seen = 0;
    io_uring_cqe* cqe = nullptr;
    io_uring_for_each_cqe(ring_.get(), head, cqe) {
      ++seen;
      --in_flight;
      if (cqe->res < 0 && !failure) {
        errno = -cqe->res;
        failure = SysError("io_uring fdatasync of fd {}", fds[io_uring_cqe_get_data64(cqe)]);
      }
    }
    io_uring_cq_advance(ring_.get(), seen);
  }
  if (failure) return std::move(*failure);
  return Ok();
}

}  // namespace replink::replica
