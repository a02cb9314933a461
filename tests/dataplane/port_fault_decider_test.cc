// FaultDecider: reproducible per seed and stream, mutually exclusive faults in the configured
// proportions, nothing drawn when nothing is configured.
#include <array>
#include <cmath>

#include <gtest/gtest.h>

#include "dataplane/port/fault_decider.h"

namespace replink::port {
namespace {

config::FaultInjectionConfig Rates(double drop, double dup, double reorder, double corrupt,
                                   double delay) {
  config::FaultInjectionConfig c;
  c.enabled = true;
  c.seed = 42;
  c.drop_pct = drop;
  c.duplicate_pct = dup;
  c.reorder_pct = reorder;
  c.corrupt_pct = corrupt;
  c.delay_pct = delay;
  return c;
}

std::array<int, 6> Histogram(FaultDecider& d, int n) {
  std::array<int, 6> h{};
  for (int i = 0; i < n; ++i) ++h[static_cast<size_t>(d.Next())];
  return h;
}

TEST(FaultDecider, ProportionsMatchTheConfiguration) {
  FaultDecider d(Rates(10, 5, 20, 1, 4), 0);
  constexpr int kN = 200000;
  auto h = Histogram(d, kN);
  auto near = [](int count, double pct) {
    double expected = kN * pct / 100;
    return std::abs(count - expected) < 5 * std::sqrt(expected) + 1;  // 5 sigma
  };
  EXPECT_TRUE(near(h[size_t(FaultAction::kDrop)], 10)) << h[size_t(FaultAction::kDrop)];
  EXPECT_TRUE(near(h[size_t(FaultAction::kDuplicate)], 5));
  EXPECT_TRUE(near(h[size_t(FaultAction::kReorder)], 20));
  EXPECT_TRUE(near(h[size_t(FaultAction::kCorrupt)], 1));
  EXPECT_TRUE(near(h[size_t(FaultAction::kDelay)], 4));
  EXPECT_TRUE(near(h[size_t(FaultAction::kPass)], 60));
}

TEST(FaultDecider, SameSeedAndStreamRepeatOtherStreamsDiffer) {
  auto config = Rates(25, 25, 25, 25, 0);
  FaultDecider a(config, 3), b(config, 3), c(config, 4);
  int differ = 0;
  for (int i = 0; i < 1000; ++i) {
    FaultAction x = a.Next();
    EXPECT_EQ(x, b.Next());
    differ += x != c.Next();
  }
  EXPECT_GT(differ, 500);
}

TEST(FaultDecider, ExtremesAreExact) {
  FaultDecider none(Rates(0, 0, 0, 0, 0), 0);
  FaultDecider all_drop(Rates(100, 0, 0, 0, 0), 0);
  FaultDecider all_delay(Rates(0, 0, 0, 0, 100), 0);
  for (int i = 0; i < 10000; ++i) {
    EXPECT_EQ(none.Next(), FaultAction::kPass);
    EXPECT_EQ(all_drop.Next(), FaultAction::kDrop);
    EXPECT_EQ(all_delay.Next(), FaultAction::kDelay);
  }
}

TEST(SplitMix64, BelowStaysInRange) {
  SplitMix64 r(7);
  for (uint64_t bound : {1ull, 2ull, 3ull, 255ull, 1000000ull}) {
    for (int i = 0; i < 1000; ++i) EXPECT_LT(r.Below(bound), bound);
  }
}

}  // namespace
}  // namespace replink::port
