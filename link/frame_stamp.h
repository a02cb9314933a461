// The per-transmission part of a link header: what changes between the first send of a frame and a
// retransmission (fresher piggybacked ACK, current session) while the records stay the same.
#pragma once

#include <cstdint>
#include <optional>

#include "link/link_protocol.h"

namespace replink::link {

// The receive state of one stream's reverse direction, as advertised to the peer.
struct AckFields {
  uint64_t ack_next = 0;     // every seq below arrived
  uint64_t sack_bitmap = 0;  // bit i: seq ack_next + 1 + i arrived
  uint32_t credits = 0;      // the peer may send seqs < ack_next + credits
  // Highest epoch the local replica committed (standalone ACK frames only; see kFlagCommitValid).
  std::optional<uint64_t> committed_epoch;
  friend bool operator==(const AckFields&, const AckFields&) = default;
};

struct FrameStamp {
  uint32_t session_id = 0;
  std::optional<AckFields> ack;  // piggyback on DATA; required for ACK frames
  bool ack_request = false;      // kFlagAckRequest: ask the peer to answer with an ACK now
};

// Writes the stamp's fields (and their flags) into a header, replacing earlier ones.
inline void ApplyStamp(LinkHeader& header, const FrameStamp& stamp) {
  header.session_id = stamp.session_id;
  header.flags &= static_cast<uint16_t>(~(kFlagAckValid | kFlagAckRequest));
  if (stamp.ack_request) header.flags |= kFlagAckRequest;
  if (stamp.ack) {
    header.flags |= kFlagAckValid;
    header.ack_next = stamp.ack->ack_next;
    header.sack_bitmap = stamp.ack->sack_bitmap;
    header.credits = stamp.ack->credits;
  } else {
    header.ack_next = 0;
    header.sack_bitmap = 0;
    header.credits = 0;
  }
}

// The ACK fields a received header carries, if any.
inline std::optional<AckFields> AckFromHeader(const LinkHeader& header) {
  if ((header.flags & kFlagAckValid) == 0) return std::nullopt;
  AckFields ack{header.ack_next, header.sack_bitmap, header.credits, std::nullopt};
  if (header.type == static_cast<uint8_t>(FrameType::kAck) && (header.flags & kFlagCommitValid))
    ack.committed_epoch = header.epoch;
  return ack;
}

}  // namespace replink::link
