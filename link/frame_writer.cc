#include "link/frame_writer.h"

#include <algorithm>
#include <cassert>
#include <cstring>

#include "link/crc32c.h"
#include "link/wire_access.h"

namespace replink::link {

uint32_t ComputeFrameCrc(std::span<const std::byte> link_frame) {
  static constexpr std::byte kZeroCrc[sizeof(uint32_t)] = {};
  uint32_t crc = Crc32c(link_frame.first(kFrameCrcOffset));
  crc = Crc32c(kZeroCrc, crc);
  return Crc32c(link_frame.subspan(kFrameCrcOffset + sizeof(uint32_t)), crc);
}

std::span<std::byte> SealFrame(const LinkEncapsulation& encap, std::span<std::byte> buffer,
                               LinkHeader header, std::size_t payload_size) {
  assert(payload_size + kLinkHeaderSize <= encap.max_link_frame());
  std::span<std::byte> link_frame = buffer.subspan(encap.header_size(), kLinkHeaderSize + payload_size);
  header.magic = kLinkMagic;
  header.version = kLinkHeaderVersion;
  header.payload_length = static_cast<uint32_t>(payload_size);
  header.frame_crc = 0;
  StoreWire(link_frame, 0, header);
  StoreWire(link_frame, kFrameCrcOffset, ComputeFrameCrc(link_frame));
  return encap.WriteHeaders(buffer, link_frame.size());
}

std::span<std::byte> BuildControlFrame(const LinkEncapsulation& encap, std::span<std::byte> buffer,
                                       const LinkHeader& header,
                                       std::span<const std::byte> payload) {
  std::size_t at = encap.header_size() + kLinkHeaderSize;
  assert(buffer.size() >= at + payload.size());
  if (!payload.empty()) std::memcpy(buffer.data() + at, payload.data(), payload.size());
  return SealFrame(encap, buffer, header, payload.size());
}

std::span<std::byte> BuildAckFrame(const LinkEncapsulation& encap, std::span<std::byte> buffer,
                                   uint32_t stream_id, uint32_t session_id, const AckFields& ack,
                                   bool ack_request) {
  LinkHeader header{};
  header.type = static_cast<uint8_t>(FrameType::kAck);
  header.stream_id = stream_id;
  ApplyStamp(header, FrameStamp{session_id, ack, ack_request});
  if (ack.committed_epoch) {
    header.flags |= kFlagCommitValid;
    header.epoch = *ack.committed_epoch;
  }
  return SealFrame(encap, buffer, header, 0);
}

void RestampFrame(const LinkEncapsulation& encap, std::span<std::byte> frame,
                  const FrameStamp& stamp) {
  std::span<std::byte> link_frame = frame.subspan(encap.header_size());
  auto header = LoadWire<LinkHeader>(link_frame);
  ApplyStamp(header, stamp);
  header.frame_crc = 0;
  StoreWire(link_frame, 0, header);
  StoreWire(link_frame, kFrameCrcOffset, ComputeFrameCrc(link_frame));
}

FrameWriter::FrameWriter(const LinkEncapsulation& encap, uint32_t min_fragment)
    : encap_(&encap), min_fragment_(std::max<uint32_t>(min_fragment, 1)) {}

void FrameWriter::BeginData(std::span<std::byte> buffer, uint32_t stream_id, uint64_t epoch) {
  std::size_t frame = std::min(buffer.size(), encap_->header_size() + encap_->max_link_frame());
  std::size_t overhead = encap_->header_size() + kLinkHeaderSize;
  assert(frame > overhead);
  buffer_ = buffer;
  limit_ = frame > overhead ? frame - overhead : 0;
  used_ = 0;
  records_ = 0;
  stream_id_ = stream_id;
  epoch_ = epoch;
  active_ = true;
}

template <typename Body>
void FrameWriter::PutRecord(RecordType type, const Body& body, std::span<const std::byte> data) {
  std::span<std::byte> payload = buffer_.subspan(encap_->header_size() + kLinkHeaderSize);
  RecordHeader header{static_cast<uint8_t>(type), 0, 0,
                      static_cast<uint32_t>(sizeof(Body) + data.size())};
  StoreWire(payload, used_, header);
  StoreWire(payload, used_ + sizeof(RecordHeader), body);
  if (!data.empty())
    std::memcpy(payload.data() + used_ + sizeof(RecordHeader) + sizeof(Body), data.data(),
                data.size());
  used_ += sizeof(RecordHeader) + sizeof(Body) + data.size();
  ++records_;
}

bool FrameWriter::AddEpochBegin(EpochTrigger trigger, uint16_t begin_flags) {
  if (room() < sizeof(RecordHeader) + sizeof(EpochBeginBody)) return false;
  EpochBeginBody body{};
  body.epoch = epoch_;
  body.trigger = static_cast<uint8_t>(trigger);
  body.flags = begin_flags;
  PutRecord(RecordType::kEpochBegin, body, {});
  return true;
}

bool FrameWriter::AddZeroPage(uint64_t gfn) {
  if (room() < sizeof(RecordHeader) + sizeof(ZeroPageBody)) return false;
  PutRecord(RecordType::kZeroPage, ZeroPageBody{gfn}, {});
  return true;
}

bool FrameWriter::AddEpochEnd(uint32_t record_count, uint64_t checksum) {
  if (room() < sizeof(RecordHeader) + sizeof(EpochEndBody)) return false;
  EpochEndBody body{};
  body.epoch = epoch_;
  body.record_count = record_count;
  body.checksum = checksum;
  PutRecord(RecordType::kEpochEnd, body, {});
  return true;
}

// Data bytes a fragment may carry now, 0 when it is better to start a new frame.
std::size_t FrameWriter::FragmentRoom(std::size_t fixed, std::size_t remaining) const {
  if (room() < fixed) return 0;
  std::size_t avail = room() - fixed;
  if (remaining == 0) return 0;
  std::size_t wanted = std::min<std::size_t>(remaining, min_fragment_);
  // An empty frame takes whatever fits: waiting for a bigger one would never end.
  if (avail < wanted && used_ > 0) return 0;
  return std::min(avail, remaining);
}

template <typename Body>
AppendResult FrameWriter::AppendFragment(RecordType type, Body body,
                                         std::span<const std::byte> data, std::size_t& offset) {
  constexpr std::size_t kFixed = sizeof(RecordHeader) + sizeof(Body);
  if (!active_ || offset > data.size()) return AppendResult::kRejected;
  if (data.empty()) {
    if (room() < kFixed) return AppendResult::kNoRoom;
    PutRecord(type, body, {});
    return AppendResult::kComplete;
  }
  std::size_t take = FragmentRoom(kFixed, data.size() - offset);
  if (take == 0) return offset == data.size() ? AppendResult::kRejected : AppendResult::kNoRoom;
  body.fragment_offset = static_cast<decltype(body.fragment_offset)>(offset);
  PutRecord(type, body, data.subspan(offset, take));
  offset += take;
  return offset == data.size() ? AppendResult::kComplete : AppendResult::kPartial;
}

AppendResult FrameWriter::AddPage(const PageItem& page, std::size_t& offset) {
  if (page.payload.size() > kMaxPagePayload) return AppendResult::kRejected;
  PageBody body{};
  body.gfn = page.gfn;
  body.base_version = page.base_version;
  body.total_length = static_cast<uint16_t>(page.payload.size());
  body.codec = page.codec;
  return AppendFragment(RecordType::kPage, body, page.payload, offset);
}

AppendResult FrameWriter::AddBlob(RecordType type, uint32_t index,
                                  std::span<const std::byte> data, std::size_t& offset) {
  if (type != RecordType::kVcpuState && type != RecordType::kDeviceState)
    return AppendResult::kRejected;
  if (data.size() > kMaxBlobLength) return AppendResult::kRejected;
  BlobBody body{};
  body.index = index;
  body.total_length = static_cast<uint32_t>(data.size());
  return AppendFragment(type, body, data, offset);
}

AppendResult FrameWriter::AddDiskWrite(uint32_t disk_id, uint64_t sector,
                                       std::span<const std::byte> data, std::size_t& offset) {
  if (data.empty() || data.size() > kMaxDiskWriteLength || data.size() % kSectorSize != 0 ||
      sector > UINT64_MAX - data.size() / kSectorSize)
    return AppendResult::kRejected;
  DiskWriteBody body{};
  body.disk_id = disk_id;
  body.total_length = static_cast<uint32_t>(data.size());
  body.sector = sector;
  return AppendFragment(RecordType::kDiskWrite, body, data, offset);
}

std::span<std::byte> FrameWriter::FinishData(uint64_t seq, const FrameStamp& stamp) {
  assert(active_);
  active_ = false;
  LinkHeader header{};
  header.type = static_cast<uint8_t>(FrameType::kData);
  header.stream_id = stream_id_;
  header.epoch = epoch_;
  header.seq = seq;
  ApplyStamp(header, stamp);
  return SealFrame(*encap_, buffer_, header, used_);
}

}  // namespace replink::link
