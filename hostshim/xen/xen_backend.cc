#include "hostshim/xen/xen_backend.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <thread>

namespace replink::xen {
namespace {

constexpr uint32_t kShutdownSuspend = 2;  // SHUTDOWN_suspend (xen/sched.h)

uint64_t NowNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000'000ULL + uint64_t(ts.tv_nsec);
}

}  // namespace

XenBackend::XenBackend(XenHypervisor& hv, XenGuestControl* control, XenIoSource* io, XenBackendOptions options,
                       GuestInfo info)
    : hv_(hv), control_(control), io_(io), options_(std::move(options)), info_(std::move(info)) {}

Result<std::unique_ptr<XenBackend>> XenBackend::Create(XenHypervisor& hv, XenGuestControl* control, XenIoSource* io,
                                                       const XenBackendOptions& options) {
  REPLINK_ASSIGN_OR_RETURN(XenDomainState state, hv.DomainState(options.domid));
  if (state.domid != options.domid)
    return MakeError(Errc::kInvalidArgument, "xen domain {} does not exist (next is {})", options.domid, state.domid);
  if (!state.hvm)
    return MakeError(Errc::kUnsupported,
                     "xen domain {} is a PV guest: log-dirty on PV needs shadow paging, which this Xen is built "
                     "without; protect a PVH or HVM guest",
                     options.domid);
  if (state.dying) return MakeError(Errc::kState, "xen domain {} is dying", options.domid);
  if (options.style == XenCheckpointStyle::kSuspend && control == nullptr)
    return MakeError(Errc::kInvalidArgument, "suspend checkpoints need a guest control channel");
  if (options.type_scan_batch == 0) return MakeError(Errc::kInvalidArgument, "type_scan_batch of 0");
  REPLINK_ASSIGN_OR_RETURN(uint64_t gpfns, hv.GpfnCount(options.domid));
  GuestInfo info;
  info.name = options.name.empty() ? fmt::format("xen-dom{}", options.domid) : options.name;
  info.guest_pages = gpfns;
  info.vcpu_count = state.max_vcpu_id + 1;
  info.disk_count = io ? io->disk_count() : 0;
  info.disk_sectors = io ? io->disk_sectors() : 0;
  info.device_blobs = kXenDeviceBlobs;
  return std::unique_ptr<XenBackend>(new XenBackend(hv, control, io, options, std::move(info)));
}

// Which frames exist: a restore must populate exactly these, and the first epoch copies them all. The
// address space is mostly holes (special pages sit below 4 GiB), so it is kept as ranges.
Result<void> XenBackend::ScanPopulated() {
  populated_.clear();
  std::vector<uint64_t> gfns;
  for (uint64_t first = 0; first < info_.guest_pages; first += options_.type_scan_batch) {
    uint64_t n = std::min<uint64_t>(options_.type_scan_batch, info_.guest_pages - first);
    gfns.resize(n);
    types_.resize(n);
    for (uint64_t i = 0; i < n; ++i) gfns[i] = first + i;
    REPLINK_TRY(hv_.FrameTypes(options_.domid, gfns, types_));
    for (uint64_t i = 0; i < n; ++i) {
      if (types_[i] != XenFrameType::kRam) continue;
      uint64_t gfn = first + i;
      if (!populated_.empty() && populated_.back().first_gfn + populated_.back().count == gfn)
        ++populated_.back().count;
      else
        populated_.push_back(XenMemoryRange{gfn, 1});
    }
  }
  return Ok();
}

Result<void> XenBackend::StartDirtyTracking() {
  REPLINK_TRY(hv_.EnableLogDirty(options_.domid));
  REPLINK_TRY(ScanPopulated());
  tracking_ = true;
  first_collect_ = true;
  next_timer_ns_ = NowNs() + options_.timer_ns;
  return Ok();
}

Result<std::optional<IoEvent>> XenBackend::WaitIoEvent(uint64_t timeout_ns) {
  if (paused_) return MakeError(Errc::kState, "vm {}: guest is paused", info_.name);
  uint64_t now = NowNs();
  uint64_t wait = timeout_ns;
  if (options_.timer_ns) wait = std::min(wait, next_timer_ns_ > now ? next_timer_ns_ - now : 0);
  std::optional<IoEvent> event;
  if (io_) {
    REPLINK_ASSIGN_OR_RETURN(event, io_->WaitIoEvent(wait));
  } else if (wait) {
    std::this_thread::sleep_for(std::chrono::nanoseconds(wait));
  }
  now = NowNs();
  if (event) {
    next_timer_ns_ = now + options_.timer_ns;
    return event;
  }
  if (options_.timer_ns && now >= next_timer_ns_) {
    next_timer_ns_ = now + options_.timer_ns;
    ++stats_.timer_events;
    IoEvent timer;
    timer.trigger = EpochTrigger::kTimer;
    return std::optional<IoEvent>(timer);
  }
  return std::optional<IoEvent>();
}

Result<void> XenBackend::WaitForSuspend() {
  uint64_t deadline = NowNs() + options_.suspend_timeout_ns;
  for (uint64_t sleep_us = 50;; sleep_us = std::min<uint64_t>(sleep_us * 2, 5000)) {
    REPLINK_ASSIGN_OR_RETURN(XenDomainState state, hv_.DomainState(options_.domid));
    if (state.domid != options_.domid || state.dying)
      return MakeError(Errc::kClosed, "vm {}: domain {} went away while suspending", info_.name, options_.domid);
    if (state.shutdown) {
      if (state.shutdown_reason == kShutdownSuspend) return Ok();
      return MakeError(Errc::kClosed, "vm {}: domain {} shut down (reason {}) instead of suspending", info_.name,
                       options_.domid, state.shutdown_reason);
    }
    if (NowNs() > deadline)
      return MakeError(Errc::kTimeout, "vm {}: guest did not suspend within {} ms", info_.name,
                       options_.suspend_timeout_ns / 1'000'000);
    if (io_)
      REPLINK_TRY(io_->Service(sleep_us * 1000));
    else
      std::this_thread::sleep_for(std::chrono::microseconds(sleep_us));
  }
}

Result<void> XenBackend::Pause() {
  if (options_.style == XenCheckpointStyle::kSuspend) {
    REPLINK_TRY(control_->RequestSuspend(options_.domid));
    REPLINK_TRY(WaitForSuspend());
    ++stats_.suspends;
  } else {
    REPLINK_TRY(hv_.Pause(options_.domid));
  }
  paused_ = true;
  return Ok();
}

Result<void> XenBackend::Resume() {
  if (options_.style == XenCheckpointStyle::kSuspend)
    REPLINK_TRY(hv_.ResumeSuspended(options_.domid));
  else
    REPLINK_TRY(hv_.Unpause(options_.domid));
  paused_ = false;
  return Ok();
}

Result<void> XenBackend::CollectDirty(DirtyBitmap& dirty) {
  if (!tracking_) return MakeError(Errc::kState, "vm {}: dirty tracking is off", info_.name);
  if (!paused_) return MakeError(Errc::kState, "vm {}: CollectDirty while the guest runs", info_.name);
  if (dirty.pages() != info_.guest_pages) dirty.Resize(info_.guest_pages);
  REPLINK_TRY(hv_.CleanDirtyBitmap(options_.domid, dirty.words(), info_.guest_pages, true));
  ++stats_.dirty_rounds;
  if (first_collect_) {
    // Initial sync: the peer has nothing yet, so every populated frame goes.
    for (const XenMemoryRange& r : populated_)
      for (uint64_t g = r.first_gfn; g < r.first_gfn + r.count; ++g) dirty.Set(g);
    first_collect_ = false;
  }
  // Xen sizes its bitmap in whole words: bits past the last frame are not frames.
  if (info_.guest_pages % 64) dirty.words().back() &= (uint64_t{1} << (info_.guest_pages % 64)) - 1;
  return Ok();
}

Result<void> XenBackend::CopyPages(std::span<const uint64_t> gfns, std::span<std::byte* const> dsts,
                                   std::vector<uint64_t>* deferred) {
  if (gfns.size() != dsts.size()) return MakeError(Errc::kInvalidArgument, "{} gfns for {} slots", gfns.size(), dsts.size());
  for (uint64_t g : gfns)
    if (g >= info_.guest_pages) return MakeError(Errc::kInvalidArgument, "vm {}: gfn {} beyond guest", info_.name, g);
  errors_.assign(gfns.size(), 0);
  REPLINK_TRY(hv_.CopyFrames(options_.domid, gfns, dsts, errors_));
  // A frame that failed to map is either not populated (any more), which has no content, or transiently
  // unavailable (paged out, being ballooned): the latter goes back to the loop, which retries it.
  retry_gfns_.clear();
  for (std::size_t i = 0; i < gfns.size(); ++i)
    if (errors_[i] != 0) retry_gfns_.push_back(gfns[i]);
  if (retry_gfns_.empty()) {
    stats_.frames_copied += gfns.size();
    return Ok();
  }
  types_.resize(retry_gfns_.size());
  REPLINK_TRY(hv_.FrameTypes(options_.domid, retry_gfns_, types_));
  std::size_t k = 0;
  for (std::size_t i = 0; i < gfns.size(); ++i) {
    if (errors_[i] == 0) {
      ++stats_.frames_copied;
      continue;
    }
    XenFrameType type = types_[k++];
    if (type == XenFrameType::kHole || type == XenFrameType::kOther) {
      std::memset(dsts[i], 0, kPageSize);
      ++stats_.holes_zeroed;
    } else {
      deferred->push_back(gfns[i]);
      ++stats_.frames_deferred;
    }
  }
  return Ok();
}

Result<std::size_t> XenBackend::ReadVcpuState(uint32_t index, std::span<std::byte> out) {
  if (index >= info_.vcpu_count) return MakeError(Errc::kInvalidArgument, "vm {}: vcpu {}", info_.name, index);
  return hv_.VcpuContext(options_.domid, index, out);
}

Result<std::size_t> XenBackend::WritePlatformBlob(std::span<std::byte> out) {
  XenPlatformBlob blob{};
  blob.magic = kPlatformMagic;
  blob.version = kXenBlobVersion;
  REPLINK_ASSIGN_OR_RETURN(uint32_t version, hv_.XenVersion());
  blob.xen_major = version >> 16;
  blob.xen_minor = version & 0xffff;
  REPLINK_ASSIGN_OR_RETURN(XenTscInfo tsc, hv_.TscInfo(options_.domid));
  blob.tsc_mode = tsc.mode;
  blob.tsc_khz = tsc.khz;
  blob.tsc_nsec = tsc.nsec;
  blob.tsc_incarnation = tsc.incarnation;
  std::vector<XenHvmParamEntry> params;
  for (uint32_t index : kSavedHvmParams) {
    REPLINK_ASSIGN_OR_RETURN(uint64_t value, hv_.HvmParam(options_.domid, index));
    if (value != 0) params.push_back(XenHvmParamEntry{index, value});
  }
  blob.param_count = static_cast<uint32_t>(params.size());
  std::size_t bytes = sizeof(blob) + params.size() * sizeof(XenHvmParamEntry);
  if (out.size() < bytes) return MakeError(Errc::kNoSpace, "platform blob needs {} bytes", bytes);
  std::memcpy(out.data(), &blob, sizeof(blob));
  if (!params.empty()) std::memcpy(out.data() + sizeof(blob), params.data(), params.size() * sizeof(XenHvmParamEntry));
  return bytes;
}

Result<std::size_t> XenBackend::WriteMemoryMapBlob(std::span<std::byte> out) const {
  XenMemoryMapBlob blob{};
  blob.magic = kMemoryMapMagic;
  blob.version = kXenBlobVersion;
  blob.gpfn_count = info_.guest_pages;
  blob.range_count = populated_.size();
  std::size_t bytes = sizeof(blob) + populated_.size() * sizeof(XenMemoryRange);
  if (out.size() < bytes)
    return MakeError(Errc::kNoSpace, "vm {}: memory map of {} ranges does not fit a {} byte blob", info_.name,
                     populated_.size(), out.size());
  std::memcpy(out.data(), &blob, sizeof(blob));
  if (!populated_.empty())
    std::memcpy(out.data() + sizeof(blob), populated_.data(), populated_.size() * sizeof(XenMemoryRange));
  return bytes;
}

Result<std::size_t> XenBackend::ReadDeviceState(uint32_t id, std::span<std::byte> out) {
  switch (id) {
    case kDeviceHvmContext: {
      REPLINK_ASSIGN_OR_RETURN(std::size_t need, hv_.HvmContext(options_.domid, {}));
      if (need > out.size()) return MakeError(Errc::kNoSpace, "vm {}: HVM context of {} bytes", info_.name, need);
      return hv_.HvmContext(options_.domid, out.first(need));
    }
    case kDevicePlatform:
      return WritePlatformBlob(out);
    case kDeviceMemoryMap:
      return WriteMemoryMapBlob(out);
    default:
      return MakeError(Errc::kInvalidArgument, "vm {}: no device blob {}", info_.name, id);
  }
}

Result<void> XenBackend::ReleaseIo(const IoEvent& event) {
  if (!event.has_disk_write && event.trigger == EpochTrigger::kTimer) return Ok();
  if (!io_) return MakeError(Errc::kState, "vm {}: I/O event without an I/O source", info_.name);
  return io_->ReleaseIo(event);
}

Result<void> XenBackend::ReadDisk(uint16_t disk, uint64_t sector, std::span<std::byte> out) {
  if (!io_) return MakeError(Errc::kInvalidArgument, "vm {}: no disks", info_.name);
  return io_->ReadDisk(disk, sector, out);
}

}  // namespace replink::xen
