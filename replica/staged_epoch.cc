#include "replica/staged_epoch.h"

#include "capture/epoch_checksum.h"

namespace replink::replica {

uint64_t ContentChecksumOf(const StagedEpoch& epoch) {
  EpochChecksum sum;
  for (const JournalRecord& r : epoch.records) {
    std::span<const std::byte> bytes = epoch.payload.subspan(r.payload_offset, r.length);
    auto type = static_cast<RecordType>(r.type);
    switch (type) {
      case RecordType::kPage: sum.AddPage(r.key, bytes); break;
      case RecordType::kZeroPage: sum.AddZeroPage(r.key); break;
      case RecordType::kVcpuState:
      case RecordType::kDeviceState: sum.AddBlob(type, r.index, bytes); break;
      case RecordType::kDiskWrite: sum.AddDiskWrite(r.index, r.key, bytes); break;
      default: break;  // not content; validation rejects such records
    }
  }
  return sum.value();
}

}  // namespace replink::replica
