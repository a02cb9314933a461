// Runs a VM's promote_command once the worker has closed its replica for failover. The command
// resumes the guest from the replica (e.g. `replink-shim --backend kvm --restore {replica_dir}`);
// it runs detached, in its own process group, so a stopping dataplane does not take it down.
#pragma once

#include <string>

#include "dataplane/config/appliance_config.h"
#include "errors/result.h"

namespace replink::dataplane {

// Replaces {replica_dir}, {vm_id}, {vm_name} and {epoch} in `command`.
std::string ExpandPromoteCommand(const std::string& command, const config::VmConfig& vm, uint64_t epoch);
// Starts `/bin/sh -c command`; returns its pid.
Result<int> SpawnDetached(const std::string& command);

}  // namespace replink::dataplane
