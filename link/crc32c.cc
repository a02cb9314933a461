#include "link/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace replink::link {
namespace {

constexpr uint32_t kPolyReflected = 0x82F63B78u;

// table[k][b]: the register contribution of byte b followed by k zero bytes (slicing-by-8).
using SliceTables = std::array<std::array<uint32_t, 256>, 8>;

constexpr SliceTables MakeTables() {
  SliceTables t{};
  for (uint32_t b = 0; b < 256; ++b) {
    uint32_t r = b;
    for (int i = 0; i < 8; ++i) r = (r >> 1) ^ ((r & 1u) ? kPolyReflected : 0u);
    t[0][b] = r;
  }
  for (uint32_t b = 0; b < 256; ++b)
    for (std::size_t k = 1; k < 8; ++k) t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xffu];
  return t;
}

constexpr SliceTables kTables = MakeTables();

uint32_t Byte(const std::byte* p) { return std::to_integer<uint32_t>(*p); }

bool DetectHardware() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("sse4.2");
#else
  return false;
#endif
}

}  // namespace

uint32_t Crc32cPortable(std::span<const std::byte> bytes, uint32_t previous) {
  uint32_t r = ~previous;
  const std::byte* p = bytes.data();
  std::size_t n = bytes.size();
  while (n >= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);  // little-endian host (static_assert in link_protocol.h)
    uint32_t lo = static_cast<uint32_t>(word) ^ r;
    uint32_t hi = static_cast<uint32_t>(word >> 32);
    r = kTables[7][lo & 0xffu] ^ kTables[6][(lo >> 8) & 0xffu] ^ kTables[5][(lo >> 16) & 0xffu] ^
        kTables[4][lo >> 24] ^ kTables[3][hi & 0xffu] ^ kTables[2][(hi >> 8) & 0xffu] ^
        kTables[1][(hi >> 16) & 0xffu] ^ kTables[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  for (; n > 0; --n, ++p) r = (r >> 8) ^ kTables[0][(r ^ Byte(p)) & 0xffu];
  return ~r;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t Crc32cHardware(std::span<const std::byte> bytes,
                                                           uint32_t previous) {
  uint64_t r = ~previous;
  const std::byte* p = bytes.data();
  std::size_t n = bytes.size();
  while (n >= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    r = _mm_crc32_u64(r, word);
    p += 8;
    n -= 8;
  }
  uint32_t r32 = static_cast<uint32_t>(r);
  for (; n > 0; --n, ++p) r32 = _mm_crc32_u8(r32, static_cast<uint8_t>(Byte(p)));
  return ~r32;
}
#else
uint32_t Crc32cHardware(std::span<const std::byte> bytes, uint32_t previous) {
  return Crc32cPortable(bytes, previous);
}
#endif

bool Crc32cHardwareAvailable() {
  static const bool available = DetectHardware();  // once, thread-safe
  return available;
}

uint32_t Crc32c(std::span<const std::byte> bytes, uint32_t previous) {
  return Crc32cHardwareAvailable() ? Crc32cHardware(bytes, previous) : Crc32cPortable(bytes, previous);
}

}  // namespace replink::link
