// ApplianceConfig: everything one replink-dataplane process reads from its TOML file.
// Plain data with defaults already applied; LoadConfig (config_loader.h) fills it in and
// ValidateConfig (config_validator.h) checks the rules that span several keys. Every key is
// documented in docs/CONFIG.md.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace replink::config {

struct MacAddress {
  std::array<uint8_t, 6> bytes{};
  friend bool operator==(const MacAddress&, const MacAddress&) = default;
};

// IPv4 address in network byte order (bytes[0] is the first dotted component).
struct Ipv4Address {
  std::array<uint8_t, 4> bytes{};
  friend bool operator==(const Ipv4Address&, const Ipv4Address&) = default;
};

struct ApplianceIdentity {
  uint32_t id = 0;
  std::string name;
};

// [eal]: either a verbatim argument list (`args`) or structured keys, never both.
struct EalConfig {
  std::vector<std::string> args;  // verbatim mode when non-empty (program name not included)
  std::vector<uint32_t> lcores{0};
  std::optional<uint32_t> main_lcore;  // default: the lowest of `lcores` (EAL's own rule)
  std::string file_prefix;             // default: "replink-" + appliance name
  std::vector<std::string> vdevs;      // extra --vdev devices (the port's own vdev is in [port])
  bool no_huge = false;
  bool in_memory = false;
  bool no_pci = false;
  uint32_t memory_mb = 0;  // 0 = EAL default
  std::vector<std::string> plugins;
  std::string log_level;
  std::vector<std::string> extra_args;

  bool verbatim() const { return !args.empty(); }
};

enum class Encapsulation { kEthernet, kUdp };

struct UdpEncapsulationConfig {
  Ipv4Address source_ip;
  Ipv4Address destination_ip;
  uint16_t source_port = 47100;
  uint16_t destination_port = 47100;
  MacAddress next_hop_mac;
  uint8_t ttl = 64;
};

// [port]: the one DPDK port this appliance owns. Exactly one of vdev / pci is set.
struct PortConfig {
  std::string vdev;  // full devargs, e.g. "net_memif0,role=server,socket=/run/x.sock,bsize=9216"
  std::string pci;   // "0000:3b:00.0"
  std::optional<MacAddress> mac;  // override the device's MAC
  uint32_t mtu = 1500;
  uint32_t rx_queue_size = 1024;
  uint32_t tx_queue_size = 1024;
  uint32_t mempool_size = 8191;
  uint32_t mempool_cache = 256;
  Encapsulation encapsulation = Encapsulation::kEthernet;
  UdpEncapsulationConfig udp;

  // The name DPDK knows the device by: the vdev name before the first comma, or the PCI address.
  std::string DeviceName() const;
  bool is_vdev() const { return !vdev.empty(); }
};

struct PeerConfig {
  uint32_t id = 0;
  std::string name;               // optional: when set, HELLO must carry this name
  std::optional<MacAddress> mac;  // nullopt = learn from the peer's HELLO
  uint32_t heartbeat_interval_ms = 100;
  uint32_t failure_timeout_ms = 1000;
};

enum class CodecPolicy { kAuto, kNone, kLz4, kDelta };

struct LinkConfig {
  uint32_t rate_mbps = 0;  // 0 = unlimited
  uint32_t batch_size = 32;
  uint32_t drain_interval_us = 100;
  CodecPolicy codec = CodecPolicy::kAuto;
  uint32_t delta_cache_mib = 256;
  uint32_t window = 4096;
  uint32_t credits = 4096;  // file value 0 means "same as window" and is resolved on load
};

struct WorkersConfig {
  std::vector<uint32_t> lcores;  // empty = one worker on the main lcore
  uint32_t poll_us = 200;
  uint32_t min_sleep_us = 50;
  uint32_t max_sleep_us = 1000;

  uint32_t count() const { return lcores.empty() ? 1u : static_cast<uint32_t>(lcores.size()); }
};

enum class FaultDirection { kRx, kTx, kBoth };

struct FaultInjectionConfig {
  bool enabled = false;
  uint64_t seed = 1;
  double drop_pct = 0;
  double duplicate_pct = 0;
  double reorder_pct = 0;
  double corrupt_pct = 0;
  double delay_pct = 0;
  uint32_t delay_us = 1000;
  FaultDirection direction = FaultDirection::kTx;
};

struct ControlConfig {
  std::string socket = "/run/replink/control.sock";
  std::string group;  // empty = leave the socket's group alone
  std::string metrics = "127.0.0.1:9750";
  Ipv4Address metrics_ip{{127, 0, 0, 1}};  // parsed from `metrics`
  uint16_t metrics_port = 9750;
};

enum class VmBackend { kXen, kKvm, kSynthetic };
enum class Durability { kDsync, kPageCache };

struct VmConfig {
  uint32_t id = 0;
  std::string name;
  VmBackend backend = VmBackend::kXen;
  // Where this appliance keeps the VM's replica when it is the secondary: memory.img, disk<N>.img
  // (one per disk the primary announces) and epoch.journal.
  std::string replica_dir;
  // Optional: put the memory image elsewhere (e.g. on hugetlbfs); replica_dir/memory.img links to it.
  std::string memory_image;
  Durability durability = Durability::kDsync;
  // Failover: when the primary is declared dead (peer down for failure_timeout_ms), the secondary
  // closes this VM's replica and runs this command to resume the guest from it. Placeholders:
  // {replica_dir}, {vm_id}, {vm_name}, {epoch}. Empty: no automatic promotion (operator decides).
  std::string promote_command;
};

struct ShimConfig {
  std::string socket = "/run/replink/shim.sock";
};

// Where each key came from, so that later checks can name file and line.
struct ConfigSource {
  std::string path;
  std::map<std::string, uint32_t, std::less<>> lines;  // "port.mtu" -> 12, "vm[1].id" -> 40

  // "path:12: port.mtu" (the line is omitted when the key came from a default).
  std::string Where(std::string_view key) const;
};

struct ApplianceConfig {
  ApplianceIdentity appliance;
  EalConfig eal;
  PortConfig port;
  PeerConfig peer;
  LinkConfig link;
  WorkersConfig workers;
  FaultInjectionConfig fault_injection;
  ControlConfig control;
  std::vector<VmConfig> vms;
  ShimConfig shim;
  ConfigSource source;
};

// Names used in the file, for messages and tools.
std::string_view EncapsulationName(Encapsulation value);
std::string_view CodecPolicyName(CodecPolicy value);
std::string_view FaultDirectionName(FaultDirection value);
std::string_view VmBackendName(VmBackend value);
std::string_view DurabilityName(Durability value);
std::string FormatMac(const MacAddress& mac);
std::string FormatIpv4(const Ipv4Address& ip);

}  // namespace replink::config
