// Copying wire structs in and out of byte buffers. Frames sit at arbitrary alignment (behind a 14-byte
// Ethernet header, records back to back), so structs are never dereferenced in place; memcpy compiles
// to plain loads and stores. Callers check bounds first; the asserts here are a second line.
#pragma once

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <type_traits>

namespace replink::link {

template <typename T>
T LoadWire(std::span<const std::byte> bytes, std::size_t offset = 0) {
  static_assert(std::is_trivially_copyable_v<T>);
  assert(offset <= bytes.size() && bytes.size() - offset >= sizeof(T));
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof(T));
  return value;
}

template <typename T>
void StoreWire(std::span<std::byte> bytes, std::size_t offset, const T& value) {
  static_assert(std::is_trivially_copyable_v<T>);
  assert(offset <= bytes.size() && bytes.size() - offset >= sizeof(T));
  std::memcpy(bytes.data() + offset, &value, sizeof(T));
}

// Network byte order for the Ethernet / IPv4 / UDP fields.
inline uint16_t LoadBe16(const std::byte* p) {
  return static_cast<uint16_t>((std::to_integer<unsigned>(p[0]) << 8) | std::to_integer<unsigned>(p[1]));
}
inline uint32_t LoadBe32(const std::byte* p) {
  return (uint32_t{LoadBe16(p)} << 16) | LoadBe16(p + 2);
}
inline void StoreBe16(std::byte* p, uint16_t v) {
  p[0] = static_cast<std::byte>(v >> 8);
  p[1] = static_cast<std::byte>(v & 0xff);
}
inline void StoreBe32(std::byte* p, uint32_t v) {
  StoreBe16(p, static_cast<uint16_t>(v >> 16));
  StoreBe16(p + 2, static_cast<uint16_t>(v & 0xffff));
}

}  // namespace replink::link
