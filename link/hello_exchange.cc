#include "link/hello_exchange.h"

#include <algorithm>
#include <cstring>

#include "link/crc32c.h"
#include "link/wire_access.h"

namespace replink::link {

Result<void> ValidateHello(const HelloInfo& info) {
  if (info.instance_id == 0) return MakeError(Errc::kCorrupt, "hello: instance id 0");
  if (info.name.size() > kApplianceNameSize)
    return MakeError(Errc::kInvalidArgument, "hello: name '{}' longer than {} bytes", info.name,
                     kApplianceNameSize);
  if (info.min_version == 0 || info.min_version > info.max_version)
    return MakeError(Errc::kCorrupt, "hello: version range [{}, {}]", info.min_version,
                     info.max_version);
  if (info.mtu < kMinMtu || info.mtu > kMaxMtu)
    return MakeError(Errc::kCorrupt, "hello: mtu {} outside [{}, {}]", info.mtu, kMinMtu, kMaxMtu);
  if (info.window == 0 || info.window > kMaxWindow)
    return MakeError(Errc::kCorrupt, "hello: window {} outside [1, {}]", info.window, kMaxWindow);
  if (info.heartbeat_interval_us < kMinHeartbeatUs || info.heartbeat_interval_us > kMaxHeartbeatUs)
    return MakeError(Errc::kCorrupt, "hello: heartbeat interval {} us outside [{}, {}]",
                     info.heartbeat_interval_us, kMinHeartbeatUs, kMaxHeartbeatUs);
  if ((info.codec_mask & 1u) == 0)
    return MakeError(Errc::kCorrupt, "hello: codec mask {:#x} lacks raw", info.codec_mask);
  if (info.streams.size() > kMaxHelloStreams)
    return MakeError(Errc::kCorrupt, "hello: {} streams, at most {}", info.streams.size(),
                     kMaxHelloStreams);
  for (std::size_t i = 0; i < info.streams.size(); ++i) {
    const StreamAnnouncement& s = info.streams[i];
    if (s.role != StreamRole::kPrimary && s.role != StreamRole::kSecondary)
      return MakeError(Errc::kCorrupt, "hello: stream {} role {}", s.stream_id,
                       static_cast<unsigned>(s.role));
    for (std::size_t j = 0; j < i; ++j)
      if (info.streams[j].stream_id == s.stream_id)
        return MakeError(Errc::kCorrupt, "hello: stream {} listed twice", s.stream_id);
  }
  return Ok();
}

Result<void> EncodeHello(const HelloInfo& info, std::vector<std::byte>& out) {
  REPLINK_TRY(ValidateHello(info));
  HelloPayload p{};
  p.appliance_id = info.appliance_id;
  p.instance_id = info.instance_id;
  std::memcpy(p.name, info.name.data(), info.name.size());
  p.min_version = info.min_version;
  p.max_version = info.max_version;
  p.features = info.features;
  p.codec_mask = info.codec_mask;
  p.mtu = info.mtu;
  p.window = info.window;
  p.heartbeat_interval_us = info.heartbeat_interval_us;
  p.stream_count = static_cast<uint32_t>(info.streams.size());
  std::size_t at = out.size();
  out.resize(at + sizeof(p) + info.streams.size() * sizeof(StreamEntry));
  std::span<std::byte> bytes(out);
  StoreWire(bytes, at, p);
  at += sizeof(p);
  for (const StreamAnnouncement& s : info.streams) {
    StreamEntry e{};
    e.stream_id = s.stream_id;
    e.role = static_cast<uint8_t>(s.role);
    StoreWire(bytes, at, e);
    at += sizeof(e);
  }
  return Ok();
}

Result<HelloInfo> DecodeHello(std::span<const std::byte> payload) {
  if (payload.size() < sizeof(HelloPayload))
    return MakeError(Errc::kCorrupt, "hello: {} bytes, need {}", payload.size(), sizeof(HelloPayload));
  auto p = LoadWire<HelloPayload>(payload);
  if (p.stream_count > kMaxHelloStreams ||
      payload.size() != sizeof(HelloPayload) + std::size_t{p.stream_count} * sizeof(StreamEntry))
    return MakeError(Errc::kCorrupt, "hello: {} bytes do not hold {} streams", payload.size(),
                     p.stream_count);
  HelloInfo info;
  info.appliance_id = p.appliance_id;
  info.instance_id = p.instance_id;
  info.name.assign(p.name, strnlen(p.name, kApplianceNameSize));
  info.min_version = p.min_version;
  info.max_version = p.max_version;
  info.features = p.features;
  info.codec_mask = p.codec_mask;
  info.mtu = p.mtu;
  info.window = p.window;
  info.heartbeat_interval_us = p.heartbeat_interval_us;
  info.streams.reserve(p.stream_count);
  for (uint32_t i = 0; i < p.stream_count; ++i) {
    auto e = LoadWire<StreamEntry>(payload, sizeof(HelloPayload) + i * sizeof(StreamEntry));
    if (e.reserved[0] != 0 || e.reserved[1] != 0 || e.reserved[2] != 0)
      return MakeError(Errc::kCorrupt, "hello: stream {} reserved bytes set", e.stream_id);
    info.streams.push_back({e.stream_id, static_cast<StreamRole>(e.role)});
  }
  REPLINK_TRY(ValidateHello(info));
  return info;
}

uint32_t SessionIdFor(uint64_t instance_a, uint64_t instance_b) {
  uint64_t ids[2] = {std::min(instance_a, instance_b), std::max(instance_a, instance_b)};
  uint32_t id = Crc32c(std::as_bytes(std::span(ids)));
  return id == 0 ? 1 : id;
}

Result<LinkAgreement> Negotiate(const HelloInfo& local, const HelloInfo& peer) {
  LinkAgreement a;
  uint16_t version = std::min(local.max_version, peer.max_version);
  if (version < std::max(local.min_version, peer.min_version))
    return MakeError(Errc::kVersionMismatch,
                     "peer '{}' speaks protocol versions [{}, {}], we speak [{}, {}]", peer.name,
                     peer.min_version, peer.max_version, local.min_version, local.max_version);
  if (local.instance_id == peer.instance_id)
    return MakeError(Errc::kState, "peer '{}' has our own instance id {:#x} (looped link?)",
                     peer.name, peer.instance_id);
  a.version = version;
  a.features = local.features & peer.features & kSupportedFeatures;
  a.codec_mask = local.codec_mask & peer.codec_mask;
  if ((a.codec_mask & 1u) == 0)
    return MakeError(Errc::kUnsupported, "no common raw codec with peer '{}'", peer.name);
  a.mtu = std::min(local.mtu, peer.mtu);
  a.window = std::min(local.window, peer.window);
  a.heartbeat_interval_ns =
      uint64_t{std::min(local.heartbeat_interval_us, peer.heartbeat_interval_us)} * 1000;
  a.session_id = SessionIdFor(local.instance_id, peer.instance_id);
  for (const StreamAnnouncement& mine : local.streams)
    for (const StreamAnnouncement& theirs : peer.streams)
      if (mine.stream_id == theirs.stream_id && mine.role == theirs.role)
        a.conflicts.push_back({mine.stream_id, mine.role});
  return a;
}

}  // namespace replink::link
