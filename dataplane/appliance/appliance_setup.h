// Turns an appliance configuration into the link layer's settings: encapsulation, HELLO identity,
// session timing, per-stream tuning. DPDK-free so it is unit tested.
#pragma once

#include <cstdint>

#include "dataplane/config/appliance_config.h"
#include "dataplane/streams/inbound_stream.h"
#include "dataplane/streams/outbound_stream.h"
#include "link/link_encapsulation.h"
#include "link/link_session.h"

namespace replink::dataplane {

// `local_mac` and `mtu` are what the opened port reports.
link::EncapsulationConfig EncapsulationFor(const config::ApplianceConfig& config,
                                           const config::MacAddress& local_mac, uint32_t mtu);
link::SessionConfig SessionFor(const config::ApplianceConfig& config, uint32_t mtu, uint64_t instance_id);
OutboundTuning OutboundTuningFor(const config::ApplianceConfig& config);
InboundTuning InboundTuningFor(const config::ApplianceConfig& config);
codec::CodecSetting CodecSettingFor(config::CodecPolicy policy);

}  // namespace replink::dataplane
