// EAL argv building, device-argument parsing and address parsing: the DPDK-free helpers.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "dataplane/config/address_parsing.h"
#include "dataplane/config/config_loader.h"
#include "dataplane/config/device_arguments.h"
#include "dataplane/config/eal_arguments.h"

namespace replink::config {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

ApplianceConfig Load(const std::string& text) {
  auto r = ParseConfig(text, "t.toml");
  EXPECT_TRUE(r.ok()) << r.error().message;
  return r.ok() ? *r : ApplianceConfig{};
}

TEST(EalArguments, StructuredKeysBecomeOptions) {
  ApplianceConfig c = Load(
      "[appliance]\nid = 1\nname = \"a\"\n"
      "[eal]\nlcores = [3, 1, 2, 7]\nmain_lcore = 1\nfile_prefix = \"p1\"\nno_huge = true\n"
      "memory_mb = 512\nno_pci = true\nvdevs = [\"net_null0\"]\nplugins = [\"/pmd.so\"]\n"
      "log_level = \"pmd.net.memif:debug\"\nextra_args = [\"--no-telemetry\"]\n"
      "[port]\nvdev = \"net_memif0\"\n[peer]\nid = 2\n");
  EXPECT_THAT(BuildEalArguments(c, "prog"),
              ElementsAre("prog", "-l", "1-3,7", "--main-lcore", "1", "--file-prefix", "p1",
                          "--no-huge", "--no-shconf", "-m", "512", "--no-pci", "--vdev",
                          "net_null0", "-d", "/pmd.so", "--log-level", "pmd.net.memif:debug",
                          "--no-telemetry"));
}

TEST(EalArguments, PciPortIsAllowListed) {
  ApplianceConfig c = Load(
      "[appliance]\nid = 1\nname = \"a\"\n[eal]\nlcores = [0]\nin_memory = true\n"
      "[port]\npci = \"0000:3b:00.0\"\n[peer]\nid = 2\n");
  EXPECT_THAT(BuildEalArguments(c, "p"),
              ElementsAre("p", "-l", "0", "--file-prefix", "replink-a", "--in-memory", "-a",
                          "0000:3b:00.0"));
}

TEST(EalArguments, VerbatimArgsPassThrough) {
  ApplianceConfig c = Load(
      "[appliance]\nid = 1\nname = \"a\"\n[eal]\nargs = [\"-l\", \"0\", \"--in-memory\"]\n"
      "[port]\nvdev = \"net_null0\"\n[peer]\nid = 2\n");
  EXPECT_THAT(BuildEalArguments(c, "p"), ElementsAre("p", "-l", "0", "--in-memory"));
}

TEST(EalArguments, LcoreListFormatting) {
  EXPECT_EQ(FormatLcoreList({0}), "0");
  EXPECT_EQ(FormatLcoreList({0, 1}), "0-1");
  EXPECT_EQ(FormatLcoreList({5, 0, 2, 1, 5}), "0-2,5");
  EXPECT_EQ(FormatLcoreList({}), "");
}

TEST(DeviceArguments, ParsesNameAndValues) {
  auto r = ParseDeviceArguments("net_memif12,role=client,bsize=9216,socket=/run/a.sock");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->name, "net_memif12");
  EXPECT_EQ(r->DriverName(), "net_memif");
  EXPECT_EQ(r->Get("role"), "client");
  EXPECT_EQ(r->Get("missing"), std::nullopt);
  EXPECT_EQ(*r->GetUnsigned("bsize", 1), 9216u);
  EXPECT_EQ(*r->GetUnsigned("rsize", 10), 10u);
  auto bare = ParseDeviceArguments("net_null0");
  ASSERT_TRUE(bare.ok());
  EXPECT_TRUE(bare->values.empty());
}

TEST(DeviceArguments, RejectsMalformedInput) {
  EXPECT_FALSE(ParseDeviceArguments("").ok());
  EXPECT_FALSE(ParseDeviceArguments(",a=b").ok());
  EXPECT_FALSE(ParseDeviceArguments("net_memif0,role").ok());
  EXPECT_FALSE(ParseDeviceArguments("net_memif0,=x").ok());
  EXPECT_FALSE(ParseDeviceArguments("net memif0").ok());
  auto r = ParseDeviceArguments("net_memif0,bsize=12k");
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(r->GetUnsigned("bsize", 0).error().message, HasSubstr("bsize=12k"));
}

TEST(AddressParsing, Mac) {
  auto mac = ParseMac("02:0A:ff:00:10:9b");
  ASSERT_TRUE(mac.ok());
  EXPECT_EQ(FormatMac(*mac), "02:0a:ff:00:10:9b");
  for (const char* bad : {"", "02:0a:ff:00:10", "02:0a:ff:00:10:9b:00", "02-0a-ff-00-10-9b",
                          "0g:0a:ff:00:10:9b", "020aff00109b"}) {
    EXPECT_FALSE(ParseMac(bad).ok()) << bad;
  }
}

TEST(AddressParsing, Ipv4AndEndpoint) {
  auto ip = ParseIpv4("192.0.2.255");
  ASSERT_TRUE(ip.ok());
  EXPECT_EQ(ip->bytes, (std::array<uint8_t, 4>{192, 0, 2, 255}));
  for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "256.0.0.1", "01.2.3.4", "1..2.3",
                          "1.2.3.-4", "a.b.c.d", "1.2.3.4 "}) {
    EXPECT_FALSE(ParseIpv4(bad).ok()) << bad;
  }
  auto ep = ParseIpv4Endpoint("10.1.2.3:65535");
  ASSERT_TRUE(ep.ok());
  EXPECT_EQ(ep->port, 65535);
  EXPECT_FALSE(ParseIpv4Endpoint("10.1.2.3:65536").ok());
  EXPECT_FALSE(ParseIpv4Endpoint("10.1.2.3:").ok());
  EXPECT_FALSE(ParseIpv4Endpoint(":80").ok());
}

}  // namespace
}  // namespace replink::config
