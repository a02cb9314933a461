#include "link/reliable_receiver.h"

#include <algorithm>

namespace replink::link {

ReliableReceiver::ReliableReceiver(uint32_t stream_id, const ReceiverConfig& config,
                                   uint64_t first_seq)
    : stream_id_(stream_id),
      config_(config),
      slots_(std::max<uint32_t>(config.window, 1)),
      deliver_next_(first_seq),
      ack_next_(first_seq),
      highest_(first_seq) {
  config_.window = static_cast<uint32_t>(slots_.size());
  config_.ack_every = std::max<uint32_t>(config_.ack_every, 1);
  advertised_credits_ = config_.window;
}

void ReliableReceiver::ResetState(uint64_t first_seq) {
  for (Slot& s : slots_) s = Slot{};
  deliver_next_ = ack_next_ = highest_ = first_seq;
  unacked_frames_ = 0;
  ack_now_ = false;
  commit_pending_ = false;
  committed_.reset();
  advertised_credits_ = config_.window;
}

void ReliableReceiver::AckNow() {
  if (!ack_now_) ++counters_.immediate_acks;
  ack_now_ = true;
}

uint32_t ReliableReceiver::credits() const {
  return static_cast<uint32_t>(deliver_next_ + slots_.size() - ack_next_);
}

ReceiveVerdict ReliableReceiver::OnData(uint64_t seq, uint64_t token, bool ack_requested,
                                        uint64_t now_ns) {
  if (ack_requested) AckNow();
  if (seq < ack_next_) {
    ++counters_.duplicates;
    AckNow();  // our ACK may have been lost: the sender is retransmitting
    return ReceiveVerdict::kDuplicate;
  }
  if (seq - deliver_next_ >= slots_.size()) {
    ++counters_.out_of_window;
    AckNow();  // the sender's idea of our window is wrong: correct it
    return ReceiveVerdict::kOutOfWindow;
  }
  Slot& s = slot(seq);
  if (s.filled) {
    ++counters_.duplicates;
    AckNow();
    return ReceiveVerdict::kDuplicate;
  }
  s.filled = true;
  s.token = token;
  ++counters_.frames_accepted;
  highest_ = std::max(highest_, seq + 1);
  if (unacked_frames_++ == 0) first_unacked_ns_ = now_ns;

  if (seq == ack_next_) {
    ++counters_.in_order;
    bool hole_filled = highest_ > seq + 1;
    while (ack_next_ < highest_ && slot(ack_next_).filled) ++ack_next_;
    if (hole_filled) AckNow();  // tell the sender quickly that its retransmission arrived
  } else {
    ++counters_.out_of_order;
    AckNow();  // a gap: the SACK lets the sender repair it before its timer
  }
  return ReceiveVerdict::kAccepted;
}

void ReliableReceiver::OnAckRequest() { AckNow(); }

std::optional<uint64_t> ReliableReceiver::PopInOrder() {
  if (deliver_next_ >= ack_next_) return std::nullopt;
  Slot& s = slot(deliver_next_);
  uint64_t token = s.token;
  s = Slot{};
  ++deliver_next_;
  ++counters_.delivered;
  // A sender stalled on a nearly closed window waits for this update; do not make it wait for a timer.
  if (advertised_credits_ < config_.window / 4 && credits() >= config_.window / 2) AckNow();
  return token;
}

void ReliableReceiver::NoteCommitted(uint64_t epoch) {
  if (committed_ && epoch <= *committed_) return;
  committed_ = epoch;
  commit_pending_ = true;
}

bool ReliableReceiver::AckDue(uint64_t now_ns) const {
  if (ack_now_ || commit_pending_ || unacked_frames_ >= config_.ack_every) return true;
  return unacked_frames_ > 0 && now_ns - first_unacked_ns_ >= config_.ack_delay_ns;
}

uint64_t ReliableReceiver::AckDeadline() const {
  if (ack_now_ || commit_pending_ || unacked_frames_ >= config_.ack_every) return 0;
  if (unacked_frames_ > 0) return first_unacked_ns_ + config_.ack_delay_ns;
  return UINT64_MAX;
}

AckFields ReliableReceiver::CurrentAck() const {
  AckFields ack;
  ack.ack_next = ack_next_;
  // Bit i: seq ack_next + 1 + i. Only seqs inside the window can be buffered.
  uint64_t end = std::min<uint64_t>(highest_, ack_next_ + 65);
  for (uint64_t seq = ack_next_ + 1; seq < end; ++seq)
    if (slot(seq).filled) ack.sack_bitmap |= uint64_t{1} << (seq - ack_next_ - 1);
  ack.credits = credits();
  ack.committed_epoch = committed_;
  return ack;
}

void ReliableReceiver::OnAckSent(uint64_t /*now_ns*/, bool standalone) {
  unacked_frames_ = 0;
  ack_now_ = false;
  advertised_credits_ = credits();
  if (standalone) commit_pending_ = false;
  ++counters_.acks_sent;
}

}  // namespace replink::link
