#include "link/peer_liveness.h"

namespace replink::link {

const char* LivenessName(Liveness liveness) {
  switch (liveness) {
    case Liveness::kUnknown: return "unknown";
    case Liveness::kUp: return "up";
    case Liveness::kSuspect: return "suspect";
    case Liveness::kDown: return "down";
  }
  return "invalid";
}

PeerLiveness::PeerLiveness(const LivenessConfig& config) : config_(config) {
  if (config_.suspect_after == 0) config_.suspect_after = 1;
  if (config_.down_after < config_.suspect_after) config_.down_after = config_.suspect_after;
}

void PeerLiveness::Forget() {
  state_ = Liveness::kUnknown;
  peer_send_time_ns_ = 0;
  peer_heartbeat_at_ns_ = 0;
  srtt_ns_ = 0;
  rtt_samples_ = 0;
}

void PeerLiveness::OnHeard(uint64_t now_ns) {
  if (now_ns > last_heard_ns_ || state_ == Liveness::kUnknown) last_heard_ns_ = now_ns;
  state_ = Liveness::kUp;
}

bool PeerLiveness::Update(uint64_t now_ns) {
  if (state_ == Liveness::kUnknown) return false;
  uint64_t silent = now_ns > last_heard_ns_ ? now_ns - last_heard_ns_ : 0;
  Liveness next = Liveness::kUp;
  if (silent >= config_.down_after * config_.heartbeat_interval_ns)
    next = Liveness::kDown;
  else if (silent >= config_.suspect_after * config_.heartbeat_interval_ns)
    next = Liveness::kSuspect;
  bool changed = next != state_;
  state_ = next;
  return changed;
}

uint64_t PeerLiveness::NextCheck() const {
  switch (state_) {
    case Liveness::kUp: return last_heard_ns_ + config_.suspect_after * config_.heartbeat_interval_ns;
    case Liveness::kSuspect: return last_heard_ns_ + config_.down_after * config_.heartbeat_interval_ns;
    case Liveness::kUnknown:
    case Liveness::kDown: break;
  }
  return UINT64_MAX;
}

HeartbeatPayload PeerLiveness::MakeHeartbeat(uint64_t instance_id, uint64_t now_ns) const {
  HeartbeatPayload hb{};
  hb.instance_id = instance_id;
  hb.send_time_ns = now_ns;
  if (peer_send_time_ns_ != 0) {
    hb.echo_time_ns = peer_send_time_ns_;
    hb.echo_delay_ns = now_ns - peer_heartbeat_at_ns_;
  }
  return hb;
}

void PeerLiveness::OnHeartbeat(const HeartbeatPayload& hb, uint64_t now_ns) {
  OnHeard(now_ns);
  if (hb.send_time_ns != 0 && hb.send_time_ns >= peer_send_time_ns_) {
    peer_send_time_ns_ = hb.send_time_ns;
    peer_heartbeat_at_ns_ = now_ns;
  }
  // The echo is our own clock: a value from the future or a hold longer than the round trip is
  // garbage (or a heartbeat of an earlier life of ours) and is ignored.
  if (hb.echo_time_ns == 0 || hb.echo_time_ns > now_ns) return;
  uint64_t elapsed = now_ns - hb.echo_time_ns;
  if (hb.echo_delay_ns > elapsed) return;
  uint64_t rtt = elapsed - hb.echo_delay_ns;
  srtt_ns_ = rtt_samples_ == 0 ? rtt : srtt_ns_ - srtt_ns_ / 8 + rtt / 8;
  ++rtt_samples_;
}

}  // namespace replink::link
