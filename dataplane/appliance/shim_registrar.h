// ShimRegistrar: the control thread's side of shim registration. Accepts a shim's connection, checks
// its request and region, builds the VM's OutboundStream and hands it to the worker; the shim gets a
// reply either way (a refusal says why).
#pragma once

#include <string>

#include "capture/registration.h"
#include "dataplane/worker/link_worker.h"

namespace replink::dataplane {

class ShimRegistrar {
 public:
  static Result<ShimRegistrar> Listen(const std::string& socket_path);
  // Waits up to timeout_ms for a connection and registers it. Errors of one shim are reported to
  // that shim and on stderr; they never stop the appliance.
  void Poll(int timeout_ms, LinkWorker& worker, const OutboundTuning& tuning);
  // The listening socket, for a poll loop that also waits on other sockets (the control server).
  int fd() const { return listener_.fd(); }
  uint64_t accepted() const { return accepted_; }
  uint64_t refused() const { return refused_; }

 private:
  explicit ShimRegistrar(RegistrationListener listener) : listener_(std::move(listener)) {}
  Result<void> Register(UniqueFd connection, LinkWorker& worker, const OutboundTuning& tuning);

  RegistrationListener listener_;
  uint64_t accepted_ = 0;
  uint64_t refused_ = 0;
};

}  // namespace replink::dataplane
