// DeltaCache: the sender's copy of what the peer holds, for XOR-delta encoding.
//
// For each guest frame number it keeps the 4 KiB content last sent to the peer and its version (the
// epoch in which that content was sent), so the next change to the page can travel as a delta
// against exactly what the peer has. Bounded: capacity is fixed at creation (default 512 MiB, the
// hot set of a 4 GiB guest) and the page arena and index are allocated once; lookups and stores are
// O(1) and never allocate. When full, CLOCK (second chance) picks the entry to evict.
//
// Single-threaded: owned by one encoder on one dataplane lcore.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "codec/page_codec.h"

namespace replink::codec {

struct DeltaCacheStats {
  uint64_t hits = 0;       // Lookup found the gfn
  uint64_t misses = 0;     // Lookup did not
  uint64_t inserts = 0;    // Store of a gfn that was not cached
  uint64_t updates = 0;    // Store over a cached gfn
  uint64_t evictions = 0;  // entries dropped to make room
  uint64_t clears = 0;     // Clear() calls (link resets)
  uint64_t bytes = 0;      // page bytes held now (entries * kPageSize)
};

class DeltaCache {
 public:
  static constexpr std::size_t kDefaultCapacityMib = 512;
  static constexpr std::size_t kPagesPerMib = (std::size_t{1} << 20) / kPageSize;

  // Fails with kInvalidArgument for 0 or an absurd size, kIo if the arena cannot be mapped.
  static Result<DeltaCache> Create(std::size_t capacity_mib = kDefaultCapacityMib);
  static Result<DeltaCache> CreateWithPages(std::size_t capacity_pages);

  DeltaCache(DeltaCache&&) noexcept;
  DeltaCache& operator=(DeltaCache&&) noexcept;
  ~DeltaCache();

  struct Entry {
    const std::byte* page;  // kPageSize bytes; valid until the next Store, Erase or Clear
    uint64_t version;
  };

  // The content last stored for `gfn`. Counts a hit or a miss and marks the entry recently used.
  std::optional<Entry> Lookup(uint64_t gfn);
  // Whether `gfn` is cached, without touching statistics or recency (for policy decisions).
  bool Contains(uint64_t gfn) const;

  // Records that `page` was sent to the peer in epoch `version`. Evicts one entry if the cache is
  // full. A version older than the cached one is a caller bug (epochs only move forward) and is
  // rejected with kInvalidArgument, leaving the entry unchanged.
  Result<void> Store(uint64_t gfn, ConstPageSpan page, uint64_t version);

  // Forgets one page (e.g. the peer was told to drop it). Returns whether it was cached.
  bool Erase(uint64_t gfn);
  // Forgets everything: the peer's state is unknown after a link reset. O(capacity).
  void Clear();

  std::size_t size() const { return capacity_ - free_slots_.size(); }
  std::size_t capacity_pages() const { return capacity_; }
  const DeltaCacheStats& stats() const { return stats_; }

 private:
  struct Slot {
    uint64_t gfn = 0;
    uint64_t version = 0;
    bool referenced = false;  // CLOCK's second-chance bit
  };
  struct IndexEntry {
    uint64_t gfn = 0;
    uint32_t slot = kEmpty;
    static constexpr uint32_t kEmpty = UINT32_MAX;
  };
  struct ArenaDeleter {
    std::size_t bytes = 0;
    void operator()(std::byte* p) const;
  };

  DeltaCache(std::size_t capacity, std::unique_ptr<std::byte, ArenaDeleter> arena);

  std::size_t Home(uint64_t gfn) const;
  std::size_t FindIndexPos(uint64_t gfn) const;  // position holding gfn, or index_mask_ + 1
  void RemoveIndexAt(std::size_t pos);
  uint32_t TakeSlot();  // a free slot, evicting one if none is free
  std::byte* PageOf(uint32_t slot) { return arena_.get() + std::size_t{slot} * kPageSize; }

  std::size_t capacity_ = 0;
  std::unique_ptr<std::byte, ArenaDeleter> arena_;
  std::vector<Slot> slots_;
  std::vector<IndexEntry> index_;  // open addressing, linear probing, load factor <= 1/2
  std::size_t index_mask_ = 0;
  int index_shift_ = 0;  // 64 - log2(index size), for Fibonacci hashing
  std::vector<uint32_t> free_slots_;
  std::size_t clock_hand_ = 0;
  DeltaCacheStats stats_;
};

}  // namespace replink::codec
