#include "replica/epoch_stager.h"

#include <algorithm>
#include <cstring>


namespace replink::replica {

const char* StageRejectionName(StageRejection reason) {
  switch (reason) {
    case StageRejection::kNoOpenEpoch: return "no-open-epoch";
    case StageRejection::kAlreadyOpen: return "already-open";
    case StageRejection::kSealed: return "sealed";
    case StageRejection::kEpochGap: return "epoch-gap";
    case StageRejection::kEpochStale: return "epoch-stale";
    case StageRejection::kBadTrigger: return "bad-trigger";
    case StageRejection::kBadRecordType: return "bad-record-type";
    case StageRejection::kBadLength: return "bad-length";
    case StageRejection::kGfnOutOfRange: return "gfn-out-of-range";
    case StageRejection::kDuplicatePage: return "duplicate-page";
    case StageRejection::kBlobIndexOutOfRange: return "blob-index-out-of-range";
    case StageRejection::kBlobTooLarge: return "blob-too-large";
    case StageRejection::kFragmentOutOfBounds: return "fragment-out-of-bounds";
    case StageRejection::kFragmentInconsistent: return "fragment-inconsistent";
    case StageRejection::kFragmentOverlap: return "fragment-overlap";
    case StageRejection::kDiskOutOfRange: return "disk-out-of-range";
    case StageRejection::kDiskUnaligned: return "disk-unaligned";
    case StageRejection::kDiskOverlap: return "disk-overlap";
    case StageRejection::kArenaFull: return "arena-full";
    case StageRejection::kIncompleteItem: return "incomplete-item";
    case StageRejection::kRecordCountMismatch: return "record-count-mismatch";
    case StageRejection::kChecksumMismatch: return "checksum-mismatch";
  }
  return "unknown";
}

namespace {

Errc ErrcFor(StageRejection reason) {
  switch (reason) {
    case StageRejection::kNoOpenEpoch:
    case StageRejection::kAlreadyOpen:
    case StageRejection::kSealed:
    case StageRejection::kEpochGap:
    case StageRejection::kEpochStale:
      return Errc::kState;
    case StageRejection::kArenaFull:
      return Errc::kNoSpace;
    default:
      return Errc::kCorrupt;
  }
}

bool IsBlob(uint8_t type) {
  return type == static_cast<uint8_t>(RecordType::kVcpuState) ||
         type == static_cast<uint8_t>(RecordType::kDeviceState);
}

}  // namespace

Result<EpochStager> EpochStager::Create(const StagerConfig& config, uint64_t last_committed) {
  REPLINK_TRY(ValidateGeometry(config.geometry));
  if (config.arena_bytes < kPageSize)
    return MakeError(Errc::kInvalidArgument, "vm {}: staging arena of {} bytes cannot hold one page",
                     config.geometry.vm_id, config.arena_bytes);
  REPLINK_ASSIGN_OR_RETURN(
      StagingArena arena,
      StagingArena::Create(RoundUp(config.arena_bytes, StagingArena::kAlignment), config.prefault_arena));
  return EpochStager(config, std::move(arena), last_committed);
}

EpochStager::EpochStager(StagerConfig config, StagingArena arena, uint64_t last_committed)
    : config_(std::move(config)), arena_(std::move(arena)), expected_epoch_(last_committed + 1) {
  const ReplicaGeometry& g = config_.geometry;
  // Dense gfn index: 4 bytes per guest page (0.1 % of guest memory) buys O(1) duplicate detection and
  // base lookups without hashing on the fast path.
  record_of_gfn_.assign(g.guest_pages, kNone);
  item_of_blob_slot_.assign(g.blob_slots(), kNone);
  records_.reserve(std::min<uint64_t>(g.guest_pages, arena_.capacity() / kPageSize) + 64);
}

Error EpochStager::Reject(StageRejection reason, std::string detail) {
  ++counters_.rejections;
  ++counters_.rejections_by_reason[static_cast<std::size_t>(reason)];
  last_rejection_ = reason;
  std::string where;
  if (state_ == State::kIdle)
    where = fmt::format("vm {}", config_.geometry.vm_id);
  else
    where = fmt::format("vm {} epoch {} record {}", config_.geometry.vm_id, epoch_, record_ordinal_);
  Error error = MakeError(ErrcFor(reason), "{}: {}: {}", where, StageRejectionName(reason), detail);
  // A sealed epoch stays valid when a stray record arrives; anything wrong inside an open epoch
  // poisons that epoch.
  if (state_ == State::kOpen) {
    ResetEpoch();
    state_ = State::kIdle;
    ++counters_.epochs_discarded;
  }
  return error;
}

Result<void> EpochStager::Begin(uint64_t epoch, EpochTrigger trigger) {
  if (state_ == State::kSealed)
    return Reject(StageRejection::kSealed,
                  fmt::format("EPOCH_BEGIN {} while epoch {} waits for commit", epoch, epoch_));
  if (state_ == State::kOpen)
    return Reject(StageRejection::kAlreadyOpen, fmt::format("EPOCH_BEGIN {} inside the epoch", epoch));
  if (epoch < expected_epoch_)
    return Reject(StageRejection::kEpochStale,
                  fmt::format("EPOCH_BEGIN {} but epoch {} is already committed (next is {})", epoch,
                              expected_epoch_ - 1, expected_epoch_));
  if (epoch > expected_epoch_)
    return Reject(StageRejection::kEpochGap,
                  fmt::format("EPOCH_BEGIN {} but the next epoch is {} ({} missing)", epoch,
                              expected_epoch_, epoch - expected_epoch_));
  if (!IsValidEpochTrigger(static_cast<uint8_t>(trigger)))
    return Reject(StageRejection::kBadTrigger,
                  fmt::format("EPOCH_BEGIN {} with trigger {}", epoch, static_cast<unsigned>(trigger)));
  state_ = State::kOpen;
  epoch_ = epoch;
  trigger_ = trigger;
  record_ordinal_ = 0;
  ++counters_.epochs_begun;
  return Ok();
}

Result<void> EpochStager::CheckRecordAllowed() {
  if (state_ == State::kSealed)
    return Reject(StageRejection::kSealed, "record after EPOCH_END; commit or discard first");
  if (state_ == State::kIdle) return Reject(StageRejection::kNoOpenEpoch, "record before EPOCH_BEGIN");
  ++record_ordinal_;
  return Ok();
}

Result<uint32_t> EpochStager::AddPageRecord(uint64_t gfn, RecordType type) {
  const char* what = RecordTypeName(type);
  if (gfn >= config_.geometry.guest_pages)
    return Reject(StageRejection::kGfnOutOfRange,
                  fmt::format("{} gfn {:#x} outside the guest ({} pages)", what, gfn,
                              config_.geometry.guest_pages));
  if (record_of_gfn_[gfn] != kNone)
    return Reject(StageRejection::kDuplicatePage,
                  fmt::format("{} gfn {:#x} already staged in this epoch", what, gfn));
  uint32_t length = type == RecordType::kPage ? kPageSize : 0;
  uint64_t offset = 0;
  if (length != 0) {
    std::optional<uint64_t> slot = arena_.Allocate(length);
    if (!slot)
      return Reject(StageRejection::kArenaFull,
                    fmt::format("page gfn {:#x}: staging arena full ({} of {} bytes used)", gfn,
                                arena_.used(), arena_.capacity()));
    offset = *slot;
  }
  JournalRecord record{};
  record.type = static_cast<uint8_t>(type);
  record.key = gfn;
  record.length = length;
  record.payload_offset = offset;
  records_.push_back(record);
  auto index = static_cast<uint32_t>(records_.size() - 1);
  record_of_gfn_[gfn] = index;
  ++counters_.records_accepted;
  counters_.payload_bytes_accepted += length;
  return index;
}

Result<void> EpochStager::StagePage(uint64_t gfn, std::span<const std::byte> page) {
  REPLINK_TRY(CheckRecordAllowed());
  if (page.size() != kPageSize)
    return Reject(StageRejection::kBadLength,
                  fmt::format("page gfn {:#x} has {} bytes, not {}", gfn, page.size(), kPageSize));
  REPLINK_ASSIGN_OR_RETURN(uint32_t index, AddPageRecord(gfn, RecordType::kPage));
  std::memcpy(arena_.at(records_[index].payload_offset), page.data(), kPageSize);
  return Ok();
}

Result<std::span<std::byte, kPageSize>> EpochStager::ReservePage(uint64_t gfn) {
  REPLINK_TRY(CheckRecordAllowed());
  REPLINK_ASSIGN_OR_RETURN(uint32_t index, AddPageRecord(gfn, RecordType::kPage));
  return std::span<std::byte, kPageSize>(arena_.at(records_[index].payload_offset), kPageSize);
}

Result<void> EpochStager::StageZeroPage(uint64_t gfn) {
  REPLINK_TRY(CheckRecordAllowed());
  REPLINK_TRY(AddPageRecord(gfn, RecordType::kZeroPage));
  return Ok();
}

Result<uint32_t> EpochStager::NewFragmentedItem(RecordType type, uint32_t index, uint64_t key,
                                                uint32_t total) {
  std::optional<uint64_t> offset = arena_.Allocate(total);
  if (!offset)
    return Reject(StageRejection::kArenaFull,
                  fmt::format("{} of {} bytes: staging arena full ({} of {} bytes used)",
                              RecordTypeName(type), total, arena_.used(), arena_.capacity()));
  JournalRecord record{};
  record.type = static_cast<uint8_t>(type);
  record.index = index;
  record.key = key;
  record.length = total;
  record.payload_offset = *offset;
  records_.push_back(record);
  items_.push_back(FragmentedItem{static_cast<uint32_t>(records_.size() - 1), {}});
  return static_cast<uint32_t>(items_.size() - 1);
}

Result<void> EpochStager::AddFragment(uint32_t item, uint32_t total_length, uint32_t offset,
                                      std::span<const std::byte> bytes, const char* what) {
  const JournalRecord& record = records_[items_[item].record];
  if (record.length != total_length)
    return Reject(StageRejection::kFragmentInconsistent,
                  fmt::format("{}: fragment says total {} bytes, earlier fragments said {}", what,
                              total_length, record.length));
  if (uint64_t{offset} + bytes.size() > total_length)
    return Reject(StageRejection::kFragmentOutOfBounds,
                  fmt::format("{}: fragment [{}, {}) beyond total {} bytes", what, offset,
                              uint64_t{offset} + bytes.size(), total_length));
  if (!items_[item].coverage.Add(offset, bytes.size()))
    return Reject(StageRejection::kFragmentOverlap,
                  fmt::format("{}: fragment [{}, {}) overlaps bytes already received", what, offset,
                              uint64_t{offset} + bytes.size()));
  std::memcpy(arena_.at(record.payload_offset + offset), bytes.data(), bytes.size());
  ++counters_.records_accepted;
  counters_.payload_bytes_accepted += bytes.size();
  return Ok();
}

Result<void> EpochStager::StageBlobFragment(RecordType type, uint32_t index, uint32_t total_length,
                                            uint32_t offset, std::span<const std::byte> bytes) {
  REPLINK_TRY(CheckRecordAllowed());
  if (type != RecordType::kVcpuState && type != RecordType::kDeviceState)
    return Reject(StageRejection::kBadRecordType,
                  fmt::format("record type {} is not a state blob", static_cast<unsigned>(type)));
  const char* what = RecordTypeName(type);
  Result<uint32_t> slot = BlobSlotOf(config_.geometry, type, index);
  if (!slot.ok()) return Reject(StageRejection::kBlobIndexOutOfRange, slot.error().message);
  if (total_length == 0 || bytes.empty())
    return Reject(StageRejection::kBadLength,
                  fmt::format("{} {}: empty fragment or zero total length", what, index));
  if (total_length > config_.geometry.max_blob_bytes)
    return Reject(StageRejection::kBlobTooLarge,
                  fmt::format("{} {}: {} bytes, slots hold {}", what, index, total_length,
                              config_.geometry.max_blob_bytes));
  uint32_t item = item_of_blob_slot_[*slot];
  if (item == kNone) {
    REPLINK_ASSIGN_OR_RETURN(item, NewFragmentedItem(type, index, 0, total_length));
    item_of_blob_slot_[*slot] = item;
  }
  return AddFragment(item, total_length, offset, bytes, what);
}

Result<void> EpochStager::StageDiskWriteFragment(uint32_t disk, uint64_t sector, uint32_t total_length,
                                                 uint32_t offset, std::span<const std::byte> bytes) {
  REPLINK_TRY(CheckRecordAllowed());
  const std::vector<uint64_t>& disks = config_.geometry.disk_sectors;
  if (disk >= disks.size())
    return Reject(StageRejection::kDiskOutOfRange,
                  fmt::format("disk-write to disk {}, the VM has {} disks", disk, disks.size()));
  if (total_length == 0 || bytes.empty())
    return Reject(StageRejection::kBadLength,
                  fmt::format("disk-write disk {} sector {}: empty fragment or zero total", disk, sector));
  if (total_length % kSectorSize != 0)
    return Reject(StageRejection::kDiskUnaligned,
                  fmt::format("disk-write disk {} sector {}: {} bytes is not a multiple of {}", disk,
                              sector, total_length, kSectorSize));
  uint64_t sectors = total_length / kSectorSize;
  if (sector >= disks[disk] || sectors > disks[disk] - sector)
    return Reject(StageRejection::kDiskOutOfRange,
                  fmt::format("disk-write sectors [{}, {}) beyond disk {} ({} sectors)", sector,
                              sector + sectors, disk, disks[disk]));
  uint64_t key = (uint64_t{disk} << 56) | sector;  // sector < 2^47 (kMaxDiskSectors)
  uint32_t item = kNone;
  if (auto found = item_of_disk_write_.find(key); found != item_of_disk_write_.end()) {
    item = found->second;
  } else {
    REPLINK_ASSIGN_OR_RETURN(item, NewFragmentedItem(RecordType::kDiskWrite, disk, sector, total_length));
    item_of_disk_write_.emplace(key, item);
  }
  return AddFragment(item, total_length, offset, bytes, "disk-write");
}

Result<void> EpochStager::CheckDiskOverlaps() {
  struct Extent {
    uint32_t disk;
    uint64_t begin;
    uint64_t end;
  };
  std::vector<Extent> extents;
  for (const JournalRecord& r : records_) {
    if (r.type == static_cast<uint8_t>(RecordType::kDiskWrite))
      extents.push_back(Extent{r.index, r.key, r.key + r.length / kSectorSize});
  }
  std::sort(extents.begin(), extents.end(), [](const Extent& a, const Extent& b) {
    return a.disk != b.disk ? a.disk < b.disk : a.begin < b.begin;
  });
  for (std::size_t i = 1; i < extents.size(); ++i) {
    const Extent& prev = extents[i - 1];
    const Extent& cur = extents[i];
    // Records are a set (the dataplane may reorder them), so two writes to one sector would make the
    // result order-dependent.
    if (prev.disk == cur.disk && cur.begin < prev.end)
      return Reject(StageRejection::kDiskOverlap,
                    fmt::format("disk {}: write of sectors [{}, {}) overlaps write of [{}, {})", cur.disk,
                                cur.begin, cur.end, prev.begin, prev.end));
  }
  return Ok();
}

Result<StagedEpoch> EpochStager::End(uint32_t record_count, uint64_t checksum) {
  if (state_ == State::kSealed) return Reject(StageRejection::kSealed, "second EPOCH_END");
  if (state_ == State::kIdle) return Reject(StageRejection::kNoOpenEpoch, "EPOCH_END before EPOCH_BEGIN");
  ++record_ordinal_;
  for (const FragmentedItem& item : items_) {
    const JournalRecord& r = records_[item.record];
    if (item.coverage.covered_bytes() != r.length)
      return Reject(StageRejection::kIncompleteItem,
                    fmt::format("EPOCH_END while {} {} (key {}) has {} of {} bytes",
                                RecordTypeName(static_cast<RecordType>(r.type)), r.index, r.key,
                                item.coverage.covered_bytes(), r.length));
  }
  REPLINK_TRY(CheckDiskOverlaps());
  if (records_.size() != record_count)
    return Reject(StageRejection::kRecordCountMismatch,
                  fmt::format("EPOCH_END counts {} records, {} were staged", record_count,
                              records_.size()));
  uint64_t computed = ContentChecksumOf(View());
  if (computed != checksum)
    return Reject(StageRejection::kChecksumMismatch,
                  fmt::format("EPOCH_END checksum {:#018x}, staged content hashes to {:#018x}", checksum,
                              computed));
  checksum_ = computed;
  state_ = State::kSealed;
  ++counters_.epochs_sealed;
  return View();
}

StagedEpoch EpochStager::View() const {
  StagedEpoch view;
  view.vm_id = config_.geometry.vm_id;
  view.epoch = epoch_;
  view.trigger = trigger_;
  view.content_checksum = checksum_;
  view.records = records_;
  view.payload = arena_.used_bytes();
  return view;
}

std::optional<StagedEpoch> EpochStager::sealed_epoch() const {
  if (state_ != State::kSealed) return std::nullopt;
  return View();
}

std::optional<PageRef> EpochStager::StagedPage(uint64_t gfn) const {
  if (state_ == State::kIdle || gfn >= record_of_gfn_.size()) return std::nullopt;
  uint32_t index = record_of_gfn_[gfn];
  if (index == kNone) return std::nullopt;
  const JournalRecord& r = records_[index];
  if (r.type == static_cast<uint8_t>(RecordType::kZeroPage)) return PageRef{kZeroPageBytes, epoch_};
  return PageRef{arena_.at(r.payload_offset), epoch_};
}

void EpochStager::ResetEpoch() {
  for (const JournalRecord& r : records_) {
    if (r.type == static_cast<uint8_t>(RecordType::kPage) ||
        r.type == static_cast<uint8_t>(RecordType::kZeroPage)) {
      record_of_gfn_[r.key] = kNone;
    } else if (IsBlob(r.type)) {
      uint32_t slot = r.type == static_cast<uint8_t>(RecordType::kVcpuState)
                          ? r.index
                          : config_.geometry.vcpu_slots + r.index;
      item_of_blob_slot_[slot] = kNone;
    }
  }
  item_of_disk_write_.clear();
  records_.clear();
  items_.clear();
  arena_.Clear();
  record_ordinal_ = 0;
  checksum_ = 0;
}

void EpochStager::Discard() {
  if (state_ == State::kIdle) return;
  ResetEpoch();
  state_ = State::kIdle;
  ++counters_.epochs_discarded;
}

void EpochStager::MarkCommitted() {
  if (state_ != State::kSealed) return;
  expected_epoch_ = epoch_ + 1;
  ResetEpoch();
  state_ = State::kIdle;
  ++counters_.epochs_committed;
}

void EpochStager::Rebase(uint64_t last_committed) {
  Discard();
  expected_epoch_ = last_committed + 1;
}

}  // namespace replink::replica
