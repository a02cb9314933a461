#include "codec/delta_cache.h"

#include <sys/mman.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <utility>

namespace replink::codec {
namespace {

// Slot numbers are uint32_t with one value reserved as "empty"; far beyond any real guest.
constexpr std::size_t kMaxCapacityPages = std::size_t{1} << 30;  // 4 TiB of pages

}  // namespace

void DeltaCache::ArenaDeleter::operator()(std::byte* p) const {
  if (p != nullptr) munmap(p, bytes);
}

Result<DeltaCache> DeltaCache::Create(std::size_t capacity_mib) {
  if (capacity_mib == 0 || capacity_mib > kMaxCapacityPages / kPagesPerMib)
    return MakeError(Errc::kInvalidArgument, "delta cache of {} MiB: expected 1..{} MiB",
                     capacity_mib, kMaxCapacityPages / kPagesPerMib);
  return CreateWithPages(capacity_mib * kPagesPerMib);
}

Result<DeltaCache> DeltaCache::CreateWithPages(std::size_t capacity_pages) {
  if (capacity_pages == 0 || capacity_pages > kMaxCapacityPages)
    return MakeError(Errc::kInvalidArgument, "delta cache of {} pages: expected 1..{} pages",
                     capacity_pages, kMaxCapacityPages);
  const std::size_t bytes = capacity_pages * kPageSize;
  // Anonymous mapping: reserved now, backed by memory only as pages are first stored.
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return SysError("delta cache: mmap of {} MiB arena", bytes >> 20);
  madvise(p, bytes, MADV_HUGEPAGE);  // fewer TLB misses on random access; best effort
  std::unique_ptr<std::byte, ArenaDeleter> arena(static_cast<std::byte*>(p), ArenaDeleter{bytes});
  return DeltaCache(capacity_pages, std::move(arena));
}

DeltaCache::DeltaCache(std::size_t capacity, std::unique_ptr<std::byte, ArenaDeleter> arena)
    : capacity_(capacity), arena_(std::move(arena)), slots_(capacity) {
  const std::size_t index_size = std::bit_ceil(capacity * 2);
  index_.resize(index_size);
  index_mask_ = index_size - 1;
  index_shift_ = 64 - std::countr_zero(index_size);
  free_slots_.reserve(capacity);
  Clear();
  stats_.clears = 0;  // the initial reset is not a link reset
}

DeltaCache::DeltaCache(DeltaCache&&) noexcept = default;
DeltaCache& DeltaCache::operator=(DeltaCache&&) noexcept = default;
DeltaCache::~DeltaCache() = default;

std::size_t DeltaCache::Home(uint64_t gfn) const {
  // Fibonacci hashing: consecutive gfns (the common case) land far apart. The shift is at most 63
  // because the index has at least two entries.
  return static_cast<std::size_t>((gfn * 0x9E3779B97F4A7C15ull) >> index_shift_);
}

std::size_t DeltaCache::FindIndexPos(uint64_t gfn) const {
  for (std::size_t pos = Home(gfn);; pos = (pos + 1) & index_mask_) {
    const IndexEntry& e = index_[pos];
    if (e.slot == IndexEntry::kEmpty) return index_mask_ + 1;
    if (e.gfn == gfn) return pos;
  }
}

// Backward-shift deletion: keeps every probe chain intact without tombstones, so lookups stay
// short however many evictions happen.
void DeltaCache::RemoveIndexAt(std::size_t hole) {
  std::size_t pos = hole;
  for (;;) {
    pos = (pos + 1) & index_mask_;
    IndexEntry& e = index_[pos];
    if (e.slot == IndexEntry::kEmpty) break;
    const std::size_t home = Home(e.gfn);
    // e may move back into the hole only if its home is not cyclically inside (hole, pos].
    const bool home_after_hole =
        hole <= pos ? (hole < home && home <= pos) : (hole < home || home <= pos);
    if (home_after_hole) continue;
    index_[hole] = e;
    hole = pos;
  }
  index_[hole] = IndexEntry{};
}

uint32_t DeltaCache::TakeSlot() {
  if (!free_slots_.empty()) {
    const uint32_t slot = free_slots_.back();
    free_slots_.pop_back();
    return slot;
  }
  // Every slot is in use. Two sweeps at most: the first clears every second-chance bit.
  for (;;) {
    const auto slot = static_cast<uint32_t>(clock_hand_);
    clock_hand_ = clock_hand_ + 1 == capacity_ ? 0 : clock_hand_ + 1;
    Slot& s = slots_[slot];
    if (s.referenced) {
      s.referenced = false;
      continue;
    }
    RemoveIndexAt(FindIndexPos(s.gfn));
    ++stats_.evictions;
    stats_.bytes -= kPageSize;
    return slot;
  }
}

std::optional<DeltaCache::Entry> DeltaCache::Lookup(uint64_t gfn) {
  const std::size_t pos = FindIndexPos(gfn);
  if (pos > index_mask_) {
    ++stats_.misses;
    return std::nullopt;
  }
  ++stats_.hits;
  const uint32_t slot = index_[pos].slot;
  slots_[slot].referenced = true;
  return Entry{PageOf(slot), slots_[slot].version};
}

bool DeltaCache::Contains(uint64_t gfn) const { return FindIndexPos(gfn) <= index_mask_; }

Result<void> DeltaCache::Store(uint64_t gfn, ConstPageSpan page, uint64_t version) {
  const std::size_t pos = FindIndexPos(gfn);
  if (pos <= index_mask_) {
    Slot& s = slots_[index_[pos].slot];
    if (version < s.version)
      return MakeError(Errc::kInvalidArgument,
                       "delta cache: gfn {:#x} stored with version {} older than cached {}", gfn,
                       version, s.version);
    std::memcpy(PageOf(index_[pos].slot), page.data(), kPageSize);
    s.version = version;
    s.referenced = true;
    ++stats_.updates;
    return Ok();
  }
  const uint32_t slot = TakeSlot();  // may evict, which may shift index entries: probe again below
  std::size_t free_pos = Home(gfn);
  while (index_[free_pos].slot != IndexEntry::kEmpty) free_pos = (free_pos + 1) & index_mask_;
  index_[free_pos] = IndexEntry{gfn, slot};
  slots_[slot] = Slot{gfn, version, true};
  std::memcpy(PageOf(slot), page.data(), kPageSize);
  ++stats_.inserts;
  stats_.bytes += kPageSize;
  return Ok();
}

bool DeltaCache::Erase(uint64_t gfn) {
  const std::size_t pos = FindIndexPos(gfn);
  if (pos > index_mask_) return false;
  const uint32_t slot = index_[pos].slot;
  RemoveIndexAt(pos);
  slots_[slot] = Slot{};
  free_slots_.push_back(slot);  // never reallocates: reserved for every slot
  stats_.bytes -= kPageSize;
  return true;
}

void DeltaCache::Clear() {
  std::fill(index_.begin(), index_.end(), IndexEntry{});
  std::fill(slots_.begin(), slots_.end(), Slot{});
  free_slots_.clear();
  // Handed out lowest first, so a small working set touches a compact part of the arena.
  for (std::size_t i = capacity_; i > 0; --i) free_slots_.push_back(static_cast<uint32_t>(i - 1));
  clock_hand_ = 0;
  stats_.bytes = 0;
  ++stats_.clears;
}

}  // namespace replink::codec
