#include "link/frame_reader.h"

#include <algorithm>

#include "capture/capture_ring_abi.h"  // BeginFlags
#include "link/crc32c.h"
#include "link/frame_writer.h"  // ComputeFrameCrc
#include "link/wire_access.h"

namespace replink::link {
namespace {

FrameFault Fail(FaultDetail* detail, FrameFault fault, const char* what, uint64_t value,
                uint64_t limit, std::size_t offset) {
  if (detail != nullptr)
    *detail = FaultDetail{fault, what, value, limit, static_cast<uint32_t>(offset)};
  return fault;
}

template <std::size_t N>
bool AllZero(const uint8_t (&bytes)[N]) {
  return std::all_of(bytes, bytes + N, [](uint8_t b) { return b == 0; });
}

constexpr uint16_t AllowedFlags(FrameType type) {
  switch (type) {
    case FrameType::kData: return kFlagAckValid | kFlagAckRequest;
    case FrameType::kAck: return kFlagAckValid | kFlagAckRequest | kFlagCommitValid;
    case FrameType::kReset: return kFlagReply;
    case FrameType::kStreamOpen: return kFlagReply;
    case FrameType::kHello:
    case FrameType::kHelloAck:
    case FrameType::kHeartbeat: return 0;
  }
  return 0;
}

// Fixed part of a fragmentable record: (total, offset, fragment) bounds shared by all three kinds.
FrameFault CheckFragment(uint64_t total, uint64_t max_total, uint64_t frag_offset,
                         std::size_t frag_length, std::size_t at, FaultDetail* detail) {
  if (total > max_total)
    return Fail(detail, FrameFault::kMalformedRecord, "item total length", total, max_total, at);
  if (frag_offset > total || frag_length > total - frag_offset)
    return Fail(detail, FrameFault::kMalformedRecord, "fragment beyond item", frag_offset + frag_length,
                total, at);
  if (frag_length == 0 && total != 0)
    return Fail(detail, FrameFault::kMalformedRecord, "empty fragment", 0, total, at);
  return FrameFault::kNone;
}

FrameFault CheckControlPayload(const LinkHeader& h, std::span<const std::byte> payload,
                               FaultDetail* detail) {
  constexpr std::size_t kAt = kLinkHeaderSize;
  switch (static_cast<FrameType>(h.type)) {
    case FrameType::kHello:
    case FrameType::kHelloAck: {
      if (payload.size() < sizeof(HelloPayload))
        return Fail(detail, FrameFault::kBadControlPayload, "hello size", payload.size(),
                    sizeof(HelloPayload), kAt);
      auto hello = LoadWire<HelloPayload>(payload);
      if (hello.stream_count > kMaxHelloStreams)
        return Fail(detail, FrameFault::kBadControlPayload, "hello stream count", hello.stream_count,
                    kMaxHelloStreams, kAt + offsetof(HelloPayload, stream_count));
      std::size_t want = sizeof(HelloPayload) + hello.stream_count * sizeof(StreamEntry);
      if (payload.size() != want)
        return Fail(detail, FrameFault::kBadControlPayload, "hello size", payload.size(), want, kAt);
      if (hello.reserved != 0)
        return Fail(detail, FrameFault::kReservedNotZero, "hello reserved", hello.reserved, 0, kAt);
      return FrameFault::kNone;
    }
    case FrameType::kHeartbeat:
      if (payload.size() != sizeof(HeartbeatPayload))
        return Fail(detail, FrameFault::kBadControlPayload, "heartbeat size", payload.size(),
                    sizeof(HeartbeatPayload), kAt);
      return FrameFault::kNone;
    case FrameType::kReset: {
      if (payload.size() != sizeof(ResetPayload))
        return Fail(detail, FrameFault::kBadControlPayload, "reset size", payload.size(),
                    sizeof(ResetPayload), kAt);
      auto reset = LoadWire<ResetPayload>(payload);
      if (reset.reason < static_cast<uint32_t>(ResetReason::kPeerRestarted) ||
          reset.reason > static_cast<uint32_t>(ResetReason::kOperator))
        return Fail(detail, FrameFault::kBadControlPayload, "reset reason", reset.reason, 0, kAt);
      if (reset.reserved != 0)
        return Fail(detail, FrameFault::kReservedNotZero, "reset reserved", reset.reserved, 0, kAt);
      return FrameFault::kNone;
    }
    case FrameType::kAck:
      if (!payload.empty())
        return Fail(detail, FrameFault::kBadLength, "ack payload", payload.size(), 0, kAt);
      return FrameFault::kNone;
    case FrameType::kStreamOpen: {
      if (payload.size() != sizeof(StreamOpenPayload))
        return Fail(detail, FrameFault::kBadControlPayload, "stream open size", payload.size(),
                    sizeof(StreamOpenPayload), kAt);
      auto open = LoadWire<StreamOpenPayload>(payload);
      if (open.open_id == 0 || open.vm_id != h.stream_id)
        return Fail(detail, FrameFault::kBadControlPayload, "stream open id", open.vm_id, h.stream_id, kAt);
      if (open.guest_pages == 0 || open.guest_pages > (uint64_t{1} << 40) || open.vcpu_count == 0 ||
          open.vcpu_count > 4096 || open.disk_count > 64 || open.device_count > 256 ||
          open.disk_sectors > (uint64_t{1} << 48))
        return Fail(detail, FrameFault::kBadControlPayload, "stream open geometry", open.guest_pages, 0, kAt);
      if (open.vm_name[sizeof(open.vm_name) - 1] != 0 || open.message[sizeof(open.message) - 1] != 0)
        return Fail(detail, FrameFault::kBadControlPayload, "stream open strings", 0, 0, kAt);
      return FrameFault::kNone;
    }
    case FrameType::kData: break;
  }
  return FrameFault::kNone;
}

}  // namespace

FrameFault DecodeRecord(std::span<const std::byte> payload, std::size_t offset, uint64_t frame_epoch,
                        uint32_t codec_mask, RecordView* out, std::size_t* next,
                        FaultDetail* detail) {
  const std::size_t at = kLinkHeaderSize + offset;
  if (offset > payload.size() || payload.size() - offset < sizeof(RecordHeader))
    return Fail(detail, FrameFault::kMalformedRecord, "record header past payload",
                payload.size() - std::min(offset, payload.size()), sizeof(RecordHeader), at);
  auto rh = LoadWire<RecordHeader>(payload, offset);
  if (!IsValidRecordType(rh.type))
    return Fail(detail, FrameFault::kUnknownRecord, "record type", rh.type, 0, at);
  if (rh.flags != 0 || rh.reserved != 0)
    return Fail(detail, FrameFault::kReservedNotZero, "record flags/reserved", rh.flags, 0, at);
  std::size_t body_at = offset + sizeof(RecordHeader);
  if (rh.body_length > payload.size() - body_at)
    return Fail(detail, FrameFault::kMalformedRecord, "record body past payload", rh.body_length,
                payload.size() - body_at, at);
  std::span<const std::byte> body = payload.subspan(body_at, rh.body_length);

  // Fixed-size records must be exactly their body; fragmentable ones at least the fixed part.
  auto fixed = [&](std::size_t size, bool fragmentable) -> FrameFault {
    if (fragmentable ? body.size() < size : body.size() != size)
      return Fail(detail, FrameFault::kMalformedRecord, "record body length", body.size(), size, at);
    return FrameFault::kNone;
  };

  RecordView v;
  v.type = static_cast<RecordType>(rh.type);
  FrameFault fault = FrameFault::kNone;
  switch (v.type) {
    case RecordType::kEpochBegin: {
      if ((fault = fixed(sizeof(EpochBeginBody), false)) != FrameFault::kNone) return fault;
      auto b = LoadWire<EpochBeginBody>(body);
      if (b.epoch != frame_epoch)
        return Fail(detail, FrameFault::kMalformedRecord, "epoch-begin epoch", b.epoch, frame_epoch, at);
      if (!IsValidEpochTrigger(b.trigger))
        return Fail(detail, FrameFault::kMalformedRecord, "epoch trigger", b.trigger, 0, at);
      if (b.reserved0 != 0 || b.reserved1 != 0)
        return Fail(detail, FrameFault::kReservedNotZero, "epoch-begin reserved", 0, 0, at);
      if (b.flags & ~capture_abi::kKnownBeginFlags)
        return Fail(detail, FrameFault::kReservedNotZero, "epoch-begin flags", b.flags,
                    capture_abi::kKnownBeginFlags, at);
      v.epoch = b.epoch;
      v.trigger = static_cast<EpochTrigger>(b.trigger);
      v.begin_flags = b.flags;
      break;
    }
    case RecordType::kPage: {
      if ((fault = fixed(sizeof(PageBody), true)) != FrameFault::kNone) return fault;
      auto b = LoadWire<PageBody>(body);
      if (b.codec >= 32 || ((codec_mask >> b.codec) & 1u) == 0)
        return Fail(detail, FrameFault::kUnsupported, "page codec", b.codec, codec_mask, at);
      if (!AllZero(b.reserved))
        return Fail(detail, FrameFault::kReservedNotZero, "page reserved", 0, 0, at);
      v.fragment = body.subspan(sizeof(PageBody));
      if ((fault = CheckFragment(b.total_length, kMaxPagePayload, b.fragment_offset,
                                 v.fragment.size(), at, detail)) != FrameFault::kNone)
        return fault;
      v.gfn = b.gfn;
      v.codec = b.codec;
      v.base_version = b.base_version;
      v.total_length = b.total_length;
      v.fragment_offset = b.fragment_offset;
      break;
    }
    case RecordType::kZeroPage: {
      if ((fault = fixed(sizeof(ZeroPageBody), false)) != FrameFault::kNone) return fault;
      v.gfn = LoadWire<ZeroPageBody>(body).gfn;
      break;
    }
    case RecordType::kVcpuState:
    case RecordType::kDeviceState: {
      if ((fault = fixed(sizeof(BlobBody), true)) != FrameFault::kNone) return fault;
      auto b = LoadWire<BlobBody>(body);
      if (b.reserved != 0)
        return Fail(detail, FrameFault::kReservedNotZero, "blob reserved", b.reserved, 0, at);
      v.fragment = body.subspan(sizeof(BlobBody));
      if ((fault = CheckFragment(b.total_length, kMaxBlobLength, b.fragment_offset, v.fragment.size(),
                                 at, detail)) != FrameFault::kNone)
        return fault;
      v.index = b.index;
      v.total_length = b.total_length;
      v.fragment_offset = b.fragment_offset;
      break;
    }
    case RecordType::kDiskWrite: {
      if ((fault = fixed(sizeof(DiskWriteBody), true)) != FrameFault::kNone) return fault;
      auto b = LoadWire<DiskWriteBody>(body);
      if (b.reserved != 0)
        return Fail(detail, FrameFault::kReservedNotZero, "disk-write reserved", b.reserved, 0, at);
      if (b.total_length == 0 || b.total_length % kSectorSize != 0)
        return Fail(detail, FrameFault::kMalformedRecord, "disk-write length", b.total_length,
                    kSectorSize, at);
      if (b.sector > UINT64_MAX - b.total_length / kSectorSize)
        return Fail(detail, FrameFault::kMalformedRecord, "disk-write sector overflow", b.sector, 0, at);
      v.fragment = body.subspan(sizeof(DiskWriteBody));
      if ((fault = CheckFragment(b.total_length, kMaxDiskWriteLength, b.fragment_offset,
                                 v.fragment.size(), at, detail)) != FrameFault::kNone)
        return fault;
      v.index = b.disk_id;
      v.sector = b.sector;
      v.total_length = b.total_length;
      v.fragment_offset = b.fragment_offset;
      break;
    }
    case RecordType::kEpochEnd: {
      if ((fault = fixed(sizeof(EpochEndBody), false)) != FrameFault::kNone) return fault;
      auto b = LoadWire<EpochEndBody>(body);
      if (b.epoch != frame_epoch)
        return Fail(detail, FrameFault::kMalformedRecord, "epoch-end epoch", b.epoch, frame_epoch, at);
      if (b.reserved != 0)
        return Fail(detail, FrameFault::kReservedNotZero, "epoch-end reserved", b.reserved, 0, at);
      v.epoch = b.epoch;
      v.record_count = b.record_count;
      v.checksum = b.checksum;
      break;
    }
  }
  if (out != nullptr) *out = v;
  *next = body_at + body.size();
  return FrameFault::kNone;
}

FrameFault FrameReader::Inspect(std::span<const std::byte> link_frame, FrameView* out,
                                FaultDetail* detail) const {
  if (link_frame.size() < kLinkHeaderSize)
    return Fail(detail, FrameFault::kTruncated, "link header", link_frame.size(), kLinkHeaderSize, 0);
  auto h = LoadWire<LinkHeader>(link_frame);
  if (h.magic != kLinkMagic)
    return Fail(detail, FrameFault::kBadMagic, "magic", h.magic, kLinkMagic, 0);
  if (h.version != kLinkHeaderVersion)
    return Fail(detail, FrameFault::kBadVersion, "header version", h.version, kLinkHeaderVersion, 4);
  // The CRC covers exactly the bytes received: any flipped bit is refused here, before a single field
  // behind the version is believed.
  uint32_t crc = ComputeFrameCrc(link_frame);
  if (crc != h.frame_crc)
    return Fail(detail, FrameFault::kBadChecksum, "crc32c", h.frame_crc, crc, kFrameCrcOffset);
  if (h.type == 0 || h.type > kMaxFrameType)
    return Fail(detail, FrameFault::kUnknownType, "frame type", h.type, kMaxFrameType, 5);
  auto type = static_cast<FrameType>(h.type);
  if (h.payload_length != link_frame.size() - kLinkHeaderSize || h.payload_length > kMaxLinkPayload)
    return Fail(detail, FrameFault::kBadLength, "payload length", h.payload_length,
                link_frame.size() - kLinkHeaderSize, 12);
  if (h.flags & kFlagEncrypted)
    return Fail(detail, FrameFault::kUnsupported, "encrypted frame", h.flags, 0, 6);
  if (h.flags & ~AllowedFlags(type))
    return Fail(detail, FrameFault::kReservedNotZero, "flags", h.flags, AllowedFlags(type), 6);
  if (h.key_id != 0 || h.reserved != 0 || !AllZero(h.nonce) || !AllZero(h.auth_tag))
    return Fail(detail, FrameFault::kReservedNotZero, "key id / nonce / tag / reserved", h.key_id, 0,
                offsetof(LinkHeader, key_id));
  if (!(h.flags & kFlagAckValid) && (h.ack_next != 0 || h.sack_bitmap != 0 || h.credits != 0))
    return Fail(detail, FrameFault::kReservedNotZero, "ack fields without ack flag", h.ack_next, 0, 32);
  if (type == FrameType::kAck) {
    if (!(h.flags & kFlagAckValid))
      return Fail(detail, FrameFault::kMalformedRecord, "ack without ack fields", h.flags, 0, 6);
    if (h.seq != 0 || (!(h.flags & kFlagCommitValid) && h.epoch != 0))
      return Fail(detail, FrameFault::kReservedNotZero, "ack seq/epoch", h.seq, 0, 16);
  }
  if (type == FrameType::kHello || type == FrameType::kHeartbeat || type == FrameType::kHelloAck) {
    if (h.seq != 0 || h.epoch != 0 || h.stream_id != 0)
      return Fail(detail, FrameFault::kReservedNotZero, "control seq/epoch/stream", h.seq, 0, 8);
  }
  if (type == FrameType::kHello && h.session_id != 0)
    return Fail(detail, FrameFault::kReservedNotZero, "hello session id", h.session_id, 0, 52);
  if (type == FrameType::kStreamOpen && (h.seq != 0 || h.epoch != 0))
    return Fail(detail, FrameFault::kReservedNotZero, "stream open seq/epoch", h.seq, 0, 8);
  if (type == FrameType::kReset && h.epoch != 0)
    return Fail(detail, FrameFault::kReservedNotZero, "reset epoch", h.epoch, 0, 16);

  std::span<const std::byte> payload = link_frame.subspan(kLinkHeaderSize);
  if (type == FrameType::kData) {
    if (payload.empty())
      return Fail(detail, FrameFault::kBadLength, "data frame without records", 0, 1, 12);
    std::size_t offset = 0;
    while (offset < payload.size()) {
      FrameFault fault =
          DecodeRecord(payload, offset, h.epoch, config_.codec_mask, nullptr, &offset, detail);
      if (fault != FrameFault::kNone) return fault;
    }
  } else {
    FrameFault fault = CheckControlPayload(h, payload, detail);
    if (fault != FrameFault::kNone) return fault;
  }
  if (out != nullptr) *out = FrameView{h, payload};
  return FrameFault::kNone;
}

Result<FrameView> FrameReader::Refused(const FaultDetail& detail) {
  last_fault_ = detail.fault;
  faults_.Count(detail.fault);
  Errc code = Errc::kCorrupt;
  if (detail.fault == FrameFault::kBadVersion) code = Errc::kVersionMismatch;
  if (detail.fault == FrameFault::kUnsupported) code = Errc::kUnsupported;
  return MakeError(code, "link frame refused: {} ({} = {:#x}, expected/limit {:#x}, at byte {})",
                   FrameFaultName(detail.fault), detail.what, detail.value, detail.limit,
                   detail.offset);
}

Result<FrameView> FrameReader::Parse(std::span<const std::byte> link_frame) {
  FrameView view;
  FaultDetail detail;
  if (Inspect(link_frame, &view, &detail) != FrameFault::kNone) return Refused(detail);
  last_fault_ = FrameFault::kNone;
  ++accepted_;
  return view;
}

Result<FrameView> FrameReader::ParseEthernet(const LinkEncapsulation& encap,
                                             std::span<const std::byte> frame) {
  std::span<const std::byte> link_frame;
  FaultDetail detail;
  if (encap.Unwrap(frame, &link_frame, &detail) != FrameFault::kNone) return Refused(detail);
  return Parse(link_frame);
}

bool RecordCursor::Next(RecordView* out) {
  if (offset_ >= payload_.size() || detail_.fault != FrameFault::kNone) return false;
  std::size_t next = 0;
  if (DecodeRecord(payload_, offset_, epoch_, codec_mask_, out, &next, &detail_) != FrameFault::kNone)
    return false;
  offset_ = next;
  return true;
}

}  // namespace replink::link
