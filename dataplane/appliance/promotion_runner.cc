#include "dataplane/appliance/promotion_runner.h"

#include <spawn.h>
#include <sys/types.h>

#include <fmt/format.h>

extern char** environ;

namespace replink::dataplane {
namespace {

void ReplaceAll(std::string& s, std::string_view from, const std::string& to) {
  for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
}

}  // namespace

std::string ExpandPromoteCommand(const std::string& command, const config::VmConfig& vm, uint64_t epoch) {
  std::string out = command;
  ReplaceAll(out, "{replica_dir}", vm.replica_dir);
  ReplaceAll(out, "{vm_id}", std::to_string(vm.id));
  ReplaceAll(out, "{vm_name}", vm.name);
  ReplaceAll(out, "{epoch}", std::to_string(epoch));
  return out;
}

Result<int> SpawnDetached(const std::string& command) {
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  const char* argv[] = {"/bin/sh", "-c", command.c_str(), nullptr};
  pid_t pid = 0;
  int rc = posix_spawn(&pid, "/bin/sh", nullptr, &attr, const_cast<char* const*>(argv), environ);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    errno = rc;
    return SysError("spawn '{}'", command);
  }
  return static_cast<int>(pid);
}

}  // namespace replink::dataplane
