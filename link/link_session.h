// LinkSession: the control plane of one point-to-point link, as a pure state machine (time passed
// in, frames passed in, frames pulled out). It owns no stream data; the owner (the dataplane) feeds it
// every accepted frame and acts on its events.
//
//   Start ──HELLO (retried)──> hello-sent ──HELLO_ACK received, or a frame of the agreed session──>
//   established ──heartbeats both ways──> ...
//
// - HELLO and HELLO_ACK carry the same HelloInfo (hello_exchange.h); each side answers every HELLO
//   with a HELLO_ACK. The session id (both instance ids hashed) stamps every later frame; frames of
//   another session are refused as kStaleSession.
// - A new session (first contact, or the peer's instance id changed = the peer restarted) starts
//   every stream of both directions at sequence number 0 and references nothing of an earlier session:
//   the owner resets every sender and receiver and forgets delta caches (kPeerRestarted, then
//   kEstablished).
// - RESET resynchronises one stream inside a session: RequestStreamReset sends RESET(stream, our
//   resume seq) until the peer answers with RESET+REPLY(its resume seq) -> kStreamResetDone. A
//   RESET from the peer -> kStreamReset; the owner resets that stream and calls AnswerStreamReset.
//   Retransmitted RESETs are answered again without a second event.
// - Liveness (peer_liveness.h) changes -> kLivenessChanged.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "errors/result.h"
#include "link/frame_fault.h"
#include "link/frame_reader.h"
#include "link/hello_exchange.h"
#include "link/link_encapsulation.h"
#include "link/peer_liveness.h"

namespace replink::link {

enum class SessionState : uint8_t { kIdle, kHelloSent, kEstablished };

struct SessionConfig {
  HelloInfo local;
  uint64_t hello_retry_ns = 50'000'000;
  uint64_t reset_retry_ns = 5'000'000;
  uint32_t suspect_after = 3;  // heartbeat intervals of silence
  uint32_t down_after = 10;
};

struct SessionEvent {
  enum class Kind : uint8_t {
    kEstablished,        // agreement() is valid; every stream starts at seq 0
    kPeerRestarted,      // the peer's instance changed: reset every stream, forget delta caches
    kNegotiationFailed,  // `message` says why; HELLOs keep going (the peer may be fixed)
    kStreamConflict,     // both sides claim stream_id with the same `role`
    kLivenessChanged,    // `liveness`
    kStreamReset,        // peer reset stream_id, its data resumes at peer_resume_seq: reset it here,
                         // then AnswerStreamReset
    kStreamResetDone,    // our RESET was answered: the peer's data resumes at peer_resume_seq
  };
  Kind kind = Kind::kEstablished;
  uint32_t stream_id = 0;
  uint64_t peer_resume_seq = 0;
  ResetReason reason = ResetReason::kResync;
  StreamRole role = StreamRole::kPrimary;
  Liveness liveness = Liveness::kUnknown;
  std::string message;
};
const char* SessionEventName(SessionEvent::Kind kind);

struct SessionCounters {
  uint64_t hellos_sent = 0;
  uint64_t hello_acks_sent = 0;
  uint64_t hellos_received = 0;
  uint64_t heartbeats_sent = 0;
  uint64_t heartbeats_received = 0;
  uint64_t resets_sent = 0;
  uint64_t reset_replies_sent = 0;
  uint64_t resets_received = 0;
  uint64_t stale_frames = 0;       // session id of another session, or before establishment
  uint64_t bad_hellos = 0;
  uint64_t negotiation_failures = 0;
  uint64_t peer_restarts = 0;
  uint64_t sessions = 0;           // times established
};

class LinkSession {
 public:
  static Result<LinkSession> Create(const SessionConfig& config, const LinkEncapsulation& encap);

  void Start(uint64_t now_ns);

  // Every frame FrameReader accepted, of any type. Control frames are consumed here; for DATA/ACK a
  // result other than kNone means: drop the frame (and count the fault).
  FrameFault OnFrame(const FrameView& frame, uint64_t now_ns);

  // The next control frame due, sealed in `buffer` (>= encap.max_frame() bytes); empty if none.
  // Call until empty.
  std::span<std::byte> PollTransmit(uint64_t now_ns, std::span<std::byte> buffer);
  std::optional<SessionEvent> PopEvent();
  uint64_t NextDeadline() const;  // 0 = now, UINT64_MAX = nothing scheduled

  void RequestStreamReset(uint32_t stream_id, uint64_t resume_seq, ResetReason reason,
                          uint64_t now_ns);
  void AnswerStreamReset(uint32_t stream_id, uint64_t resume_seq);

  // Operator retuning at run time (replinkctl link set): a new heartbeat interval to offer and new
  // liveness thresholds (in intervals). The thresholds apply at once. The interval is renegotiated
  // inside the session: a HELLO with the new offer is sent (retried until a HELLO_ACK), the peer
  // answers as to any HELLO of a known instance, and both adopt the shorter of the two offers as at
  // first contact. Session id, streams and sequence numbers are untouched.
  Result<void> Retune(uint32_t heartbeat_interval_us, uint32_t suspect_after, uint32_t down_after,
                      uint64_t now_ns);
  bool reset_pending(uint32_t stream_id) const;

  SessionState state() const { return state_; }
  bool established() const { return state_ == SessionState::kEstablished; }
  const LinkAgreement& agreement() const { return agreement_; }  // valid once established
  const std::optional<HelloInfo>& peer() const { return peer_; }
  const PeerLiveness& liveness() const { return liveness_; }
  uint32_t session_id() const { return established() ? agreement_.session_id : 0; }
  const SessionCounters& counters() const { return counters_; }

 private:
  struct OwnReset {  // RESET we sent, until answered
    uint32_t stream_id;
    uint64_t resume_seq;
    ResetReason reason;
    uint64_t next_send_ns;
  };
  struct PeerReset {  // RESET we received: answered once the owner has reset the stream
    uint32_t stream_id;
    ResetReason reason;
    uint64_t peer_resume_seq;
    uint64_t our_resume_seq;
    bool answered;
    bool reply_due;
  };

  LinkSession(const SessionConfig& config, const LinkEncapsulation& encap,
              std::vector<std::byte> hello_payload);
  FrameFault OnHello(const FrameView& frame, bool is_ack, uint64_t now_ns);
  FrameFault OnReset(const FrameView& frame);
  void Establish(uint64_t now_ns);
  void Push(SessionEvent event) { events_.push_back(std::move(event)); }
  std::span<std::byte> Control(std::span<std::byte> buffer, FrameType type, uint16_t flags,
                               uint32_t stream_id, uint64_t seq, uint32_t session_id,
                               std::span<const std::byte> payload);

  SessionConfig config_;
  const LinkEncapsulation* encap_;
  std::vector<std::byte> hello_payload_;
  SessionState state_ = SessionState::kIdle;
  std::optional<HelloInfo> peer_;
  LinkAgreement agreement_;
  bool have_agreement_ = false;
  std::string last_failure_;
  PeerLiveness liveness_;
  uint64_t hello_due_ns_ = UINT64_MAX;
  uint64_t heartbeat_due_ns_ = UINT64_MAX;
  uint64_t rehello_due_ns_ = UINT64_MAX;  // Retune while established: HELLO until HELLO_ACK
  bool hello_ack_due_ = false;
  std::vector<OwnReset> own_resets_;
  std::vector<PeerReset> peer_resets_;
  std::deque<SessionEvent> events_;
  SessionCounters counters_;
};

}  // namespace replink::link
