// The control socket's framing (docs/PROTOCOL.md "Control protocol"): replinkctl and the dataplane's
// control server exchange messages over a Unix stream socket, each a 16-byte ControlFrameHeader
// followed by body_length bytes of UTF-8 JSON (one object). A connection carries requests and
// responses strictly alternating; the response echoes the request's id.
//
// Both ends treat the other as untrusted: MessageAssembler checks every header field before it
// buffers a body and refuses anything over the body limit of its direction, so a peer can neither
// make it allocate without bound nor desynchronise the stream silently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "errors/result.h"

namespace replink::control {

inline constexpr uint32_t kControlMagic = 0x434C5052;  // "RPLC" in memory order (little-endian)
inline constexpr uint16_t kControlVersion = 1;
inline constexpr uint32_t kMaxRequestBody = 64 * 1024;         // requests are a command and a few values
inline constexpr uint32_t kMaxResponseBody = 8 * 1024 * 1024;  // stats of 128 streams fit many times

enum class MessageKind : uint8_t { kRequest = 1, kResponse = 2 };

struct ControlFrameHeader {
  uint32_t magic;        // kControlMagic
  uint16_t version;      // kControlVersion
  uint8_t kind;          // MessageKind
  uint8_t flags;         // 0 (no flags defined in version 1)
  uint32_t request_id;   // chosen by the client, echoed in the response
  uint32_t body_length;  // JSON bytes after the header, <= the direction's limit
};
static_assert(sizeof(ControlFrameHeader) == 16, "ControlFrameHeader is a wire format");

// Why a byte stream was refused; the server counts these.
enum class FramingFault : uint8_t { kBadMagic, kBadVersion, kBadKind, kBadFlags, kTooLong, kCount };
const char* FramingFaultName(FramingFault fault);

struct ControlMessage {
  uint32_t request_id = 0;
  std::string body;
};

// Header + body as one buffer, ready to write.
std::string EncodeMessage(MessageKind kind, uint32_t request_id, std::string_view body);

// Reassembles messages of one kind from a byte stream that arrives in arbitrary pieces.
class MessageAssembler {
 public:
  MessageAssembler(MessageKind expected, uint32_t max_body) : expected_(expected), max_body_(max_body) {}

  // Appends received bytes. After an error the stream is unusable (close the connection); fault()
  // says why.
  Result<void> Feed(std::span<const std::byte> bytes);
  // The next complete message, if one has arrived.
  std::optional<ControlMessage> Take();
  // Bytes of a message begun but not complete (0 between messages).
  std::size_t pending_bytes() const { return buffer_.size(); }
  std::optional<FramingFault> fault() const { return fault_; }

 private:
  Result<void> CheckHeader();

  MessageKind expected_;
  uint32_t max_body_;
  std::string buffer_;
  bool header_checked_ = false;
  std::optional<FramingFault> fault_;
};

}  // namespace replink::control
