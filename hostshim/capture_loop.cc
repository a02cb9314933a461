#include "hostshim/capture_loop.h"

#include <algorithm>
#include <cstring>
#include <ctime>

namespace replink {
namespace {

using capture_abi::CaptureCompletion;
using capture_abi::CompletionStatus;

constexpr std::size_t kMaxBlobBytes = 1u << 20;
constexpr std::size_t kMaxDiskRecordBytes = 1u << 20;  // capture ring and link bound per record

uint64_t NowNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000'000ULL + uint64_t(ts.tv_nsec);
}

}  // namespace

CaptureLoop::CaptureLoop(GuestBackend& backend, CaptureRingWriter& ring, CaptureLoopOptions options)
    : backend_(backend),
      ring_(ring),
      options_(options),
      info_(backend.Describe()),
      dirty_(info_.guest_pages),
      next_epoch_(ring.identity().first_epoch),
      blob_buffer_(kMaxBlobBytes) {}

Result<void> CaptureLoop::Run(uint64_t max_epochs, const std::function<bool()>& stop) {
  REPLINK_TRY(backend_.StartDirtyTracking());
  while (max_epochs == 0 || stats_.epochs < max_epochs) {
    if (stop && stop()) break;
    REPLINK_TRY(DrainCompletions(false, 0));
    if (stats_.epochs - resolved_epochs_ >= options_.max_inflight_epochs) {
      REPLINK_TRY(DrainCompletions(true, last_resolved_epoch_ + 1));
      continue;
    }
    REPLINK_ASSIGN_OR_RETURN(std::optional<IoEvent> event, backend_.WaitIoEvent(options_.event_timeout_ns));
    if (!event) continue;
    REPLINK_TRY(CaptureEpoch(*event));
  }
  // Wait for the fate of every epoch still in flight, releasing its I/O accordingly.
  if (resolved_epochs_ < stats_.epochs) REPLINK_TRY(DrainCompletions(true, next_epoch_ - 1));
  return Ok();
}

Result<void> CaptureLoop::CaptureEpoch(const IoEvent& event) {
  uint64_t epoch = next_epoch_;
  uint64_t paused_at = NowNs();
  REPLINK_TRY(backend_.Pause());
  bool catch_up = need_catch_up_;
  REPLINK_TRY(ring_.BeginEpoch(epoch, event.trigger, paused_at, catch_up));
  REPLINK_TRY(backend_.CollectDirty(dirty_));
  Footprint footprint{epoch, {}, {}};
  dirty_.ForEach([&](uint64_t gfn) { footprint.gfns.push_back(gfn); });
  if (catch_up) {
    // Everything the peer may lack: the changes of every epoch it has not committed.
    for (const Footprint& f : footprints_)
      for (uint64_t gfn : f.gfns) dirty_.Set(gfn);
  }
  REPLINK_TRY(CopyDirtyPages());
  for (uint32_t v = 0; v < info_.vcpu_count; ++v) {
    REPLINK_ASSIGN_OR_RETURN(std::size_t n, backend_.ReadVcpuState(v, blob_buffer_));
    REPLINK_TRY(ring_.PushBlob(RecordType::kVcpuState, static_cast<uint16_t>(v), {blob_buffer_.data(), n},
                               options_.slot_timeout_ns));
    stats_.blob_bytes += n;
  }
  for (uint32_t d = 0; d < info_.device_blobs; ++d) {
    REPLINK_ASSIGN_OR_RETURN(std::size_t n, backend_.ReadDeviceState(d, blob_buffer_));
    REPLINK_TRY(ring_.PushBlob(RecordType::kDeviceState, static_cast<uint16_t>(d), {blob_buffer_.data(), n},
                               options_.slot_timeout_ns));
    stats_.blob_bytes += n;
  }
  if (event.has_disk_write)
    footprint.disk.push_back(DiskExtent{event.disk, event.sector, event.disk_data.size() / kSectorSize});
  if (catch_up) {
    REPLINK_TRY(PushCatchUpDisk(event));
  } else if (event.has_disk_write) {
    REPLINK_TRY(PushDiskWrite(event.disk, event.sector, event.disk_data));
  }
  REPLINK_TRY(ring_.EndEpoch(options_.slot_timeout_ns));
  ++next_epoch_;
  ++stats_.epochs;
  if (catch_up) {
    ++stats_.catch_up_epochs;
    need_catch_up_ = false;
  }
  held_.push_back(HeldIo{epoch, event});
  footprints_.push_back(std::move(footprint));

  if (options_.mode == SyncMode::kStrict) {
    // The guest stays stopped until the peer has the epoch: the whole sync is pause time.
    REPLINK_TRY(DrainCompletions(true, epoch));
  }
  REPLINK_TRY(backend_.Resume());
  uint64_t paused = NowNs() - paused_at;
  stats_.pause_ns_total += paused;
  stats_.pause_ns_max = std::max(stats_.pause_ns_max, paused);
  if (on_epoch) on_epoch(stats_);
  return Ok();
}

Result<void> CaptureLoop::CopyDirtyPages() {
  batch_gfns_.clear();
  std::vector<uint64_t> pending;
  pending.reserve(dirty_.Count());
  dirty_.ForEach([&](uint64_t gfn) { pending.push_back(gfn); });
  std::vector<uint64_t> deferred;
  for (uint32_t attempt = 0; !pending.empty(); ++attempt) {
    if (attempt > options_.deferred_retries)
      return MakeError(Errc::kIo, "vm {} epoch {}: {} frames still unreadable after {} retries (first gfn {})",
                       info_.name, next_epoch_, pending.size(), options_.deferred_retries, pending.front());
    deferred.clear();
    for (std::size_t off = 0; off < pending.size(); off += options_.copy_batch) {
      auto count = static_cast<uint32_t>(std::min<std::size_t>(options_.copy_batch, pending.size() - off));
      std::span<const uint64_t> gfns(pending.data() + off, count);
      REPLINK_TRY(ring_.ReservePageSlots(count, options_.slot_timeout_ns));
      batch_dsts_.resize(count);
      for (uint32_t i = 0; i < count; ++i) batch_dsts_[i] = ring_.ReservedSlot(i);
      std::size_t deferred_before = deferred.size();
      REPLINK_TRY(backend_.CopyPages(gfns, batch_dsts_, &deferred));
      if (deferred.size() == deferred_before) {
        REPLINK_TRY(ring_.CommitReservedPages(gfns));
        stats_.pages += count;
        continue;
      }
      // Some frames could not be read: keep the others, in slot order, without holes.
      batch_gfns_.clear();
      uint32_t filled = 0;
      for (uint32_t i = 0; i < count; ++i) {
        if (std::find(deferred.begin() + static_cast<std::ptrdiff_t>(deferred_before), deferred.end(), gfns[i]) !=
            deferred.end())
          continue;
        if (filled != i) std::memmove(ring_.ReservedSlot(filled), ring_.ReservedSlot(i), kPageSize);
        batch_gfns_.push_back(gfns[i]);
        ++filled;
      }
      REPLINK_TRY(ring_.CommitReservedPages(batch_gfns_));
      stats_.pages += filled;
      stats_.deferred_pages += deferred.size() - deferred_before;
    }
    pending.swap(deferred);
  }
  return Ok();
}

Result<void> CaptureLoop::PushDiskWrite(uint16_t disk, uint64_t sector, std::span<const std::byte> data) {
  for (std::size_t off = 0; off < data.size(); off += kMaxDiskRecordBytes) {
    std::size_t n = std::min(kMaxDiskRecordBytes, data.size() - off);
    REPLINK_TRY(ring_.PushDiskWrite(disk, sector + off / kSectorSize, data.subspan(off, n), options_.slot_timeout_ns));
    stats_.disk_write_bytes += n;
  }
  return Ok();
}

// The catch-up epoch's disk records: the merged ranges written by every uncommitted epoch and by this
// event, with their current content: the primary disk (writes already released) overlaid, in order,
// by the writes still held (not yet on the disk) and finally this event's write.
Result<void> CaptureLoop::PushCatchUpDisk(const IoEvent& event) {
  DiskExtents extents;
  for (const Footprint& f : footprints_)
    for (const DiskExtent& e : f.disk) extents.Add(e);
  if (event.has_disk_write) extents.Add(DiskExtent{event.disk, event.sector, event.disk_data.size() / kSectorSize});
  auto overlay = [](const DiskExtent& run, std::span<std::byte> buf, uint16_t disk, uint64_t sector,
                    std::span<const std::byte> data) {
    if (disk != run.disk) return;
    uint64_t lo = std::max(run.sector, sector);
    uint64_t hi = std::min(run.sector + run.sectors, sector + data.size() / kSectorSize);
    if (lo >= hi) return;
    std::memcpy(buf.data() + (lo - run.sector) * kSectorSize, data.data() + (lo - sector) * kSectorSize,
                (hi - lo) * kSectorSize);
  };
  for (const DiskExtent& whole : extents.Merged()) {
    for (uint64_t done = 0; done < whole.sectors;) {
      DiskExtent run{whole.disk, whole.sector + done,
                     std::min<uint64_t>(whole.sectors - done, kMaxDiskRecordBytes / kSectorSize)};
      disk_buffer_.resize(run.sectors * kSectorSize);
      REPLINK_TRY(backend_.ReadDisk(run.disk, run.sector, disk_buffer_));
      for (const HeldIo& h : held_)
        if (h.event.has_disk_write && !h.released)
          overlay(run, disk_buffer_, h.event.disk, h.event.sector, h.event.disk_data);
      if (event.has_disk_write) overlay(run, disk_buffer_, event.disk, event.sector, event.disk_data);
      REPLINK_TRY(PushDiskWrite(run.disk, run.sector, disk_buffer_));
      done += run.sectors;
    }
  }
  return Ok();
}

Result<void> CaptureLoop::ReleaseThrough(uint64_t epoch, bool committed) {
  if (committed) {
    while (!footprints_.empty() && footprints_.front().epoch <= epoch) footprints_.pop_front();
    while (!held_.empty() && held_.front().epoch <= epoch) {
      if (!held_.front().released) REPLINK_TRY(backend_.ReleaseIo(held_.front().event));
      held_.pop_front();
    }
    return Ok();
  }
  // The peer will not commit this epoch: the next one resynchronises it. Until then the I/O either
  // goes ahead unprotected (degraded, the default) or waits for the catch-up epoch's commit.
  need_catch_up_ = true;
  for (HeldIo& h : held_) {
    if (h.epoch > epoch) break;
    if (options_.release_io_on_failure && !h.released) {
      REPLINK_TRY(backend_.ReleaseIo(h.event));
      h.released = true;
    }
  }
  return Ok();
}

Result<void> CaptureLoop::DrainCompletions(bool wait, uint64_t until_epoch) {
  CaptureCompletion done[64];
  uint64_t deadline = wait ? NowNs() + options_.commit_timeout_ns : 0;
  while (true) {
    std::size_t n = ring_.PollCompletions(done);
    for (std::size_t i = 0; i < n; ++i) {
      const CaptureCompletion& c = done[i];
      bool committed = c.status == static_cast<uint32_t>(CompletionStatus::kCommitted);
      if (committed) {
        ++stats_.committed;
        stats_.last_committed_epoch = std::max(stats_.last_committed_epoch, c.epoch);
      } else {
        ++stats_.failed;
      }
      ++resolved_epochs_;
      last_resolved_epoch_ = std::max(last_resolved_epoch_, c.epoch);
      REPLINK_TRY(ReleaseThrough(c.epoch, committed));
    }
    if (ring_.stream_state() == capture_abi::StreamState::kFailed)
      return MakeError(Errc::kClosed, "vm {}: the dataplane failed this VM's stream: {}", info_.name,
                       ring_.failure_message());
    if (!wait || last_resolved_epoch_ >= until_epoch) return Ok();
    if (NowNs() > deadline)
      return MakeError(Errc::kTimeout, "vm {}: epoch {} not completed within {} ms", info_.name, until_epoch,
                       options_.commit_timeout_ns / 1'000'000);
    ring_.WaitForCompletion(10'000'000);
  }
}

}  // namespace replink
