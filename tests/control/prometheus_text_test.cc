// The Prometheus exposition (dataplane/control/prometheus_text.h): structure, naming, escaping, a real
// histogram, and `promtool check metrics` on the output when promtool is installed.
#include "dataplane/control/prometheus_text.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <set>
#include <sstream>

#include "control_test_stats.h"

namespace replink::dataplane::control {
namespace {

config::ApplianceConfig Config() {
  config::ApplianceConfig c;
  c.appliance = {1, "primary"};
  c.peer.id = 2;
  c.vms.push_back(config::VmConfig{.id = 7, .name = "db"});
  return c;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(PrometheusText, FamiliesAreWellFormed) {
  std::string text = PrometheusText(Config(), testing::SampleStats(5'000'000'000, 3), 4);
  std::map<std::string, std::string> types;
  std::set<std::string> finished;  // families whose samples ended: they must not come back
  std::string current;
  for (const std::string& line : Lines(text)) {
    ASSERT_FALSE(line.empty());
    if (line.rfind("# HELP ", 0) == 0) continue;
    if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream in(line.substr(7));
      std::string name, type;
      in >> name >> type;
      ASSERT_EQ(types.count(name), 0u) << "TYPE twice: " << name;
      types[name] = type;
      if (!current.empty()) finished.insert(current);
      current = name;
      EXPECT_EQ(type == "counter", name.ends_with("_total")) << name;
      EXPECT_EQ(name.rfind("replink_", 0), 0u) << name;
      continue;
    }
    std::string series = line.substr(0, line.find_first_of("{ "));
    EXPECT_EQ(series.rfind(current, 0), 0u) << "sample outside its family: " << line;
    EXPECT_EQ(finished.count(series), 0u);
  }
  EXPECT_EQ(types["replink_vm_commit_latency_seconds"], "histogram");
  EXPECT_EQ(types["replink_link_frames_dropped_total"], "counter");
  EXPECT_NE(text.find("replink_link_frames_dropped_total{reason=\"bad-checksum\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("replink_link_frames_dropped_total{reason=\"port-rx-missed\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("replink_metrics_requests_refused_total 4\n"), std::string::npos);
  EXPECT_NE(text.find("replink_replica_epochs_committed_total{vm=\"7\",name=\"db\"} 60\n"), std::string::npos);
  EXPECT_NE(text.find("name=\"web \\\"front\\\"\\nend?\""), std::string::npos) << "label escaping";
}

TEST(PrometheusText, HistogramBucketsAreCumulative) {
  std::string text = PrometheusText(Config(), testing::SampleStats(5'000'000'000, 2), 0);
  uint64_t previous = 0, inf = 0, count = 0;
  int buckets = 0;
  for (const std::string& line : Lines(text)) {
    if (line.rfind("replink_vm_commit_latency_seconds", 0) != 0) continue;
    auto v = static_cast<uint64_t>(std::stod(line.substr(line.rfind(' ') + 1)));
    if (line.rfind("replink_vm_commit_latency_seconds_bucket", 0) == 0) {
      EXPECT_GE(v, previous) << line;
      previous = v;
      ++buckets;
      if (line.find("le=\"+Inf\"") != std::string::npos) inf = v;
    }
    if (line.rfind("replink_vm_commit_latency_seconds_count", 0) == 0) count = v;
  }
  EXPECT_EQ(buckets, int(kCommitLatencyBucketsUs.size()) + 1);
  EXPECT_EQ(inf, 200u);
  EXPECT_EQ(count, 200u);
  EXPECT_NE(text.find("replink_vm_commit_latency_seconds_sum{vm=\"1\",name=\"web \\\"front\\\"\\nend?\"} 0.06\n"),
            std::string::npos);
}

TEST(PrometheusText, PromtoolAcceptsIt) {
  if (std::system("command -v promtool >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "promtool not installed (Debian package 'prometheus'; scripts/bootstrap.sh installs it)";
  std::string path = ::testing::TempDir() + "/replink-metrics.txt";
  FILE* f = std::fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::string text = PrometheusText(Config(), testing::SampleStats(5'000'000'000, 1), 0);
  std::fwrite(text.data(), 1, text.size(), f);
  std::fclose(f);
  int rc = std::system(("promtool check metrics < " + path).c_str());
  EXPECT_EQ(rc, 0) << text;
  std::remove(path.c_str());
}

}  // namespace
}  // namespace replink::dataplane::control
