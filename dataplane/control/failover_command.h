// `failover`: forced promotion on the secondary, and the planned switch-over (not supported yet).
//
// Forced (args {"mode": "forced", "confirm": true, "vm": optional}): on the worker, for each replica
// held here, the peer must not be alive (liveness down or unknown: promoting while the primary runs
// would split the brain), then LinkWorker::Promote closes the replica at its last committed epoch and
// the control loop runs the VM's promote_command, if configured. The answer lists, per VM, the epoch
// the guest resumes from and how it is resumed.
//
// Planned (args {"mode": "planned"}): needs the primary to drain its epochs and tell the peer to
// promote, and the link protocol (version 1) has no message for the latter: refused as unsupported,
// with each VM's readiness and the manual procedure in the answer.
#pragma once

#include "dataplane/control/control_commands.h"

namespace replink::dataplane::control {

CommandOutcome Failover(CommandContext& context, const replink::control::Json& args, uint64_t now_ns);

}  // namespace replink::dataplane::control
