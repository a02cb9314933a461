// IdleBackoff and PollLoop: busy while there is work, sleeping (doubling, capped) when there is
// none, back to busy the moment work appears. Time is passed in; nothing here asserts durations.
#include <atomic>
#include <vector>

#include <gtest/gtest.h>

#include "dataplane/port/idle_backoff.h"

namespace replink::port {
namespace {

constexpr uint64_t kUs = 1000;

TEST(IdleBackoff, PollsForPollUsThenSleepsDoublingUpToMax) {
  IdleBackoff b({/*poll_us=*/100, /*min_sleep_us=*/10, /*max_sleep_us=*/50});
  EXPECT_EQ(b.OnRound(false, 1000 * kUs), 0u);  // idle starts
  EXPECT_EQ(b.OnRound(false, 1050 * kUs), 0u);  // still inside poll_us
  EXPECT_EQ(b.OnRound(false, 1100 * kUs), 10 * kUs);
  EXPECT_EQ(b.OnRound(false, 1111 * kUs), 20 * kUs);
  EXPECT_EQ(b.OnRound(false, 1131 * kUs), 40 * kUs);
  EXPECT_EQ(b.OnRound(false, 1171 * kUs), 50 * kUs);  // capped
  EXPECT_EQ(b.OnRound(false, 1221 * kUs), 50 * kUs);
  EXPECT_TRUE(b.idle());
}

TEST(IdleBackoff, WorkResetsToBusyPollingAndTheShortestSleep) {
  IdleBackoff b({100, 10, 1000});
  b.OnRound(false, 0);
  EXPECT_EQ(b.OnRound(false, 200 * kUs), 10 * kUs);
  EXPECT_EQ(b.OnRound(false, 300 * kUs), 20 * kUs);
  EXPECT_EQ(b.OnRound(true, 400 * kUs), 0u);
  EXPECT_FALSE(b.idle());
  // A new idle period polls for poll_us again before sleeping, from min_sleep_us.
  EXPECT_EQ(b.OnRound(false, 500 * kUs), 0u);
  EXPECT_EQ(b.OnRound(false, 599 * kUs), 0u);
  EXPECT_EQ(b.OnRound(false, 600 * kUs), 10 * kUs);
}

TEST(IdleBackoff, ZeroPollUsSleepsOnTheFirstIdleRound) {
  IdleBackoff b({0, 5, 5});
  EXPECT_EQ(b.OnRound(false, 42), 5 * kUs);
}

TEST(IdleBackoff, PolicyComesFromWorkersConfig) {
  config::WorkersConfig w;
  w.poll_us = 7;
  w.min_sleep_us = 8;
  w.max_sleep_us = 9;
  IdleBackoffPolicy p = IdleBackoffPolicy::FromConfig(w);
  EXPECT_EQ(p.poll_us, 7u);
  EXPECT_EQ(p.min_sleep_us, 8u);
  EXPECT_EQ(p.max_sleep_us, 9u);
}

class ScriptedPoller : public Poller {
 public:
  explicit ScriptedPoller(std::vector<bool> script) : script_(std::move(script)) {}
  bool Poll() override {
    bool work = calls_ < script_.size() && script_[calls_];
    ++calls_;
    return work;
  }
  size_t calls() const { return calls_; }

 private:
  std::vector<bool> script_;
  size_t calls_ = 0;
};

TEST(PollLoop, CallsEveryPollerEachRoundAndCountsBusyRounds) {
  ScriptedPoller a({true, false, false, true});
  ScriptedPoller b({false, false, true, false});
  Poller* pollers[] = {&a, &b};
  PollLoop loop({1000000, 1, 1}, pollers);  // poll_us large: never sleeps here
  EXPECT_TRUE(loop.RunOnce());
  EXPECT_FALSE(loop.RunOnce());
  EXPECT_TRUE(loop.RunOnce());
  EXPECT_TRUE(loop.RunOnce());
  EXPECT_EQ(a.calls(), 4u);
  EXPECT_EQ(b.calls(), 4u);
  EXPECT_EQ(loop.stats().rounds, 4u);
  EXPECT_EQ(loop.stats().busy_rounds, 3u);
  EXPECT_EQ(loop.stats().sleeps, 0u);
}

TEST(PollLoop, IdleLoopSleepsAndStopsOnRequest) {
  class StopAfter : public Poller {
   public:
    StopAfter(std::atomic<bool>& stop, int rounds) : stop_(stop), left_(rounds) {}
    bool Poll() override {
      if (--left_ == 0) stop_ = true;
      return false;
    }

   private:
    std::atomic<bool>& stop_;
    int left_;
  };
  std::atomic<bool> stop{false};
  StopAfter poller(stop, 5);
  Poller* pollers[] = {&poller};
  PollLoop loop({0, 1, 2}, pollers);  // sleep immediately, 1-2 us
  loop.Run(stop);
  EXPECT_EQ(loop.stats().rounds, 5u);
  EXPECT_EQ(loop.stats().sleeps, 5u);
  EXPECT_EQ(loop.stats().slept_ns, (1 + 2 + 2 + 2 + 2) * kUs);
}

}  // namespace
}  // namespace replink::port
