#include <random>

#include <gtest/gtest.h>

#include "link/rtt_estimator.h"
#include "link/token_bucket_pacer.h"

namespace replink::link {
namespace {

constexpr uint64_t kUs = 1000;
constexpr uint64_t kMs = 1000 * kUs;
constexpr uint64_t kSec = 1000 * kMs;

TEST(RttEstimator, FollowsRfc6298) {
  RtoConfig c;
  c.initial_ns = 5 * kMs;
  c.min_ns = 0;
  c.max_ns = kSec;
  c.granularity_ns = 10 * kUs;
  RttEstimator e(c);
  EXPECT_EQ(e.rto_ns(), 5 * kMs);
  e.AddSample(800 * kUs);
  EXPECT_EQ(e.srtt_ns(), 800 * kUs);
  EXPECT_EQ(e.rttvar_ns(), 400 * kUs);
  EXPECT_EQ(e.rto_ns(), 800 * kUs + 1600 * kUs);
  e.AddSample(400 * kUs);
  // RTTVAR = 3/4 * 400 + 1/4 * |800 - 400| = 400; SRTT = 7/8 * 800 + 1/8 * 400 = 750.
  EXPECT_EQ(e.rttvar_ns(), 400 * kUs);
  EXPECT_EQ(e.srtt_ns(), 750 * kUs);
  EXPECT_EQ(e.rto_ns(), 750 * kUs + 1600 * kUs);
  // A steady RTT shrinks RTTVAR until the granularity floor applies.
  for (int i = 0; i < 200; ++i) e.AddSample(750 * kUs);
  EXPECT_LE(e.rto_ns(), 750 * kUs + 10 * kUs + 8);
}

TEST(RttEstimator, BoundsAndBackoff) {
  RtoConfig c;
  c.initial_ns = 3 * kMs;
  c.min_ns = 1 * kMs;
  c.max_ns = 10 * kMs;
  RttEstimator e(c);
  e.AddSample(10 * kUs);
  EXPECT_EQ(e.rto_ns(), 1 * kMs);  // raised to the minimum
  e.Backoff();
  EXPECT_EQ(e.rto_ns(), 2 * kMs);
  for (int i = 0; i < 10; ++i) e.Backoff();
  EXPECT_EQ(e.rto_ns(), 10 * kMs);  // capped
  e.AddSample(10 * kUs);
  EXPECT_EQ(e.rto_ns(), 1 * kMs);  // a sample ends the backoff
  e.AddSample(UINT64_MAX);  // absurd samples are clamped, not overflowed
  EXPECT_EQ(e.rto_ns(), 10 * kMs);
}

TEST(TokenBucketPacer, UnlimitedAlwaysSends) {
  TokenBucketPacer p;
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(p.CanSend(9000, 0));
    p.Consume(9000, 0);
  }
  EXPECT_EQ(p.deferrals(), 0u);
}

TEST(TokenBucketPacer, StartsWithABurstThenHoldsTheRate) {
  PacerConfig c;
  c.rate_bits_per_s = 8'000'000'000;  // 1 GB/s = 1 byte per ns
  c.burst_bytes = 100'000;
  TokenBucketPacer p(c, 0);
  uint64_t sent = 0;
  while (p.CanSend(10'000, 0)) {
    p.Consume(10'000, 0);
    sent += 10'000;
  }
  EXPECT_EQ(sent, 100'000u);
  EXPECT_EQ(p.NextSendTime(10'000, 0), 10'000u);  // exactly 10 us to earn 10 kB
  EXPECT_FALSE(p.CanSend(10'000, 9'999));
  EXPECT_TRUE(p.CanSend(10'000, 10'000));
}

TEST(TokenBucketPacer, NeverExceedsRateTimesTimePlusBurst) {
  PacerConfig c;
  c.rate_bits_per_s = 10'000'000'000;  // 10 Gbit/s
  c.burst_bytes = 64 * 1024;
  TokenBucketPacer p(c, 0);
  std::mt19937_64 rng(5);
  uint64_t now = 0;
  uint64_t sent = 0;
  for (int i = 0; i < 100000; ++i) {
    now += rng() % 2000;
    uint64_t bytes = 64 + rng() % 9200;
    if (p.CanSend(bytes, now)) {
      p.Consume(bytes, now);
      sent += bytes;
    }
    // bytes allowed by time `now`: burst + rate * now (in bytes).
    ASSERT_LE(sent, c.burst_bytes + now * c.rate_bits_per_s / 8 / kSec + 1);
  }
  // And the cap is not wasted: at least 95 % of the allowance was used when demand exceeds it.
  EXPECT_GE(sent, now * c.rate_bits_per_s / 8 / kSec * 95 / 100);
}

TEST(TokenBucketPacer, ReconfigureKeepsEarnedTokensWithinTheNewBurst) {
  PacerConfig c;
  c.rate_bits_per_s = 8'000'000'000;
  c.burst_bytes = 200'000;
  TokenBucketPacer p(c, 0);
  EXPECT_EQ(p.available_bytes(0), 200'000u);
  c.burst_bytes = 50'000;
  p.Reconfigure(c, 0);
  EXPECT_EQ(p.available_bytes(0), 50'000u);
  c.burst_bytes = 1;  // raised to one maximum frame
  p.Reconfigure(c, 0);
  EXPECT_EQ(p.config().burst_bytes, 14u + 9216u);
}

}  // namespace
}  // namespace replink::link
