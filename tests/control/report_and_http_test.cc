// The JSON reports (stats_report.h), telemetry keys, the HTTP request parser, peer credentials, the
// views replinkctl renders.
#include <gtest/gtest.h>

#include "control/text_table.h"
#include "control/views.h"
#include "control_test_stats.h"
#include "dataplane/control/dpdk_telemetry.h"
#include "dataplane/control/http_request.h"
#include "dataplane/control/peer_credentials.h"
#include "dataplane/control/stats_report.h"

namespace replink::dataplane::control {
namespace {

using testing::SampleStats;

config::ApplianceConfig Config() {
  config::ApplianceConfig c;
  c.appliance = {1, "primary"};
  c.peer.id = 2;
  c.vms.push_back(config::VmConfig{.id = 7, .name = "db"});
  c.vms.push_back(config::VmConfig{.id = 9, .name = "idle-one"});
  return c;
}

TEST(StatsReport, RatesBetweenTwoSnapshots) {
  config::ApplianceConfig c = Config();
  ReportContext ctx{&c, 1'000'000'000};
  Json j = StatsReport(ctx, SampleStats(2'000'000'000, 1), SampleStats(4'000'000'000, 3));
  EXPECT_DOUBLE_EQ(j["interval_s"].get<double>(), 2.0);
  const Json& vm = j["vms"][0];
  EXPECT_EQ(vm["role"], "primary");
  EXPECT_DOUBLE_EQ(vm["rates"]["epochs_per_s"].get<double>(), 100.0);  // (300 - 100) / 2 s
  EXPECT_DOUBLE_EQ(vm["rates"]["pages_per_s"].get<double>(), 1000.0);
  EXPECT_DOUBLE_EQ(vm["compression"]["ratio"].get<double>(), 2.0);
  EXPECT_DOUBLE_EQ(vm["compression"]["by_codec"]["raw"]["ratio"].get<double>(), 1.0);
  EXPECT_EQ(vm["commit_latency_us"]["p99"], 900);
  EXPECT_EQ(vm["retransmits"]["fast"], 3);
  EXPECT_EQ(vm["ring"]["slots_in_use"], 64);
  EXPECT_TRUE(vm["pause_per_sync_us"].is_null());
  const Json& replica = j["vms"][1];
  EXPECT_EQ(replica["role"], "secondary");
  EXPECT_EQ(replica["name"], "db");
  EXPECT_EQ(replica["last_commit_age_ms"], 0.0);  // committed, in the snapshot's round
  EXPECT_EQ(j["link"]["drops"]["bad-checksum"], 1);
  EXPECT_EQ(j["link"]["drops"]["port-rx-missed"], 2);
  EXPECT_DOUBLE_EQ(j["link"]["rtt_us"].get<double>(), 42.0);
}

TEST(StatsReport, StatusListsIdleVms) {
  config::ApplianceConfig c = Config();
  Json j = StatusReport(ReportContext{&c, 0}, SampleStats(2'000'000'000, 1));
  ASSERT_EQ(j["vms"].size(), 2u);
  ASSERT_EQ(j["idle_vms"].size(), 1u);
  EXPECT_EQ(j["idle_vms"][0]["name"], "idle-one");
  EXPECT_EQ(j["link"]["liveness"], "up");
  EXPECT_DOUBLE_EQ(j["link"]["last_heard_ms_ago"].get<double>(), 3.0);
}

TEST(StatsReport, HistoryBaselineIsAboutASecondBack) {
  StatsHistory h;
  for (uint64_t t = 1; t <= 10; ++t) h.Add(SampleStats(t * 500'000'000, t));
  h.Add(SampleStats(1'000'000'000, 99));  // older than the newest: ignored
  EXPECT_EQ(h.newest().taken_ns, 5'000'000'000u);
  EXPECT_EQ(h.baseline(1'000'000'000).taken_ns, 4'000'000'000u);
  EXPECT_EQ(h.baseline(100'000'000'000).taken_ns, 1'000'000'000u);  // only ~4 s are kept
}

TEST(Telemetry, FlatKeysInDpdksAlphabet) {
  Json flat = Json::object();
  FlattenJson(Json{{"link", {{"drops", {{"bad-checksum", 1}}}}}, {"vms", {{{"id", 3}}}}}, "", flat);
  EXPECT_EQ(flat["link.drops.bad-checksum"], 1);
  EXPECT_EQ(flat["vms.0.id"], 3);
  EXPECT_EQ(TelemetryKey("link.drops.bad-checksum"), "link/drops/bad_checksum");
  EXPECT_EQ(TelemetryKey(std::string(100, 'a')).size(), 63u);
}

TEST(HttpRequest, ParsesAndRefuses) {
  HttpRequest r;
  EXPECT_EQ(ParseHttpRequestHead("GET /metrics HTTP/1.1\r\nHost: x\r\n", r), HttpParse::kIncomplete);
  ASSERT_EQ(ParseHttpRequestHead("GET /metrics?x=1 HTTP/1.1\r\nHost: x\r\n\r\n", r), HttpParse::kComplete);
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(HttpPath(r.target), "/metrics");
  EXPECT_EQ(ParseHttpRequestHead("HEAD / HTTP/1.0\n\n", r), HttpParse::kComplete);
  for (const char* bad : {"GET\r\n\r\n", "get /metrics HTTP/1.1\r\n\r\n", "GET metrics HTTP/1.1\r\n\r\n",
                          "GET /metrics HTTP/2\r\n\r\n", "GET /a b HTTP/1.1\r\n\r\n", "GET /\x01 HTTP/1.1\r\n\r\n"})
    EXPECT_EQ(ParseHttpRequestHead(bad, r), HttpParse::kBad) << bad;
  EXPECT_EQ(ParseHttpRequestHead(std::string(kMaxHttpHead + 10, 'a'), r), HttpParse::kTooLarge);
  std::string response = HttpResponse(200, "OK", "text/plain", "hello", false);
  EXPECT_NE(response.find("Content-Length: 5\r\n"), std::string::npos);
  EXPECT_TRUE(response.ends_with("\r\n\r\nhello"));
  EXPECT_TRUE(HttpResponse(200, "OK", "text/plain", "hello", true).ends_with("\r\n\r\n"));
}

TEST(PeerCredentials, Policy) {
  AccessPolicy owner_only{1000, std::nullopt};
  EXPECT_TRUE(PeerAllowed({1, 0, 0, {}}, owner_only));       // root
  EXPECT_TRUE(PeerAllowed({1, 1000, 5, {}}, owner_only));    // the dataplane's user
  EXPECT_FALSE(PeerAllowed({1, 1001, 5, {}}, owner_only));
  AccessPolicy group{1000, gid_t{42}};
  EXPECT_TRUE(PeerAllowed({1, 1001, 42, {}}, group));        // primary group
  EXPECT_TRUE(PeerAllowed({1, 1001, 5, {7, 42}}, group));    // supplementary group
  EXPECT_FALSE(PeerAllowed({1, 1001, 5, {7}}, group));
  EXPECT_EQ(LookupGroup("0").value(), 0u);
  EXPECT_EQ(LookupGroup("root").value(), 0u);
  EXPECT_FALSE(LookupGroup("no-such-group-replink").ok());
}

TEST(Views, RenderToleratesMissingMembersAndAligns) {
  using replink::control::RenderStats;
  using replink::control::RenderStatus;
  using replink::control::RenderTop;
  EXPECT_NO_THROW((void)RenderStatus(Json::object()));
  EXPECT_NO_THROW((void)RenderStats(Json{{"vms", {{{"role", "primary"}}}}}));
  config::ApplianceConfig c = Config();
  Json stats = StatsReport(ReportContext{&c, 0}, SampleStats(2'000'000'000, 1), SampleStats(3'000'000'000, 2));
  std::string top = RenderTop(stats, 80, "12:00:00");
  for (std::size_t start = 0, end; (end = top.find('\n', start)) != std::string::npos; start = end + 1)
    EXPECT_LE(end - start, 80u);
  EXPECT_NE(top.find("EPOCH/S"), std::string::npos);
  replink::control::TextTable t({{"A"}, {"NUMBER", replink::control::TextTable::Align::kRight}});
  t.AddRow({"x", "1"});
  t.AddRow({"longer", "12345"});
  EXPECT_EQ(t.Render(), "A       NUMBER\nx            1\nlonger   12345\n");
}

}  // namespace
}  // namespace replink::dataplane::control
