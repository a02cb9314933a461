// The control commands (docs/PROTOCOL.md "Control protocol" lists each request and result): pure
// request -> answer logic over the appliance's statistics, its settings and the worker. A command
// either answers at once or hands the worker a task and answers when the task is done.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>

#include "control/protocol/control_message.h"
#include "dataplane/control/link_settings.h"
#include "dataplane/control/stats_report.h"
#include "dataplane/worker/link_worker.h"

namespace replink::dataplane::control {

using replink::control::ControlErrc;
using replink::control::ControlRequest;

struct CommandContext;

struct Answer {
  std::string body;  // OkBody / ErrorBody
};

// A command waiting for the worker: `finish` builds the answer once `ready` says so, or with
// completed = false at the deadline. A pending answer whose client went away is still finished when
// ready (its bookkeeping, such as the settings in force, must not be lost).
struct PendingAnswer {
  std::function<bool(const CommandContext&)> ready;
  uint64_t deadline_ns = 0;
  std::function<Answer(CommandContext&, bool completed)> finish;
};

using CommandOutcome = std::variant<Answer, PendingAnswer>;

// What the commands work on; owned by the ControlServer, used on the control thread only.
struct CommandContext {
  const config::ApplianceConfig* config = nullptr;
  LinkWorker* worker = nullptr;
  OutboundTuning* registration_tuning = nullptr;
  uint32_t port_mtu = 1500;
  int worker_timeout_ms = 3000;
  ReportContext report;
  StatsHistory history;
  LinkSettings settings;   // the settings in force (as last applied)
  std::string endpoints;   // control socket and metrics address, for `status`
};

CommandOutcome RunCommand(CommandContext& context, const ControlRequest& request, uint64_t now_ns);

// The link settings as `link show` answers them (also published to telemetry).
replink::control::Json SettingsReport(const CommandContext& context);

// The limits `link set` checks against now (the negotiated MTU once the link is up).
SettingLimits CurrentLimits(const CommandContext& context);

}  // namespace replink::dataplane::control
