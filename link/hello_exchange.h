// What two appliances tell each other at link up (HELLO / HELLO_ACK) and what they agree on.
//
// Both sides send the same HelloInfo; both compute the agreement with the same symmetric function, so
// no further round trip is needed: lowest common maximum version (refused if below either minimum),
// features and codecs intersected (raw must remain), the smaller MTU and window, the shorter heartbeat
// interval, and a session id derived from both instance ids. Stream roles are compared: a stream both
// sides claim as primary (split brain) or as secondary is reported, not silently accepted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "errors/result.h"
#include "link/link_protocol.h"

namespace replink::link {

inline constexpr uint16_t kProtocolVersion = 1;  // semantics version negotiated in HELLO
inline constexpr uint32_t kSupportedFeatures = kFeatureSelectiveAck | kFeatureCommitAck;
inline constexpr uint32_t kMaxWindow = 1u << 16;
inline constexpr uint32_t kMinHeartbeatUs = 100;
inline constexpr uint32_t kMaxHeartbeatUs = 60'000'000;

struct StreamAnnouncement {
  uint32_t stream_id = 0;
  StreamRole role = StreamRole::kPrimary;
  friend bool operator==(const StreamAnnouncement&, const StreamAnnouncement&) = default;
};

struct HelloInfo {
  uint64_t appliance_id = 0;
  uint64_t instance_id = 0;  // random per process start, never 0
  std::string name;          // up to kApplianceNameSize bytes on the wire
  uint16_t min_version = kProtocolVersion;
  uint16_t max_version = kProtocolVersion;
  uint32_t features = kSupportedFeatures;
  uint32_t codec_mask = 0xF;  // raw, zero, xor-delta, lz4
  uint32_t mtu = 1500;
  uint32_t window = 256;
  uint32_t heartbeat_interval_us = 10'000;
  std::vector<StreamAnnouncement> streams;
};

struct StreamConflict {
  uint32_t stream_id = 0;
  StreamRole role = StreamRole::kPrimary;  // the role both sides claim
};

struct LinkAgreement {
  uint16_t version = 0;
  uint32_t features = 0;
  uint32_t codec_mask = 0;
  uint32_t mtu = 0;
  uint32_t window = 0;
  uint64_t heartbeat_interval_ns = 0;
  uint32_t session_id = 0;
  std::vector<StreamConflict> conflicts;
};

// HELLO payload bytes for `info` (appended to `out`). Fails if `info` breaks a bound.
Result<void> EncodeHello(const HelloInfo& info, std::vector<std::byte>& out);
// Parses and checks a HELLO / HELLO_ACK payload (untrusted).
Result<HelloInfo> DecodeHello(std::span<const std::byte> payload);
// Checks a local HelloInfo before it is offered.
Result<void> ValidateHello(const HelloInfo& info);

Result<LinkAgreement> Negotiate(const HelloInfo& local, const HelloInfo& peer);

// Same value on both sides, never 0.
uint32_t SessionIdFor(uint64_t instance_a, uint64_t instance_b);

}  // namespace replink::link
