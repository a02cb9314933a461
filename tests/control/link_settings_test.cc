// Runtime link settings (dataplane/control/link_settings.h): all-or-nothing validation, every problem
// named with its allowed range.
#include "dataplane/control/link_settings.h"

#include <gtest/gtest.h>

namespace replink::dataplane::control {
namespace {

LinkSettings Current() {
  config::ApplianceConfig c;
  c.link.window = 1024;
  c.link.delta_cache_mib = 64;
  c.peer.heartbeat_interval_ms = 100;
  c.peer.failure_timeout_ms = 1000;
  LinkSettings s = SettingsFromConfig(c, 9000);
  return s;
}

constexpr SettingLimits kLimits{.mtu_max = 9000, .window_max = 1024};

TEST(LinkSettings, FromConfig) {
  LinkSettings s = Current();
  EXPECT_EQ(s.mtu, 9000u);
  EXPECT_EQ(s.window, 1024u);
  EXPECT_EQ(s.delta_cache_mib, 64u);
  EXPECT_EQ(s.codec, config::CodecPolicy::kAuto);
  EXPECT_EQ(SettingValues(s).at("codec"), "auto");
}

TEST(LinkSettings, AppliesEverySetting) {
  auto next = ApplyChanges(Current(),
                           {{"mtu", "1280"}, {"rate_mbps", "2500"}, {"batch_size", "8"}, {"drain_interval_us", "50"},
                            {"codec", "lz4"}, {"delta_cache_mib", "16"}, {"window", "16"},
                            {"heartbeat_interval_ms", "20"}, {"failure_timeout_ms", "60"}},
                           kLimits);
  ASSERT_TRUE(next.ok()) << next.error().Describe();
  EXPECT_EQ(next->mtu, 1280u);
  EXPECT_EQ(next->rate_mbps, 2500u);
  EXPECT_EQ(next->batch_size, 8u);
  EXPECT_EQ(next->drain_interval_us, 50u);
  EXPECT_EQ(next->codec, config::CodecPolicy::kLz4);
  EXPECT_EQ(next->delta_cache_mib, 16u);
  EXPECT_EQ(next->window, 16u);
  EXPECT_EQ(next->heartbeat_interval_ms, 20u);
  EXPECT_EQ(next->failure_timeout_ms, 60u);
  for (const char* codec : {"auto", "none", "lz4", "delta"}) {
    auto c = ApplyChanges(Current(), {{"codec", codec}}, kLimits);
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(SettingValues(*c).at("codec"), codec);
  }
}

TEST(LinkSettings, OutOfRangeNamesTheRange) {
  struct Case {
    const char* name;
    const char* value;
    const char* expect;
  };
  const Case cases[] = {
      {"mtu", "9001", "mtu: 9001 is out of range [1280, 9000] (the MTU negotiated"},
      {"mtu", "1000", "[1280, 9000]"},
      {"window", "2048", "window: 2048 is out of range [16, 1024] (the window allocated at start"},
      {"window", "8", "[16, 1024]"},
      {"batch_size", "0", "batch_size: 0 is out of range [1, 512]"},
      {"rate_mbps", "400001", "[0, 400000]"},
      {"delta_cache_mib", "0", "[1, 1048576]"},
      {"heartbeat_interval_ms", "60001", "[1, 60000]"},
      {"failure_timeout_ms", "5", "[10, 600000]"},
      {"mtu", "-5", "mtu: '-5' is not a whole number in [1280, 9000]"},
      {"mtu", "1e3", "not a whole number"},
      {"mtu", "", "not a whole number"},
      {"mtu", "99999999999999999999", "not a whole number"},
      {"codec", "zstd", "codec: 'zstd' is not one of auto, none, lz4, delta"},
      {"rate_mpbs", "1", "rate_mpbs: not a link setting that can change at run time (did you mean 'rate_mbps'?)"},
      {"credits", "10", "read-only"},
  };
  for (const Case& c : cases) {
    auto r = ApplyChanges(Current(), {{c.name, c.value}}, kLimits);
    ASSERT_FALSE(r.ok()) << c.name << "=" << c.value;
    EXPECT_EQ(r.error().code, Errc::kInvalidArgument);
    EXPECT_NE(r.error().message.find(c.expect), std::string::npos) << r.error().message;
  }
}

TEST(LinkSettings, AllOrNothingAndEveryProblemListed) {
  LinkSettings before = Current();
  auto r = ApplyChanges(before, {{"rate_mbps", "100"}, {"mtu", "99999"}, {"codec", "zip"}, {"bogus", "1"}}, kLimits);
  ASSERT_FALSE(r.ok());
  const std::string& m = r.error().message;
  EXPECT_NE(m.find("3 problems, nothing changed"), std::string::npos) << m;
  EXPECT_NE(m.find("mtu: 99999"), std::string::npos);
  EXPECT_NE(m.find("codec: 'zip'"), std::string::npos);
  EXPECT_NE(m.find("bogus: not a link setting"), std::string::npos);
  EXPECT_EQ(Current(), before);  // the input is never modified; the caller keeps `before`
}

TEST(LinkSettings, FailureTimeoutCoversThreeHeartbeats) {
  auto r = ApplyChanges(Current(), {{"heartbeat_interval_ms", "500"}}, kLimits);  // 1000 < 3 x 500
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("at least 3 x heartbeat_interval_ms (1500)"), std::string::npos);
  EXPECT_TRUE(ApplyChanges(Current(), {{"heartbeat_interval_ms", "500"}, {"failure_timeout_ms", "1500"}}, kLimits).ok());
}

TEST(LinkSettings, DescriptionsFollowTheLimits) {
  auto d = DescribeSettings(SettingLimits{.mtu_max = 1500, .window_max = 64});
  auto find = [&](const char* name) {
    for (const auto& s : d)
      if (s.name == name) return s.range;
    return std::string();
  };
  EXPECT_EQ(find("mtu"), "[1280, 1500]");
  EXPECT_EQ(find("window"), "[16, 64]");
  EXPECT_EQ(find("codec"), "auto | none | lz4 | delta");
  EXPECT_EQ(d.size(), SettingValues(Current()).size());
}

}  // namespace
}  // namespace replink::dataplane::control
