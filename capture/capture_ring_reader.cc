#include "capture/capture_ring_reader.h"

#include <algorithm>
#include <atomic>
#include <cstring>

#include "capture/region_layout.h"

namespace replink {
namespace {

using namespace capture_abi;

// Bounds on blob and disk-write records (one record never needs more; bigger ones are rejected).
constexpr uint32_t kMaxBlobBytes = 1u << 20;
constexpr uint32_t kMaxDiskWriteBytes = 1u << 20;  // the link protocol's bound too

std::atomic_ref<uint64_t> Index(IndexLine& line) { return std::atomic_ref<uint64_t>(line.value); }

uint32_t SlotsFor(uint32_t bytes) { return (bytes + kSlotBytes - 1) / kSlotBytes; }

}  // namespace

CaptureRingReader::CaptureRingReader(SharedRegion region) : region_(std::move(region)) {}

Result<CaptureRingReader> CaptureRingReader::Attach(SharedRegion region) {
  if (region.size() < kHeaderBytes)
    return MakeError(Errc::kCorrupt, "region of {} bytes is smaller than its header", region.size());
  CaptureRingReader r(std::move(region));
  std::memcpy(&r.identity_, r.region_.data(), sizeof(RegionIdentity));
  REPLINK_TRY(ValidateIdentity(r.identity_, r.region_.size()));
  r.sq_ = reinterpret_cast<CaptureDescriptor*>(r.region_.data() + r.identity_.sq_offset);
  r.cq_ = reinterpret_cast<CaptureCompletion*>(r.region_.data() + r.identity_.cq_offset);
  r.slots_ = r.region_.data() + r.identity_.slots_offset;
  // Resume from wherever the shim's ring is (a dataplane restart re-attaches to a live region).
  r.sq_head_ = Index(r.header()->sq_head).load(std::memory_order_acquire);
  r.cq_tail_ = Index(r.header()->cq_tail).load(std::memory_order_acquire);
  r.released_ = Index(r.header()->slots_released).load(std::memory_order_acquire);
  r.slot_cursor_ = r.released_;
  r.expected_epoch_ = r.identity_.first_epoch;
  return r;
}

uint64_t CaptureRingReader::pending_descriptors() const {
  uint64_t tail = Index(header()->sq_tail).load(std::memory_order_acquire);
  return std::min<uint64_t>(tail - sq_head_, identity_.sq_entries);
}

void CaptureRingReader::Fail(Errc reason, uint64_t epoch, std::string_view message) {
  if (!failed_) {
    failed_ = true;
    failure_ = Error{reason, std::string(message), 0};
  }
  FailureLine& f = header()->failure;
  f.reason = static_cast<uint32_t>(reason);
  f.epoch = epoch;
  std::size_t n = std::min(message.size(), sizeof(f.message) - 1);
  std::memcpy(f.message, message.data(), n);
  f.message[n] = '\0';
  std::atomic_ref<uint32_t>(f.state).store(static_cast<uint32_t>(StreamState::kFailed),
                                           std::memory_order_release);
  Doorbell(&header()->shim_doorbell).Ring();
}

Result<void> CaptureRingReader::CheckSlots(const CaptureDescriptor& d, uint32_t expected_span) {
  if (d.slot_span != expected_span)
    return MakeError(Errc::kCorrupt, "slot_span {} (expected {} for {} bytes)", d.slot_span, expected_span,
                     d.length);
  if (expected_span == 0) return Ok();
  if (d.slot != slot_cursor_ % identity_.slot_count)
    return MakeError(Errc::kCorrupt, "slot {} out of order (expected {})", d.slot,
                     slot_cursor_ % identity_.slot_count);
  // The shim may not hand us more slots than the arena holds beyond what we have released.
  if (slot_cursor_ + expected_span - released_ > identity_.slot_count)
    return MakeError(Errc::kCorrupt, "slots {}+{} overrun unreleased slots", d.slot, expected_span);
  return Ok();
}

Result<CaptureRecord> CaptureRingReader::Validate(const CaptureDescriptor& d) {
  if (!IsValidRecordType(d.type)) return MakeError(Errc::kCorrupt, "unknown record type {}", d.type);
  auto type = static_cast<RecordType>(d.type);
  CaptureRecord r;
  r.type = type;
  r.index = d.index;
  r.length = d.length;
  r.epoch = d.epoch;
  r.key = d.key;
  r.slot_cursor = slot_cursor_;
  r.slot_span = d.slot_span;

  if (type == RecordType::kEpochBegin) {
    if (in_epoch_) return MakeError(Errc::kCorrupt, "EPOCH_BEGIN {} inside epoch {}", d.epoch, expected_epoch_);
    if (d.epoch != expected_epoch_)
      return MakeError(Errc::kCorrupt, "EPOCH_BEGIN {} out of sequence (expected {})", d.epoch, expected_epoch_);
    if (!IsValidEpochTrigger(d.flags)) return MakeError(Errc::kCorrupt, "bad epoch trigger {}", d.flags);
    if ((d.index & ~kKnownBeginFlags) != 0 || d.length != 0 || d.slot != 0 || d.slot_span != 0)
      return MakeError(Errc::kCorrupt, "EPOCH_BEGIN with unknown flags or non-zero fields");
    r.trigger = static_cast<EpochTrigger>(d.flags);
    r.catch_up = (d.index & kBeginCatchUp) != 0;
    in_epoch_ = true;
    epoch_records_ = 0;
    epoch_first_slot_ = slot_cursor_;
    return r;
  }
  if (!in_epoch_) return MakeError(Errc::kCorrupt, "{} outside an epoch", RecordTypeName(type));
  if (d.epoch != expected_epoch_)
    return MakeError(Errc::kCorrupt, "{} of epoch {} inside epoch {}", RecordTypeName(type), d.epoch,
                     expected_epoch_);
  if (d.flags != 0) return MakeError(Errc::kCorrupt, "{} with flags {:#x}", RecordTypeName(type), d.flags);

  switch (type) {
    case RecordType::kPage:
      if (d.key >= identity_.guest_pages)
        return MakeError(Errc::kCorrupt, "page gfn {} beyond guest ({} pages)", d.key, identity_.guest_pages);
      if (d.length != kPageSize || d.index != 0)
        return MakeError(Errc::kCorrupt, "page record length {} index {}", d.length, d.index);
      REPLINK_TRY(CheckSlots(d, 1));
      break;
    case RecordType::kZeroPage:
      if (d.key >= identity_.guest_pages)
        return MakeError(Errc::kCorrupt, "zero page gfn {} beyond guest", d.key);
      if (d.length != 0 || d.index != 0) return MakeError(Errc::kCorrupt, "zero page with content");
      REPLINK_TRY(CheckSlots(d, 0));
      break;
    case RecordType::kVcpuState:
    case RecordType::kDeviceState: {
      uint32_t limit = type == RecordType::kVcpuState ? identity_.vcpu_count : identity_.device_count;
      if (d.index >= limit) return MakeError(Errc::kCorrupt, "{} index {} >= {}", RecordTypeName(type), d.index, limit);
      if (d.length == 0 || d.length > kMaxBlobBytes)
        return MakeError(Errc::kCorrupt, "{} of {} bytes (max {})", RecordTypeName(type), d.length, kMaxBlobBytes);
      if (d.key != 0) return MakeError(Errc::kCorrupt, "{} with key", RecordTypeName(type));
      REPLINK_TRY(CheckSlots(d, SlotsFor(d.length)));
      break;
    }
    case RecordType::kDiskWrite: {
      if (d.index >= identity_.disk_count)
        return MakeError(Errc::kCorrupt, "disk write to disk {} of {}", d.index, identity_.disk_count);
      if (d.length == 0 || d.length % kSectorSize != 0 || d.length > kMaxDiskWriteBytes)
        return MakeError(Errc::kCorrupt, "disk write of {} bytes", d.length);
      uint64_t sectors = d.length / kSectorSize;
      if (d.key > identity_.disk_sectors || sectors > identity_.disk_sectors - d.key)
        return MakeError(Errc::kCorrupt, "disk write at sector {} (+{}) beyond disk of {} sectors", d.key,
                         sectors, identity_.disk_sectors);
      REPLINK_TRY(CheckSlots(d, SlotsFor(d.length)));
      break;
    }
    case RecordType::kEpochEnd:
      if (d.length != epoch_records_)
        return MakeError(Errc::kCorrupt, "EPOCH_END counts {} records, saw {}", d.length, epoch_records_);
      if (d.slot_span != slot_cursor_ - epoch_first_slot_)
        return MakeError(Errc::kCorrupt, "EPOCH_END counts {} slots, saw {}", d.slot_span,
                         slot_cursor_ - epoch_first_slot_);
      if (d.index != 0 || d.slot != 0) return MakeError(Errc::kCorrupt, "EPOCH_END with index/slot");
      in_epoch_ = false;
      ++expected_epoch_;
      ++counters_.epochs;
      return r;
    case RecordType::kEpochBegin:
      break;  // handled above
  }
  slot_cursor_ += d.slot_span;
  ++epoch_records_;
  return r;
}

Result<std::size_t> CaptureRingReader::Poll(std::span<CaptureRecord> out) {
  if (failed_) return failure_;
  uint64_t tail = Index(header()->sq_tail).load(std::memory_order_acquire);
  if (tail - sq_head_ > identity_.sq_entries) {
    Fail(Errc::kCorrupt, expected_epoch_,
         fmt::format("vm {}: submission tail {} is more than a ring ahead of head {}", identity_.vm_id, tail,
                     sq_head_));
    ++counters_.malformed;
    return failure_;
  }
  std::size_t n = 0;
  while (n < out.size() && sq_head_ != tail) {
    // Copy first: the shim could change the descriptor after we checked it.
    CaptureDescriptor d = sq_[sq_head_ & (identity_.sq_entries - 1)];
    auto rec = Validate(d);
    if (!rec.ok()) {
      ++counters_.malformed;
      Error e = WithContext(rec.error(), fmt::format("vm {} epoch {} descriptor {}", identity_.vm_id,
                                                     expected_epoch_, sq_head_));
      Fail(Errc::kCorrupt, expected_epoch_, e.message);
      break;
    }
    out[n++] = rec.value();
    ++sq_head_;
  }
  if (n > 0) {
    Index(header()->sq_head).store(sq_head_, std::memory_order_release);
    counters_.records += n;
    Doorbell shim(&header()->shim_doorbell);
    if (shim.SleeperPresent()) shim.Ring();  // a shim waiting for ring space
  }
  if (n == 0 && failed_) return failure_;
  return n;
}

std::span<const std::byte, kPageSize> CaptureRingReader::Slot(uint64_t slot_cursor) const {
  return std::span<const std::byte, kPageSize>(slots_ + (slot_cursor % identity_.slot_count) * kSlotBytes,
                                               kPageSize);
}

void CaptureRingReader::CopyContent(const CaptureRecord& record, std::span<std::byte> dst) const {
  std::size_t remaining = std::min<std::size_t>(record.length, dst.size());
  for (uint32_t i = 0; i < record.slot_span && remaining > 0; ++i) {
    std::size_t n = std::min<std::size_t>(remaining, kSlotBytes);
    std::memcpy(dst.data() + std::size_t{i} * kSlotBytes, Slot(record.slot_cursor + i).data(), n);
    remaining -= n;
  }
}

Result<void> CaptureRingReader::Complete(uint64_t epoch, CompletionStatus status, Errc detail) {
  uint64_t head = Index(header()->cq_head).load(std::memory_order_acquire);
  if (cq_tail_ - head >= identity_.cq_entries) {
    ++counters_.completion_ring_full;
    return MakeError(Errc::kNoSpace, "vm {}: completion ring full", identity_.vm_id);
  }
  CaptureCompletion c{};
  c.epoch = epoch;
  c.status = static_cast<uint32_t>(status);
  c.detail = status == CompletionStatus::kFailed ? static_cast<uint32_t>(detail) : 0;
  cq_[cq_tail_ & (identity_.cq_entries - 1)] = c;
  ++cq_tail_;
  Index(header()->cq_tail).store(cq_tail_, std::memory_order_release);
  ++counters_.completions;
  Doorbell(&header()->shim_doorbell).Ring();
  return Ok();
}

void CaptureRingReader::ReleaseSlotsThrough(uint64_t end_cursor) {
  end_cursor = std::min(end_cursor, slot_cursor_);
  if (end_cursor <= released_) return;
  released_ = end_cursor;
  Index(header()->slots_released).store(released_, std::memory_order_release);
  Doorbell shim(&header()->shim_doorbell);
  if (shim.SleeperPresent()) shim.Ring();
}

void CaptureRingReader::SetSleeping(bool sleeping) {
  std::atomic_ref<uint32_t>(header()->dp_doorbell.waiting)
      .store(sleeping ? 1 : 0, std::memory_order_seq_cst);
}

}  // namespace replink
