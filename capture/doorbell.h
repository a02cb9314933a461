// Doorbell: sleep/wake across processes on a futex word in the shared region, so a waiting shim
// costs no CPU. The sleeper announces itself (waiting = 1), re-checks its condition and then sleeps
// only if the sequence word is still what it read before the re-check; a waker bumps the sequence
// after publishing and issues FUTEX_WAKE only when somebody announced it sleeps. Ordering argument
// in docs/PROTOCOL.md "Capture ring / waiting".
#pragma once

#include <atomic>
#include <cstdint>

#include "capture/capture_ring_abi.h"

namespace replink {

class Doorbell {
 public:
  explicit Doorbell(capture_abi::DoorbellLine* line) : line_(line) {}

  // Sleeper side. Returns once `ready()` is true or timeout_ns elapsed (spurious wake-ups are fine:
  // callers loop). Spins briefly first because the dataplane usually answers within microseconds.
  template <typename Ready>
  bool Wait(Ready ready, uint64_t timeout_ns, uint32_t spin_iterations = 2000) {
    for (uint32_t i = 0; i < spin_iterations; ++i) {
      if (ready()) return true;
      __builtin_ia32_pause();
    }
    uint32_t seen = Sequence().load(std::memory_order_acquire);
    Waiting().store(1, std::memory_order_seq_cst);
    bool ok = ready();
    if (!ok) {
      SleepIfUnchanged(seen, timeout_ns);
      ok = ready();
    }
    Waiting().store(0, std::memory_order_relaxed);
    return ok;
  }

  // Waker side: call after the release store that publishes the new state.
  void Ring();
  // For the dataplane doorbell: true if the other side announced it sleeps.
  bool SleeperPresent() const {
    return std::atomic_ref<uint32_t>(line_->waiting).load(std::memory_order_seq_cst) != 0;
  }
  capture_abi::DoorbellLine* line() const { return line_; }

 private:
  std::atomic_ref<uint32_t> Sequence() const { return std::atomic_ref<uint32_t>(line_->sequence); }
  std::atomic_ref<uint32_t> Waiting() const { return std::atomic_ref<uint32_t>(line_->waiting); }
  void SleepIfUnchanged(uint32_t seen, uint64_t timeout_ns);

  capture_abi::DoorbellLine* line_;
};

}  // namespace replink
