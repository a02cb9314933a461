#include "control/protocol/control_frame.h"

#include <cstring>

namespace replink::control {

const char* FramingFaultName(FramingFault fault) {
  switch (fault) {
    case FramingFault::kBadMagic: return "bad-magic";
    case FramingFault::kBadVersion: return "bad-version";
    case FramingFault::kBadKind: return "bad-kind";
    case FramingFault::kBadFlags: return "bad-flags";
    case FramingFault::kTooLong: return "too-long";
    case FramingFault::kCount: break;
  }
  return "unknown";
}

std::string EncodeMessage(MessageKind kind, uint32_t request_id, std::string_view body) {
  ControlFrameHeader h{};
  h.magic = kControlMagic;
  h.version = kControlVersion;
  h.kind = static_cast<uint8_t>(kind);
  h.flags = 0;
  h.request_id = request_id;
  h.body_length = static_cast<uint32_t>(body.size());
  std::string out(sizeof(h) + body.size(), '\0');
  std::memcpy(out.data(), &h, sizeof(h));
  std::memcpy(out.data() + sizeof(h), body.data(), body.size());
  return out;
}

Result<void> MessageAssembler::Feed(std::span<const std::byte> bytes) {
  if (fault_) return MakeError(Errc::kCorrupt, "control stream already refused ({})", FramingFaultName(*fault_));
  // One message in progress plus one more pipelined behind it is the most a well-behaved peer sends.
  if (buffer_.size() + bytes.size() > 2 * (sizeof(ControlFrameHeader) + std::size_t{max_body_})) {
    fault_ = FramingFault::kTooLong;
    return MakeError(Errc::kCorrupt, "control peer sent more than two messages' worth without waiting");
  }
  buffer_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  return CheckHeader();
}

Result<void> MessageAssembler::CheckHeader() {
  if (header_checked_ || buffer_.size() < sizeof(ControlFrameHeader)) return Ok();
  ControlFrameHeader h;
  std::memcpy(&h, buffer_.data(), sizeof(h));
  if (h.magic != kControlMagic) {
    fault_ = FramingFault::kBadMagic;
    return MakeError(Errc::kCorrupt, "not a replink control message (magic {:#010x})", h.magic);
  }
  if (h.version != kControlVersion) {
    fault_ = FramingFault::kBadVersion;
    return MakeError(Errc::kVersionMismatch, "control protocol version {} (this side speaks {})", h.version,
                     kControlVersion);
  }
  if (h.kind != static_cast<uint8_t>(expected_)) {
    fault_ = FramingFault::kBadKind;
    return MakeError(Errc::kCorrupt, "control message kind {} where {} was expected", h.kind,
                     static_cast<int>(expected_));
  }
  if (h.flags != 0) {
    fault_ = FramingFault::kBadFlags;
    return MakeError(Errc::kCorrupt, "control message flags {:#x} (none are defined)", h.flags);
  }
  if (h.body_length > max_body_) {
    fault_ = FramingFault::kTooLong;
    return MakeError(Errc::kCorrupt, "control message body of {} bytes exceeds the limit of {}", h.body_length,
                     max_body_);
  }
  header_checked_ = true;
  return Ok();
}

std::optional<ControlMessage> MessageAssembler::Take() {
  if (fault_ || !header_checked_) return std::nullopt;
  ControlFrameHeader h;
  std::memcpy(&h, buffer_.data(), sizeof(h));
  std::size_t total = sizeof(h) + h.body_length;
  if (buffer_.size() < total) return std::nullopt;
  ControlMessage m{h.request_id, buffer_.substr(sizeof(h), h.body_length)};
  buffer_.erase(0, total);
  header_checked_ = false;
  if (!CheckHeader().ok()) {
    // The message after this one is already bad; this one is still valid and answered, and the
    // fault closes the connection afterwards.
  }
  return m;
}

}  // namespace replink::control
