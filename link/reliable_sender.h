// ReliableSender: the sending half of one stream's reliable delivery, as a pure state machine. Time
// comes in as nanoseconds (any monotonic clock), nothing here blocks, spawns or allocates after
// construction. The owner keeps the frames; this class only decides which sequence numbers are in
// flight, acknowledged, lost and due again:
//
//   if (sender.CanSend() == SendBlock::kNone && pacer.CanSend(bytes, now)) {
//     seq = sender.OnSent(now);                        // seq for the frame being sealed
//   }
//   for (uint64_t s : sender.OnAck(ack, now)) free(s); // cumulative + selective
//   while (auto s = sender.NextRetransmit(now)) { resend(*s); sender.OnRetransmitted(*s, now); }
//   if (sender.ProbeDue(now)) { send ACK with kFlagAckRequest; sender.OnProbeSent(now); }
//
// Loss recovery: a frame is retransmitted once fast when `dup_threshold` later frames were SACKed, and
// whenever it has been unacknowledged for an RTO since its last transmission (RttEstimator, backoff
// per expiry round). SACKed frames are never retransmitted: a receiver does not discard what it
// SACKed. A probe (ACK + kFlagAckRequest) is due when nothing is in flight but the stream waits for
// credits or for the peer's committed epoch, so a lost ACK cannot stall it.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "link/frame_stamp.h"
#include "link/rtt_estimator.h"

namespace replink::link {

struct SenderConfig {
  uint32_t window = 256;                // frames in flight at most (owner's buffers)
  uint32_t initial_peer_credits = 256;  // the peer's window from HELLO, until its first ACK
  uint32_t dup_threshold = 3;           // SACKed frames above a hole that make it lost
  RtoConfig rto;
};

struct SenderCounters {
  uint64_t frames_sent = 0;
  uint64_t frames_acked = 0;        // cumulatively or selectively, each frame once
  uint64_t frames_sacked = 0;       // of which first acknowledged by SACK
  uint64_t fast_retransmits = 0;
  uint64_t timeout_retransmits = 0;
  uint64_t rto_expirations = 0;     // expiry rounds (each backs the RTO off)
  uint64_t rtt_samples = 0;
  uint64_t acks_received = 0;
  uint64_t acks_stale = 0;          // cumulative point below one already seen (reordered ACK)
  uint64_t acks_invalid = 0;        // acknowledged a seq never sent: ignored
  uint64_t probes_sent = 0;
  uint64_t window_full = 0;         // CanSend() refusals by reason
  uint64_t credit_stalls = 0;
};

enum class SendBlock : uint8_t { kNone, kWindowFull, kNoCredits };

class ReliableSender {
 public:
  explicit ReliableSender(uint32_t stream_id, const SenderConfig& config = {},
                          uint64_t first_seq = 0);

  SendBlock CanSend();
  uint64_t next_seq() const { return next_; }
  uint64_t oldest_unacked() const { return una_; }
  uint64_t in_flight() const { return next_ - una_; }
  uint64_t credit_limit() const { return right_edge_; }  // seqs below may be sent

  // Records the frame with seq next_seq() as sent at now_ns; returns that seq. Only after CanSend().
  uint64_t OnSent(uint64_t now_ns);

  // Processes the peer's ACK fields. Returns the seqs acknowledged by this ACK for the first time, in
  // increasing order (the owner frees their frames); valid until the next call.
  std::span<const uint64_t> OnAck(const AckFields& ack, uint64_t now_ns);

  // The next seq to send again (lowest first), or nothing. Runs the retransmission timer.
  std::optional<uint64_t> NextRetransmit(uint64_t now_ns);
  void OnRetransmitted(uint64_t seq, uint64_t now_ns);

  // Commit tracking: the owner says which epoch it has fully sent; ACKs report what the peer committed.
  void ExpectCommit(uint64_t epoch);
  std::optional<uint64_t> peer_committed_epoch() const { return peer_committed_; }
  bool ProbeDue(uint64_t now_ns) const;
  void OnProbeSent(uint64_t now_ns);

  // Earliest time this sender needs a call (RTO, probe); UINT64_MAX when idle.
  uint64_t NextDeadline() const;

  // Stream RESET / new session: forgets everything in flight; sequence numbers continue at
  // first_seq. The owner frees all frames it kept for this stream.
  void Reset(uint64_t first_seq);

  uint32_t stream_id() const { return stream_id_; }
  const RttEstimator& rtt() const { return rtt_; }
  const SenderCounters& counters() const { return counters_; }
  const SenderConfig& config() const { return config_; }

 private:
  struct Slot {
    uint64_t sent_ns = 0;     // last transmission
    bool in_use = false;
    bool sacked = false;
    bool lost = false;        // queued for retransmission
    bool retransmitted = false;
    bool fast_retransmitted = false;
  };

  Slot& slot(uint64_t seq) { return slots_[seq % slots_.size()]; }
  void MarkLost(uint64_t seq, Slot& s);
  void Acknowledge(uint64_t seq, Slot& s, bool by_sack, uint64_t now_ns, uint64_t* rtt_sample);
  void RunTimer(uint64_t now_ns);
  bool Stalled() const;

  uint32_t stream_id_;
  SenderConfig config_;
  std::vector<Slot> slots_;
  std::vector<uint64_t> acked_;  // OnAck's answer, capacity window
  RttEstimator rtt_;
  uint64_t una_;
  uint64_t next_;
  uint64_t right_edge_;
  uint64_t lost_count_ = 0;
  uint64_t lost_hint_ = 0;       // no lost frame below this seq
  uint64_t timer_at_ = UINT64_MAX;
  std::optional<uint64_t> expected_commit_;
  std::optional<uint64_t> peer_committed_;
  uint64_t last_progress_ns_ = 0;
  uint64_t probe_interval_ns_ = 0;
  SenderCounters counters_;
};

}  // namespace replink::link
