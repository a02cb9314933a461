#include "dataplane/config/config_loader.h"

#include <limits>
#include <optional>

#include <toml++/toml.h>

#include "dataplane/config/address_parsing.h"
#include "dataplane/config/config_validator.h"
#include "dataplane/config/toml_section_reader.h"

namespace replink::config {
namespace {

constexpr uint32_t kU32Max = std::numeric_limits<uint32_t>::max();
constexpr uint64_t kTomlIntMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());

// "learn" or a MAC address.
Result<std::optional<MacAddress>> ParseMacOrLearn(std::string_view text) {
  if (text == "learn") return std::optional<MacAddress>();
  REPLINK_ASSIGN_OR_RETURN(MacAddress mac, ParseMac(text));
  return std::optional<MacAddress>(mac);
}

Result<std::optional<MacAddress>> ParseOptionalMac(std::string_view text) {
  REPLINK_ASSIGN_OR_RETURN(MacAddress mac, ParseMac(text));
  return std::optional<MacAddress>(mac);
}

void ReadAppliance(TomlSectionReader& r, ApplianceIdentity& out) {
  r.Require("id");
  r.Integer<uint32_t>("id", out.id, 1, kU32Max);
  r.Require("name");
  r.String("name", out.name);
  r.RejectUnknownKeys();
}

void ReadEal(TomlSectionReader& r, EalConfig& out, ConfigDiagnostics& diagnostics) {
  r.StringList("args", out.args);
  r.IntegerList("lcores", out.lcores, 0, 1023);
  uint32_t main_lcore = 0;
  if (r.Has("main_lcore")) {
    r.Integer<uint32_t>("main_lcore", main_lcore, 0, 1023);
    out.main_lcore = main_lcore;
  }
  r.String("file_prefix", out.file_prefix);
  r.StringList("vdevs", out.vdevs);
  r.Bool("no_huge", out.no_huge);
  r.Bool("in_memory", out.in_memory);
  r.Bool("no_pci", out.no_pci);
  r.Integer<uint32_t>("memory_mb", out.memory_mb, 0, 1u << 20);
  r.StringList("plugins", out.plugins);
  r.String("log_level", out.log_level);
  r.StringList("extra_args", out.extra_args);

  // Verbatim args and structured keys would silently fight over the same EAL options.
  if (r.Has("args")) {
    for (std::string_view key : {"lcores", "main_lcore", "file_prefix", "vdevs", "no_huge",
                                 "in_memory", "no_pci", "memory_mb", "plugins", "log_level",
                                 "extra_args"}) {
      if (r.Has(key)) {
        diagnostics.AddAt(r.header_line(), r.Path(key),
                          "cannot be combined with eal.args (verbatim mode): put everything in "
                          "args, or use only structured keys");
      }
    }
    if (r.Has("args") && out.args.empty()) {
      diagnostics.AddAt(r.header_line(), r.Path("args"),
                        "is empty: remove it to use the structured keys");
    }
  }
  r.RejectUnknownKeys();
}

void ReadUdp(TomlSectionReader& r, UdpEncapsulationConfig& out) {
  r.Require("source_ip");
  r.Parsed<Ipv4Address>("source_ip", out.source_ip, ParseIpv4);
  r.Require("destination_ip");
  r.Parsed<Ipv4Address>("destination_ip", out.destination_ip, ParseIpv4);
  r.Integer<uint16_t>("source_port", out.source_port, 1, 65535);
  r.Integer<uint16_t>("destination_port", out.destination_port, 1, 65535);
  r.Require("next_hop_mac");
  r.Parsed<MacAddress>("next_hop_mac", out.next_hop_mac, ParseMac);
  r.Integer<uint8_t>("ttl", out.ttl, 1, 255);
  r.RejectUnknownKeys();
}

void ReadPort(TomlSectionReader& r, PortConfig& out, ConfigDiagnostics& diagnostics,
              ConfigSource& source) {
  r.String("vdev", out.vdev);
  r.String("pci", out.pci);
  r.Parsed<std::optional<MacAddress>>("mac", out.mac, ParseOptionalMac);
  r.Integer<uint32_t>("mtu", out.mtu, 68, 9600);
  r.Integer<uint32_t>("rx_queue_size", out.rx_queue_size, 64, 32768);
  r.Integer<uint32_t>("tx_queue_size", out.tx_queue_size, 64, 32768);
  r.Integer<uint32_t>("mempool_size", out.mempool_size, 511, 1u << 22);
  r.Integer<uint32_t>("mempool_cache", out.mempool_cache, 0, 512);
  r.Enum<Encapsulation>("encapsulation", out.encapsulation,
                        {{"ethernet", Encapsulation::kEthernet}, {"udp", Encapsulation::kUdp}});
  if (const toml::table* udp = r.Table("udp")) {
    TomlSectionReader udp_reader(*udp, r.Path("udp"), diagnostics, source);
    ReadUdp(udp_reader, out.udp);
  }
  r.RejectUnknownKeys();
}

void ReadPeer(TomlSectionReader& r, PeerConfig& out) {
  r.Require("id");
  r.Integer<uint32_t>("id", out.id, 1, kU32Max);
  r.String("name", out.name);
  r.Parsed<std::optional<MacAddress>>("mac", out.mac, ParseMacOrLearn);
  r.Integer<uint32_t>("heartbeat_interval_ms", out.heartbeat_interval_ms, 1, 60000);
  r.Integer<uint32_t>("failure_timeout_ms", out.failure_timeout_ms, 10, 600000);
  r.RejectUnknownKeys();
}

void ReadLink(TomlSectionReader& r, LinkConfig& out) {
  r.Integer<uint32_t>("rate_mbps", out.rate_mbps, 0, 400000);
  r.Integer<uint32_t>("batch_size", out.batch_size, 1, 512);
  r.Integer<uint32_t>("drain_interval_us", out.drain_interval_us, 1, 1000000);
  r.Enum<CodecPolicy>("codec", out.codec,
                      {{"auto", CodecPolicy::kAuto},
                       {"none", CodecPolicy::kNone},
                       {"lz4", CodecPolicy::kLz4},
                       {"delta", CodecPolicy::kDelta}});
  r.Integer<uint32_t>("delta_cache_mib", out.delta_cache_mib, 0, 1u << 20);
  r.Integer<uint32_t>("window", out.window, 16, 65536);
  out.credits = 0;
  r.Integer<uint32_t>("credits", out.credits, 0, 65536);
  r.RejectUnknownKeys();
}

void ReadWorkers(TomlSectionReader& r, WorkersConfig& out) {
  r.IntegerList("lcores", out.lcores, 0, 1023);
  r.Integer<uint32_t>("poll_us", out.poll_us, 0, 10000000);
  r.Integer<uint32_t>("min_sleep_us", out.min_sleep_us, 1, 1000000);
  r.Integer<uint32_t>("max_sleep_us", out.max_sleep_us, 1, 1000000);
  r.RejectUnknownKeys();
}

void ReadFaultInjection(TomlSectionReader& r, FaultInjectionConfig& out) {
  r.Bool("enabled", out.enabled);
  r.Integer<uint64_t>("seed", out.seed, 0, kTomlIntMax);
  r.Double("drop_pct", out.drop_pct, 0, 100);
  r.Double("duplicate_pct", out.duplicate_pct, 0, 100);
  r.Double("reorder_pct", out.reorder_pct, 0, 100);
  r.Double("corrupt_pct", out.corrupt_pct, 0, 100);
  r.Double("delay_pct", out.delay_pct, 0, 100);
  r.Integer<uint32_t>("delay_us", out.delay_us, 0, 10000000);
  r.Enum<FaultDirection>("direction", out.direction,
                         {{"rx", FaultDirection::kRx},
                          {"tx", FaultDirection::kTx},
                          {"both", FaultDirection::kBoth}});
  r.RejectUnknownKeys();
}

void ReadControl(TomlSectionReader& r, ControlConfig& out) {
  r.String("socket", out.socket);
  r.String("group", out.group);
  Ipv4Endpoint metrics{out.metrics_ip, out.metrics_port};
  r.String("metrics", out.metrics);
  r.Parsed<Ipv4Endpoint>("metrics", metrics, ParseIpv4Endpoint);
  out.metrics_ip = metrics.ip;
  out.metrics_port = metrics.port;
  r.RejectUnknownKeys();
}

void ReadVm(TomlSectionReader& r, VmConfig& out) {
  r.Require("id");
  r.Integer<uint32_t>("id", out.id, 1, kU32Max);
  r.Require("name");
  r.String("name", out.name);
  r.Enum<VmBackend>("backend", out.backend,
                    {{"xen", VmBackend::kXen},
                     {"kvm", VmBackend::kKvm},
                     {"synthetic", VmBackend::kSynthetic}});
  r.Require("replica_dir");
  r.String("replica_dir", out.replica_dir);
  r.String("memory_image", out.memory_image);
  r.Enum<Durability>("durability", out.durability,
                     {{"dsync", Durability::kDsync}, {"page-cache", Durability::kPageCache}});
  r.String("promote_command", out.promote_command);
  r.RejectUnknownKeys();
}

void ReadShim(TomlSectionReader& r, ShimConfig& out) {
  r.String("socket", out.socket);
  r.RejectUnknownKeys();
}

// Fills `config` from the document; problems go to `diagnostics`.
void ReadDocument(const toml::table& root, ApplianceConfig& config,
                  ConfigDiagnostics& diagnostics) {
  ConfigSource& source = config.source;
  TomlSectionReader top(root, "", diagnostics, source);

  // Optional sections keep their defaults when absent.
  auto section = [&](std::string_view name, bool required, auto read) {
    if (required) top.Require(name);
    if (const toml::table* table = top.Table(name)) {
      TomlSectionReader reader(*table, std::string(name), diagnostics, source);
      read(reader);
    }
  };
  section("appliance", true, [&](auto& r) { ReadAppliance(r, config.appliance); });
  section("eal", false, [&](auto& r) { ReadEal(r, config.eal, diagnostics); });
  section("port", true, [&](auto& r) { ReadPort(r, config.port, diagnostics, source); });
  section("peer", true, [&](auto& r) { ReadPeer(r, config.peer); });
  section("link", false, [&](auto& r) { ReadLink(r, config.link); });
  section("workers", false, [&](auto& r) { ReadWorkers(r, config.workers); });
  section("fault_injection", false, [&](auto& r) { ReadFaultInjection(r, config.fault_injection); });
  section("control", false, [&](auto& r) { ReadControl(r, config.control); });
  section("shim", false, [&](auto& r) { ReadShim(r, config.shim); });
  if (const toml::array* vms = top.ArrayOfTables("vm")) {
    for (size_t i = 0; i < vms->size(); ++i) {
      TomlSectionReader reader(*vms->get(i)->as_table(), fmt::format("vm[{}]", i), diagnostics,
                               source);
      ReadVm(reader, config.vms.emplace_back());
    }
  }
  top.RejectUnknownKeys();

  // Defaults that depend on other keys.
  if (config.eal.file_prefix.empty() && !config.eal.verbatim()) {
    config.eal.file_prefix = "replink-" + config.appliance.name;
  }
  if (config.link.credits == 0) config.link.credits = config.link.window;
}

}  // namespace

Result<ApplianceConfig> ParseConfig(std::string_view toml_text, std::string_view source_name) {
  ApplianceConfig config;
  config.source.path = std::string(source_name);
  ConfigDiagnostics diagnostics(config.source.path);
  toml::table root;
  // toml++ here is the exceptions build; the throw stays inside this function (config loading
  // is not the fast path) and becomes an ordinary Error.
  try {
    root = toml::parse(toml_text, source_name);
  } catch (const toml::parse_error& e) {
    diagnostics.Add(e.source(), "syntax", e.description());
    return diagnostics.ToError();
  }
  ReadDocument(root, config, diagnostics);
  if (!diagnostics.empty()) return diagnostics.ToError();
  REPLINK_TRY(ValidateConfig(config));
  return config;
}

Result<ApplianceConfig> LoadConfig(const std::string& path) {
  ApplianceConfig config;
  config.source.path = path;
  ConfigDiagnostics diagnostics(path);
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    // A missing or unreadable file also arrives here, without a position.
    if (e.source().begin.line == 0) {
      return MakeError(Errc::kIo, "{}: cannot read config: {}", path, e.description());
    }
    diagnostics.Add(e.source(), "syntax", e.description());
    return diagnostics.ToError();
  }
  ReadDocument(root, config, diagnostics);
  if (!diagnostics.empty()) return diagnostics.ToError();
  REPLINK_TRY(ValidateConfig(config));
  return config;
}

}  // namespace replink::config
