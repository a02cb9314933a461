#include "dataplane/control/peer_credentials.h"

#include <grp.h>
#include <sys/socket.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>

namespace replink::dataplane::control {

Result<PeerIdentity> ReadPeerIdentity(int fd) {
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return SysError("SO_PEERCRED");
  PeerIdentity peer{cred.pid, cred.uid, cred.gid, {}};
  // Supplementary groups are not in SO_PEERCRED. /proc may be gone (the peer exited) or hidden: then
  // only the primary group counts, which can only refuse, never allow, more than intended.
  std::ifstream status("/proc/" + std::to_string(cred.pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("Groups:", 0) != 0) continue;
    std::istringstream in(line.substr(7));
    long g = 0;
    while (in >> g)
      if (g >= 0) peer.groups.push_back(static_cast<gid_t>(g));
    break;
  }
  return peer;
}

bool PeerAllowed(const PeerIdentity& peer, const AccessPolicy& policy) {
  if (peer.uid == 0 || peer.uid == policy.owner) return true;
  if (!policy.group) return false;
  return peer.gid == *policy.group ||
         std::find(peer.groups.begin(), peer.groups.end(), *policy.group) != peer.groups.end();
}

Result<gid_t> LookupGroup(const std::string& name) {
  unsigned long number = 0;
  auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), number);
  if (!name.empty() && ec == std::errc() && end == name.data() + name.size()) return static_cast<gid_t>(number);
  group entry{};
  group* found = nullptr;
  std::vector<char> buffer(16384);
  int rc = getgrnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found);
  if (rc != 0 || found == nullptr)
    return MakeError(Errc::kInvalidArgument, "control group '{}' does not exist on this host", name);
  return found->gr_gid;
}

}  // namespace replink::dataplane::control
