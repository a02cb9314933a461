// Who may use the control socket. The socket file is created owner-only (0600), or 0660 with the
// configured [control] group; the server checks the connecting process again with SO_PEERCRED, so
// a socket whose mode was loosened by hand, or reached through another path, still refuses others.
// Allowed: root, the dataplane's own user, and members (primary or supplementary group) of the
// configured group.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "errors/result.h"

namespace replink::dataplane::control {

struct AccessPolicy {
  uid_t owner = 0;              // the dataplane's effective uid
  std::optional<gid_t> group;   // [control] group, if configured
};

struct PeerIdentity {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // supplementary groups (from /proc/PID/status; may be empty)
};

// SO_PEERCRED of a connected Unix socket, plus the peer's supplementary groups when readable.
Result<PeerIdentity> ReadPeerIdentity(int fd);
bool PeerAllowed(const PeerIdentity& peer, const AccessPolicy& policy);
// A group name or number -> gid.
Result<gid_t> LookupGroup(const std::string& name);

}  // namespace replink::dataplane::control
