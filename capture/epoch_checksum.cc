#include "capture/epoch_checksum.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace replink {
namespace {

// The seed binds a record's content to its identity: the same bytes at another frame, sector or
// vCPU give another hash. Type in the top byte, the 56-bit key below (frame numbers and sectors
// fit), the 32-bit secondary key (disk, vCPU) mixed in with a multiply so it cannot cancel out.
uint64_t Seed(RecordType type, uint64_t key, uint64_t secondary) {
  return (uint64_t{static_cast<uint8_t>(type)} << 56) ^ (key & 0x00ff'ffff'ffff'ffffULL) ^
         (secondary * 0x9e37'79b9'7f4a'7c15ULL);
}

}  // namespace

void EpochChecksum::Add(uint64_t seed, std::span<const std::byte> bytes) {
  sum_ += XXH3_64bits_withSeed(bytes.data(), bytes.size(), seed);
  ++records_;
}

void EpochChecksum::AddPage(uint64_t gfn, std::span<const std::byte> page) {
  Add(Seed(RecordType::kPage, gfn, 0), page);
}

void EpochChecksum::AddZeroPage(uint64_t gfn) {
  // Hashes no bytes: a zero page and a page record of zeros are different records on purpose
  // (the receiver must apply a zero page as zero, not keep stale content).
  Add(Seed(RecordType::kZeroPage, gfn, 0), {});
}

void EpochChecksum::AddBlob(RecordType type, uint32_t index, std::span<const std::byte> bytes) {
  Add(Seed(type, index, 0), bytes);
}

void EpochChecksum::AddDiskWrite(uint32_t disk, uint64_t sector, std::span<const std::byte> data) {
  Add(Seed(RecordType::kDiskWrite, sector, disk + 1), data);
}

}  // namespace replink
