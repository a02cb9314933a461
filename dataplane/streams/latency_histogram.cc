#include "dataplane/streams/latency_histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace replink::dataplane {

std::size_t LatencyHistogram::BucketOf(uint64_t us) {
  constexpr uint64_t kLinear = uint64_t{1} << (kSubBits + 1);  // 128: exact below
  if (us < kLinear) return static_cast<std::size_t>(us);
  int octave = std::bit_width(us) - (kSubBits + 1);  // >= 1
  if (octave > kOctaves - 1) return kBuckets - 1;
  uint64_t sub = (us >> octave) & ((uint64_t{1} << kSubBits) - 1);
  return static_cast<std::size_t>((static_cast<uint64_t>(octave + 1) << kSubBits) + sub);
}

uint64_t LatencyHistogram::UpperBoundOf(std::size_t bucket) {
  constexpr std::size_t kLinear = std::size_t{1} << (kSubBits + 1);
  if (bucket < kLinear) return bucket;
  int octave = static_cast<int>(bucket >> kSubBits) - 1;
  uint64_t sub = bucket & ((std::size_t{1} << kSubBits) - 1);
  return (((uint64_t{1} << kSubBits) + sub + 1) << octave) - 1;
}

void LatencyHistogram::Record(uint64_t us) {
  ++buckets_[BucketOf(us)];
  ++count_;
  sum_ += us;
  max_ = std::max(max_, us);
}

uint64_t LatencyHistogram::PercentileUs(double q) const {
  if (count_ == 0) return 0;
  auto rank = static_cast<uint64_t>(std::ceil(std::clamp(q, 0.0, 1.0) * double(count_)));
  rank = std::max<uint64_t>(rank, 1);
  uint64_t seen = 0;
  for (std::size_t b = 0; b < kBuckets; ++b) {
    seen += buckets_[b];
    if (seen >= rank) return std::min(UpperBoundOf(b), max_);
  }
  return max_;
}

uint64_t LatencyHistogram::CountAtMostUs(uint64_t us) const {
  uint64_t n = 0;
  for (std::size_t b = 0; b < kBuckets && UpperBoundOf(b) <= us; ++b) n += buckets_[b];
  return n;
}

}  // namespace replink::dataplane
