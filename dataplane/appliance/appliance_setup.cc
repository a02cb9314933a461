#include "dataplane/appliance/appliance_setup.h"

#include <algorithm>

namespace replink::dataplane {
namespace {

uint32_t HostOrder(const config::Ipv4Address& ip) {
  return (uint32_t{ip.bytes[0]} << 24) | (uint32_t{ip.bytes[1]} << 16) | (uint32_t{ip.bytes[2]} << 8) |
         uint32_t{ip.bytes[3]};
}

}  // namespace

link::EncapsulationConfig EncapsulationFor(const config::ApplianceConfig& c, const config::MacAddress& local_mac,
                                           uint32_t mtu) {
  link::EncapsulationConfig e;
  e.mtu = mtu;
  std::copy(local_mac.bytes.begin(), local_mac.bytes.end(), e.local_mac.octets.begin());
  if (c.port.encapsulation == config::Encapsulation::kUdp) {
    e.kind = link::Encapsulation::kUdpIpv4;
    std::copy(c.port.udp.next_hop_mac.bytes.begin(), c.port.udp.next_hop_mac.bytes.end(), e.peer_mac.octets.begin());
    e.local_ip = HostOrder(c.port.udp.source_ip);
    e.peer_ip = HostOrder(c.port.udp.destination_ip);
    e.udp_port = c.port.udp.destination_port;
    e.udp_source_port = c.port.udp.source_port;
    e.ttl = c.port.udp.ttl;
    e.check_destination = true;
  } else {
    e.kind = link::Encapsulation::kRawEthernet;
    if (c.peer.mac) {
      std::copy(c.peer.mac->bytes.begin(), c.peer.mac->bytes.end(), e.peer_mac.octets.begin());
    } else {
      e.peer_mac.octets.fill(0xff);  // a dedicated point-to-point port: broadcast reaches the peer
    }
    // The port is ours alone (promiscuous on a dedicated link); frames to the broadcast address
    // are expected while the peer's MAC is not configured.
    e.check_destination = false;
  }
  return e;
}

link::SessionConfig SessionFor(const config::ApplianceConfig& c, uint32_t mtu, uint64_t instance_id) {
  link::SessionConfig s;
  s.local.appliance_id = c.appliance.id;
  s.local.instance_id = instance_id;
  s.local.name = c.appliance.name;
  s.local.mtu = mtu;
  s.local.window = std::clamp<uint32_t>(c.link.window, 1, link::kMaxWindow);
  s.local.heartbeat_interval_us = std::max<uint32_t>(c.peer.heartbeat_interval_ms * 1000, link::kMinHeartbeatUs);
  // The peer is "down" once it has been silent for the failure timeout.
  uint32_t intervals = std::max<uint32_t>(1, c.peer.failure_timeout_ms / std::max<uint32_t>(1, c.peer.heartbeat_interval_ms));
  s.down_after = std::max<uint32_t>(2, intervals);
  s.suspect_after = std::max<uint32_t>(1, std::min(3u, s.down_after - 1));
  return s;
}

codec::CodecSetting CodecSettingFor(config::CodecPolicy policy) {
  switch (policy) {
    case config::CodecPolicy::kAuto: return codec::CodecSetting::kAuto;
    case config::CodecPolicy::kNone: return codec::CodecSetting::kNone;
    case config::CodecPolicy::kLz4: return codec::CodecSetting::kLz4;
    case config::CodecPolicy::kDelta: return codec::CodecSetting::kDelta;
  }
  return codec::CodecSetting::kAuto;
}

OutboundTuning OutboundTuningFor(const config::ApplianceConfig& c) {
  OutboundTuning t;
  t.window = std::clamp<uint32_t>(c.link.window, 1, link::kMaxWindow);
  t.batch = std::max<uint32_t>(c.link.batch_size, 1);
  t.codec = CodecSettingFor(c.link.codec);
  t.delta_cache_mib = std::max<uint32_t>(c.link.delta_cache_mib, 1);
  t.rate_bps = uint64_t{c.link.rate_mbps} * 1'000'000;
  t.failure_timeout_ns = uint64_t{c.peer.failure_timeout_ms} * 1'000'000;
  return t;
}

InboundTuning InboundTuningFor(const config::ApplianceConfig& c) {
  InboundTuning t;
  t.window = std::clamp<uint32_t>(c.link.window, 1, link::kMaxWindow);
  return t;
}

}  // namespace replink::dataplane
