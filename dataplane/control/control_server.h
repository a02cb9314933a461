// ControlServer: the dataplane's side of the control plane, created in main and polled from the
// control thread (never the worker). It owns
//   - the control socket (Unix stream, owner-only or the [control] group, SO_PEERCRED checked) that
//     replinkctl talks to (docs/PROTOCOL.md "Control protocol"),
//   - the Prometheus endpoint on the [control] metrics address (HTTP, GET /metrics),
//   - the DPDK telemetry commands under /replink/.
// Everything it reports comes from the worker's statistics snapshots; everything it changes reaches
// the worker as a WorkerTask through the worker's command ring. An endpoint that cannot be opened is
// reported and left off: the control plane never stops replication.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "dataplane/config/appliance_config.h"
#include "dataplane/streams/outbound_stream.h"
#include "dataplane/worker/link_worker.h"

namespace replink::dataplane::control {

struct ControlServerOptions {
  const config::ApplianceConfig* config = nullptr;
  LinkWorker* worker = nullptr;
  // The tuning new shim registrations get (main's copy, also read by the registrar on this thread):
  // `link set` updates it so that streams registered later follow the new settings.
  OutboundTuning* registration_tuning = nullptr;
  uint32_t port_mtu = 1500;      // what the opened port reports
  int worker_timeout_ms = 3000;  // a change the worker has not applied by then is reported as such
  bool telemetry = true;         // register the DPDK telemetry commands (needs EAL)
};

class ControlServer {
 public:
  // Opens what it can; `problems` receives one line per endpoint that could not be opened.
  static std::unique_ptr<ControlServer> Start(const ControlServerOptions& options, std::vector<std::string>& problems);
  ~ControlServer();

  // Control thread: accepts and serves clients, finishes requests whose worker task is done, refreshes
  // statistics. Waits at most `timeout_ms` for something to happen, here or on `wake_fds` (other
  // sockets of the control loop, readable ones are left to their owners).
  void Poll(int timeout_ms, std::span<const int> wake_fds = {});

  // What the endpoints are (for the startup line).
  std::string Describe() const;

 private:
  struct State;
  // One poll and what it found; true when one of our own sockets had something.
  bool PollOnce(int timeout_ms, std::span<const int> wake_fds);
  explicit ControlServer(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace replink::dataplane::control
