// The link settings an operator may change while the appliance runs (`replinkctl link set`), their
// allowed ranges, and all-or-nothing validation: every problem is reported, and if there is one,
// nothing changes. DPDK-free, so it is unit tested on its own.
//
// What each setting does at run time (docs/CONFIG.md "Changing [link] at run time"):
//   mtu                    DATA frames are built up to this MTU from the next frame on. Between 1280
//                          and the MTU negotiated in HELLO (the smaller port MTU of both sides) no
//                          renegotiation is needed; raising beyond needs both ports reconfigured and
//                          a restart, which renegotiates.
//   rate_mbps              the pacer of every stream, at once (0 = unlimited)
//   batch_size             capture-ring records taken per poll
//   drain_interval_us      kept and shown; the worker flushes its transmit batch every round, so any
//                          value is met
//   codec                  the codec policy of every stream, from the next page
//   delta_cache_mib        a new, empty delta cache per stream (built off the worker, swapped between
//                          pages): deltas resume as pages are sent again
//   window                 frames in flight per stream, up to the window allocated at start
//   heartbeat_interval_ms  renegotiated inside the session (a HELLO; the shorter offer wins)
//   failure_timeout_ms     liveness thresholds and the streams' degrade timeout, at once
// Nothing here resets a stream or the session: no epoch is lost.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "dataplane/config/appliance_config.h"
#include "errors/result.h"

namespace replink::dataplane::control {

struct LinkSettings {
  uint32_t mtu = 1500;
  uint32_t rate_mbps = 0;
  uint32_t batch_size = 32;
  uint32_t drain_interval_us = 100;
  config::CodecPolicy codec = config::CodecPolicy::kAuto;
  uint32_t delta_cache_mib = 256;
  uint32_t window = 4096;
  uint32_t heartbeat_interval_ms = 100;
  uint32_t failure_timeout_ms = 1000;

  friend bool operator==(const LinkSettings&, const LinkSettings&) = default;
};

// Limits that depend on the running appliance rather than on the setting itself.
struct SettingLimits {
  uint32_t mtu_max = 9216;     // negotiated MTU (or the port's while the link is not established)
  uint32_t window_max = 4096;  // buffers allocated per stream at start ([link] window)
};

inline constexpr uint32_t kMinLinkMtu = 1280;  // the link protocol's minimum (docs/PROTOCOL.md)

// The settings the appliance started with.
LinkSettings SettingsFromConfig(const config::ApplianceConfig& config, uint32_t port_mtu);

// One entry per setting: the name (as in [link] / [peer] of the configuration), its allowed range for
// these limits as text, and what changing it does. For `link show` and error messages.
struct SettingDescription {
  std::string name;
  std::string range;
  std::string effect;
};
std::vector<SettingDescription> DescribeSettings(const SettingLimits& limits);

// Applies `changes` (setting name -> value as text, e.g. "mtu" -> "9000", "codec" -> "lz4") to
// `current`. Unknown names, malformed or out-of-range values and cross-setting rules (failure timeout
// >= 3 heartbeats) are all reported in one kInvalidArgument error, one problem per line, each naming
// the allowed range; `current` is then unchanged.
Result<LinkSettings> ApplyChanges(const LinkSettings& current, const std::map<std::string, std::string>& changes,
                                  const SettingLimits& limits);

// The value of each setting as text, in the names ApplyChanges takes.
std::map<std::string, std::string> SettingValues(const LinkSettings& settings);

}  // namespace replink::dataplane::control
