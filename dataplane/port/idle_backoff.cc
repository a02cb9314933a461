#include "dataplane/port/idle_backoff.h"

#include <ctime>

namespace replink::port {
namespace {

uint64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace

bool PollLoop::RunOnce() {
  bool worked = false;
  for (Poller* poller : pollers_) worked |= poller->Poll();
  ++stats_.rounds;
  if (worked) {
    ++stats_.busy_rounds;
    backoff_.OnRound(true, 0);  // busy rounds never read the clock
    return true;
  }
  uint64_t sleep_ns = backoff_.OnRound(false, MonotonicNs());
  if (sleep_ns > 0) {
    timespec ts{static_cast<time_t>(sleep_ns / 1000000000ULL),
                static_cast<long>(sleep_ns % 1000000000ULL)};
    nanosleep(&ts, nullptr);  // an early wake-up (signal) only shortens one sleep
    ++stats_.sleeps;
    stats_.slept_ns += sleep_ns;
  }
  return false;
}

void PollLoop::Run(const std::atomic<bool>& stop) {
  while (!stop.load(std::memory_order_relaxed)) RunOnce();
}

}  // namespace replink::port
