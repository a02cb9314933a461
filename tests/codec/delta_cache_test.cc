#include "codec/delta_cache.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "tests/codec/page_generators.h"

namespace replink::codec {
namespace {

using testing::Page;
using testing::Rng;

Page Filled(uint8_t value) {
  Page p;
  std::fill_n(p.data(), kPageSize, std::byte{value});
  return p;
}

DeltaCache MakeCache(std::size_t pages) {
  auto cache = DeltaCache::CreateWithPages(pages);
  EXPECT_TRUE(cache.ok());
  return std::move(cache).value();
}

TEST(DeltaCache, RejectsBadSizes) {
  EXPECT_EQ(DeltaCache::Create(0).error().code, Errc::kInvalidArgument);
  EXPECT_EQ(DeltaCache::CreateWithPages(0).error().code, Errc::kInvalidArgument);
  EXPECT_EQ(DeltaCache::Create(std::size_t{1} << 40).error().code, Errc::kInvalidArgument);
}

TEST(DeltaCache, DefaultSizeIsFiveHundredTwelveMib) {
  auto cache = DeltaCache::Create();
  ASSERT_TRUE(cache.ok()) << cache.error().Describe();
  EXPECT_EQ(cache->capacity_pages(), 512u * 256u);
  EXPECT_EQ(cache->size(), 0u);
}

TEST(DeltaCache, StoreLookupAndVersions) {
  DeltaCache cache = MakeCache(8);
  EXPECT_FALSE(cache.Lookup(42));
  EXPECT_EQ(cache.stats().misses, 1u);

  ASSERT_TRUE(cache.Store(42, Filled(1).span(), 10).ok());
  auto e = cache.Lookup(42);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->version, 10u);
  EXPECT_EQ(e->page[0], std::byte{1});
  EXPECT_EQ(e->page[kPageSize - 1], std::byte{1});

  // A newer version replaces content and version; the same version again is allowed.
  ASSERT_TRUE(cache.Store(42, Filled(2).span(), 11).ok());
  ASSERT_TRUE(cache.Store(42, Filled(3).span(), 11).ok());
  e = cache.Lookup(42);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->version, 11u);
  EXPECT_EQ(e->page[100], std::byte{3});

  // Going back in time is a caller bug: rejected, entry unchanged.
  auto older = cache.Store(42, Filled(4).span(), 9);
  ASSERT_FALSE(older.ok());
  EXPECT_EQ(older.error().code, Errc::kInvalidArgument);
  e = cache.Lookup(42);
  EXPECT_EQ(e->version, 11u);
  EXPECT_EQ(e->page[100], std::byte{3});

  EXPECT_EQ(cache.stats().hits, 3u);
  EXPECT_EQ(cache.stats().inserts, 1u);
  EXPECT_EQ(cache.stats().updates, 2u);
  EXPECT_EQ(cache.stats().bytes, kPageSize);
  EXPECT_EQ(cache.size(), 1u);
}

TEST(DeltaCache, ContainsTouchesNeitherStatsNorRecency) {
  DeltaCache cache = MakeCache(2);
  ASSERT_TRUE(cache.Store(1, Filled(1).span(), 1).ok());
  ASSERT_TRUE(cache.Store(2, Filled(2).span(), 1).ok());
  EXPECT_TRUE(cache.Contains(1));
  EXPECT_FALSE(cache.Contains(3));
  EXPECT_EQ(cache.stats().hits + cache.stats().misses, 0u);
}

TEST(DeltaCache, IsBoundedAndEvicts) {
  DeltaCache cache = MakeCache(16);
  for (uint64_t gfn = 0; gfn < 100; ++gfn) {
    ASSERT_TRUE(cache.Store(gfn * 4096, Filled(static_cast<uint8_t>(gfn)).span(), gfn).ok());
    ASSERT_TRUE(cache.Contains(gfn * 4096)) << "the page just stored must be cached";
  }
  EXPECT_EQ(cache.size(), 16u);
  EXPECT_EQ(cache.stats().inserts, 100u);
  EXPECT_EQ(cache.stats().evictions, 84u);
  EXPECT_EQ(cache.stats().bytes, 16 * kPageSize);
  std::size_t present = 0;
  for (uint64_t gfn = 0; gfn < 100; ++gfn) {
    auto e = cache.Lookup(gfn * 4096);
    if (!e) continue;
    ++present;
    EXPECT_EQ(e->version, gfn);
    EXPECT_EQ(e->page[7], std::byte(gfn));
  }
  EXPECT_EQ(present, 16u);
}

// CLOCK: a page looked up since the hand last passed gets a second chance.
TEST(DeltaCache, ClockGivesRecentlyUsedPagesASecondChance) {
  DeltaCache cache = MakeCache(4);
  for (uint64_t gfn = 1; gfn <= 4; ++gfn) ASSERT_TRUE(cache.Store(gfn, Filled(0).span(), 1).ok());
  // Full and every entry fresh: the hand clears all bits and evicts the oldest slot (gfn 1).
  ASSERT_TRUE(cache.Store(5, Filled(0).span(), 1).ok());
  EXPECT_FALSE(cache.Contains(1));
  ASSERT_TRUE(cache.Lookup(3));                           // 3 is used again
  ASSERT_TRUE(cache.Store(6, Filled(0).span(), 1).ok());  // evicts 2 (not used since the sweep)
  ASSERT_TRUE(cache.Store(7, Filled(0).span(), 1).ok());  // skips 3 (second chance), evicts 4
  EXPECT_FALSE(cache.Contains(2));
  EXPECT_TRUE(cache.Contains(3));
  EXPECT_FALSE(cache.Contains(4));
  EXPECT_TRUE(cache.Contains(5));
  EXPECT_TRUE(cache.Contains(6));
  EXPECT_TRUE(cache.Contains(7));
  EXPECT_EQ(cache.stats().evictions, 3u);
}

TEST(DeltaCache, EraseAndClear) {
  DeltaCache cache = MakeCache(4);
  for (uint64_t gfn = 1; gfn <= 4; ++gfn) ASSERT_TRUE(cache.Store(gfn, Filled(0).span(), 1).ok());
  EXPECT_TRUE(cache.Erase(2));
  EXPECT_FALSE(cache.Erase(2));
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_EQ(cache.stats().bytes, 3 * kPageSize);
  // The freed slot is reused before anything is evicted.
  ASSERT_TRUE(cache.Store(9, Filled(0).span(), 1).ok());
  EXPECT_EQ(cache.stats().evictions, 0u);
  EXPECT_EQ(cache.size(), 4u);

  cache.Clear();
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.stats().bytes, 0u);
  EXPECT_EQ(cache.stats().clears, 1u);
  for (uint64_t gfn : {1, 3, 4, 9}) EXPECT_FALSE(cache.Lookup(gfn));
  // After a clear, versions start over: the peer's state is unknown, nothing to compare against.
  ASSERT_TRUE(cache.Store(1, Filled(5).span(), 0).ok());
  EXPECT_EQ(cache.Lookup(1)->version, 0u);
}

// Random operations against a model: whatever is cached is exactly the latest content and version,
// the index never loses or duplicates an entry (colliding gfns exercise backward-shift deletion).
TEST(DeltaCache, RandomOperationsAgreeWithModel) {
  for (uint64_t seed = 0; seed < 20; ++seed) {
    SCOPED_TRACE(seed);
    Rng rng(seed);
    const std::size_t capacity = 1 + rng() % 64;
    DeltaCache cache = MakeCache(capacity);
    std::map<uint64_t, std::pair<uint8_t, uint64_t>> latest;  // gfn -> (fill byte, version)
    uint64_t epoch = 0;
    const uint64_t universe = capacity * (1 + rng() % 4);
    for (int op = 0; op < 4000; ++op) {
      // Spread gfns so that some share a home bucket and others are far apart.
      const uint64_t gfn = (rng() % universe) * (seed % 2 ? 1 : 0x100000001ull);
      switch (rng() % 8) {
        case 0:
          cache.Erase(gfn);
          latest.erase(gfn);
          break;
        case 1:
          if (rng() % 50 == 0) {
            cache.Clear();
            latest.clear();
          }
          break;
        case 2:
        case 3: {
          auto e = cache.Lookup(gfn);
          if (e) {
            ASSERT_TRUE(latest.count(gfn));
            EXPECT_EQ(e->page[rng() % kPageSize], std::byte(latest[gfn].first));
            EXPECT_EQ(e->version, latest[gfn].second);
          }
          break;
        }
        default: {
          const auto fill = static_cast<uint8_t>(rng());
          epoch += rng() % 2;
          ASSERT_TRUE(cache.Store(gfn, Filled(fill).span(), epoch).ok());
          latest[gfn] = {fill, epoch};
          ASSERT_TRUE(cache.Contains(gfn));
        }
      }
      ASSERT_LE(cache.size(), capacity);
    }
    std::size_t found = 0;
    for (uint64_t g = 0; g < universe; ++g)
      found += cache.Contains(g * (seed % 2 ? 1 : 0x100000001ull)) ? 1 : 0;
    EXPECT_EQ(found, cache.size());
    EXPECT_EQ(cache.stats().bytes, cache.size() * kPageSize);
  }
}

TEST(DeltaCache, IsMovable) {
  DeltaCache a = MakeCache(4);
  ASSERT_TRUE(a.Store(1, Filled(7).span(), 3).ok());
  DeltaCache b = std::move(a);
  auto e = b.Lookup(1);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->page[0], std::byte{7});
}

}  // namespace
}  // namespace replink::codec
