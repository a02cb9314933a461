// Test frames of replink-port-probe (tests only, never on a production link).
//
//   0      14 Ethernet header, EtherType 0x88B6 (IEEE 802 local experimental 2; the link
//             protocol uses 0x88B5)
//   14  u32   magic 0x42504c52 ("RLPB")
//   18  u16   kind: 1 data, 2 ready (receiver is polling), 3 done (receiver finished)
//   20  u16   reserved, 0
//   22  u64   checksum: XXH64 of bytes [30, frame end) seeded with XXH64 of bytes [14, 22)
//   30  u64   sequence (data: 0..count-1)
//   38  u32   frame_bytes: total frame length including the Ethernet header
//   42  u32   reserved, 0
//   46  ...   payload: PayloadPattern::For(sequence, length): a fixed pseudo-random block read
//             from offset sequence % 251, so that filling and checking are a memcpy/memcmp
// Little-endian, unaligned. Fault injection never touches bytes [0, 14), so any injected
// corruption lands in the checksummed part and every corrupted frame is detectable.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include <xxhash.h>

namespace replink::probe {

inline constexpr uint16_t kProbeEtherType = 0x88B6;
inline constexpr uint32_t kProbeMagic = 0x42504c52;
inline constexpr size_t kEthernetBytes = 14;

enum class ProbeKind : uint16_t { kData = 1, kReady = 2, kDone = 3 };

#pragma pack(push, 1)
struct ProbeHeader {
  uint32_t magic;
  uint16_t kind;
  uint16_t reserved;
  uint64_t checksum;
  uint64_t sequence;
  uint32_t frame_bytes;
  uint32_t reserved2;
};
#pragma pack(pop)
static_assert(sizeof(ProbeHeader) == 32);
inline constexpr size_t kProbeHeaderOffset = kEthernetBytes;
inline constexpr size_t kMinProbeFrame = kEthernetBytes + sizeof(ProbeHeader);
inline constexpr size_t kChecksummedFrom = kEthernetBytes + 16;  // sequence onwards

class PayloadPattern {
 public:
  static constexpr size_t kMaxPayload = 16384;
  static constexpr size_t kOffsets = 251;  // prime: neighbouring sequences differ everywhere

  PayloadPattern() : block_(kMaxPayload + kOffsets) {
    uint64_t x = 0x243f6a8885a308d3ULL;
    for (auto& b : block_) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      b = static_cast<uint8_t>(x);
    }
  }
  // Precondition: length <= kMaxPayload.
  std::span<const uint8_t> For(uint64_t sequence, size_t length) const {
    return std::span<const uint8_t>(block_).subspan(sequence % kOffsets, length);
  }

 private:
  std::vector<uint8_t> block_;
};

// Checksum of a whole frame (Ethernet header included in `frame`, not in the sum).
inline uint64_t ProbeChecksum(std::span<const uint8_t> frame) {
  uint64_t seed = XXH64(frame.data() + kEthernetBytes, 8, 0);
  return XXH64(frame.data() + kChecksummedFrom, frame.size() - kChecksummedFrom, seed);
}

}  // namespace replink::probe
