// TokenBucketPacer caps the rate of one link (or one stream) so replication traffic cannot starve
// whatever else shares the wire: `rate_bits_per_s` sustained, up to `burst_bytes` at once. Rate 0
// means unlimited. Pure arithmetic on the time passed in; integer math, exact, no drift.
//
//   if (pacer.CanSend(frame.size(), now)) { send(frame); pacer.Consume(frame.size(), now); }
//   else sleep_until(pacer.NextSendTime(frame.size(), now));
#pragma once

#include <cstdint>

namespace replink::link {

__extension__ using PacerTokens = unsigned __int128;  // GCC/Clang extension

struct PacerConfig {
  uint64_t rate_bits_per_s = 0;  // 0 = unlimited
  uint64_t burst_bytes = 64 * 1024;  // raised to at least one maximum frame
};

class TokenBucketPacer {
 public:
  explicit TokenBucketPacer(const PacerConfig& config = {}, uint64_t now_ns = 0);

  bool CanSend(uint64_t bytes, uint64_t now_ns);
  void Consume(uint64_t bytes, uint64_t now_ns);
  // Earliest time CanSend(bytes) becomes true (now_ns if it already is).
  uint64_t NextSendTime(uint64_t bytes, uint64_t now_ns);
  // Changes rate and burst, keeping the tokens already earned (capped to the new burst).
  void Reconfigure(const PacerConfig& config, uint64_t now_ns);

  uint64_t available_bytes(uint64_t now_ns);
  const PacerConfig& config() const { return config_; }
  uint64_t deferrals() const { return deferrals_; }  // CanSend() refusals

 private:
  // Tokens are kept in "bit-nanoseconds per second" units (bytes * 8e9), so refilling by
  // elapsed_ns * rate needs no division and loses nothing.
  void Refill(uint64_t now_ns);
  PacerTokens Scaled(uint64_t bytes) const {
    return static_cast<PacerTokens>(bytes) * 8'000'000'000ULL;
  }

  PacerConfig config_;
  PacerTokens tokens_ = 0;
  PacerTokens capacity_ = 0;
  uint64_t last_ns_ = 0;
  uint64_t deferrals_ = 0;
};

}  // namespace replink::link
