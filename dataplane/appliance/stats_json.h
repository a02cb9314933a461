// ApplianceStats as one line of JSON, for tests and scripts (the control plane has richer output).
#pragma once

#include <string>

#include "dataplane/worker/appliance_stats.h"

namespace replink::dataplane {

std::string StatsJson(const std::string& appliance, const ApplianceStats& stats);

}  // namespace replink::dataplane
