// FrameWriter packs one stream's epoch records into link frames of at most the link MTU.
//
// A DATA frame holds records of exactly one epoch (the header's). Items that do not fit the room
// left are fragmented: each fragment record carries (total_length, fragment_offset) and the receiver
// reassembles (EpochRecordAssembler). Fragments of one item are written consecutively, in offset
// order, so one item is in progress per stream at any time. Typical loop for one page:
//
//   std::size_t offset = 0;
//   for (;;) {
//     AppendResult r = writer.AddPage(page, offset);
//     if (r == AppendResult::kComplete) break;
//     if (r == AppendResult::kNoRoom || r == AppendResult::kPartial) { send(writer.FinishData(...));
//                                                                     writer.BeginData(...); }
//     if (r == AppendResult::kRejected) bug;
//   }
//
// The writer never allocates and never writes outside the buffer it was given.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "capture/epoch_record.h"
#include "link/frame_stamp.h"
#include "link/link_encapsulation.h"
#include "link/link_protocol.h"

namespace replink::link {

enum class AppendResult : uint8_t {
  kNoRoom,    // nothing written: finish this frame, continue in a new one
  kPartial,   // a fragment was written and the frame is now full: finish it, continue in a new one
  kComplete,  // the item's last byte is in this frame
  kRejected,  // the item breaks a protocol bound (length, alignment): a caller bug, nothing written
};

struct PageItem {
  uint64_t gfn = 0;
  uint8_t codec = 0;  // codec::CodecId
  uint64_t base_version = 0;
  std::span<const std::byte> payload;  // encoded, <= kMaxPagePayload
};

class FrameWriter {
 public:
  // A fragment is written only if it carries at least min(min_fragment, rest of the item) bytes:
  // slivers cost a record header each and a reassembly step for little gain.
  static constexpr uint32_t kDefaultMinFragment = 256;

  explicit FrameWriter(const LinkEncapsulation& encap, uint32_t min_fragment = kDefaultMinFragment);

  // Starts a DATA frame in `buffer` (encap.max_frame() bytes give the full MTU; less limits it).
  void BeginData(std::span<std::byte> buffer, uint32_t stream_id, uint64_t epoch);
  bool active() const { return active_; }
  // Drops the frame being built (its buffer is the caller's); the writer is inactive afterwards.
  void Abandon() { active_ = false; }
  std::size_t room() const { return active_ ? limit_ - used_ : 0; }
  std::size_t payload_size() const { return used_; }
  uint32_t record_count() const { return records_; }

  // `begin_flags`: capture_abi::BeginFlags of the epoch (e.g. kBeginCatchUp), passed to the peer.
  [[nodiscard]] bool AddEpochBegin(EpochTrigger trigger, uint16_t begin_flags = 0);
  [[nodiscard]] bool AddZeroPage(uint64_t gfn);
  [[nodiscard]] bool AddEpochEnd(uint32_t record_count, uint64_t checksum);
  // `offset`: bytes of the item already written; advanced by what this call wrote.
  [[nodiscard]] AppendResult AddPage(const PageItem& page, std::size_t& offset);
  // type is kVcpuState or kDeviceState.
  [[nodiscard]] AppendResult AddBlob(RecordType type, uint32_t index,
                                     std::span<const std::byte> data, std::size_t& offset);
  [[nodiscard]] AppendResult AddDiskWrite(uint32_t disk_id, uint64_t sector,
                                          std::span<const std::byte> data, std::size_t& offset);

  // Seals the frame: sequence number, stamp, CRC, encapsulation. Returns the Ethernet frame (a view
  // of the buffer given to BeginData). The writer is inactive afterwards.
  std::span<std::byte> FinishData(uint64_t seq, const FrameStamp& stamp);

 private:
  std::size_t FragmentRoom(std::size_t fixed, std::size_t remaining) const;
  template <typename Body>
  AppendResult AppendFragment(RecordType type, Body body, std::span<const std::byte> data,
                              std::size_t& offset);
  template <typename Body>
  void PutRecord(RecordType type, const Body& body, std::span<const std::byte> data);

  const LinkEncapsulation* encap_;
  uint32_t min_fragment_;
  std::span<std::byte> buffer_;
  std::size_t limit_ = 0;  // payload bytes this frame may hold
  std::size_t used_ = 0;
  uint32_t records_ = 0;
  uint32_t stream_id_ = 0;
  uint64_t epoch_ = 0;
  bool active_ = false;
};

// Seals a frame whose payload the caller already placed at buffer[encap.header_size() +
// kLinkHeaderSize]: fills magic, version, payload_length and CRC of `header`, then the encapsulation.
// Used for control frames and by FrameWriter.
std::span<std::byte> SealFrame(const LinkEncapsulation& encap, std::span<std::byte> buffer,
                               LinkHeader header, std::size_t payload_size);

// Copies `payload` behind the headers and seals: one call for a small control frame.
std::span<std::byte> BuildControlFrame(const LinkEncapsulation& encap, std::span<std::byte> buffer,
                                       const LinkHeader& header,
                                       std::span<const std::byte> payload);

// A standalone ACK frame for `stream_id`: the ack fields, COMMIT_VALID with the committed epoch when
// `ack` has one, and ACK_REQUEST when this is a probe.
std::span<std::byte> BuildAckFrame(const LinkEncapsulation& encap, std::span<std::byte> buffer,
                                   uint32_t stream_id, uint32_t session_id, const AckFields& ack,
                                   bool ack_request = false);

// Retransmission of a sealed frame: refreshes stamp fields in place and recomputes the CRC. The
// sequence number and records do not change.
void RestampFrame(const LinkEncapsulation& encap, std::span<std::byte> frame,
                  const FrameStamp& stamp);

// CRC32C of a link frame with its frame_crc field taken as zero.
uint32_t ComputeFrameCrc(std::span<const std::byte> link_frame);

}  // namespace replink::link
