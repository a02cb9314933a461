// The EAL argument vector for an appliance, built from [eal] (structured keys or verbatim args)
// and [port] (a PCI port is put on EAL's allow list so EAL does not take other NICs).
// DPDK-free so that it can be unit tested and printed by tools (`--print-eal-args`).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "dataplane/config/appliance_config.h"

namespace replink::config {

// argv for rte_eal_init, program name first. The port's own vdev is not included: the port
// layer probes it with rte_dev_probe so that a bad vdev is reported against [port].
std::vector<std::string> BuildEalArguments(const ApplianceConfig& config,
                                           std::string_view program_name);

// "0-1,3" style list from sorted/unsorted lcore ids.
std::string FormatLcoreList(const std::vector<uint32_t>& lcores);

}  // namespace replink::config
