// replink's counters in DPDK telemetry, so `dpdk-telemetry.py -f <file-prefix>` (and any telemetry
// client) shows them next to DPDK's own:
//
//   /replink/status   identity, link and peer state, each VM's state and last committed epoch
//   /replink/stats    appliance and link counters and rates (drops by reason, session counters)
//   /replink/vms      the VM ids with a stream here
//   /replink/vm,ID    one VM's counters, rates, commit latency, compression, ring and credits
//   /replink/link     the current link settings
//
// The same JSON reports as `replinkctl status` / `stats --json` / `link show`, flattened: DPDK 22.11
// dictionaries hold only numbers and strings (no nested dictionaries), so {"link": {"rtt_us": 3}}
// becomes "link/rtt_us": 3, and key characters outside [A-Za-z0-9_/] become '_'. Fractions travel as
// strings (22.11 has no floating-point values).
//
// Callbacks run on DPDK's telemetry thread and only read reports the control thread published
// (under a mutex); they never touch the worker.
#pragma once

#include <memory>
#include <mutex>

#include "control/protocol/control_message.h"

namespace replink::dataplane::control {

using replink::control::Json;

class TelemetryReports {
 public:
  // Registers the commands (once per process; DPDK cannot unregister) and routes them here until
  // this object is destroyed. Fails if EAL telemetry refused a command.
  static Result<std::unique_ptr<TelemetryReports>> Register();
  ~TelemetryReports();
  TelemetryReports(const TelemetryReports&) = delete;
  TelemetryReports& operator=(const TelemetryReports&) = delete;

  // Control thread: the newest reports.
  void Publish(Json status, Json stats, Json settings);

  // For the telemetry callbacks.
  struct Reports {
    Json status, stats, settings;
  };
  Reports Latest() const;

 private:
  TelemetryReports() = default;
  mutable std::mutex mutex_;
  Reports reports_;
};

// A telemetry dictionary key from a JSON path: [A-Za-z0-9_/] only, at most 63 characters.
std::string TelemetryKey(std::string_view path);

}  // namespace replink::dataplane::control
