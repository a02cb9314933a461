// Seeded page generators for the codec property tests: every failure reproduces from its seed.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <ostream>
#include <random>
#include <span>
#include <string_view>

#include "codec/page_codec.h"

namespace replink::codec {
// Lets GoogleTest print codec ids by name.
inline void PrintTo(CodecId id, std::ostream* os) {
  *os << CodecName(id) << " (" << static_cast<unsigned>(id) << ")";
}
}  // namespace replink::codec

namespace replink::codec::testing {

// Heap-allocated, exactly one page: AddressSanitizer reports any access past either end.
struct Page {
  std::unique_ptr<std::byte[]> bytes{new std::byte[kPageSize]()};

  Page() = default;
  Page(const Page& other) : Page() { std::copy_n(other.bytes.get(), kPageSize, bytes.get()); }
  Page& operator=(const Page& other) {
    std::copy_n(other.bytes.get(), kPageSize, bytes.get());
    return *this;
  }
  Page(Page&&) = default;
  Page& operator=(Page&&) = default;

  PageSpan span() { return PageSpan(bytes.get(), kPageSize); }
  ConstPageSpan span() const { return ConstPageSpan(bytes.get(), kPageSize); }
  std::byte* data() { return bytes.get(); }
  const std::byte* data() const { return bytes.get(); }
  std::byte& operator[](std::size_t i) { return bytes[i]; }
  bool operator==(const Page& other) const {
    return std::equal(data(), data() + kPageSize, other.data());
  }
};

// Heap bytes of an exact length, for payloads: reading past the end is an ASan report.
inline std::unique_ptr<std::byte[]> ExactCopy(std::span<const std::byte> bytes) {
  auto copy = std::make_unique<std::byte[]>(bytes.size() == 0 ? 1 : bytes.size());
  std::copy(bytes.begin(), bytes.end(), copy.get());
  return copy;
}

using Rng = std::mt19937_64;

inline std::byte RandomByte(Rng& rng) { return static_cast<std::byte>(rng() & 0xFF); }

inline Page RandomPage(Rng& rng) {
  Page page;
  for (std::size_t i = 0; i < kPageSize; i += 8) {
    const uint64_t v = rng();
    for (std::size_t k = 0; k < 8; ++k) page[i + k] = static_cast<std::byte>(v >> (8 * k));
  }
  return page;
}

inline Page ZeroPage() { return Page{}; }

// English-like text: what LZ4 compresses well (heap strings, config files, logs).
inline Page TextPage(Rng& rng) {
  static constexpr std::string_view kWords[] = {
      "the ",    "replica ", "epoch ", "commit ",     "of ", "page ", "guest ",
      "and ",    "a ",       "link ",  "checkpoint ", "to ", "in ",   "dirty ",
      "memory ", "vcpu ",    "\n",     "state, ",     "is ", "sent. "};
  Page page;
  std::size_t i = 0;
  while (i < kPageSize) {
    const std::string_view w = kWords[rng() % std::size(kWords)];
    for (char c : w) {
      if (i == kPageSize) break;
      page[i++] = static_cast<std::byte>(c);
    }
  }
  return page;
}

// A page of small integers and pointers, like a heap of structs: half its bytes are zero.
inline Page StructPage(Rng& rng) {
  Page page;
  for (std::size_t i = 0; i < kPageSize; i += 8) {
    uint64_t v = 0;
    switch (rng() % 4) {
      case 0: v = 0; break;
      case 1: v = rng() % 1000; break;
      case 2: v = 0x00007f0000000000ull | (rng() & 0xFFFFFFF8ull); break;  // a user pointer
      default: v = rng(); break;
    }
    for (std::size_t k = 0; k < 8; ++k) page[i + k] = static_cast<std::byte>(v >> (8 * k));
  }
  return page;
}

// Changes `changes` runs of 1..max_run bytes at random places (each byte really changes).
inline Page SparseChange(const Page& base, Rng& rng, std::size_t changes, std::size_t max_run) {
  Page page = base;
  for (std::size_t c = 0; c < changes; ++c) {
    const std::size_t run = 1 + rng() % max_run;
    const std::size_t at = rng() % (kPageSize - run + 1);
    for (std::size_t i = at; i < at + run; ++i)
      page[i] = base.data()[i] ^ static_cast<std::byte>(1 + rng() % 255);
  }
  return page;
}

// Each byte changes with probability `p`.
inline Page DenseChange(const Page& base, Rng& rng, double p) {
  Page page = base;
  std::bernoulli_distribution flip(p);
  for (std::size_t i = 0; i < kPageSize; ++i)
    if (flip(rng)) page[i] = base.data()[i] ^ static_cast<std::byte>(1 + rng() % 255);
  return page;
}

// Every other byte changed: the XOR-delta worst case (no unchanged gap long enough to skip).
inline Page AlternatingChange(const Page& base) {
  Page page = base;
  for (std::size_t i = 0; i < kPageSize; i += 2) page[i] = base.data()[i] ^ std::byte{0x5A};
  return page;
}

}  // namespace replink::codec::testing
