#include "hostshim/capture_loop.h"

#include <algorithm>
#include <cstring>
#include <ctime>

namespace replink {
namespace {

using capture_abi::CaptureCompletion;
using capture_abi::CompletionStatus;

constexpr std::size_t kMaxBlobBytes = 1u << 20;

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
  while (max_epochs == 0 || stats_.committed + stats_.failed < max_epochs) {
    if (stop && stop()) break;
    REPLINK_TRY(DrainCompletions(false, 0));
    bool want_more = max_epochs == 0 || stats_.epochs < max_epochs;
    if (!want_more || held_.size() >= options_.max_inflight_epochs) {
      REPLINK_TRY(DrainCompletions(true, held_.empty() ? 0 : held_.front().epoch));
      continue;
    }
    REPLINK_ASSIGN_OR_RETURN(std::optional<IoEvent> event, backend_.WaitIoEvent(options_.event_timeout_ns));
    if (!event) continue;
    REPLINK_TRY(CaptureEpoch(*event));
  }
  // Let every held I/O go: committed ones normally, the rest as the failure policy says.
  while (!held_.empty()) REPLINK_TRY(DrainCompletions(true, held_.front().epoch));
  return Ok();
}

Result<void> CaptureLoop::CaptureEpoch(const IoEvent& event) {
  uint64_t epoch = next_epoch_;
  uint64_t paused_at = NowNs();
  REPLINK_TRY(backend_.Pause());
  REPLINK_TRY(ring_.BeginEpoch(epoch, event.trigger, paused_at));
  REPLINK_TRY(backend_.CollectDirty(dirty_));
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
  if (event.has_disk_write) {
    REPLINK_TRY(ring_.PushDiskWrite(event.disk, event.sector, event.disk_data, options_.slot_timeout_ns));
    stats_.disk_write_bytes += event.disk_data.size();
  }
  REPLINK_TRY(ring_.EndEpoch(options_.slot_timeout_ns));
  ++next_epoch_;
  ++stats_.epochs;
  held_.push_back(HeldIo{epoch, event});

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

Result<void> CaptureLoop::ReleaseThrough(uint64_t epoch, bool committed) {
  while (!held_.empty() && held_.front().epoch <= epoch) {
    if (committed || options_.release_io_on_failure) REPLINK_TRY(backend_.ReleaseIo(held_.front().event));
    held_.pop_front();
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
      REPLINK_TRY(ReleaseThrough(c.epoch, committed));
    }
    if (ring_.stream_state() == capture_abi::StreamState::kFailed)
      return MakeError(Errc::kClosed, "vm {}: the dataplane failed this VM's stream: {}", info_.name,
                       ring_.failure_message());
    if (!wait || until_epoch == 0 || stats_.last_committed_epoch >= until_epoch ||
        held_.empty() || held_.front().epoch > until_epoch)
      return Ok();
    if (NowNs() > deadline)
      return MakeError(Errc::kTimeout, "vm {}: epoch {} not committed within {} ms", info_.name, until_epoch,
                       options_.commit_timeout_ns / 1'000'000);
    ring_.WaitForCompletion(10'000'000);
  }
}

}  // namespace replink
