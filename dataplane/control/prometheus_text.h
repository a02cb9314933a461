// The appliance's statistics in the Prometheus text exposition format (version 0.0.4), for the
// [control] metrics endpoint. Names follow the Prometheus conventions: a replink_ prefix, base units
// (seconds, bytes), counters ending in _total, the commit latency as a real histogram (cumulative
// buckets from the worker's LatencyHistogram, _sum, _count). Every metric family has HELP and TYPE
// and its samples together; label values are escaped. DPDK-free (unit tested with promtool).
#pragma once

#include <string>

#include "dataplane/config/appliance_config.h"
#include "dataplane/worker/appliance_stats.h"

namespace replink::dataplane::control {

// `scrape_errors`: requests the endpoint refused so far (exported as a counter).
std::string PrometheusText(const config::ApplianceConfig& config, const ApplianceStats& stats,
                           uint64_t scrape_errors);

// Escapes a label value: backslash, double quote and newline.
std::string EscapeLabelValue(std::string_view value);

}  // namespace replink::dataplane::control
