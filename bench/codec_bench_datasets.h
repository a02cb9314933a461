// Page pairs for the codec benchmark: (base, page) where base is the version the peer holds and
// page the new content to send. Synthetic sets are seeded; the "process" set is read from a real
// program's memory twice, a moment apart.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "codec/page_codec.h"

namespace replink::codec::bench {

struct PagePairs {
  std::string name;
  std::string note;  // how the set was made; why it is empty if it is
  std::vector<std::byte> bases;
  std::vector<std::byte> pages;

  std::size_t size() const { return pages.size() / kPageSize; }
  ConstPageSpan page(std::size_t i) const {
    return ConstPageSpan(pages.data() + i * kPageSize, kPageSize);
  }
  const std::byte* base(std::size_t i) const { return bases.data() + i * kPageSize; }
  void Add(std::span<const std::byte> base, std::span<const std::byte> page);
};

PagePairs IncompressiblePairs(std::size_t count, uint64_t seed);  // random vs random
PagePairs SparseDeltaPairs(std::size_t count, uint64_t seed);     // a few 8-byte words changed
PagePairs ZeroPairs(std::size_t count, uint64_t seed);            // random content, then zeroed
PagePairs TextPairs(std::size_t count, uint64_t seed);            // English-like text, rewritten

// Starts `argv` (e.g. a python3 loop building dicts and strings), lets it warm up, reads its
// writable private anonymous mappings through /proc/PID/mem, waits `gap`, reads them again and
// keeps the pages that changed (old, new), up to `max_pairs`. Always stops the program before
// returning. On failure (program missing, /proc not readable) returns an empty set whose note says
// why.
PagePairs ProcessPairs(std::string name, const std::vector<std::string>& argv,
                       std::chrono::milliseconds warmup, std::chrono::milliseconds gap,
                       std::size_t max_pairs);

// The default workload for ProcessPairs: CPython churning dicts, lists and strings.
std::vector<std::string> DefaultWorkload();

}  // namespace replink::codec::bench
