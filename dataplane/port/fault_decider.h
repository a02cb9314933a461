// FaultDecider: which fault, if any, the next frame suffers. Pure and seeded (DPDK-free) so that
// runs are reproducible and the distribution is unit tested.
//
// Faults are mutually exclusive per frame: one uniform draw in [0, 1e6) is compared against the
// cumulative percentages (drop, duplicate, reorder, corrupt, delay, in that order), which is why
// the percentages must add up to at most 100.
#pragma once

#include <cstdint>

#include "dataplane/config/appliance_config.h"

namespace replink::port {

enum class FaultAction : uint8_t { kPass, kDrop, kDuplicate, kReorder, kCorrupt, kDelay };

const char* FaultActionName(FaultAction action);

// SplitMix64: tiny, fast, statistically fine for test traffic, and trivially seedable.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, bound) for bound > 0 (multiply-shift; bias is negligible for small bounds).
  uint64_t Below(uint64_t bound) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(Next()) * bound) >> 64);
  }

 private:
  uint64_t state_;
};

class FaultDecider {
 public:
  // `stream` separates the random sequences of independent users of one seed (rx, tx queue 0..N).
  FaultDecider(const config::FaultInjectionConfig& config, uint64_t stream);

  FaultAction Next();
  SplitMix64& random() { return random_; }

 private:
  static constexpr uint32_t kScale = 1000000;  // parts per million
  // Cumulative thresholds in parts per million.
  uint32_t drop_ = 0, duplicate_ = 0, reorder_ = 0, corrupt_ = 0, delay_ = 0;
  SplitMix64 random_;
};

}  // namespace replink::port
