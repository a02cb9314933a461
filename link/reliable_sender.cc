#include "link/reliable_sender.h"

#include <algorithm>

namespace replink::link {

ReliableSender::ReliableSender(uint32_t stream_id, const SenderConfig& config, uint64_t first_seq)
    : stream_id_(stream_id),
      config_(config),
      slots_(std::max<uint32_t>(config.window, 1)),
      rtt_(config.rto),
      una_(first_seq),
      next_(first_seq),
      right_edge_(first_seq + config.initial_peer_credits) {
  config_.window = static_cast<uint32_t>(slots_.size());
  config_.dup_threshold = std::max<uint32_t>(config_.dup_threshold, 1);
  acked_.reserve(slots_.size());
  lost_hint_ = first_seq;
  probe_interval_ns_ = rtt_.rto_ns();
}

void ReliableSender::Reset(uint64_t first_seq) {
  for (Slot& s : slots_) s = Slot{};
  acked_.clear();
  una_ = next_ = lost_hint_ = first_seq;
  right_edge_ = first_seq + config_.initial_peer_credits;
  lost_count_ = 0;
  timer_at_ = UINT64_MAX;
  expected_commit_.reset();
  peer_committed_.reset();
  probe_interval_ns_ = rtt_.rto_ns();
}

SendBlock ReliableSender::CanSend() {
  if (next_ - una_ >= slots_.size()) {
    ++counters_.window_full;
    return SendBlock::kWindowFull;
  }
  if (next_ >= right_edge_) {
    ++counters_.credit_stalls;
    return SendBlock::kNoCredits;
  }
  return SendBlock::kNone;
}

uint64_t ReliableSender::OnSent(uint64_t now_ns) {
  uint64_t seq = next_++;
  Slot& s = slot(seq);
  s = Slot{};
  s.in_use = true;
  s.sent_ns = now_ns;
  timer_at_ = std::min(timer_at_, now_ns + rtt_.rto_ns());
  if (seq == una_) last_progress_ns_ = now_ns;  // the stall clock starts with the first frame out
  ++counters_.frames_sent;
  return seq;
}

void ReliableSender::MarkLost(uint64_t seq, Slot& s) {
  if (s.lost) return;
  s.lost = true;
  ++lost_count_;
  lost_hint_ = std::min(lost_hint_, seq);
}

void ReliableSender::Acknowledge(uint64_t seq, Slot& s, bool by_sack, uint64_t now_ns,
                                 uint64_t* rtt_sample) {
  if (s.lost) --lost_count_;
  // Karn: only a frame sent exactly once says how long a round trip takes.
  if (!s.retransmitted && now_ns >= s.sent_ns) *rtt_sample = now_ns - s.sent_ns;
  s.lost = false;
  s.sacked = true;
  acked_.push_back(seq);
  ++counters_.frames_acked;
  if (by_sack) ++counters_.frames_sacked;
}

std::span<const uint64_t> ReliableSender::OnAck(const AckFields& ack, uint64_t now_ns) {
  acked_.clear();
  ++counters_.acks_received;
  if (ack.ack_next > next_) {  // acknowledges what we never sent: not our stream state
    ++counters_.acks_invalid;
    return {};
  }
  uint64_t rtt_sample = UINT64_MAX;
  bool progress = false;
  if (ack.ack_next < una_) {
    ++counters_.acks_stale;
  } else {
    for (uint64_t seq = una_; seq < ack.ack_next; ++seq) {
      Slot& s = slot(seq);
      if (!s.sacked) Acknowledge(seq, s, false, now_ns, &rtt_sample);
      s = Slot{};
    }
    progress = ack.ack_next > una_;
    una_ = ack.ack_next;
    lost_hint_ = std::max(lost_hint_, una_);
  }

  // Selective part: bit i is seq ack_next + 1 + i (ack_next itself is the first hole).
  uint64_t sack = ack.sack_bitmap;
  while (sack != 0) {
    int bit = __builtin_ctzll(sack);
    sack &= sack - 1;
    uint64_t seq = ack.ack_next + 1 + static_cast<uint64_t>(bit);
    if (seq >= next_) break;
    if (seq < una_) continue;
    Slot& s = slot(seq);
    if (s.in_use && !s.sacked) {
      Acknowledge(seq, s, true, now_ns, &rtt_sample);
      progress = true;
    }
  }

  // Fast retransmit: a hole with dup_threshold SACKed frames above it is lost (once per frame; the
  // timer covers a lost retransmission).
  if (next_ > una_ && ack.sack_bitmap != 0) {
    uint64_t top = std::min(next_, std::max(una_, ack.ack_next) + 65);
    uint32_t sacked_above = 0;
    for (uint64_t seq = top; seq-- > una_;) {
      Slot& s = slot(seq);
      if (s.sacked) {
        ++sacked_above;
      } else if (sacked_above >= config_.dup_threshold && !s.lost && !s.fast_retransmitted) {
        s.fast_retransmitted = true;
        MarkLost(seq, s);
        ++counters_.fast_retransmits;
      }
    }
  }
  // Never SACKed past una: slide over frames that the SACK had already covered.
  while (una_ < next_ && slot(una_).sacked) slot(una_++) = Slot{};
  lost_hint_ = std::max(lost_hint_, una_);

  if (rtt_sample != UINT64_MAX) {
    rtt_.AddSample(rtt_sample);
    ++counters_.rtt_samples;
  }
  // The right edge only moves forward: receivers compute it from their delivery point, which never
  // goes back, so a smaller value can only come from a reordered older ACK.
  if (ack.ack_next + ack.credits > right_edge_) {
    right_edge_ = ack.ack_next + ack.credits;
    progress = true;
  }
  if (ack.committed_epoch && (!peer_committed_ || *ack.committed_epoch > *peer_committed_)) {
    peer_committed_ = ack.committed_epoch;
    progress = true;
  }
  if (progress) {
    last_progress_ns_ = now_ns;
    probe_interval_ns_ = rtt_.rto_ns();
  }
  return acked_;
}

void ReliableSender::RunTimer(uint64_t now_ns) {
  if (now_ns < timer_at_) return;
  uint64_t rto = rtt_.rto_ns();
  bool expired = false;
  for (uint64_t seq = una_; seq < next_; ++seq) {
    Slot& s = slot(seq);
    if (s.sacked || s.lost) continue;
    if (now_ns - s.sent_ns >= rto) {
      MarkLost(seq, s);
      ++counters_.timeout_retransmits;
      expired = true;
    }
  }
  if (expired) {
    ++counters_.rto_expirations;
    rtt_.Backoff();
  }
  // Re-arm from the frames still waiting (retransmissions re-arm in OnRetransmitted).
  timer_at_ = UINT64_MAX;
  for (uint64_t seq = una_; seq < next_; ++seq) {
    const Slot& s = slot(seq);
    if (!s.sacked && !s.lost) timer_at_ = std::min(timer_at_, s.sent_ns + rtt_.rto_ns());
  }
}

std::optional<uint64_t> ReliableSender::NextRetransmit(uint64_t now_ns) {
  RunTimer(now_ns);
  if (lost_count_ == 0) return std::nullopt;
  for (uint64_t seq = std::max(lost_hint_, una_); seq < next_; ++seq) {
    if (slot(seq).lost) {
      lost_hint_ = seq;
      return seq;
    }
  }
  lost_count_ = 0;  // unreachable when the bookkeeping is right; never loop on a phantom
  return std::nullopt;
}

void ReliableSender::OnRetransmitted(uint64_t seq, uint64_t now_ns) {
  if (seq < una_ || seq >= next_) return;
  Slot& s = slot(seq);
  if (!s.in_use || s.sacked) return;
  if (s.lost) --lost_count_;
  s.lost = false;
  s.retransmitted = true;
  s.sent_ns = now_ns;
  timer_at_ = std::min(timer_at_, now_ns + rtt_.rto_ns());
}

void ReliableSender::ExpectCommit(uint64_t epoch) {
  // The probe clock runs from the last progress (typically the ACK of the epoch's last frame).
  if (!expected_commit_ || epoch > *expected_commit_) expected_commit_ = epoch;
}

bool ReliableSender::Stalled() const {
  if (next_ != una_) return false;  // frames in flight: ACKs or the RTO will move things
  bool waiting_commit = expected_commit_ && (!peer_committed_ || *peer_committed_ < *expected_commit_);
  return waiting_commit || next_ >= right_edge_;
}

bool ReliableSender::ProbeDue(uint64_t now_ns) const {
  return Stalled() && now_ns >= last_progress_ns_ + probe_interval_ns_;
}

void ReliableSender::OnProbeSent(uint64_t now_ns) {
  last_progress_ns_ = now_ns;
  probe_interval_ns_ = std::min(probe_interval_ns_ * 2, rtt_.config().max_ns);
  ++counters_.probes_sent;
}

uint64_t ReliableSender::NextDeadline() const {
  uint64_t deadline = next_ != una_ ? timer_at_ : UINT64_MAX;
  if (lost_count_ > 0) return 0;
  if (Stalled()) deadline = std::min(deadline, last_progress_ns_ + probe_interval_ns_);
  return deadline;
}

}  // namespace replink::link
