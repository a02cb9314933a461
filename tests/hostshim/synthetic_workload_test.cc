#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <vector>

#include "hostshim/synthetic/synthetic_workload.h"

namespace replink {
namespace {

TEST(SyntheticWorkload, ChoosesDistinctFramesWithinTheGuest) {
  for (Locality loc : {Locality::kRandom, Locality::kSequential, Locality::kHotSet}) {
    WorkloadSpec spec;
    spec.locality = loc;
    spec.dirty_pages_per_epoch = 300;
    SyntheticWorkload w(spec, 1000);
    std::vector<uint64_t> frames;
    for (int i = 0; i < 20; ++i) {
      w.ChooseFrames(&frames);
      ASSERT_EQ(frames.size(), 300u);
      std::set<uint64_t> unique(frames.begin(), frames.end());
      EXPECT_EQ(unique.size(), 300u);
      EXPECT_LT(*unique.rbegin(), 1000u);
    }
  }
}

TEST(SyntheticWorkload, HotSetConcentratesWrites) {
  WorkloadSpec spec;
  spec.locality = Locality::kHotSet;
  spec.hot_fraction = 0.01;
  spec.dirty_pages_per_epoch = 10;
  SyntheticWorkload w(spec, 100000);
  std::vector<uint64_t> frames;
  uint64_t hot = 0, total = 0;
  for (int i = 0; i < 200; ++i) {
    w.ChooseFrames(&frames);
    for (uint64_t f : frames) hot += f < 1000;
    total += frames.size();
  }
  EXPECT_GT(hot, total * 8 / 10);
}

TEST(SyntheticWorkload, SparseChangesExactlyTheRequestedWordsAtMost) {
  WorkloadSpec spec;
  spec.content = ContentModel::kSparse;
  spec.sparse_words = 3;
  SyntheticWorkload w(spec, 10);
  std::vector<std::byte> page(4096, std::byte{0x11}), before;
  for (int i = 0; i < 100; ++i) {
    before = page;
    w.Mutate(page);
    int changed = 0;
    for (std::size_t off = 0; off < 4096; off += 8) changed += std::memcmp(&page[off], &before[off], 8) != 0;
    EXPECT_GE(changed, 1);
    EXPECT_LE(changed, 3);
  }
}

TEST(SyntheticWorkload, SameSeedSameWorkload) {
  WorkloadSpec spec;
  spec.content = ContentModel::kMixed;
  SyntheticWorkload a(spec, 500), b(spec, 500);
  std::vector<uint64_t> fa, fb;
  std::vector<std::byte> pa(4096), pb(4096);
  for (int i = 0; i < 10; ++i) {
    a.ChooseFrames(&fa);
    b.ChooseFrames(&fb);
    EXPECT_EQ(fa, fb);
    a.Mutate(pa);
    b.Mutate(pb);
    EXPECT_EQ(pa, pb);
  }
}

TEST(SyntheticWorkload, ParsersNameTheAllowedValues) {
  EXPECT_TRUE(ParseLocality("hotset").ok());
  auto bad = ParseContentModel("banana");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("incompressible"), std::string::npos);
}

}  // namespace
}  // namespace replink
