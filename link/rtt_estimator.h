// Smoothed RTT and retransmission timeout in the manner of RFC 6298, with bounds and a clock
// granularity suited to a dedicated link (tens of microseconds, not the Internet's second):
//   first sample R:  SRTT = R, RTTVAR = R/2
//   later samples:   RTTVAR = 3/4 RTTVAR + 1/4 |SRTT - R|,  SRTT = 7/8 SRTT + 1/8 R
//   RTO = clamp(SRTT + max(G, 4 RTTVAR), min, max); each expiry doubles it (backoff) up to max,
//   and the next sample recomputes it.
// Callers feed only samples of frames sent once (Karn's rule).
#pragma once

#include <cstdint>

namespace replink::link {

struct RtoConfig {
  uint64_t initial_ns = 5'000'000;   // before any sample
  uint64_t min_ns = 500'000;         // above the receiver's delayed-ACK time
  uint64_t max_ns = 200'000'000;
  uint64_t granularity_ns = 10'000;  // G: our polling granularity
};

class RttEstimator {
 public:
  explicit RttEstimator(const RtoConfig& config = {});

  void AddSample(uint64_t rtt_ns);
  void Backoff();  // on a retransmission timeout

  bool has_sample() const { return has_sample_; }
  uint64_t srtt_ns() const { return srtt_ns_; }
  uint64_t rttvar_ns() const { return rttvar_ns_; }
  uint64_t rto_ns() const { return rto_ns_; }
  const RtoConfig& config() const { return config_; }

 private:
  uint64_t Clamp(uint64_t rto) const;

  RtoConfig config_;
  bool has_sample_ = false;
  uint64_t srtt_ns_ = 0;
  uint64_t rttvar_ns_ = 0;
  uint64_t rto_ns_;
};

}  // namespace replink::link
