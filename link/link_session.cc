#include "link/link_session.h"

#include <algorithm>

#include "link/frame_writer.h"
#include "link/wire_access.h"

namespace replink::link {

const char* SessionEventName(SessionEvent::Kind kind) {
  switch (kind) {
    case SessionEvent::Kind::kEstablished: return "established";
    case SessionEvent::Kind::kPeerRestarted: return "peer-restarted";
    case SessionEvent::Kind::kNegotiationFailed: return "negotiation-failed";
    case SessionEvent::Kind::kStreamConflict: return "stream-conflict";
    case SessionEvent::Kind::kLivenessChanged: return "liveness-changed";
    case SessionEvent::Kind::kStreamReset: return "stream-reset";
    case SessionEvent::Kind::kStreamResetDone: return "stream-reset-done";
  }
  return "invalid";
}

Result<LinkSession> LinkSession::Create(const SessionConfig& config, const LinkEncapsulation& encap) {
  std::vector<std::byte> hello;
  REPLINK_TRY(EncodeHello(config.local, hello));
  if (config.local.mtu > encap.config().mtu)
    return MakeError(Errc::kInvalidArgument, "hello offers mtu {} above the port's {}",
                     config.local.mtu, encap.config().mtu);
  if (config.hello_retry_ns == 0 || config.reset_retry_ns == 0)
    return MakeError(Errc::kInvalidArgument, "session retry intervals must be positive");
  return LinkSession(config, encap, std::move(hello));
}

LinkSession::LinkSession(const SessionConfig& config, const LinkEncapsulation& encap,
                         std::vector<std::byte> hello_payload)
    : config_(config),
      encap_(&encap),
      hello_payload_(std::move(hello_payload)),
      liveness_(LivenessConfig{uint64_t{config.local.heartbeat_interval_us} * 1000,
                               config.suspect_after, config.down_after}) {}

void LinkSession::Start(uint64_t now_ns) {
  if (state_ != SessionState::kIdle) return;
  state_ = SessionState::kHelloSent;
  hello_due_ns_ = now_ns;
}

std::optional<SessionEvent> LinkSession::PopEvent() {
  if (events_.empty()) return std::nullopt;
  SessionEvent event = std::move(events_.front());
  events_.pop_front();
  return event;
}

void LinkSession::Establish(uint64_t now_ns) {
  state_ = SessionState::kEstablished;
  hello_due_ns_ = UINT64_MAX;
  heartbeat_due_ns_ = now_ns;
  liveness_.SetInterval(agreement_.heartbeat_interval_ns);
  ++counters_.sessions;
  Push({.kind = SessionEvent::Kind::kEstablished});
  for (const StreamConflict& c : agreement_.conflicts)
    Push({.kind = SessionEvent::Kind::kStreamConflict, .stream_id = c.stream_id, .role = c.role});
}

FrameFault LinkSession::OnHello(const FrameView& frame, bool is_ack, uint64_t now_ns) {
  ++counters_.hellos_received;
  Result<HelloInfo> info = DecodeHello(frame.payload);
  if (!info.ok()) {
    ++counters_.bad_hellos;
    return FrameFault::kBadControlPayload;
  }
  // A HELLO_ACK must be for this instance of us: its session id includes our instance id.
  if (is_ack && frame.header.session_id != SessionIdFor(config_.local.instance_id, info->instance_id)) {
    ++counters_.stale_frames;
    return FrameFault::kStaleSession;
  }
  if (peer_ && peer_->instance_id != info->instance_id) {
    // The peer restarted: nothing of the old session is valid on either side.
    ++counters_.peer_restarts;
    Push({.kind = SessionEvent::Kind::kPeerRestarted,
          .message = fmt::format("peer '{}' instance {:#x} -> {:#x}", info->name,
                                 peer_->instance_id, info->instance_id)});
    state_ = SessionState::kHelloSent;
    hello_due_ns_ = now_ns;
    heartbeat_due_ns_ = UINT64_MAX;
    rehello_due_ns_ = UINT64_MAX;
    have_agreement_ = false;
    own_resets_.clear();
    peer_resets_.clear();
    liveness_.Forget();
    last_failure_.clear();
  }
  liveness_.OnHeard(now_ns);
  Result<LinkAgreement> agreement = Negotiate(config_.local, *info);
  if (!agreement.ok()) {
    ++counters_.negotiation_failures;
    std::string why = agreement.error().Describe();
    if (why != last_failure_)  // one event per distinct failure, not one per retried HELLO
      Push({.kind = SessionEvent::Kind::kNegotiationFailed, .message = why});
    last_failure_ = std::move(why);
    peer_ = std::move(info).value();
    return FrameFault::kNone;
  }
  peer_ = std::move(info).value();
  agreement_ = std::move(agreement).value();
  have_agreement_ = true;
  last_failure_.clear();
  // A HELLO inside the session may carry a retuned heartbeat offer (Retune).
  if (state_ == SessionState::kEstablished) liveness_.SetInterval(agreement_.heartbeat_interval_ns);
  if (is_ack) rehello_due_ns_ = UINT64_MAX;
  if (!is_ack) hello_ack_due_ = true;
  if (is_ack && state_ != SessionState::kEstablished) Establish(now_ns);
  return FrameFault::kNone;
}

FrameFault LinkSession::OnReset(const FrameView& frame) {
  ++counters_.resets_received;
  uint32_t stream = frame.header.stream_id;
  auto reason = static_cast<ResetReason>(LoadWire<ResetPayload>(frame.payload).reason);
  if (frame.header.flags & kFlagReply) {
    auto own = std::find_if(own_resets_.begin(), own_resets_.end(),
                            [&](const OwnReset& r) { return r.stream_id == stream; });
    if (own == own_resets_.end()) return FrameFault::kNone;  // a duplicate answer
    own_resets_.erase(own);
    Push({.kind = SessionEvent::Kind::kStreamResetDone, .stream_id = stream,
          .peer_resume_seq = frame.header.seq, .reason = reason});
    return FrameFault::kNone;
  }
  auto known = std::find_if(peer_resets_.begin(), peer_resets_.end(),
                            [&](const PeerReset& r) { return r.stream_id == stream; });
  if (known != peer_resets_.end() && known->peer_resume_seq == frame.header.seq) {
    // The peer did not get our answer yet (or the owner is still resetting): answer again, once.
    if (known->answered) known->reply_due = true;
    return FrameFault::kNone;
  }
  if (known != peer_resets_.end()) peer_resets_.erase(known);
  peer_resets_.push_back({stream, reason, frame.header.seq, 0, false, false});
  Push({.kind = SessionEvent::Kind::kStreamReset, .stream_id = stream,
        .peer_resume_seq = frame.header.seq, .reason = reason});
  return FrameFault::kNone;
}

FrameFault LinkSession::OnFrame(const FrameView& frame, uint64_t now_ns) {
  if (state_ == SessionState::kIdle) return FrameFault::kStaleSession;
  switch (frame.type()) {
    case FrameType::kHello: return OnHello(frame, false, now_ns);
    case FrameType::kHelloAck: return OnHello(frame, true, now_ns);
    case FrameType::kData:
    case FrameType::kAck:
    case FrameType::kStreamOpen:
    case FrameType::kHeartbeat:
    case FrameType::kReset: break;
  }
  if (!have_agreement_ || frame.header.session_id != agreement_.session_id) {
    ++counters_.stale_frames;
    return FrameFault::kStaleSession;
  }
  // A frame of the agreed session proves the peer knows our instance: as good as a HELLO_ACK.
  if (state_ != SessionState::kEstablished) Establish(now_ns);
  liveness_.OnHeard(now_ns);
  switch (frame.type()) {
    case FrameType::kHeartbeat: {
      auto hb = LoadWire<HeartbeatPayload>(frame.payload);
      if (hb.instance_id != peer_->instance_id) {
        ++counters_.stale_frames;
        return FrameFault::kStaleSession;
      }
      ++counters_.heartbeats_received;
      liveness_.OnHeartbeat(hb, now_ns);
      return FrameFault::kNone;
    }
    case FrameType::kReset: return OnReset(frame);
    default: return FrameFault::kNone;
  }
}

void LinkSession::RequestStreamReset(uint32_t stream_id, uint64_t resume_seq, ResetReason reason,
                                     uint64_t now_ns) {
  auto own = std::find_if(own_resets_.begin(), own_resets_.end(),
                          [&](const OwnReset& r) { return r.stream_id == stream_id; });
  if (own != own_resets_.end()) {
    *own = {stream_id, resume_seq, reason, now_ns};
  } else {
    own_resets_.push_back({stream_id, resume_seq, reason, now_ns});
  }
}

void LinkSession::AnswerStreamReset(uint32_t stream_id, uint64_t resume_seq) {
  for (PeerReset& r : peer_resets_) {
    if (r.stream_id == stream_id && !r.answered) {
      r.our_resume_seq = resume_seq;
      r.answered = true;
      r.reply_due = true;
    }
  }
}

Result<void> LinkSession::Retune(uint32_t heartbeat_interval_us, uint32_t suspect_after, uint32_t down_after,
                                 uint64_t now_ns) {
  HelloInfo local = config_.local;
  local.heartbeat_interval_us = heartbeat_interval_us;
  std::vector<std::byte> hello;
  REPLINK_TRY(EncodeHello(local, hello));
  config_.local = local;
  hello_payload_ = std::move(hello);
  config_.suspect_after = suspect_after;
  config_.down_after = down_after;
  liveness_.SetThresholds(suspect_after, down_after);
  if (state_ == SessionState::kEstablished) rehello_due_ns_ = now_ns;
  return Ok();
}

bool LinkSession::reset_pending(uint32_t stream_id) const {
  return std::any_of(own_resets_.begin(), own_resets_.end(),
                     [&](const OwnReset& r) { return r.stream_id == stream_id; });
}

std::span<std::byte> LinkSession::Control(std::span<std::byte> buffer, FrameType type,
                                          uint16_t flags, uint32_t stream_id, uint64_t seq,
                                          uint32_t session_id,
                                          std::span<const std::byte> payload) {
  LinkHeader header{};
  header.type = static_cast<uint8_t>(type);
  header.flags = flags;
  header.stream_id = stream_id;
  header.seq = seq;
  header.session_id = session_id;
  if (buffer.size() < encap_->header_size() + kLinkHeaderSize + payload.size()) return {};
  return BuildControlFrame(*encap_, buffer, header, payload);
}

std::span<std::byte> LinkSession::PollTransmit(uint64_t now_ns, std::span<std::byte> buffer) {
  if (state_ == SessionState::kIdle) return {};
  if (liveness_.Update(now_ns))
    Push({.kind = SessionEvent::Kind::kLivenessChanged, .liveness = liveness_.state()});

  if (hello_ack_due_ && have_agreement_) {
    hello_ack_due_ = false;
    ++counters_.hello_acks_sent;
    return Control(buffer, FrameType::kHelloAck, 0, 0, 0, agreement_.session_id, hello_payload_);
  }
  if (state_ == SessionState::kEstablished) {
    for (PeerReset& r : peer_resets_) {
      if (!r.reply_due) continue;
      r.reply_due = false;
      ++counters_.reset_replies_sent;
      ResetPayload p{static_cast<uint32_t>(r.reason), 0};  // the reply echoes the reason
      return Control(buffer, FrameType::kReset, kFlagReply, r.stream_id, r.our_resume_seq,
                     agreement_.session_id, std::as_bytes(std::span(&p, 1)));
    }
    for (OwnReset& r : own_resets_) {
      if (now_ns < r.next_send_ns) continue;
      r.next_send_ns = now_ns + config_.reset_retry_ns;
      ++counters_.resets_sent;
      ResetPayload p{static_cast<uint32_t>(r.reason), 0};
      return Control(buffer, FrameType::kReset, 0, r.stream_id, r.resume_seq, agreement_.session_id,
                     std::as_bytes(std::span(&p, 1)));
    }
    if (now_ns >= rehello_due_ns_) {
      rehello_due_ns_ = now_ns + config_.hello_retry_ns;
      ++counters_.hellos_sent;
      return Control(buffer, FrameType::kHello, 0, 0, 0, 0, hello_payload_);
    }
    if (now_ns >= heartbeat_due_ns_) {
      heartbeat_due_ns_ = now_ns + agreement_.heartbeat_interval_ns;
      ++counters_.heartbeats_sent;
      HeartbeatPayload hb = liveness_.MakeHeartbeat(config_.local.instance_id, now_ns);
      return Control(buffer, FrameType::kHeartbeat, 0, 0, 0, agreement_.session_id,
                     std::as_bytes(std::span(&hb, 1)));
    }
  } else if (now_ns >= hello_due_ns_) {
    hello_due_ns_ = now_ns + config_.hello_retry_ns;
    ++counters_.hellos_sent;
    return Control(buffer, FrameType::kHello, 0, 0, 0, 0, hello_payload_);
  }
  return {};
}

uint64_t LinkSession::NextDeadline() const {
  if (state_ == SessionState::kIdle) return UINT64_MAX;
  if (hello_ack_due_ && have_agreement_) return 0;
  uint64_t deadline = liveness_.NextCheck();
  if (state_ == SessionState::kEstablished) {
    for (const PeerReset& r : peer_resets_)
      if (r.reply_due) return 0;
    for (const OwnReset& r : own_resets_) deadline = std::min(deadline, r.next_send_ns);
    deadline = std::min({deadline, heartbeat_due_ns_, rehello_due_ns_});
  } else {
    deadline = std::min(deadline, hello_due_ns_);
  }
  return deadline;
}

}  // namespace replink::link
