// FrameReader validates received link frames before anything else looks at them. A frame is accepted
// whole or refused whole: header (magic, version, CRC32C, type, flags, lengths, reserved room) and, for
// DATA, every record bounds-checked against the payload. Refusals carry a FrameFault that is counted
// here; nothing in a refused frame may be acted upon, not even its piggybacked ACK.
//
// Stream-level rules (epoch order, fragment order, record counts) need state across frames and live in
// EpochRecordAssembler; control-payload semantics (versions, MTU) in hello_exchange.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "capture/epoch_record.h"
#include "errors/result.h"
#include "link/frame_fault.h"
#include "link/link_encapsulation.h"
#include "link/link_protocol.h"

namespace replink::link {

// A validated frame: the header copied out, the payload a view into the caller's buffer.
struct FrameView {
  LinkHeader header{};
  std::span<const std::byte> payload;

  FrameType type() const { return static_cast<FrameType>(header.type); }
};

// One record of a DATA payload. Only the fields of its type are meaningful.
struct RecordView {
  RecordType type = RecordType::kEpochBegin;
  uint64_t epoch = 0;                              // EPOCH_BEGIN, EPOCH_END
  EpochTrigger trigger = EpochTrigger::kExplicit;  // EPOCH_BEGIN
  uint16_t begin_flags = 0;                        // EPOCH_BEGIN: capture_abi::BeginFlags
  uint64_t gfn = 0;                                // PAGE, ZERO_PAGE
  uint8_t codec = 0;                               // PAGE
  uint64_t base_version = 0;                       // PAGE
  uint32_t index = 0;                              // VCPU_STATE, DEVICE_STATE; DISK_WRITE: disk id
  uint64_t sector = 0;                             // DISK_WRITE
  uint32_t total_length = 0;                       // fragmentable types
  uint32_t fragment_offset = 0;
  std::span<const std::byte> fragment;             // this record's share of the item's bytes
  uint32_t record_count = 0;                       // EPOCH_END
  uint64_t checksum = 0;                           // EPOCH_END

  bool whole() const { return fragment_offset == 0 && fragment.size() == total_length; }
};

struct ReaderConfig {
  uint32_t codec_mask = 0xF;  // PAGE codecs accepted (bit per codec id); narrowed by HELLO
};

class FrameReader {
 public:
  explicit FrameReader(const ReaderConfig& config = {}) : config_(config) {}

  void set_codec_mask(uint32_t mask) { config_.codec_mask = mask; }
  const ReaderConfig& config() const { return config_; }

  // No allocation, no counting: the fast path. On refusal `detail` (if given) says why.
  FrameFault Inspect(std::span<const std::byte> link_frame, FrameView* out,
                     FaultDetail* detail = nullptr) const;

  // Counts the outcome; a refusal becomes Error (kCorrupt, or kVersionMismatch / kUnsupported)
  // whose message names the fault, e.g. "link frame refused: bad-checksum (crc ...)".
  Result<FrameView> Parse(std::span<const std::byte> link_frame);
  // Strips the encapsulation first (its refusals are counted the same way).
  Result<FrameView> ParseEthernet(const LinkEncapsulation& encap, std::span<const std::byte> frame);

  FrameFault last_fault() const { return last_fault_; }
  const FaultCounters& faults() const { return faults_; }
  FaultCounters& faults() { return faults_; }
  uint64_t accepted() const { return accepted_; }

 private:
  Result<FrameView> Refused(const FaultDetail& detail);

  ReaderConfig config_;
  FaultCounters faults_;
  FrameFault last_fault_ = FrameFault::kNone;
  uint64_t accepted_ = 0;
};

// Walks the records of a DATA payload that FrameReader accepted. Every record is checked again, so a
// payload that did not come from the reader cannot make it read out of bounds: the walk stops at the
// first bad record and fault() says why.
class RecordCursor {
 public:
  RecordCursor(std::span<const std::byte> payload, uint64_t frame_epoch, uint32_t codec_mask = 0xF)
      : payload_(payload), epoch_(frame_epoch), codec_mask_(codec_mask) {}
  explicit RecordCursor(const FrameView& frame, uint32_t codec_mask = 0xF)
      : RecordCursor(frame.payload, frame.header.epoch, codec_mask) {}

  bool Next(RecordView* out);
  FrameFault fault() const { return detail_.fault; }
  const FaultDetail& detail() const { return detail_; }

 private:
  std::span<const std::byte> payload_;
  uint64_t epoch_;
  uint32_t codec_mask_;
  std::size_t offset_ = 0;
  FaultDetail detail_;
};

// Decodes and checks one record at `offset`; on success sets `*next` to the following record.
FrameFault DecodeRecord(std::span<const std::byte> payload, std::size_t offset, uint64_t frame_epoch,
                        uint32_t codec_mask, RecordView* out, std::size_t* next,
                        FaultDetail* detail);

}  // namespace replink::link
