#include "hostshim/synthetic/synthetic_backend.h"

#include <cstring>
#include <ctime>
#include <thread>

namespace replink {
namespace {

uint64_t NowNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000'000ULL + uint64_t(ts.tv_nsec);
}

// Disk-write buffers are recycled round-robin; more than this many held writes would overwrite one
// still held, so the capture loop's in-flight bound must stay below it.
constexpr std::size_t kDiskBufferRing = 1024;

}  // namespace

SyntheticBackend::SyntheticBackend(SyntheticGuestSpec spec, SharedRegion memory, SharedRegion disk)
    : spec_(std::move(spec)),
      memory_(std::move(memory)),
      disk_(std::move(disk)),
      workload_(spec_.workload, spec_.guest_pages),
      dirty_(spec_.guest_pages),
      disk_writes_(kDiskBufferRing) {}

Result<SyntheticBackend> SyntheticBackend::Create(const SyntheticGuestSpec& spec) {
  if (spec.guest_pages == 0) return MakeError(Errc::kInvalidArgument, "guest of 0 pages");
  if (spec.workload.disk_write_bytes % kSectorSize != 0 || spec.workload.disk_write_bytes == 0 ||
      spec.workload.disk_write_bytes > (1u << 20))
    return MakeError(Errc::kInvalidArgument, "disk_write_bytes {} must be a multiple of 512 in (0, 1 MiB]",
                     spec.workload.disk_write_bytes);
  if (spec.disk_sectors < spec.workload.disk_write_bytes / kSectorSize)
    return MakeError(Errc::kInvalidArgument, "disk of {} sectors is smaller than one write", spec.disk_sectors);
  REPLINK_ASSIGN_OR_RETURN(SharedRegion memory,
                           SharedRegion::Create("replink-synthetic-guest", spec.guest_pages * kPageSize, false));
  REPLINK_ASSIGN_OR_RETURN(SharedRegion disk, SharedRegion::CreateSparse("replink-synthetic-disk",
                                                                         spec.disk_sectors * kSectorSize));
  SyntheticBackend b(spec, std::move(memory), std::move(disk));
  // Start from a plausible image rather than all zeros: some text, some random, some zero.
  for (uint64_t gfn = 0; gfn < spec.guest_pages; ++gfn) {
    std::span<std::byte> page(b.memory_.data() + gfn * kPageSize, kPageSize);
    if (gfn % 4 != 3) b.workload_.Mutate(page);
  }
  return b;
}

GuestInfo SyntheticBackend::Describe() const {
  GuestInfo info;
  info.name = spec_.name;
  info.guest_pages = spec_.guest_pages;
  info.vcpu_count = spec_.vcpu_count;
  info.disk_count = 1;
  info.disk_sectors = spec_.disk_sectors;
  info.device_blobs = 0;
  return info;
}

Result<void> SyntheticBackend::StartDirtyTracking() {
  tracking_ = true;
  first_collect_ = true;
  next_event_ns_ = NowNs();
  return Ok();
}

Result<std::optional<IoEvent>> SyntheticBackend::WaitIoEvent(uint64_t timeout_ns) {
  if (paused_) return MakeError(Errc::kState, "guest is paused");
  if (spec_.workload.epoch_rate > 0) {
    uint64_t now = NowNs();
    if (next_event_ns_ > now) {
      uint64_t wait = next_event_ns_ - now;
      if (wait > timeout_ns) {
        std::this_thread::sleep_for(std::chrono::nanoseconds(timeout_ns));
        return std::optional<IoEvent>();
      }
      std::this_thread::sleep_for(std::chrono::nanoseconds(wait));
    }
    next_event_ns_ += static_cast<uint64_t>(1e9 / spec_.workload.epoch_rate);
  }
  // The guest computes: dirty some pages.
  workload_.ChooseFrames(&frames_);
  for (uint64_t gfn : frames_) {
    workload_.Mutate({memory_.data() + gfn * kPageSize, kPageSize});
    if (tracking_) dirty_.Set(gfn);
  }
  ++step_;
  IoEvent ev;
  ev.id = step_;
  if (step_ % 2 == 1) {
    ev.trigger = EpochTrigger::kDiskWrite;
    auto& buf = disk_writes_[step_ % kDiskBufferRing];
    buf.resize(spec_.workload.disk_write_bytes);
    workload_.FillDiskData(buf, step_);
    uint64_t sectors = buf.size() / kSectorSize;
    ev.has_disk_write = true;
    ev.disk = 0;
    ev.sector = (step_ * sectors) % (spec_.disk_sectors - sectors + 1);
    ev.disk_data = buf;
  } else {
    ev.trigger = EpochTrigger::kNetSend;
  }
  return std::optional<IoEvent>(ev);
}

Result<void> SyntheticBackend::Pause() {
  paused_ = true;
  return Ok();
}

Result<void> SyntheticBackend::Resume() {
  paused_ = false;
  return Ok();
}

Result<void> SyntheticBackend::CollectDirty(DirtyBitmap& dirty) {
  if (!tracking_) return MakeError(Errc::kState, "dirty tracking is off");
  if (dirty.pages() != spec_.guest_pages) dirty.Resize(spec_.guest_pages);
  if (first_collect_) {
    dirty.SetAll();  // initial sync: the peer has nothing yet
    first_collect_ = false;
  } else {
    dirty.words() = dirty_.words();
  }
  dirty_.Clear();
  return Ok();
}

Result<void> SyntheticBackend::CopyPages(std::span<const uint64_t> gfns, std::span<std::byte* const> dsts,
                                         std::vector<uint64_t>*) {
  for (std::size_t i = 0; i < gfns.size(); ++i) {
    if (gfns[i] >= spec_.guest_pages) return MakeError(Errc::kInvalidArgument, "gfn {} beyond guest", gfns[i]);
    std::memcpy(dsts[i], memory_.data() + gfns[i] * kPageSize, kPageSize);
  }
  return Ok();
}

void SyntheticBackend::FillVcpuState(uint32_t index, uint64_t step, std::span<std::byte> out) {
  // A fake register file: changes every step, differs per vCPU.
  for (std::size_t i = 0; i + 8 <= out.size(); i += 8) {
    uint64_t v = (step * 0x100000001b3ULL) ^ (uint64_t{index} << 48) ^ i;
    std::memcpy(out.data() + i, &v, 8);
  }
}

Result<std::size_t> SyntheticBackend::ReadVcpuState(uint32_t index, std::span<std::byte> out) {
  if (index >= spec_.vcpu_count) return MakeError(Errc::kInvalidArgument, "vcpu {}", index);
  if (out.size() < kVcpuStateBytes) return MakeError(Errc::kNoSpace, "vcpu state buffer too small");
  FillVcpuState(index, step_, out.first(kVcpuStateBytes));
  return kVcpuStateBytes;
}

Result<std::size_t> SyntheticBackend::ReadDeviceState(uint32_t id, std::span<std::byte>) {
  return MakeError(Errc::kUnsupported, "synthetic guest has no device {}", id);
}

Result<void> SyntheticBackend::ReleaseIo(const IoEvent& event) {
  if (event.has_disk_write) {
    uint64_t end = event.sector * kSectorSize + event.disk_data.size();
    if (event.disk != 0 || end > disk_.size()) return MakeError(Errc::kInvalidArgument, "disk write beyond disk");
    std::memcpy(disk_.data() + event.sector * kSectorSize, event.disk_data.data(), event.disk_data.size());
  }
  ++released_ios_;
  return Ok();
}

Result<void> SyntheticBackend::ReadDisk(uint16_t disk, uint64_t sector, std::span<std::byte> out) {
  if (disk != 0 || sector * kSectorSize + out.size() > disk_.size())
    return MakeError(Errc::kInvalidArgument, "disk read {}:{} (+{} bytes) beyond disk", disk, sector, out.size());
  std::memcpy(out.data(), disk_.data() + sector * kSectorSize, out.size());
  return Ok();
}

}  // namespace replink
