#include "bench/remus/baseline_capture.h"

#include <time.h>

#include <cstring>

namespace replink::bench::remus {

uint64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

EpochBuffer::EpochBuffer(const GuestInfo& info)
    : gfns(info.guest_pages),
      pages(info.guest_pages * kPageSize),
      blobs((info.vcpu_count + info.device_blobs) * (sizeof(BlobHeader) + kMaxBlobBytes)),
      disk(kMaxDiskBytes) {
  // Prefault: first-touch faults would be charged to the first epochs only (FIELD-NOTES: ~30x).
  std::memset(pages.data(), 0, pages.size());
  std::memset(blobs.data(), 0, blobs.size());
  std::memset(disk.data(), 0, disk.size());
}

std::span<const iovec> EpochBuffer::Iovecs() {
  std::size_t n = 0;
  auto add = [&](const void* base, std::size_t len) {
    if (len != 0) iov_[n++] = iovec{const_cast<void*>(base), len};
  };
  add(&header, sizeof(header));
  add(gfns.data(), header.page_count * sizeof(uint64_t));
  add(pages.data(), std::size_t{header.page_count} * kPageSize);
  add(blobs.data(), blob_bytes);
  add(disk.data(), header.disk_bytes);
  return {iov_.data(), n};
}

uint64_t EpochBuffer::wire_bytes() const {
  return sizeof(header) + header.page_count * (sizeof(uint64_t) + kPageSize) + blob_bytes + header.disk_bytes;
}

EpochCapturer::EpochCapturer(GuestBackend& backend) : backend_(backend), info_(backend.Describe()) {
  dirty_.Resize(info_.guest_pages);
}

Result<void> EpochCapturer::Capture(const IoEvent& event, uint64_t epoch, uint64_t capture_ns, EpochBuffer& out) {
  REPLINK_TRY(backend_.CollectDirty(dirty_));
  uint32_t count = 0;
  dirty_.ForEach([&](uint64_t gfn) { out.gfns[count++] = gfn; });
  dsts_.resize(count);
  for (uint32_t i = 0; i < count; ++i) dsts_[i] = out.pages.data() + std::size_t{i} * kPageSize;
  deferred_.clear();
  REPLINK_TRY(backend_.CopyPages({out.gfns.data(), count}, dsts_, &deferred_));
  if (!deferred_.empty())
    return MakeError(Errc::kUnsupported, "epoch {}: {} pages deferred (not in the baseline)", epoch,
                     deferred_.size());

  out.blob_bytes = 0;
  uint32_t blob_count = 0;
  auto add_blob = [&](RecordType type, uint32_t index, bool vcpu) -> Result<void> {
    std::byte* at = out.blobs.data() + out.blob_bytes;
    std::span<std::byte> room(at + sizeof(BlobHeader), kMaxBlobBytes);
    REPLINK_ASSIGN_OR_RETURN(std::size_t n, vcpu ? backend_.ReadVcpuState(index, room)
                                                 : backend_.ReadDeviceState(index, room));
    BlobHeader h{static_cast<uint16_t>(type), static_cast<uint16_t>(index), static_cast<uint32_t>(n)};
    std::memcpy(at, &h, sizeof(h));
    out.blob_bytes += sizeof(h) + n;
    ++blob_count;
    return Ok();
  };
  for (uint32_t v = 0; v < info_.vcpu_count; ++v) REPLINK_TRY(add_blob(RecordType::kVcpuState, v, true));
  for (uint32_t d = 0; d < info_.device_blobs; ++d) REPLINK_TRY(add_blob(RecordType::kDeviceState, d, false));

  uint32_t disk_bytes = 0;
  if (event.has_disk_write) {
    if (event.disk_data.size() > kMaxDiskBytes)
      return MakeError(Errc::kInvalidArgument, "epoch {}: disk write of {} bytes", epoch, event.disk_data.size());
    disk_bytes = static_cast<uint32_t>(event.disk_data.size());
    std::memcpy(out.disk.data(), event.disk_data.data(), disk_bytes);
  }
  out.header = EpochHeader{kEpochMagic, kWireVersion, static_cast<uint16_t>(event.has_disk_write ? kFlagHasDiskWrite : 0),
                           epoch, capture_ns, count, blob_count, disk_bytes, event.disk, 0, event.sector};
  return Ok();
}

}  // namespace replink::bench::remus
