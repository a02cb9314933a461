// The control plane's view of the appliance, as JSON (docs/PROTOCOL.md "Control protocol" lists
// every member): `status` and `stats` answers, the DPDK telemetry commands (flattened) and, through
// the same snapshots, the Prometheus endpoint. Rates are computed between two worker snapshots about
// a second apart (the worker publishes one every 0.5 s), so one-shot `stats` has rates too.
#pragma once

#include <cstdint>
#include <deque>
#include <string>

#include "control/protocol/control_message.h"
#include "dataplane/config/appliance_config.h"
#include "dataplane/worker/appliance_stats.h"

namespace replink::dataplane::control {

using replink::control::Json;

// Recent snapshots, newest last, kept for rate computation.
class StatsHistory {
 public:
  // Keeps `stats` if it is newer than the newest kept; drops what is older than a few seconds.
  void Add(ApplianceStats stats);
  bool empty() const { return items_.empty(); }
  const ApplianceStats& newest() const { return items_.back(); }
  // The newest snapshot taken at least `span_ns` before newest() (the oldest kept if none is).
  const ApplianceStats& baseline(uint64_t span_ns) const;

 private:
  std::deque<ApplianceStats> items_;
};

struct ReportContext {
  const config::ApplianceConfig* config = nullptr;
  uint64_t started_ns = 0;  // CLOCK_MONOTONIC, when the control server started
};

// `status`: identity, roles, peer state (liveness, last heard, RTT), each VM with its state, last
// committed epoch and its age.
Json StatusReport(const ReportContext& context, const ApplianceStats& now);
// `stats`: everything counted, per link and per VM, with rates over [base, now].
Json StatsReport(const ReportContext& context, const ApplianceStats& base, const ApplianceStats& now);

// Flattens nested objects into "a.b.c" keys (arrays by index), for DPDK telemetry's flat dicts.
void FlattenJson(const Json& value, const std::string& prefix, Json& out);

}  // namespace replink::dataplane::control
