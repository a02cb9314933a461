// Busy polling with a polite sleeping fallback, in the spirit of Seastar's pollers: a Poller
// does a bounded amount of work and says whether it did any; when a whole round finds nothing
// for `poll_us`, the loop starts sleeping (nanosleep), doubling from min_sleep_us up to
// max_sleep_us, and returns to busy polling the moment any poller finds work.
//
// Dedicated production cores use a large poll_us (latency first); the shared 2-core test
// machine relies on the sleeps so that idle appliances leave CPU to everything else.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <span>

#include "dataplane/config/appliance_config.h"

namespace replink::port {

struct IdleBackoffPolicy {
  uint32_t poll_us = 200;
  uint32_t min_sleep_us = 50;
  uint32_t max_sleep_us = 1000;

  static IdleBackoffPolicy FromConfig(const config::WorkersConfig& workers) {
    return {workers.poll_us, workers.min_sleep_us, workers.max_sleep_us};
  }
};

// The decision alone, with time passed in, so that it is testable without sleeping.
class IdleBackoff {
 public:
  explicit IdleBackoff(IdleBackoffPolicy policy)
      : poll_ns_(uint64_t{policy.poll_us} * 1000),
        min_sleep_ns_(uint64_t{std::max(policy.min_sleep_us, 1u)} * 1000),
        max_sleep_ns_(uint64_t{std::max(policy.max_sleep_us, policy.min_sleep_us)} * 1000),
        next_sleep_ns_(min_sleep_ns_) {}

  // Called once per loop round; returns how long to sleep before the next round (0 = poll on).
  uint64_t OnRound(bool did_work, uint64_t now_ns) {
    if (did_work) {
      idle_ = false;
      next_sleep_ns_ = min_sleep_ns_;
      return 0;
    }
    if (!idle_) {
      idle_ = true;
      idle_since_ns_ = now_ns;
    }
    if (now_ns - idle_since_ns_ < poll_ns_) return 0;
    uint64_t sleep = next_sleep_ns_;
    next_sleep_ns_ = std::min(next_sleep_ns_ * 2, max_sleep_ns_);
    return sleep;
  }

  bool idle() const { return idle_; }

 private:
  uint64_t poll_ns_;
  uint64_t min_sleep_ns_;
  uint64_t max_sleep_ns_;
  uint64_t next_sleep_ns_;
  uint64_t idle_since_ns_ = 0;
  bool idle_ = false;
};

class Poller {
 public:
  virtual ~Poller() = default;
  // Does a bounded amount of work (one burst); true when there was any.
  virtual bool Poll() = 0;
};

struct PollLoopStats {
  uint64_t rounds = 0;
  uint64_t busy_rounds = 0;
  uint64_t sleeps = 0;
  uint64_t slept_ns = 0;
};

// Runs pollers round-robin on the calling thread (an lcore), sleeping per IdleBackoff.
class PollLoop {
 public:
  PollLoop(IdleBackoffPolicy policy, std::span<Poller* const> pollers)
      : backoff_(policy), pollers_(pollers) {}

  // One round over every poller (and a sleep if the backoff asks for one). True if any worked.
  bool RunOnce();
  // Rounds until `stop` becomes true (checked every round; a sleeping loop notices within
  // max_sleep_us).
  void Run(const std::atomic<bool>& stop);

  const PollLoopStats& stats() const { return stats_; }

 private:
  IdleBackoff backoff_;
  std::span<Poller* const> pollers_;
  PollLoopStats stats_;
};

}  // namespace replink::port
