#include "link/epoch_record_assembler.h"

#include <algorithm>
#include <cstring>

namespace replink::link {

EpochRecordAssembler::EpochRecordAssembler(uint32_t stream_id, std::size_t max_item_bytes)
    : stream_id_(stream_id), buffer_(max_item_bytes) {}

void EpochRecordAssembler::Reset() {
  in_item_ = false;
  in_epoch_ = false;
  have_last_epoch_ = false;
  progress_ = 0;
  items_in_epoch_ = 0;
}

Error EpochRecordAssembler::Fail(std::string_view what, uint64_t value, uint64_t expected) {
  ++counters_.errors;
  return MakeError(Errc::kCorrupt, "stream {} epoch {}: {} ({}, expected {})", stream_id_, epoch_,
                   what, value, expected);
}

bool EpochRecordAssembler::SameItem(const RecordView& r) const {
  return r.type == item_.type && r.total_length == item_.total_length && r.gfn == item_.gfn &&
         r.codec == item_.codec && r.base_version == item_.base_version && r.index == item_.index &&
         r.sector == item_.sector;
}

Result<bool> EpochRecordAssembler::Feed(const RecordView& record, RecordView* out) {
  switch (record.type) {
    case RecordType::kEpochBegin:
      if (in_epoch_) return Fail("epoch-begin inside an open epoch", record.epoch, epoch_);
      if (have_last_epoch_ && record.epoch <= last_epoch_)
        return Fail("epoch does not increase", record.epoch, last_epoch_ + 1);
      in_epoch_ = true;
      epoch_ = record.epoch;
      items_in_epoch_ = 0;
      ++counters_.epochs_begun;
      *out = record;
      return true;
    case RecordType::kEpochEnd:
      if (!in_epoch_) return Fail("epoch-end outside an epoch", record.epoch, epoch_);
      if (record.epoch != epoch_) return Fail("epoch-end of another epoch", record.epoch, epoch_);
      if (in_item_) return Fail("epoch-end inside a fragmented item", progress_, item_.total_length);
      if (record.record_count != items_in_epoch_)
        return Fail("epoch-end record count", record.record_count, items_in_epoch_);
      in_epoch_ = false;
      have_last_epoch_ = true;
      last_epoch_ = epoch_;
      ++counters_.epochs_ended;
      *out = record;
      return true;
    case RecordType::kZeroPage:
      if (!in_epoch_) return Fail("zero page outside an epoch", record.gfn, 0);
      if (in_item_) return Fail("record inside a fragmented item", progress_, item_.total_length);
      ++items_in_epoch_;
      ++counters_.items;
      *out = record;
      return true;
    case RecordType::kPage:
    case RecordType::kVcpuState:
    case RecordType::kDeviceState:
    case RecordType::kDiskWrite:
      break;
  }

  if (!in_epoch_) return Fail("content record outside an epoch", static_cast<uint64_t>(record.type), 0);
  if (!in_item_) {
    if (record.fragment_offset != 0) return Fail("fragment without its start", record.fragment_offset, 0);
    if (record.whole()) {
      ++items_in_epoch_;
      ++counters_.items;
      *out = record;
      return true;
    }
    if (record.total_length > buffer_.size())
      return Fail("item larger than the reassembly buffer", record.total_length, buffer_.size());
    item_ = record;
    in_item_ = true;
    progress_ = 0;
  } else if (!SameItem(record)) {
    return Fail("fragment of another item", record.fragment_offset, progress_);
  }
  if (record.fragment_offset != progress_)
    return Fail("fragment out of order", record.fragment_offset, progress_);
  // The reader already guarantees this; a record built elsewhere must not overrun the buffer either.
  if (record.fragment.size() > item_.total_length - progress_)
    return Fail("fragment beyond item", progress_ + record.fragment.size(), item_.total_length);
  std::memcpy(buffer_.data() + progress_, record.fragment.data(), record.fragment.size());
  progress_ += record.fragment.size();
  ++counters_.fragments;
  if (progress_ < item_.total_length) return false;

  in_item_ = false;
  ++items_in_epoch_;
  ++counters_.items;
  ++counters_.reassembled;
  *out = item_;
  out->fragment_offset = 0;
  out->fragment = std::span<const std::byte>(buffer_.data(), item_.total_length);
  return true;
}

}  // namespace replink::link
