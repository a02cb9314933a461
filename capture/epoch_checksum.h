// EpochChecksum: the end-to-end integrity check of one epoch's *content*.
//
// The shim computes it while capturing and stores it in the EPOCH_END record; the peer recomputes it
// over the decoded content it staged and refuses to commit on mismatch. It covers the logical content
// (frame numbers, page bytes, blobs, disk writes), never an encoding, so codecs and framing in between
// are checked too. It is the wrapping 64-bit sum of one XXH3-64 per record, seeded with the record's
// identity, which makes it independent of record order (the dataplane may reorder) while a missing,
// duplicated or altered record changes it. Exact definition: docs/PROTOCOL.md "Epoch checksum".
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "capture/epoch_record.h"

namespace replink {

class EpochChecksum {
 public:
  void AddPage(uint64_t gfn, std::span<const std::byte> page);  // page.size() == kPageSize
  void AddZeroPage(uint64_t gfn);
  // type is kVcpuState or kDeviceState; index is the vCPU index or device id.
  void AddBlob(RecordType type, uint32_t index, std::span<const std::byte> bytes);
  void AddDiskWrite(uint32_t disk, uint64_t sector, std::span<const std::byte> data);

  uint64_t value() const { return sum_; }
  uint32_t records() const { return records_; }
  void Reset() { sum_ = 0; records_ = 0; }

 private:
  void Add(uint64_t seed, std::span<const std::byte> bytes);
  uint64_t sum_ = 0;
  uint32_t records_ = 0;
};

}  // namespace replink
