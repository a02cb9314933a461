#include "dataplane/config/config_validator.h"

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "dataplane/config/device_arguments.h"

namespace replink::config {
namespace {

// Unix socket paths must fit sockaddr_un::sun_path (108 bytes with the terminator).
constexpr size_t kMaxSocketPath = 107;
// The mbuf struct (2 cache lines), default headroom, and mempool per-object header.
constexpr uint64_t kMbufOverheadBytes = 128 + 128 + 64;
// af_packet puts a tpacket2 header and sockaddr_ll in front of the data in each ring frame.
constexpr uint64_t kAfPacketFrameOverhead = 64;
// EAL's default memory with --no-huge when -m is not given.
constexpr uint32_t kNoHugeDefaultMemoryMb = 64;

class Checker {
 public:
  explicit Checker(const ConfigSource& source) : source_(source) {}

  template <typename... Args>
  void Fail(std::string_view key, fmt::format_string<Args...> format, Args&&... args) {
    problems_.push_back(fmt::format("{}: {}", source_.Where(key),
                                    fmt::format(format, std::forward<Args>(args)...)));
  }
  bool HasKey(std::string_view key) const { return source_.lines.count(key) > 0; }

  Result<void> Finish() const {
    if (problems_.empty()) return Ok();
    std::string text = fmt::format("{} problem{} in config", problems_.size(),
                                   problems_.size() == 1 ? "" : "s");
    for (const auto& p : problems_) text += "\n  " + p;
    return MakeError(Errc::kInvalidArgument, "{}", text);
  }

 private:
  const ConfigSource& source_;
  std::vector<std::string> problems_;
};

bool IsSimpleName(std::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.';
  });
}

bool IsPowerOfTwo(uint32_t v) { return v != 0 && (v & (v - 1)) == 0; }

bool IsPciAddress(std::string_view text) {
  // dddd:bb:dd.f, hex digits, function 0..7.
  if (text.size() != 12 || text[4] != ':' || text[7] != ':' || text[10] != '.') return false;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (!std::isxdigit(static_cast<unsigned char>(text[i]))) return false;
  }
  return text[11] >= '0' && text[11] <= '7';
}

bool IsUnusableUnicastMac(const MacAddress& mac) {
  bool multicast = (mac.bytes[0] & 1) != 0;
  bool zero = mac == MacAddress{};
  return multicast || zero;
}

void CheckIdentity(const ApplianceConfig& c, Checker& check) {
  if (!IsSimpleName(c.appliance.name)) {
    check.Fail("appliance.name", "'{}' must be 1..63 characters of [A-Za-z0-9._-]",
               c.appliance.name);
  }
  if (c.peer.id == c.appliance.id) {
    check.Fail("peer.id", "{} equals appliance.id: the peer must be a different appliance",
               c.peer.id);
  }
  if (!c.peer.name.empty() && c.peer.name == c.appliance.name) {
    check.Fail("peer.name", "'{}' equals appliance.name", c.peer.name);
  }
}

void CheckEal(const ApplianceConfig& c, Checker& check) {
  const EalConfig& eal = c.eal;
  if (eal.verbatim()) return;  // verbatim args are EAL's business
  if (eal.lcores.empty()) check.Fail("eal.lcores", "must list at least one lcore");
  std::set<uint32_t> lcores(eal.lcores.begin(), eal.lcores.end());
  if (lcores.size() != eal.lcores.size()) check.Fail("eal.lcores", "lists an lcore twice");
  if (eal.main_lcore && lcores.count(*eal.main_lcore) == 0) {
    check.Fail("eal.main_lcore", "{} is not in eal.lcores", *eal.main_lcore);
  }
  if (!IsSimpleName(eal.file_prefix)) {
    check.Fail("eal.file_prefix", "'{}' must be 1..63 characters of [A-Za-z0-9._-]",
               eal.file_prefix);
  }
  if (eal.no_huge && eal.in_memory) {
    check.Fail("eal.in_memory",
               "cannot be combined with eal.no_huge (EAL: --no-huge implies legacy memory, "
               "which --in-memory rejects); no_huge already leaves no files behind");
  }
  if (!c.port.pci.empty() && eal.no_pci) {
    check.Fail("eal.no_pci", "is true but port.pci = \"{}\" needs the PCI bus", c.port.pci);
  }
  for (size_t i = 0; i < eal.vdevs.size(); ++i) {
    auto parsed = ParseDeviceArguments(eal.vdevs[i]);
    if (!parsed.ok()) {
      check.Fail("eal.vdevs", "element {}: {}", i, parsed.error().message);
    } else if (c.port.is_vdev() && parsed->name == c.port.DeviceName()) {
      check.Fail("eal.vdevs", "'{}' is the port's own device: give it only in port.vdev",
                 parsed->name);
    }
  }
  uint32_t memory_mb = eal.memory_mb != 0 ? eal.memory_mb
                                          : (eal.no_huge ? kNoHugeDefaultMemoryMb : 0);
  uint64_t needed_mb = (EstimatedMempoolBytes(c.port) >> 20) + 1;
  if (memory_mb != 0 && needed_mb > memory_mb) {
    check.Fail(eal.memory_mb != 0 ? "eal.memory_mb" : "eal.no_huge",
               "{} MiB of EAL memory cannot hold the port's mempool (~{} MiB for {} mbufs of a "
               "{}-byte MTU); raise eal.memory_mb or lower port.mempool_size",
               memory_mb, needed_mb, c.port.mempool_size, c.port.mtu);
  }
}

void CheckWorkers(const ApplianceConfig& c, Checker& check) {
  const WorkersConfig& w = c.workers;
  std::set<uint32_t> lcores(w.lcores.begin(), w.lcores.end());
  if (lcores.size() != w.lcores.size()) check.Fail("workers.lcores", "lists an lcore twice");
  if (w.lcores.size() > 16) {
    check.Fail("workers.lcores", "{} workers; at most 16 are supported", w.lcores.size());
  }
  if (!c.eal.verbatim()) {
    for (uint32_t lcore : w.lcores) {
      if (std::find(c.eal.lcores.begin(), c.eal.lcores.end(), lcore) == c.eal.lcores.end()) {
        check.Fail("workers.lcores", "lcore {} is not in eal.lcores", lcore);
      }
    }
  }
  if (w.min_sleep_us > w.max_sleep_us) {
    check.Fail("workers.min_sleep_us", "{} exceeds workers.max_sleep_us ({})", w.min_sleep_us,
               w.max_sleep_us);
  }
}

void CheckMemif(const PortConfig& port, const DeviceArguments& args, const EalConfig& eal,
                Checker& check) {
  auto bsize = args.GetUnsigned("bsize", 2048);
  if (!bsize.ok()) {
    check.Fail("port.vdev", "{}", bsize.error().message);
    return;
  }
  uint64_t frame = port.mtu + kEthernetHeaderBytes;
  if (*bsize < frame) {
    check.Fail("port.vdev",
               "memif bsize={} is smaller than the largest frame ({} = port.mtu {} + {}); DPDK "
               "22.11 copy mode corrupts packets that span several buffers: set bsize >= {}",
               *bsize, frame, port.mtu, kEthernetHeaderBytes, frame);
  }
  auto role = args.Get("role");
  if (role && *role != "server" && *role != "client") {
    check.Fail("port.vdev", "memif role='{}' must be server or client", *role);
  }
  auto zero_copy = args.Get("zero-copy");
  if (zero_copy && *zero_copy == "yes" && eal.in_memory) {
    check.Fail("port.vdev", "memif zero-copy=yes fails under eal.in_memory (it needs "
                            "--single-file-segments and hugepage files)");
  }
}

void CheckAfPacket(const PortConfig& port, const DeviceArguments& args, Checker& check) {
  if (!args.Get("iface")) check.Fail("port.vdev", "net_af_packet needs iface=<interface>");
  auto qpairs = args.GetUnsigned("qpairs", 1);
  auto blocksz = args.GetUnsigned("blocksz", 4096);
  auto framesz = args.GetUnsigned("framesz", 2048);
  for (const auto* r : {&qpairs, &blocksz, &framesz}) {
    if (!r->ok()) {
      check.Fail("port.vdev", "{}", r->error().message);
      return;
    }
  }
  if (*qpairs != 1) {
    check.Fail("port.vdev",
               "af_packet qpairs={}: with several queue pairs the kernel fans incoming frames out "
               "over several sockets, but replink polls one rx queue; use qpairs=1",
               *qpairs);
  }
  if (*framesz == 0 || *blocksz % *framesz != 0) {
    check.Fail("port.vdev",
               "af_packet blocksz={} is not a multiple of framesz={} (TX silently stalls)",
               *blocksz, *framesz);
  }
  if (port.mtu > 1500) {
    check.Fail("port.mtu", "{} exceeds 1500: DPDK 22.11 af_packet caps frames at 1518 bytes",
               port.mtu);
  }
  if (*framesz < port.mtu + kEthernetHeaderBytes + kAfPacketFrameOverhead) {
    check.Fail("port.vdev", "af_packet framesz={} cannot hold a {}-byte frame plus the {}-byte "
                            "ring header",
               *framesz, port.mtu + kEthernetHeaderBytes, kAfPacketFrameOverhead);
  }
}

void CheckPort(const ApplianceConfig& c, Checker& check) {
  const PortConfig& port = c.port;
  if (port.vdev.empty() == port.pci.empty()) {
    check.Fail("port", "set exactly one of port.vdev and port.pci");
  }
  if (!port.pci.empty() && !IsPciAddress(port.pci)) {
    check.Fail("port.pci", "'{}' is not a PCI address of the form 0000:3b:00.0", port.pci);
  }
  if (port.is_vdev()) {
    auto args = ParseDeviceArguments(port.vdev);
    if (!args.ok()) {
      check.Fail("port.vdev", "{}", args.error().message);
    } else if (args->DriverName() == "net_memif") {
      CheckMemif(port, *args, c.eal, check);
    } else if (args->DriverName() == "net_af_packet") {
      CheckAfPacket(port, *args, check);
    }
  }
  if (port.mac && IsUnusableUnicastMac(*port.mac)) {
    check.Fail("port.mac", "{} is zero or multicast", FormatMac(*port.mac));
  }
  if (!IsPowerOfTwo(port.rx_queue_size)) {
    check.Fail("port.rx_queue_size", "{} is not a power of two", port.rx_queue_size);
  }
  if (!IsPowerOfTwo(port.tx_queue_size)) {
    check.Fail("port.tx_queue_size", "{} is not a power of two", port.tx_queue_size);
  }
  // DPDK refuses a per-lcore cache whose flush threshold (1.5 x size) exceeds the pool.
  if (uint64_t{port.mempool_cache} * 3 / 2 > port.mempool_size) {
    check.Fail("port.mempool_cache", "{} is too large for mempool_size {} (need cache x 1.5 <= "
                                     "size)",
               port.mempool_cache, port.mempool_size);
  }
  bool has_udp_table = check.HasKey("port.udp");
  if (port.encapsulation == Encapsulation::kUdp && !has_udp_table) {
    check.Fail("port.encapsulation", "\"udp\" needs a [port.udp] table (source_ip, "
                                     "destination_ip, next_hop_mac)");
  }
  if (port.encapsulation == Encapsulation::kEthernet && has_udp_table) {
    check.Fail("port.udp", "is set but port.encapsulation is \"ethernet\"");
  }
  if (port.encapsulation == Encapsulation::kUdp && has_udp_table) {
    if (port.udp.source_ip == port.udp.destination_ip) {
      check.Fail("port.udp.destination_ip", "equals source_ip ({})",
                 FormatIpv4(port.udp.source_ip));
    }
    if (IsUnusableUnicastMac(port.udp.next_hop_mac)) {
      check.Fail("port.udp.next_hop_mac", "{} is zero or multicast",
                 FormatMac(port.udp.next_hop_mac));
    }
  }
}

void CheckPeerAndLink(const ApplianceConfig& c, Checker& check) {
  if (c.peer.mac && IsUnusableUnicastMac(*c.peer.mac)) {
    check.Fail("peer.mac", "{} is zero or multicast (use \"learn\" to learn it)",
               FormatMac(*c.peer.mac));
  }
  if (uint64_t{c.peer.failure_timeout_ms} < 3 * uint64_t{c.peer.heartbeat_interval_ms}) {
    check.Fail("peer.failure_timeout_ms",
               "{} ms is less than 3 heartbeat intervals ({} ms): one late heartbeat would "
               "declare the peer dead",
               c.peer.failure_timeout_ms, 3 * c.peer.heartbeat_interval_ms);
  }
  if (c.link.credits > c.link.window) {
    check.Fail("link.credits", "{} exceeds link.window ({})", c.link.credits, c.link.window);
  }
  if (c.link.codec == CodecPolicy::kDelta && c.link.delta_cache_mib == 0) {
    check.Fail("link.delta_cache_mib", "is 0 but link.codec = \"delta\" needs a page cache");
  }
}

void CheckFaultInjection(const ApplianceConfig& c, Checker& check) {
  const FaultInjectionConfig& f = c.fault_injection;
  double total = f.drop_pct + f.duplicate_pct + f.reorder_pct + f.corrupt_pct + f.delay_pct;
  if (total > 100.0) {
    check.Fail("fault_injection", "percentages add up to {} (> 100): each frame suffers at most "
                                  "one fault",
               total);
  }
  if (f.delay_pct > 0 && f.delay_us == 0) {
    check.Fail("fault_injection.delay_us", "is 0 but delay_pct is {}", f.delay_pct);
  }
}

void CheckSocketPath(std::string_view key, const std::string& path, Checker& check) {
  if (path.empty()) {
    check.Fail(key, "must not be empty");
  } else if (path.size() > kMaxSocketPath) {
    check.Fail(key, "'{}' is {} bytes; unix socket paths are limited to {}", path, path.size(),
               kMaxSocketPath);
  }
}

void CheckControlAndShim(const ApplianceConfig& c, Checker& check) {
  CheckSocketPath("control.socket", c.control.socket, check);
  CheckSocketPath("shim.socket", c.shim.socket, check);
  if (c.control.socket == c.shim.socket) {
    check.Fail("shim.socket", "'{}' is also control.socket", c.shim.socket);
  }
}

void CheckVms(const ApplianceConfig& c, Checker& check) {
  std::set<uint32_t> ids;
  std::set<std::string> names;
  std::set<std::string> paths;
  for (size_t i = 0; i < c.vms.size(); ++i) {
    const VmConfig& vm = c.vms[i];
    std::string at = fmt::format("vm[{}]", i);
    if (!ids.insert(vm.id).second) check.Fail(at + ".id", "VM id {} is used twice", vm.id);
    if (!IsSimpleName(vm.name)) {
      check.Fail(at + ".name", "'{}' must be 1..63 characters of [A-Za-z0-9._-]", vm.name);
    } else if (!names.insert(vm.name).second) {
      check.Fail(at + ".name", "VM name '{}' is used twice", vm.name);
    }
    if (vm.replica_dir.empty() || vm.replica_dir.front() != '/') {
      check.Fail(at + ".replica_dir", "must be an absolute directory path");
    } else if (!paths.insert(vm.replica_dir).second) {
      check.Fail(at + ".replica_dir", "'{}' is used by another VM", vm.replica_dir);
    }
    if (!vm.memory_image.empty() && !paths.insert(vm.memory_image).second) {
      check.Fail(at + ".memory_image", "'{}' is used by another VM", vm.memory_image);
    }
  }
}

}  // namespace

uint64_t EstimatedMempoolBytes(const PortConfig& port) {
  uint64_t per_mbuf = kMbufOverheadBytes + port.mtu + kEthernetHeaderBytes;
  per_mbuf = (per_mbuf + 63) / 64 * 64;
  return per_mbuf * port.mempool_size;
}

Result<void> ValidateConfig(const ApplianceConfig& config) {
  Checker check(config.source);
  CheckIdentity(config, check);
  CheckEal(config, check);
  CheckWorkers(config, check);
  CheckPort(config, check);
  CheckPeerAndLink(config, check);
  CheckFaultInjection(config, check);
  CheckControlAndShim(config, check);
  CheckVms(config, check);
  return check.Finish();
}

}  // namespace replink::config
