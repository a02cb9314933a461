// LatencyHistogram: HDR-style log-linear histogram of microsecond latencies. Values below 128 us are
// exact; above, each power-of-two range is split into 64 linear buckets (< 1.6 % error). Fixed size,
// no allocation after construction, single writer (the owning lcore); readers may see a slightly stale
// but never torn count on x86-64.
#pragma once

#include <array>
#include <cstdint>

namespace replink::dataplane {

class LatencyHistogram {
 public:
  static constexpr int kSubBits = 6;                       // 64 sub-buckets per octave
  static constexpr int kOctaves = 32;                      // up to ~2^37 us
  static constexpr std::size_t kBuckets = (kOctaves + 1) << kSubBits;

  void RecordNs(uint64_t ns) { Record(ns / 1000); }
  void Record(uint64_t us);
  uint64_t count() const { return count_; }
  uint64_t max_us() const { return max_; }
  uint64_t sum_us() const { return sum_; }
  // The smallest value v such that at least q (0..1) of the samples are <= v (bucket upper bound).
  uint64_t PercentileUs(double q) const;
  void Reset() { *this = LatencyHistogram(); }
  // Cumulative count of samples <= us (bucket upper bounds), for Prometheus-style buckets.
  uint64_t CountAtMostUs(uint64_t us) const;

 private:
  static std::size_t BucketOf(uint64_t us);
  static uint64_t UpperBoundOf(std::size_t bucket);

  std::array<uint64_t, kBuckets> buckets_{};
  uint64_t count_ = 0;
  uint64_t max_ = 0;
  uint64_t sum_ = 0;
};

}  // namespace replink::dataplane
