// One human line per protected or replicated VM, from two statistics snapshots: what the demo and an
// operator watching the appliance's log see every second.
#pragma once

#include <string>
#include <vector>

#include "dataplane/worker/appliance_stats.h"

namespace replink::dataplane {

std::vector<std::string> StatusLines(const std::string& appliance, const ApplianceStats& previous,
                                     const ApplianceStats& current);

}  // namespace replink::dataplane
