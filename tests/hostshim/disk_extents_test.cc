#include <gtest/gtest.h>

#include <random>
#include <set>

#include "hostshim/disk_extents.h"

namespace replink {
namespace {

TEST(DiskExtents, MergesOverlappingAndTouchingRunsPerDisk) {
  DiskExtents x;
  x.Add({0, 10, 5});   // 10..15
  x.Add({0, 15, 5});   // touches: 10..20
  x.Add({0, 30, 10});  // 30..40
  x.Add({0, 35, 20});  // overlaps: 30..55
  x.Add({1, 12, 2});   // other disk stays apart
  x.Add({0, 0, 0});    // empty: ignored
  auto m = x.Merged();
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[0].sector, 10u);
  EXPECT_EQ(m[0].sectors, 10u);
  EXPECT_EQ(m[1].sector, 30u);
  EXPECT_EQ(m[1].sectors, 25u);
  EXPECT_EQ(m[2].disk, 1u);
}

TEST(DiskExtents, MatchesASectorSetModel) {
  std::mt19937_64 rng(5);
  for (int trial = 0; trial < 200; ++trial) {
    DiskExtents x;
    std::set<uint64_t> model;
    for (int i = 0; i < 30; ++i) {
      uint64_t s = rng() % 500, n = 1 + rng() % 40;
      x.Add({0, s, n});
      for (uint64_t k = s; k < s + n; ++k) model.insert(k);
    }
    std::set<uint64_t> got;
    uint64_t last_end = 0;
    for (const auto& e : x.Merged()) {
      EXPECT_TRUE(got.empty() || e.sector > last_end);  // disjoint and not touching
      for (uint64_t k = e.sector; k < e.sector + e.sectors; ++k) got.insert(k);
      last_end = e.sector + e.sectors;
    }
    EXPECT_EQ(got, model);
  }
}

}  // namespace
}  // namespace replink
