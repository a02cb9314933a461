// PeerLiveness: is the peer appliance there, as far as this link can tell?
//
//   unknown --(any valid frame)--> up --(silent suspect_after intervals)--> suspect
//        --(silent down_after intervals)--> down;  any valid frame from suspect/down --> up
//
// "Silent" counts every accepted frame of the current session (DATA and ACK too), not only
// heartbeats: a busy link needs no heartbeat to prove liveness, but heartbeats are sent anyway
// because they also measure RTT. Heartbeats carry (send time, echo of the peer's last send time, how
// long that echo was held); RTT = now - echo - held, in our own clock only.
//
// Declaring the peer dead (failover) is policy above this class; it only reports state and timing.
#pragma once

#include <cstdint>

#include "link/link_protocol.h"

namespace replink::link {

enum class Liveness : uint8_t { kUnknown, kUp, kSuspect, kDown };
const char* LivenessName(Liveness liveness);

struct LivenessConfig {
  uint64_t heartbeat_interval_ns = 10'000'000;
  uint32_t suspect_after = 3;  // intervals without a frame
  uint32_t down_after = 10;
};

class PeerLiveness {
 public:
  explicit PeerLiveness(const LivenessConfig& config = {});

  void SetInterval(uint64_t heartbeat_interval_ns) { config_.heartbeat_interval_ns = heartbeat_interval_ns; }
  // New silence thresholds (operator retuning); same clamping as the constructor.
  void SetThresholds(uint32_t suspect_after, uint32_t down_after) {
    config_.suspect_after = suspect_after == 0 ? 1 : suspect_after;
    config_.down_after = down_after < config_.suspect_after ? config_.suspect_after : down_after;
  }
  void OnHeard(uint64_t now_ns);
  // Re-evaluates silence; returns true when the state changed.
  bool Update(uint64_t now_ns);

  HeartbeatPayload MakeHeartbeat(uint64_t instance_id, uint64_t now_ns) const;
  void OnHeartbeat(const HeartbeatPayload& heartbeat, uint64_t now_ns);

  // Forgets the peer (new peer instance): state unknown, no RTT.
  void Forget();

  Liveness state() const { return state_; }
  uint64_t last_heard_ns() const { return last_heard_ns_; }
  bool has_rtt() const { return rtt_samples_ > 0; }
  uint64_t rtt_ns() const { return srtt_ns_; }
  uint64_t rtt_samples() const { return rtt_samples_; }
  uint64_t NextCheck() const;  // when Update() might change the state (UINT64_MAX: never)

 private:
  LivenessConfig config_;
  Liveness state_ = Liveness::kUnknown;
  uint64_t last_heard_ns_ = 0;
  uint64_t peer_send_time_ns_ = 0;     // newest peer heartbeat, to echo
  uint64_t peer_heartbeat_at_ns_ = 0;  // when we received it
  uint64_t srtt_ns_ = 0;
  uint64_t rtt_samples_ = 0;
};

}  // namespace replink::link
