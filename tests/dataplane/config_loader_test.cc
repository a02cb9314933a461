// LoadConfig / ParseConfig / ValidateConfig: good files load with the documented defaults, bad
// files fail with messages that name file, line, key and the allowed range.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "dataplane/config/config_loader.h"

namespace replink::config {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

// A minimal valid file, one section per entry; tests override or add sections.
std::map<std::string, std::string> BaseSections() {
  return {
      {"appliance", "id = 1\nname = \"alpha\"\n"},
      {"eal", "lcores = [0]\nno_huge = true\nmemory_mb = 256\nno_pci = true\n"},
      {"port", "vdev = \"net_memif0,role=server,socket=/tmp/x.sock,bsize=2048\"\n"},
      {"peer", "id = 2\n"},
  };
}

std::string Render(const std::map<std::string, std::string>& sections,
                   const std::string& trailer = "") {
  // Fixed order so line numbers are predictable: appliance, eal, port, peer, then the rest.
  std::string text;
  for (const char* name : {"appliance", "eal", "port", "peer"}) {
    auto it = sections.find(name);
    if (it != sections.end()) text += fmt::format("[{}]\n{}", name, it->second);
  }
  for (const auto& [name, body] : sections) {
    if (name == "appliance" || name == "eal" || name == "port" || name == "peer") continue;
    text += fmt::format("[{}]\n{}", name, body);
  }
  return text + trailer;
}

Result<ApplianceConfig> ParseWith(const std::string& section, const std::string& body) {
  auto sections = BaseSections();
  sections[section] = body;
  return ParseConfig(Render(sections), "test.toml");
}

std::string ErrorOf(const Result<ApplianceConfig>& r) {
  return r.ok() ? std::string("<ok>") : r.error().message;
}

TEST(ConfigLoader, MinimalFileGetsDocumentedDefaults) {
  auto r = ParseConfig(Render(BaseSections()), "test.toml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const ApplianceConfig& c = *r;
  EXPECT_EQ(c.appliance.id, 1u);
  EXPECT_EQ(c.appliance.name, "alpha");
  EXPECT_EQ(c.eal.file_prefix, "replink-alpha");
  EXPECT_FALSE(c.eal.main_lcore.has_value());
  EXPECT_EQ(c.port.DeviceName(), "net_memif0");
  EXPECT_EQ(c.port.mtu, 1500u);
  EXPECT_EQ(c.port.rx_queue_size, 1024u);
  EXPECT_EQ(c.port.mempool_size, 8191u);
  EXPECT_EQ(c.port.encapsulation, Encapsulation::kEthernet);
  EXPECT_FALSE(c.peer.mac.has_value());  // learn
  EXPECT_EQ(c.peer.heartbeat_interval_ms, 100u);
  EXPECT_EQ(c.peer.failure_timeout_ms, 1000u);
  EXPECT_EQ(c.link.rate_mbps, 0u);
  EXPECT_EQ(c.link.codec, CodecPolicy::kAuto);
  EXPECT_EQ(c.link.window, 4096u);
  EXPECT_EQ(c.link.credits, 4096u);  // 0 in the file = window
  EXPECT_EQ(c.workers.count(), 1u);
  EXPECT_EQ(c.workers.poll_us, 200u);
  EXPECT_FALSE(c.fault_injection.enabled);
  EXPECT_EQ(c.control.metrics_port, 9750);
  EXPECT_EQ(c.control.metrics_ip, (Ipv4Address{{127, 0, 0, 1}}));
  EXPECT_TRUE(c.vms.empty());
  EXPECT_EQ(c.shim.socket, "/run/replink/shim.sock");
}

TEST(ConfigLoader, FullFileReadsEveryKey) {
  auto sections = BaseSections();
  sections["port"] =
      "pci = \"0000:3b:00.0\"\nmac = \"02:00:00:00:00:0a\"\nmtu = 9000\nrx_queue_size = 2048\n"
      "tx_queue_size = 512\nmempool_size = 16383\nmempool_cache = 128\nencapsulation = \"udp\"\n"
      "[port.udp]\nsource_ip = \"192.0.2.1\"\ndestination_ip = \"192.0.2.2\"\nsource_port = 4000\n"
      "destination_port = 4001\nnext_hop_mac = \"02:00:00:00:00:0b\"\nttl = 9\n";
  sections["eal"] = "lcores = [0, 1, 2]\nmain_lcore = 1\nfile_prefix = \"fp\"\nmemory_mb = 1024\n"
                    "in_memory = true\nvdevs = [\"crypto_aesni_gcm0\"]\nlog_level = \"8\"\n"
                    "plugins = [\"/x.so\"]\nextra_args = [\"--huge-worker-stack\"]\n";
  sections["peer"] = "id = 7\nname = \"beta\"\nmac = \"02:00:00:00:00:0c\"\n"
                     "heartbeat_interval_ms = 20\nfailure_timeout_ms = 100\n";
  sections["link"] = "rate_mbps = 1000\nbatch_size = 64\ndrain_interval_us = 10\ncodec = \"delta\"\n"
                     "delta_cache_mib = 8\nwindow = 1024\ncredits = 512\n";
  sections["workers"] = "lcores = [0, 2]\npoll_us = 0\nmin_sleep_us = 5\nmax_sleep_us = 50\n";
  sections["fault_injection"] = "enabled = true\nseed = 99\ndrop_pct = 1\nduplicate_pct = 2.5\n"
                                "reorder_pct = 3\ncorrupt_pct = 4\ndelay_pct = 5\ndelay_us = 77\n"
                                "direction = \"both\"\n";
  sections["control"] = "socket = \"/tmp/c.sock\"\ngroup = \"wheel\"\nmetrics = \"10.0.0.1:8080\"\n";
  sections["shim"] = "socket = \"/tmp/s.sock\"\n";
  std::string vms =
      "[[vm]]\nid = 5\nname = \"db\"\nbackend = \"kvm\"\nreplica_dir = \"/r1\"\nmemory_image = \"/m1\"\n"
      "durability = \"page-cache\"\n[[vm]]\nid = 6\nname = \"web\"\nreplica_dir = \"/r2\"\n";
  auto r = ParseConfig(Render(sections, vms), "full.toml");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const ApplianceConfig& c = *r;
  EXPECT_EQ(c.eal.lcores, (std::vector<uint32_t>{0, 1, 2}));
  EXPECT_EQ(c.eal.main_lcore, 1u);
  EXPECT_TRUE(c.eal.in_memory);
  EXPECT_EQ(c.eal.vdevs.size(), 1u);
  EXPECT_EQ(c.port.pci, "0000:3b:00.0");
  EXPECT_EQ(c.port.DeviceName(), "0000:3b:00.0");
  EXPECT_EQ(FormatMac(*c.port.mac), "02:00:00:00:00:0a");
  EXPECT_EQ(c.port.encapsulation, Encapsulation::kUdp);
  EXPECT_EQ(FormatIpv4(c.port.udp.destination_ip), "192.0.2.2");
  EXPECT_EQ(c.port.udp.source_port, 4000);
  EXPECT_EQ(c.port.udp.ttl, 9);
  EXPECT_EQ(c.peer.name, "beta");
  EXPECT_EQ(c.link.codec, CodecPolicy::kDelta);
  EXPECT_EQ(c.link.credits, 512u);
  EXPECT_EQ(c.workers.count(), 2u);
  EXPECT_TRUE(c.fault_injection.enabled);
  EXPECT_EQ(c.fault_injection.seed, 99u);
  EXPECT_DOUBLE_EQ(c.fault_injection.duplicate_pct, 2.5);
  EXPECT_EQ(c.fault_injection.direction, FaultDirection::kBoth);
  EXPECT_EQ(c.control.metrics_port, 8080);
  ASSERT_EQ(c.vms.size(), 2u);
  EXPECT_EQ(c.vms[0].backend, VmBackend::kKvm);
  EXPECT_EQ(c.vms[0].durability, Durability::kPageCache);
  EXPECT_EQ(c.vms[0].replica_dir, "/r1");
  EXPECT_EQ(c.vms[0].memory_image, "/m1");
  EXPECT_EQ(c.vms[1].memory_image, "");
  EXPECT_EQ(c.vms[1].backend, VmBackend::kXen);
  EXPECT_EQ(c.vms[1].durability, Durability::kDsync);
  EXPECT_EQ(c.source.lines.at("vm[1].id"), c.source.lines.at("vm[1]") + 1);
}

TEST(ConfigLoader, UnknownKeyNamesFileLineAndSuggestion) {
  auto sections = BaseSections();
  sections["link"] = "bach_size = 8\n";
  std::string text = Render(sections);
  auto r = ParseConfig(text, "typo.toml");
  ASSERT_FALSE(r.ok());
  // [link] comes after the 4 base sections: count its line.
  size_t line = 1 + std::count(text.begin(), text.begin() + text.find("bach_size"), '\n');
  EXPECT_THAT(r.error().message,
              HasSubstr(fmt::format("typo.toml:{}:1: link.bach_size: unknown key (did you mean "
                                    "'batch_size'?)",
                                    line)));
}

TEST(ConfigLoader, UnknownSectionIsAnError) {
  auto r = ParseConfig(Render(BaseSections(), "[links]\nwindow = 5\n"), "t.toml");
  EXPECT_THAT(ErrorOf(r), HasSubstr("links: unknown key (did you mean 'link'?)"));
}

TEST(ConfigLoader, OutOfRangeNamesTheRange) {
  EXPECT_THAT(ErrorOf(ParseWith("link", "batch_size = 600\n")),
              HasSubstr("link.batch_size: 600 is out of range [1, 512]"));
  EXPECT_THAT(ErrorOf(ParseWith("link", "batch_size = -1\n")),
              HasSubstr("link.batch_size: -1 is out of range [1, 512]"));
  EXPECT_THAT(ErrorOf(ParseWith("fault_injection", "drop_pct = 100.5\n")),
              HasSubstr("fault_injection.drop_pct: 100.5 is out of range [0, 100]"));
  EXPECT_THAT(ErrorOf(ParseWith("peer", "id = 0\n")),
              HasSubstr("peer.id: 0 is out of range [1, 4294967295]"));
  EXPECT_THAT(ErrorOf(ParseWith("eal", "lcores = [0, 5000]\n")),
              HasSubstr("eal.lcores: element 5000 is out of range [0, 1023]"));
}

TEST(ConfigLoader, WrongTypeIsReportedWithLine) {
  auto r = ParseWith("link", "window = \"big\"\n");
  EXPECT_THAT(ErrorOf(r), AllOf(HasSubstr("test.toml:"),
                                HasSubstr("link.window: expected an integer, found a string")));
  EXPECT_THAT(ErrorOf(ParseWith("eal", "lcores = [0, \"1\"]\n")),
              HasSubstr("expected an integer element, found a string"));
  EXPECT_THAT(ErrorOf(ParseWith("link", "codec = \"zip\"\n")),
              HasSubstr("link.codec: \"zip\" is not one of \"auto\", \"none\", \"lz4\", \"delta\""));
}

TEST(ConfigLoader, MissingRequiredKeysAndSections) {
  auto sections = BaseSections();
  sections.erase("peer");
  EXPECT_THAT(ErrorOf(ParseConfig(Render(sections), "t.toml")),
              HasSubstr("peer: required key is missing"));
  EXPECT_THAT(ErrorOf(ParseWith("appliance", "id = 3\n")),
              HasSubstr("test.toml:1: appliance.name: required key is missing from [appliance]"));
}

TEST(ConfigLoader, SyntaxErrorHasPosition) {
  auto r = ParseConfig("[appliance]\nid = 1\nname = \"unterminated\n", "bad.toml");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("bad.toml:3:"));
  EXPECT_THAT(r.error().message, HasSubstr("syntax"));
}

TEST(ConfigLoader, AllProblemsAreReportedAtOnce) {
  auto sections = BaseSections();
  sections["link"] = "batch_size = 0\nwindow = 1\n";
  sections["workers"] = "poll_us = \"x\"\n";
  auto r = ParseConfig(Render(sections), "t.toml");
  EXPECT_THAT(ErrorOf(r), AllOf(HasSubstr("3 problems"), HasSubstr("link.batch_size"),
                                HasSubstr("link.window"), HasSubstr("workers.poll_us")));
}

TEST(ConfigLoader, MissingFileIsAnIoError) {
  auto r = LoadConfig("/nonexistent/replink.toml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kIo);
  EXPECT_THAT(r.error().message, HasSubstr("/nonexistent/replink.toml"));
}

TEST(ConfigLoader, LoadsFromDiskWithPathInMessages) {
  auto path = std::filesystem::temp_directory_path() /
              fmt::format("replink-config-test-{}.toml", ::getpid());
  {
    std::ofstream out(path);
    auto sections = BaseSections();
    sections["link"] = "window = 3\n";
    out << Render(sections);
  }
  auto r = LoadConfig(path.string());
  std::filesystem::remove(path);
  EXPECT_THAT(ErrorOf(r), HasSubstr(path.string() + ":"));
  EXPECT_THAT(ErrorOf(r), HasSubstr("link.window: 3 is out of range [16, 65536]"));
}

// ---- cross-key validation ----

TEST(ConfigValidation, MemifBufferMustHoldTheLargestFrame) {
  auto r = ParseWith("port", "vdev = \"net_memif0,role=client,bsize=2048\"\nmtu = 9000\n");
  EXPECT_THAT(ErrorOf(r), AllOf(HasSubstr("port.vdev"), HasSubstr("bsize=2048"),
                                HasSubstr("set bsize >= 9014")));
  EXPECT_TRUE(ParseWith("port", "vdev = \"net_memif0,bsize=9216\"\nmtu = 9000\n").ok());
  EXPECT_THAT(ErrorOf(ParseWith("port", "vdev = \"net_memif0,role=master\"\n")),
              HasSubstr("role='master' must be server or client"));
}

TEST(ConfigValidation, AfPacketGeometryAndLimits) {
  EXPECT_TRUE(ParseWith("port", "vdev = \"net_af_packet0,iface=veth0\"\n").ok());
  EXPECT_THAT(ErrorOf(ParseWith("port", "vdev = \"net_af_packet0,iface=v,blocksz=4096,framesz=3000\"\n")),
              HasSubstr("blocksz=4096 is not a multiple of framesz=3000"));
  EXPECT_THAT(ErrorOf(ParseWith("port", "vdev = \"net_af_packet0,iface=v,qpairs=2\"\n")),
              HasSubstr("use qpairs=1"));
  EXPECT_THAT(ErrorOf(ParseWith("port", "vdev = \"net_af_packet0,iface=v\"\nmtu = 9000\n")),
              HasSubstr("caps frames at 1518"));
  EXPECT_THAT(ErrorOf(ParseWith("port", "vdev = \"net_af_packet0\"\n")),
              HasSubstr("needs iface="));
  EXPECT_THAT(ErrorOf(ParseWith("port", "vdev = \"net_af_packet0,iface=v,framesz=x\"\n")),
              HasSubstr("framesz=x is not an unsigned integer"));
}

TEST(ConfigValidation, PortNeedsExactlyOneDevice) {
  EXPECT_THAT(ErrorOf(ParseWith("port", "mtu = 1500\n")),
              HasSubstr("set exactly one of port.vdev and port.pci"));
  EXPECT_THAT(ErrorOf(ParseWith("port", "vdev = \"net_null0\"\npci = \"0000:3b:00.0\"\n")),
              HasSubstr("set exactly one"));
  auto sections = BaseSections();
  sections["port"] = "pci = \"3b:00.0\"\n";
  sections["eal"] = "lcores = [0]\n";
  EXPECT_THAT(ErrorOf(ParseConfig(Render(sections), "t.toml")),
              HasSubstr("port.pci: '3b:00.0' is not a PCI address"));
  sections["port"] = "pci = \"0000:3b:00.0\"\n";
  sections["eal"] = "lcores = [0]\nno_pci = true\n";
  EXPECT_THAT(ErrorOf(ParseConfig(Render(sections), "t.toml")),
              HasSubstr("eal.no_pci: is true but port.pci"));
}

TEST(ConfigValidation, QueueAndPoolShapes) {
  EXPECT_THAT(ErrorOf(ParseWith("port", "vdev = \"net_null0\"\nrx_queue_size = 1000\n")),
              HasSubstr("port.rx_queue_size: 1000 is not a power of two"));
  EXPECT_THAT(ErrorOf(ParseWith("port", "vdev = \"net_null0\"\nmempool_size = 600\n"
                                        "mempool_cache = 512\n")),
              HasSubstr("port.mempool_cache: 512 is too large for mempool_size 600"));
  EXPECT_THAT(ErrorOf(ParseWith("port", "vdev = \"net_null0\"\nmac = \"01:00:5e:00:00:01\"\n")),
              HasSubstr("is zero or multicast"));
}

TEST(ConfigValidation, UdpEncapsulationNeedsItsTable) {
  EXPECT_THAT(ErrorOf(ParseWith("port", "vdev = \"net_null0\"\nencapsulation = \"udp\"\n")),
              HasSubstr("needs a [port.udp] table"));
  EXPECT_THAT(ErrorOf(ParseWith("port", "vdev = \"net_null0\"\n[port.udp]\nsource_ip = \"1.2.3.4\"\n"
                                        "destination_ip = \"1.2.3.5\"\nnext_hop_mac = "
                                        "\"02:00:00:00:00:01\"\n")),
              HasSubstr("port.udp: is set but port.encapsulation is \"ethernet\""));
  EXPECT_THAT(ErrorOf(ParseWith("port", "vdev = \"net_null0\"\nencapsulation = \"udp\"\n"
                                        "[port.udp]\nsource_ip = \"1.2.3.400\"\n")),
              AllOf(HasSubstr("port.udp.source_ip: '1.2.3.400' is not a dotted-quad"),
                    HasSubstr("port.udp.destination_ip: required key is missing from [port.udp]"),
                    HasSubstr("port.udp.next_hop_mac: required key is missing")));
}

TEST(ConfigValidation, EalRules) {
  EXPECT_THAT(ErrorOf(ParseWith("eal", "lcores = [0]\nno_huge = true\nin_memory = true\n")),
              HasSubstr("eal.in_memory: cannot be combined with eal.no_huge"));
  EXPECT_THAT(ErrorOf(ParseWith("eal", "lcores = [0, 1]\nmain_lcore = 3\n")),
              HasSubstr("eal.main_lcore: 3 is not in eal.lcores"));
  EXPECT_THAT(ErrorOf(ParseWith("eal", "lcores = [1, 1]\n")), HasSubstr("lists an lcore twice"));
  EXPECT_THAT(ErrorOf(ParseWith("eal", "args = [\"-l\", \"0\"]\nlcores = [0]\n")),
              HasSubstr("eal.lcores: cannot be combined with eal.args"));
  EXPECT_THAT(ErrorOf(ParseWith("eal", "file_prefix = \"a b\"\n")),
              HasSubstr("eal.file_prefix: 'a b' must be"));
  // 8191 mbufs of ~1.8 KiB do not fit no-huge's default 64 MiB... they do; 65535 do not.
  EXPECT_THAT(ErrorOf(ParseWith("eal", "lcores = [0]\nno_huge = true\nmemory_mb = 64\n")),
              Not(HasSubstr("EAL memory")));
  auto sections = BaseSections();
  sections["port"] = "vdev = \"net_null0\"\nmempool_size = 65535\nmtu = 9000\n";
  EXPECT_THAT(ErrorOf(ParseConfig(Render(sections), "t.toml")),
              HasSubstr("eal.memory_mb: 256 MiB of EAL memory cannot hold the port's mempool"));
  EXPECT_THAT(ErrorOf(ParseWith("eal", "vdevs = [\"net_memif0\"]\nno_huge = true\n")),
              HasSubstr("is the port's own device"));
}

TEST(ConfigValidation, VerbatimEalArgsSkipStructuredChecks) {
  auto r = ParseWith("eal", "args = [\"-l\", \"0\", \"--no-huge\"]\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->eal.verbatim());
  EXPECT_TRUE(r->eal.file_prefix.empty());
  EXPECT_THAT(ErrorOf(ParseWith("eal", "args = []\n")), HasSubstr("eal.args: is empty"));
}

TEST(ConfigValidation, WorkersMustBeEalLcores) {
  auto sections = BaseSections();
  sections["workers"] = "lcores = [1]\n";
  EXPECT_THAT(ErrorOf(ParseConfig(Render(sections), "t.toml")),
              HasSubstr("workers.lcores: lcore 1 is not in eal.lcores"));
  sections["workers"] = "min_sleep_us = 500\nmax_sleep_us = 100\n";
  EXPECT_THAT(ErrorOf(ParseConfig(Render(sections), "t.toml")),
              HasSubstr("workers.min_sleep_us: 500 exceeds workers.max_sleep_us (100)"));
}

TEST(ConfigValidation, PeerAndLinkRules) {
  EXPECT_THAT(ErrorOf(ParseWith("peer", "id = 1\n")), HasSubstr("equals appliance.id"));
  EXPECT_THAT(ErrorOf(ParseWith("peer", "id = 2\nheartbeat_interval_ms = 100\n"
                                        "failure_timeout_ms = 200\n")),
              HasSubstr("peer.failure_timeout_ms: 200 ms is less than 3 heartbeat intervals"));
  EXPECT_THAT(ErrorOf(ParseWith("peer", "id = 2\nmac = \"learnt\"\n")),
              HasSubstr("peer.mac: 'learnt' is not a MAC address"));
  EXPECT_THAT(ErrorOf(ParseWith("link", "window = 64\ncredits = 128\n")),
              HasSubstr("link.credits: 128 exceeds link.window (64)"));
  EXPECT_THAT(ErrorOf(ParseWith("link", "codec = \"delta\"\ndelta_cache_mib = 0\n")),
              HasSubstr("link.delta_cache_mib: is 0 but link.codec = \"delta\""));
  auto r = ParseWith("link", "window = 64\n");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->link.credits, 64u);
}

TEST(ConfigValidation, FaultPercentagesAddUpToAtMost100) {
  EXPECT_THAT(ErrorOf(ParseWith("fault_injection", "drop_pct = 60\ncorrupt_pct = 50\n")),
              HasSubstr("percentages add up to 110"));
  EXPECT_THAT(ErrorOf(ParseWith("fault_injection", "delay_pct = 5\ndelay_us = 0\n")),
              HasSubstr("fault_injection.delay_us: is 0 but delay_pct is 5"));
  EXPECT_TRUE(ParseWith("fault_injection", "drop_pct = 60\ncorrupt_pct = 40\n").ok());
}

TEST(ConfigValidation, VmsAndSockets) {
  std::string vms = "[[vm]]\nid = 1\nname = \"a\"\nreplica_dir = \"/m\"\n"
                    "[[vm]]\nid = 1\nname = \"a\"\nreplica_dir = \"/m\"\n"
                    "[[vm]]\nid = 3\nname = \"c\"\nreplica_dir = \"/c\"\nmemory_image = \"/c\"\n";
  auto r = ParseConfig(Render(BaseSections(), vms), "t.toml");
  EXPECT_THAT(ErrorOf(r), AllOf(HasSubstr("vm[1].id: VM id 1 is used twice"),
                                HasSubstr("vm[1].name: VM name 'a' is used twice"),
                                HasSubstr("vm[1].replica_dir: '/m' is used"),
                                HasSubstr("vm[2].memory_image: '/c' is used")));
  EXPECT_THAT(ErrorOf(ParseConfig(Render(BaseSections(), "[[vm]]\nid = 1\nname = \"a\"\n"), "t")),
              HasSubstr("vm[0].replica_dir: required key is missing from [vm[0]]"));
  EXPECT_THAT(ErrorOf(ParseConfig(Render(BaseSections(),
                                         "[[vm]]\nid = 1\nname = \"a\"\nreplica_dir = \"rel\"\n"),
                                  "t")),
              HasSubstr("vm[0].replica_dir: must be an absolute directory path"));
  EXPECT_THAT(ErrorOf(ParseWith("shim", "socket = \"/run/replink/control.sock\"\n")),
              HasSubstr("is also control.socket"));
  EXPECT_THAT(ErrorOf(ParseWith("control", fmt::format("socket = \"/{}\"\n", std::string(120, 'x')))),
              HasSubstr("unix socket paths are limited to 107"));
  EXPECT_THAT(ErrorOf(ParseWith("control", "metrics = \"127.0.0.1\"\n")),
              HasSubstr("control.metrics: '127.0.0.1' is not ADDRESS:PORT"));
  EXPECT_THAT(ErrorOf(ParseWith("control", "metrics = \"127.0.0.1:0\"\n")),
              HasSubstr("port must be 1..65535"));
}

// Every example shipped in configs/ must load and validate.
TEST(ExampleConfigs, AllLoad) {
  const char* root = std::getenv("REPLINK_SOURCE_ROOT");
  ASSERT_NE(root, nullptr) << "REPLINK_SOURCE_ROOT is set by meson test";
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(std::filesystem::path(root) / "configs")) {
    if (entry.path().extension() != ".toml") continue;
    ++count;
    auto r = LoadConfig(entry.path().string());
    EXPECT_TRUE(r.ok()) << entry.path() << ": " << r.error().message;
  }
  EXPECT_GE(count, 5);
}

}  // namespace
}  // namespace replink::config
