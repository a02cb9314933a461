// ReliableReceiver: the receiving half of one stream's reliable delivery, as a pure state machine
// (time passed in, no threads, fixed window allocated at construction).
//
// Frames are identified by their sequence number and represented by an opaque 64-bit token the
// owner chooses (an mbuf pointer, a buffer index): the receiver buffers tokens of out-of-order frames
// and hands them back strictly in sequence order, each exactly once. Sequence space per stream:
//
//        deliver_next        ack_next                           deliver_next + window
//   ... ----|=== received, not popped ===|?|== out of order, some ==|---- beyond: refused ---->
//
//   seq < ack_next or already buffered -> duplicate (dropped, counted, and re-ACKed at once);
//   seq >= deliver_next + window -> out of window (dropped, counted, re-ACKed at once).
// credits = deliver_next + window - ack_next: the owner slows the peer by popping less.
//
// ACK policy: an ACK is due after `ack_every` new frames, `ack_delay_ns` after the first frame not yet
// acknowledged, and at once on a gap, a duplicate, a filled hole, an out-of-window frame, an explicit
// request (kFlagAckRequest), a window re-opening, or a newly committed epoch (the latter needs a
// standalone ACK frame, the others may ride on a DATA frame of the reverse direction).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "link/frame_stamp.h"

namespace replink::link {

struct ReceiverConfig {
  uint32_t window = 256;             // frames buffered at most (per stream)
  uint32_t ack_every = 4;
  uint64_t ack_delay_ns = 50'000;    // must stay well below the sender's minimum RTO
};

struct ReceiverCounters {
  uint64_t frames_accepted = 0;
  uint64_t in_order = 0;           // accepted as the next expected frame
  uint64_t out_of_order = 0;       // accepted above a hole
  uint64_t duplicates = 0;
  uint64_t out_of_window = 0;
  uint64_t delivered = 0;          // popped in order
  uint64_t acks_sent = 0;          // standalone or piggybacked
  uint64_t immediate_acks = 0;     // ACKs made due at once by the policy above
};

enum class ReceiveVerdict : uint8_t {
  kAccepted,     // the token is the receiver's until PopInOrder() returns it
  kDuplicate,    // the owner drops the frame
  kOutOfWindow,  // the owner drops the frame
};

class ReliableReceiver {
 public:
  explicit ReliableReceiver(uint32_t stream_id, const ReceiverConfig& config = {},
                            uint64_t first_seq = 0);

  ReceiveVerdict OnData(uint64_t seq, uint64_t token, bool ack_requested, uint64_t now_ns);
  void OnAckRequest();  // a probe (ACK frame with kFlagAckRequest) arrived

  // The next frame's token in sequence order, or nothing if that frame has not arrived.
  std::optional<uint64_t> PopInOrder();

  void NoteCommitted(uint64_t epoch);  // the replica committed `epoch`: tell the peer now

  bool AckDue(uint64_t now_ns) const;
  // A committed epoch not yet announced: only an ACK frame carries it (DATA's epoch field is taken).
  bool commit_ack_pending() const { return commit_pending_; }
  uint64_t AckDeadline() const;                  // 0 = now, UINT64_MAX = nothing pending
  AckFields CurrentAck() const;
  // Call whenever CurrentAck() went out: `standalone` for an ACK frame (carries the commit).
  void OnAckSent(uint64_t now_ns, bool standalone);

  // Stream RESET / new session: drops buffered frames (each token passed to `drop` so the owner can
  // free it) and expects first_seq next.
  template <typename DropFn>
  void Reset(uint64_t first_seq, DropFn&& drop) {
    for (uint64_t seq = deliver_next_; seq < highest_ && seq < deliver_next_ + slots_.size(); ++seq) {
      Slot& s = slot(seq);
      if (s.filled) drop(s.token);
    }
    ResetState(first_seq);
  }

  uint64_t ack_next() const { return ack_next_; }
  uint64_t deliver_next() const { return deliver_next_; }
  uint32_t credits() const;
  std::optional<uint64_t> committed_epoch() const { return committed_; }
  uint32_t stream_id() const { return stream_id_; }
  const ReceiverCounters& counters() const { return counters_; }

 private:
  struct Slot {
    uint64_t token = 0;
    bool filled = false;
  };
  Slot& slot(uint64_t seq) { return slots_[seq % slots_.size()]; }
  const Slot& slot(uint64_t seq) const { return slots_[seq % slots_.size()]; }
  void AckNow();
  void ResetState(uint64_t first_seq);

  uint32_t stream_id_;
  ReceiverConfig config_;
  std::vector<Slot> slots_;
  uint64_t deliver_next_;
  uint64_t ack_next_;
  uint64_t highest_;             // one above the highest seq accepted
  uint32_t unacked_frames_ = 0;  // accepted since the last ACK went out
  uint64_t first_unacked_ns_ = 0;
  bool ack_now_ = false;
  bool commit_pending_ = false;
  uint32_t advertised_credits_;
  std::optional<uint64_t> committed_;
  ReceiverCounters counters_;
};

}  // namespace replink::link
