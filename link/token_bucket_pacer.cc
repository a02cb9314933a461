#include "link/token_bucket_pacer.h"

#include <algorithm>

#include "link/link_protocol.h"

namespace replink::link {

TokenBucketPacer::TokenBucketPacer(const PacerConfig& config, uint64_t now_ns) : last_ns_(now_ns) {
  Reconfigure(config, now_ns);
  tokens_ = capacity_;  // start with a full bucket: the first burst goes out at once
}

void TokenBucketPacer::Reconfigure(const PacerConfig& config, uint64_t now_ns) {
  Refill(now_ns);
  config_ = config;
  config_.burst_bytes = std::max<uint64_t>(config_.burst_bytes, kEthernetHeaderSize + kMaxMtu);
  capacity_ = Scaled(config_.burst_bytes);
  tokens_ = std::min(tokens_, capacity_);
}

void TokenBucketPacer::Refill(uint64_t now_ns) {
  if (now_ns <= last_ns_) return;  // time never runs backwards here
  PacerTokens earned =
      static_cast<PacerTokens>(now_ns - last_ns_) * config_.rate_bits_per_s;
  tokens_ = std::min(capacity_, tokens_ + earned);
  last_ns_ = now_ns;
}

bool TokenBucketPacer::CanSend(uint64_t bytes, uint64_t now_ns) {
  if (config_.rate_bits_per_s == 0) return true;
  Refill(now_ns);
  // A frame larger than the burst could never pass; it goes when the bucket is full.
  if (tokens_ >= std::min(Scaled(bytes), capacity_)) return true;
  ++deferrals_;
  return false;
}

void TokenBucketPacer::Consume(uint64_t bytes, uint64_t now_ns) {
  if (config_.rate_bits_per_s == 0) return;
  Refill(now_ns);
  PacerTokens cost = Scaled(bytes);
  tokens_ = tokens_ > cost ? tokens_ - cost : 0;
}

uint64_t TokenBucketPacer::NextSendTime(uint64_t bytes, uint64_t now_ns) {
  if (config_.rate_bits_per_s == 0) return now_ns;
  Refill(now_ns);
  PacerTokens need = std::min(Scaled(bytes), capacity_);
  if (tokens_ >= need) return now_ns;
  PacerTokens missing = need - tokens_;
  PacerTokens wait = (missing + config_.rate_bits_per_s - 1) / config_.rate_bits_per_s;
  return now_ns + static_cast<uint64_t>(wait);
}

uint64_t TokenBucketPacer::available_bytes(uint64_t now_ns) {
  if (config_.rate_bits_per_s == 0) return UINT64_MAX;
  Refill(now_ns);
  return static_cast<uint64_t>(tokens_ / 8'000'000'000ULL);
}

}  // namespace replink::link
