// The KVM device state blob (DEVICE_STATE record, device id 0): the I/O the guest issued whose
// completion it has not seen yet — block writes (their data is in the same or an earlier epoch's
// DISK_WRITE, so only the request is recorded) and output messages (their bytes, which exist nowhere
// else once the guest reused its buffer). A restore completes the writes and emits the messages again
// (at least once: a receiver tells a repeat by its sequence number). docs/PROTOCOL.md "KVM device
// state blob" is the prose.
#pragma once

#include <cstdint>
#include <deque>
#include <span>
#include <vector>

#include "errors/result.h"

namespace replink::kvm {

inline constexpr uint64_t kDeviceBlobMagic = 0x315645444b4c5052ULL;  // "RPLKDEV1"
inline constexpr uint32_t kDeviceBlobVersion = 1;
inline constexpr std::size_t kMaxDeviceBlobBytes = 1u << 20;  // the capture ring's blob bound

struct DeviceBlobHeader {
  uint64_t magic;
  uint32_t version;
  uint32_t header_bytes;  // 32
  uint32_t total_bytes;
  uint32_t block_writes;  // BlockWriteEntry count (0 or 1 with the one-request guest ABI)
  uint32_t outputs;       // OutputEntry count
  uint32_t reserved;
};
static_assert(sizeof(DeviceBlobHeader) == 32);

struct BlockWriteEntry {
  uint64_t request_no;
  uint64_t sector;
  uint32_t bytes;
  uint32_t reserved;
};
static_assert(sizeof(BlockWriteEntry) == 24);

struct OutputEntry {  // followed by `bytes` message bytes, padded to 8
  uint64_t message_no;
  uint32_t bytes;
  uint32_t reserved;
};
static_assert(sizeof(OutputEntry) == 16);

struct HeldBlockWrite {
  uint64_t id = 0;  // IoEvent id
  uint64_t request_no = 0;
  uint64_t sector = 0;
  std::vector<std::byte> data;
};

struct HeldOutput {
  uint64_t id = 0;
  uint64_t message_no = 0;
  std::vector<std::byte> bytes;
};

struct DeviceState {
  std::vector<HeldBlockWrite> writes;  // data left empty when parsed from a blob
  std::vector<HeldOutput> outputs;
};

Result<std::size_t> SaveDeviceState(const std::deque<HeldBlockWrite>& writes, const std::deque<HeldOutput>& outputs,
                                    std::span<std::byte> out);
// Untrusted input: every count and length is checked against the blob's size.
Result<DeviceState> ParseDeviceState(std::span<const std::byte> blob);

}  // namespace replink::kvm
