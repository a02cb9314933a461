// The baseline sender's capture: the same GuestBackend steps the replink shim's CaptureLoop takes
// (pause, read and clear the dirty set, copy the pages, the vCPU/device state and the disk write),
// but into one contiguous buffer laid out as the baseline wire message, so a sender can hand it to
// the kernel with one writev / sendmsg. The guest's pause and resume stay with the caller (strict
// keeps the guest stopped until the ack).
#pragma once

#include <sys/uio.h>

#include <array>
#include <cstdint>
#include <vector>

#include "bench/remus/baseline_wire.h"
#include "errors/result.h"
#include "hostshim/guest_backend.h"

namespace replink::bench::remus {

// One epoch as it goes on the wire; sized once for the largest epoch (every guest page).
class EpochBuffer {
 public:
  explicit EpochBuffer(const GuestInfo& info);

  EpochHeader header{};
  std::vector<uint64_t> gfns;
  std::vector<std::byte> pages;  // page_count * 4096, contiguous
  std::vector<std::byte> blobs;  // BlobHeader + bytes, repeated
  std::vector<std::byte> disk;   // the disk write
  std::size_t blob_bytes = 0;

  // The message as iovecs (empty parts left out); valid until the buffer is refilled.
  std::span<const iovec> Iovecs();
  uint64_t wire_bytes() const;

 private:
  std::array<iovec, 5> iov_{};
};

class EpochCapturer {
 public:
  explicit EpochCapturer(GuestBackend& backend);

  // Captures epoch `epoch` for `event` into `out`; the guest must be paused. capture_ns is the
  // moment of the I/O event (the replink shim stamps its epochs at the same point).
  Result<void> Capture(const IoEvent& event, uint64_t epoch, uint64_t capture_ns, EpochBuffer& out);
  const GuestInfo& info() const { return info_; }

 private:
  GuestBackend& backend_;
  GuestInfo info_;
  DirtyBitmap dirty_;
  std::vector<std::byte*> dsts_;
  std::vector<uint64_t> deferred_;
};

uint64_t MonotonicNs();

}  // namespace replink::bench::remus
