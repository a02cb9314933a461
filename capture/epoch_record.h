// The epoch record vocabulary shared by every stage: the shim's capture ring descriptors, the link
// protocol's records and the peer's stager all speak of these types. The byte layouts that carry them
// are defined where they travel (capture/capture_ring_abi.h, link/), this header only names them.
#pragma once

#include <cstddef>
#include <cstdint>

namespace replink {

inline constexpr std::size_t kPageSize = 4096;
inline constexpr std::size_t kSectorSize = 512;

enum class RecordType : uint8_t {
  kEpochBegin = 1,   // epoch number + trigger
  kPage = 2,         // one guest page (gfn + 4 KiB)
  kZeroPage = 3,     // a guest page that is all zero: no content
  kVcpuState = 4,    // opaque per-vCPU state blob (backend-defined format, see backend docs)
  kDeviceState = 5,  // opaque device/platform state blob (e.g. Xen HVM context)
  kDiskWrite = 6,    // a guest disk write: disk id, first sector, data (multiple of 512 B)
  kEpochEnd = 7,     // record count + checksum over the epoch's content
};

// What made the shim cut an epoch. Disk writes and network sends are output: they are held until the
// peer commits the epoch (output commit).
enum class EpochTrigger : uint8_t {
  kDiskWrite = 1,
  kNetSend = 2,
  kTimer = 3,
  kExplicit = 4,  // operator or test asked for a checkpoint
};

const char* RecordTypeName(RecordType type);
const char* EpochTriggerName(EpochTrigger trigger);
bool IsValidRecordType(uint8_t raw);
bool IsValidEpochTrigger(uint8_t raw);

}  // namespace replink
