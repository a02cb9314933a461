// How link frames travel: directly in Ethernet (EtherType 0x88B5, the default for the dedicated
// point-to-point port) or inside IPv4/UDP for links that cross a router. The link frame (LinkHeader +
// payload) is the same in both; this class only adds and strips what is in front of it.
//
//   raw:  | Ethernet 14 | link frame ... |
//   udp:  | Ethernet 14 | IPv4 20 | UDP 8 | link frame ... |
//
// MTU is meant in the Ethernet sense (bytes after the Ethernet header), so the largest link frame is
// mtu for raw and mtu - 28 for UDP. We send IPv4 with DF set, no options, id 0 (RFC 6864) and a UDP
// checksum of 0 (allowed for IPv4; the link frame has its own CRC32C). Received UDP checksums that are
// not 0 are verified.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "errors/result.h"
#include "link/frame_fault.h"
#include "link/link_protocol.h"

namespace replink::link {

struct MacAddress {
  std::array<uint8_t, 6> octets{};
  friend bool operator==(const MacAddress&, const MacAddress&) = default;
};

enum class Encapsulation : uint8_t { kRawEthernet, kUdpIpv4 };

struct EncapsulationConfig {
  Encapsulation kind = Encapsulation::kRawEthernet;
  uint32_t mtu = 1500;
  MacAddress local_mac;
  MacAddress peer_mac;
  uint16_t ether_type = kEtherTypeReplink;  // raw only
  // UDP only. Addresses in host order (0x0a000001 = 10.0.0.1).
  uint32_t local_ip = 0;
  uint32_t peer_ip = 0;
  uint16_t udp_port = kDefaultUdpPort;  // destination port on both sides
  uint16_t udp_source_port = kDefaultUdpPort;
  uint8_t ttl = 64;
  uint8_t dscp = 0;
  // Refuse frames whose destination MAC (and IP) is not ours. Off when the port is the only thing
  // on the wire and the NIC already filters.
  bool check_destination = true;
};

class LinkEncapsulation {
 public:
  static Result<LinkEncapsulation> Create(const EncapsulationConfig& config);

  const EncapsulationConfig& config() const { return config_; }
  // Bytes in front of the link frame.
  std::size_t header_size() const { return header_size_; }
  // Largest link frame (LinkHeader + payload) one Ethernet frame can carry at this MTU.
  std::size_t max_link_frame() const { return max_link_frame_; }
  // Largest Ethernet frame (without FCS) we build: the buffer size a frame needs.
  std::size_t max_frame() const { return kEthernetHeaderSize + config_.mtu; }

  // Fills the headers in front of a link frame of `link_frame_size` bytes that the caller has placed
  // at frame[header_size()]. Returns the whole frame. `frame` must hold header_size() +
  // link_frame_size bytes and link_frame_size <= max_link_frame().
  std::span<std::byte> WriteHeaders(std::span<std::byte> frame, std::size_t link_frame_size) const;

  // Finds the link frame in a received Ethernet frame. On refusal returns the fault (detail filled).
  FrameFault Unwrap(std::span<const std::byte> frame, std::span<const std::byte>* link_frame,
                    FaultDetail* detail) const;

 private:
  explicit LinkEncapsulation(const EncapsulationConfig& config);

  EncapsulationConfig config_;
  std::size_t header_size_ = 0;
  std::size_t max_link_frame_ = 0;
};

// RFC 1071 ones' complement sum folded to 16 bits and complemented (0 for a valid header).
uint16_t InternetChecksum(std::span<const std::byte> bytes, uint32_t initial_sum = 0);

}  // namespace replink::link
