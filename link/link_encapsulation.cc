#include "link/link_encapsulation.h"

#include <cstring>

#include "link/wire_access.h"

namespace replink::link {
namespace {

constexpr uint8_t kIpProtoUdp = 17;
constexpr uint16_t kIpFlagDontFragment = 0x4000;
constexpr uint16_t kIpFlagMoreFragments = 0x2000;
constexpr uint16_t kIpFragmentOffsetMask = 0x1fff;

uint32_t SumWords(std::span<const std::byte> bytes, uint32_t sum) {
  std::size_t i = 0;
  for (; i + 1 < bytes.size(); i += 2) sum += LoadBe16(bytes.data() + i);
  if (i < bytes.size()) sum += std::to_integer<uint32_t>(bytes[i]) << 8;
  return sum;
}

uint16_t Fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffffu) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

FrameFault Refuse(FaultDetail* detail, FrameFault fault, const char* what, uint64_t value,
                  uint64_t limit, uint32_t offset) {
  if (detail != nullptr) *detail = FaultDetail{fault, what, value, limit, offset};
  return fault;
}

}  // namespace

uint16_t InternetChecksum(std::span<const std::byte> bytes, uint32_t initial_sum) {
  return static_cast<uint16_t>(~Fold(SumWords(bytes, initial_sum)));
}

LinkEncapsulation::LinkEncapsulation(const EncapsulationConfig& config) : config_(config) {
  bool udp = config.kind == Encapsulation::kUdpIpv4;
  header_size_ = kEthernetHeaderSize + (udp ? kIpv4HeaderSize + kUdpHeaderSize : 0);
  max_link_frame_ = config.mtu - (udp ? kIpv4HeaderSize + kUdpHeaderSize : 0);
}

Result<LinkEncapsulation> LinkEncapsulation::Create(const EncapsulationConfig& config) {
  if (config.mtu < kMinMtu || config.mtu > kMaxMtu)
    return MakeError(Errc::kInvalidArgument, "link mtu {} outside [{}, {}]", config.mtu, kMinMtu,
                     kMaxMtu);
  if (config.kind == Encapsulation::kRawEthernet && config.ether_type < 0x0600)
    return MakeError(Errc::kInvalidArgument, "ether type 0x{:04x} is a length, not a type",
                     config.ether_type);
  if (config.kind == Encapsulation::kUdpIpv4) {
    if (config.udp_port == 0 || config.udp_source_port == 0)
      return MakeError(Errc::kInvalidArgument, "udp port 0 is not usable");
    if (config.local_ip == 0 || config.peer_ip == 0)
      return MakeError(Errc::kInvalidArgument, "udp encapsulation needs local and peer addresses");
    if (config.dscp > 63 || config.ttl == 0)
      return MakeError(Errc::kInvalidArgument, "dscp {} / ttl {} out of range", config.dscp,
                       config.ttl);
  }
  return LinkEncapsulation(config);
}

std::span<std::byte> LinkEncapsulation::WriteHeaders(std::span<std::byte> frame,
                                                     std::size_t link_frame_size) const {
  std::size_t total = header_size_ + link_frame_size;
  std::byte* p = frame.data();
  std::memcpy(p, config_.peer_mac.octets.data(), 6);
  std::memcpy(p + 6, config_.local_mac.octets.data(), 6);
  if (config_.kind == Encapsulation::kRawEthernet) {
    StoreBe16(p + 12, config_.ether_type);
    return frame.first(total);
  }
  StoreBe16(p + 12, kEtherTypeIpv4);
  std::byte* ip = p + kEthernetHeaderSize;
  auto ip_total = static_cast<uint16_t>(kIpv4HeaderSize + kUdpHeaderSize + link_frame_size);
  ip[0] = std::byte{0x45};  // version 4, 5 words
  ip[1] = static_cast<std::byte>(config_.dscp << 2);
  StoreBe16(ip + 2, ip_total);
  StoreBe16(ip + 4, 0);  // identification: atomic datagram (DF), RFC 6864
  StoreBe16(ip + 6, kIpFlagDontFragment);
  ip[8] = static_cast<std::byte>(config_.ttl);
  ip[9] = static_cast<std::byte>(kIpProtoUdp);
  StoreBe16(ip + 10, 0);
  StoreBe32(ip + 12, config_.local_ip);
  StoreBe32(ip + 16, config_.peer_ip);
  StoreBe16(ip + 10, InternetChecksum(std::span<const std::byte>(ip, kIpv4HeaderSize)));
  std::byte* udp = ip + kIpv4HeaderSize;
  StoreBe16(udp, config_.udp_source_port);
  StoreBe16(udp + 2, config_.udp_port);
  StoreBe16(udp + 4, static_cast<uint16_t>(kUdpHeaderSize + link_frame_size));
  StoreBe16(udp + 6, 0);  // no UDP checksum: the link frame's CRC32C covers it
  return frame.first(total);
}

FrameFault LinkEncapsulation::Unwrap(std::span<const std::byte> frame,
                                     std::span<const std::byte>* link_frame,
                                     FaultDetail* detail) const {
  if (frame.size() < kEthernetHeaderSize)
    return Refuse(detail, FrameFault::kTruncated, "ethernet header", frame.size(),
                  kEthernetHeaderSize, 0);
  const std::byte* p = frame.data();
  if (config_.check_destination && std::memcmp(p, config_.local_mac.octets.data(), 6) != 0)
    return Refuse(detail, FrameFault::kNotForUs, "destination mac", 0, 0, 0);
  uint16_t ether_type = LoadBe16(p + 12);
  if (config_.kind == Encapsulation::kRawEthernet) {
    if (ether_type != config_.ether_type)
      return Refuse(detail, FrameFault::kNotForUs, "ether type", ether_type, config_.ether_type, 12);
    *link_frame = frame.subspan(kEthernetHeaderSize);
    return FrameFault::kNone;
  }

  if (ether_type != kEtherTypeIpv4)
    return Refuse(detail, FrameFault::kNotForUs, "ether type", ether_type, kEtherTypeIpv4, 12);
  std::span<const std::byte> ip_bytes = frame.subspan(kEthernetHeaderSize);
  if (ip_bytes.size() < kIpv4HeaderSize)
    return Refuse(detail, FrameFault::kTruncated, "ipv4 header", ip_bytes.size(), kIpv4HeaderSize,
                  kEthernetHeaderSize);
  const std::byte* ip = ip_bytes.data();
  unsigned version = std::to_integer<unsigned>(ip[0]) >> 4;
  std::size_t ihl = (std::to_integer<std::size_t>(ip[0]) & 0xfu) * 4;
  if (version != 4 || ihl < kIpv4HeaderSize)
    return Refuse(detail, FrameFault::kBadIpHeader, "ipv4 version/ihl", std::to_integer<unsigned>(ip[0]),
                  0x45, kEthernetHeaderSize);
  if (ip_bytes.size() < ihl)
    return Refuse(detail, FrameFault::kTruncated, "ipv4 options", ip_bytes.size(), ihl,
                  kEthernetHeaderSize);
  std::size_t ip_total = LoadBe16(ip + 2);
  // Ethernet pads short frames, so the frame may be longer than the datagram, never shorter.
  if (ip_total < ihl + kUdpHeaderSize || ip_total > ip_bytes.size())
    return Refuse(detail, FrameFault::kBadIpHeader, "ipv4 total length", ip_total, ip_bytes.size(),
                  kEthernetHeaderSize + 2);
  if (InternetChecksum(ip_bytes.first(ihl)) != 0)
    return Refuse(detail, FrameFault::kBadIpHeader, "ipv4 header checksum", LoadBe16(ip + 10), 0,
                  kEthernetHeaderSize + 10);
  uint16_t fragment = LoadBe16(ip + 6);
  if ((fragment & (kIpFlagMoreFragments | kIpFragmentOffsetMask)) != 0)
    return Refuse(detail, FrameFault::kBadIpHeader, "ipv4 fragment", fragment, 0,
                  kEthernetHeaderSize + 6);
  if (std::to_integer<uint8_t>(ip[9]) != kIpProtoUdp)
    return Refuse(detail, FrameFault::kNotForUs, "ip protocol", std::to_integer<uint8_t>(ip[9]),
                  kIpProtoUdp, kEthernetHeaderSize + 9);
  if (config_.check_destination && LoadBe32(ip + 16) != config_.local_ip)
    return Refuse(detail, FrameFault::kNotForUs, "destination ip", LoadBe32(ip + 16),
                  config_.local_ip, kEthernetHeaderSize + 16);

  const std::byte* udp = ip + ihl;
  auto udp_offset = static_cast<uint32_t>(kEthernetHeaderSize + ihl);
  if (LoadBe16(udp + 2) != config_.udp_port)
    return Refuse(detail, FrameFault::kNotForUs, "udp port", LoadBe16(udp + 2), config_.udp_port,
                  udp_offset + 2);
  std::size_t udp_length = LoadBe16(udp + 4);
  if (udp_length != ip_total - ihl)
    return Refuse(detail, FrameFault::kBadUdpHeader, "udp length", udp_length, ip_total - ihl,
                  udp_offset + 4);
  if (LoadBe16(udp + 6) != 0) {
    // Pseudo-header: addresses, protocol, UDP length; then the datagram with its checksum field.
    uint32_t sum = SumWords(std::span<const std::byte>(ip + 12, 8), 0) + kIpProtoUdp + udp_length;
    if (InternetChecksum(std::span<const std::byte>(udp, udp_length), sum) != 0)
      return Refuse(detail, FrameFault::kBadUdpHeader, "udp checksum", LoadBe16(udp + 6), 0,
                    udp_offset + 6);
  }
  *link_frame = std::span<const std::byte>(udp + kUdpHeaderSize, udp_length - kUdpHeaderSize);
  return FrameFault::kNone;
}

}  // namespace replink::link
