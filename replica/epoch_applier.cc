#include "replica/epoch_applier.h"

#include <cstring>
#include <vector>

namespace replink::replica {

Result<void> ValidateEpochRecords(const StagedEpoch& epoch, const ReplicaGeometry& g) {
  const uint64_t payload = epoch.payload.size();
  for (std::size_t i = 0; i < epoch.records.size(); ++i) {
    const JournalRecord& r = epoch.records[i];
    auto bad = [&](std::string_view why) {
      return MakeError(Errc::kCorrupt, "vm {} epoch {} record {} ({}): {}", g.vm_id, epoch.epoch, i,
                       IsValidRecordType(r.type) ? RecordTypeName(static_cast<RecordType>(r.type))
                                                 : "unknown type",
                       why);
    };
    if (r.payload_offset > payload || r.length > payload - r.payload_offset)
      return bad(fmt::format("payload [{}, +{}) outside the {} payload bytes", r.payload_offset, r.length,
                             payload));
    switch (static_cast<RecordType>(r.type)) {
      case RecordType::kPage:
      case RecordType::kZeroPage: {
        uint32_t expect = r.type == static_cast<uint8_t>(RecordType::kPage) ? kPageSize : 0;
        if (r.key >= g.guest_pages) return bad(fmt::format("gfn {:#x} outside {} pages", r.key, g.guest_pages));
        if (r.length != expect) return bad(fmt::format("length {} instead of {}", r.length, expect));
        break;
      }
      case RecordType::kVcpuState:
      case RecordType::kDeviceState: {
        if (auto slot = BlobSlotOf(g, static_cast<RecordType>(r.type), r.index); !slot.ok())
          return bad(slot.error().message);
        if (r.length == 0 || r.length > g.max_blob_bytes)
          return bad(fmt::format("length {} outside [1, {}]", r.length, g.max_blob_bytes));
        break;
      }
      case RecordType::kDiskWrite: {
        if (r.index >= g.disk_sectors.size())
          return bad(fmt::format("disk {} unknown ({} disks)", r.index, g.disk_sectors.size()));
        if (r.length == 0 || r.length % kSectorSize != 0)
          return bad(fmt::format("length {} is not a positive multiple of {}", r.length, kSectorSize));
        uint64_t sectors = r.length / kSectorSize;
        uint64_t disk = g.disk_sectors[r.index];
        if (r.key >= disk || sectors > disk - r.key)
          return bad(fmt::format("sectors [{}, +{}) beyond disk {} of {} sectors", r.key, sectors, r.index,
                                 disk));
        break;
      }
      default:
        return bad(fmt::format("record type {} cannot be applied", r.type));
    }
  }
  return Ok();
}

Result<ApplyStats> ApplyEpoch(const StagedEpoch& epoch, const ApplyTarget& t, const CommitHook& hook) {
  std::byte* pages = t.image + t.layout.page_data_offset;
  auto* versions = reinterpret_cast<uint64_t*>(t.image + t.layout.version_array_offset);
  std::byte* blob_dir = t.image + t.layout.blob_dir_offset;
  std::byte* blob_data = t.image + t.layout.blob_data_offset;
  const std::byte* payload = epoch.payload.data();

  uint64_t page_records = 0;
  for (const JournalRecord& r : epoch.records)
    page_records += r.type == static_cast<uint8_t>(RecordType::kPage) ||
                    r.type == static_cast<uint8_t>(RecordType::kZeroPage);
  const uint64_t half = page_records / 2;
  bool half_reported = false;
  auto report_half = [&] {
    if (!half_reported && hook) hook(CommitStep::kPagesHalfApplied);
    half_reported = true;
  };

  ApplyStats stats;
  std::vector<DiskWriteOp> disk_ops;
  for (const JournalRecord& r : epoch.records) {
    if (r.type != static_cast<uint8_t>(RecordType::kDiskWrite)) continue;
    disk_ops.push_back(DiskWriteOp{t.disk_fds[r.index], r.key * kSectorSize, payload + r.payload_offset, r.length});
    stats.disk_bytes += r.length;
  }
  auto apply_memory = [&] {
    for (const JournalRecord& r : epoch.records) {
      switch (static_cast<RecordType>(r.type)) {
        case RecordType::kPage:
        case RecordType::kZeroPage: {
          if (stats.pages + stats.zero_pages == half) report_half();
          std::byte* dst = pages + r.key * kPageSize;
          if (r.type == static_cast<uint8_t>(RecordType::kPage)) {
            std::memcpy(dst, payload + r.payload_offset, kPageSize);
            ++stats.pages;
          } else {
            std::memset(dst, 0, kPageSize);
            ++stats.zero_pages;
          }
          versions[r.key] = epoch.epoch;
          break;
        }
        case RecordType::kVcpuState:
        case RecordType::kDeviceState: {
          uint32_t slot = *BlobSlotOf(*t.geometry, static_cast<RecordType>(r.type), r.index);
          std::memcpy(blob_data + slot * t.layout.blob_slot_stride, payload + r.payload_offset, r.length);
          BlobSlotHeader entry{};
          entry.type = r.type;
          entry.index = r.index;
          entry.length = r.length;
          entry.version = epoch.epoch;
          std::memcpy(blob_dir + slot * sizeof(BlobSlotHeader), &entry, sizeof(entry));
          stats.blob_bytes += r.length;
          break;
        }
        default:
          break;  // disk writes are in flight; ValidateEpochRecords rejected anything else
      }
    }
    report_half();
    if (hook) hook(CommitStep::kMemoryApplied);
  };
  // Disk writes first, so the memory copy overlaps them.
  REPLINK_TRY(t.disk_writer->WriteAll(disk_ops, apply_memory));
  if (hook) hook(CommitStep::kDisksWritten);
  return stats;
}

}  // namespace replink::replica
