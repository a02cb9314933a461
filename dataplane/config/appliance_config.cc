#include "dataplane/config/appliance_config.h"

#include <fmt/format.h>

namespace replink::config {

std::string PortConfig::DeviceName() const {
  if (!is_vdev()) return pci;
  return vdev.substr(0, vdev.find(','));
}

std::string ConfigSource::Where(std::string_view key) const {
  auto it = lines.find(key);
  if (it == lines.end()) return fmt::format("{}: {}", path, key);
  return fmt::format("{}:{}: {}", path, it->second, key);
}

std::string_view EncapsulationName(Encapsulation value) {
  switch (value) {
    case Encapsulation::kEthernet: return "ethernet";
    case Encapsulation::kUdp: return "udp";
  }
  return "?";
}

std::string_view CodecPolicyName(CodecPolicy value) {
  switch (value) {
    case CodecPolicy::kAuto: return "auto";
    case CodecPolicy::kNone: return "none";
    case CodecPolicy::kLz4: return "lz4";
    case CodecPolicy::kDelta: return "delta";
  }
  return "?";
}

std::string_view FaultDirectionName(FaultDirection value) {
  switch (value) {
    case FaultDirection::kRx: return "rx";
    case FaultDirection::kTx: return "tx";
    case FaultDirection::kBoth: return "both";
  }
  return "?";
}

std::string_view VmBackendName(VmBackend value) {
  switch (value) {
    case VmBackend::kXen: return "xen";
    case VmBackend::kKvm: return "kvm";
    case VmBackend::kSynthetic: return "synthetic";
  }
  return "?";
}

std::string_view DurabilityName(Durability value) {
  switch (value) {
    case Durability::kDsync: return "dsync";
    case Durability::kPageCache: return "page-cache";
  }
  return "?";
}

std::string FormatMac(const MacAddress& mac) {
  const auto& b = mac.bytes;
  return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2], b[3], b[4], b[5]);
}

std::string FormatIpv4(const Ipv4Address& ip) {
  const auto& b = ip.bytes;
  return fmt::format("{}.{}.{}.{}", b[0], b[1], b[2], b[3]);
}

}  // namespace replink::config
