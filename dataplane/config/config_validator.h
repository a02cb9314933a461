// Rules that span several keys or need knowledge of DPDK drivers (memif bsize vs MTU, af_packet
// block/frame geometry, lcore sets, UDP encapsulation completeness). LoadConfig runs it; tools
// that build an ApplianceConfig in code should run it too.
#pragma once

#include <cstdint>

#include "dataplane/config/appliance_config.h"
#include "errors/result.h"

namespace replink::config {

// Every problem, each naming file, line and key, in one Error.
Result<void> ValidateConfig(const ApplianceConfig& config);

// Ethernet header bytes added to the MTU to get the largest frame software handles
// (no VLAN tag, no FCS: PMDs strip the FCS on receive and add it on transmit).
inline constexpr uint32_t kEthernetHeaderBytes = 14;

// Memory one mbuf of the port's pool takes, used to size EAL memory (mbuf header, headroom,
// data room for one full frame, mempool object header), rounded up.
uint64_t EstimatedMempoolBytes(const PortConfig& port);

}  // namespace replink::config
