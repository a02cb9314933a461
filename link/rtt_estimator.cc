#include "link/rtt_estimator.h"

#include <algorithm>

namespace replink::link {
namespace {
constexpr uint64_t kMaxSampleNs = 60'000'000'000;
}  // namespace

RttEstimator::RttEstimator(const RtoConfig& config) : config_(config) {
  if (config_.max_ns < config_.min_ns) config_.max_ns = config_.min_ns;
  rto_ns_ = Clamp(config_.initial_ns);
}

uint64_t RttEstimator::Clamp(uint64_t rto) const {
  return std::clamp(rto, config_.min_ns, config_.max_ns);
}

void RttEstimator::AddSample(uint64_t rtt_ns) {
  rtt_ns = std::min<uint64_t>(rtt_ns, kMaxSampleNs);  // a stalled clock or suspended process
  if (!has_sample_) {
    srtt_ns_ = rtt_ns;
    rttvar_ns_ = rtt_ns / 2;
    has_sample_ = true;
  } else {
    uint64_t delta = srtt_ns_ > rtt_ns ? srtt_ns_ - rtt_ns : rtt_ns - srtt_ns_;
    rttvar_ns_ = rttvar_ns_ - rttvar_ns_ / 4 + delta / 4;
    srtt_ns_ = srtt_ns_ - srtt_ns_ / 8 + rtt_ns / 8;
  }
  rto_ns_ = Clamp(srtt_ns_ + std::max(config_.granularity_ns, 4 * rttvar_ns_));
}

void RttEstimator::Backoff() {
  rto_ns_ = rto_ns_ > config_.max_ns / 2 ? config_.max_ns : Clamp(rto_ns_ * 2);
}

}  // namespace replink::link
