// replink-dataplane: one per host. Brings up EAL and the appliance's port from its configuration,
// runs the link worker on the main lcore and shim registration (plus status output) on a control
// thread, until SIGINT/SIGTERM.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>
#include <thread>

#include <fmt/format.h>

#include "dataplane/appliance/appliance_setup.h"
#include "dataplane/appliance/promotion_runner.h"
#include "dataplane/appliance/shim_registrar.h"
#include "dataplane/appliance/stats_json.h"
#include "dataplane/appliance/status_line.h"
#include "dataplane/config/config_loader.h"
#include "dataplane/control/control_server.h"
#include "dataplane/config/eal_arguments.h"
#include "dataplane/port/eal.h"
#include "dataplane/port/fault_injecting_port.h"
#include "dataplane/port/port.h"
#include "dataplane/worker/link_worker.h"

namespace {

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop.store(true); }

int Fail(const replink::Error& e) {
  fmt::print(stderr, "replink-dataplane: {}\n", e.Describe());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace replink;
  std::string config_path;
  uint32_t stats_interval_ms = 1000;
  uint32_t link_wait_s = 60;
  CLI::App app{"replink-dataplane: the replication appliance's polling dataplane"};
  app.add_option("-c,--config", config_path, "Appliance configuration (TOML)")->required();
  app.add_option("--stats-interval-ms", stats_interval_ms, "Status line interval (0 = none)");
  app.add_option("--link-wait", link_wait_s, "Seconds to wait for the port's link to come up")
      ->check(CLI::Range(1u, 3600u));
  CLI11_PARSE(app, argc, argv);

  auto config = config::LoadConfig(config_path);
  if (!config.ok()) return Fail(config.error());
  signal(SIGINT, OnSignal);
  signal(SIGTERM, OnSignal);
  signal(SIGPIPE, SIG_IGN);

  auto eal = port::Eal::Init(config::BuildEalArguments(*config, "replink-dataplane"));
  if (!eal.ok()) return Fail(eal.error());
  int rc = 0;
  {
    auto opened = port::Port::Open(config->port, {1});
    if (!opened.ok()) return Fail(opened.error());
    std::unique_ptr<port::Port> port = std::move(opened).value();
    fmt::print("replink-dataplane: '{}' {}\n", config->appliance.name, port->info().Describe());
    std::fflush(stdout);
    auto up = port->WaitForLinkUp(std::chrono::seconds(link_wait_s));
    if (!up.ok()) return Fail(up.error());
    std::unique_ptr<port::FaultInjectingPort> faults;
    if (config->fault_injection.enabled) {
      auto created = port::FaultInjectingPort::Create(*port, port->mempool(), config->fault_injection);
      if (!created.ok()) return Fail(created.error());
      faults = std::move(created).value();
      fmt::print("replink-dataplane: fault injection ON (seed {}): drop {}% dup {}% reorder {}% corrupt {}% "
                 "delay {}%\n",
                 config->fault_injection.seed, config->fault_injection.drop_pct,
                 config->fault_injection.duplicate_pct, config->fault_injection.reorder_pct,
                 config->fault_injection.corrupt_pct, config->fault_injection.delay_pct);
    }
    uint32_t mtu = port->info().mtu;
    auto encap = link::LinkEncapsulation::Create(dataplane::EncapsulationFor(*config, port->info().mac, mtu));
    if (!encap.ok()) return Fail(encap.error());
    uint64_t instance = 0;
    while (instance == 0) instance = std::random_device{}() | (uint64_t{std::random_device{}()} << 32);
    auto session = link::LinkSession::Create(dataplane::SessionFor(*config, mtu, instance), *encap);
    if (!session.ok()) return Fail(session.error());

    dataplane::WorkerSetup setup;
    setup.port = faults ? static_cast<port::PortIo*>(faults.get()) : port.get();
    setup.pool = port->mempool();
    setup.tx_queue = 0;
    setup.config = &*config;
    setup.outbound = dataplane::OutboundTuningFor(*config);
    setup.inbound = dataplane::InboundTuningFor(*config);
    setup.idle = port::IdleBackoffPolicy::FromConfig(config->workers);
    auto worker = dataplane::LinkWorker::Create(setup, std::move(encap).value(), std::move(session).value());
    if (!worker.ok()) return Fail(worker.error());
    auto registrar = dataplane::ShimRegistrar::Listen(config->shim.socket);
    if (!registrar.ok()) return Fail(registrar.error());
    // The control plane (replinkctl, telemetry, Prometheus); an endpoint that cannot open is reported
    // and stays off, replication goes on.
    std::vector<std::string> control_problems;
    auto control_server = dataplane::control::ControlServer::Start(
        {.config = &*config, .worker = worker->get(), .registration_tuning = &setup.outbound, .port_mtu = mtu},
        control_problems);
    for (const std::string& problem : control_problems) fmt::print(stderr, "replink-dataplane: {}\n", problem);
    fmt::print("replink-dataplane: '{}' {}\n", config->appliance.name, control_server->Describe());
    fmt::print("replink-dataplane: '{}' ready: shims register at {}\n", config->appliance.name, config->shim.socket);
    std::fflush(stdout);

    std::atomic<bool> worker_done{false};
    std::thread control([&] {
      dataplane::ApplianceStats previous = (*worker)->Snapshot();
      auto next_print = std::chrono::steady_clock::now() + std::chrono::milliseconds(stats_interval_ms);
      while (!g_stop.load() && !worker_done.load()) {
        // One wait for both: a control request or a shim connecting ends it at once.
        int registrar_fd = registrar->fd();
        control_server->Poll(50, std::span(&registrar_fd, 1));
        registrar->Poll(0, **worker, setup.outbound);
        for (const auto& promotion : (*worker)->TakePromotions()) {
          const config::VmConfig* vm = nullptr;
          for (const auto& candidate : config->vms)
            if (candidate.id == promotion.vm_id) vm = &candidate;
          if (!promotion.error.empty() || vm == nullptr || vm->promote_command.empty()) continue;
          std::string command = dataplane::ExpandPromoteCommand(vm->promote_command, *vm, promotion.epoch);
          auto pid = dataplane::SpawnDetached(command);
          if (pid.ok())
            fmt::print("replink-dataplane: vm {}: resuming the guest: {} (pid {})\n", vm->id, command, *pid);
          else
            fmt::print(stderr, "replink-dataplane: vm {}: {}\n", vm->id, pid.error().Describe());
          std::fflush(stdout);
        }
        if (stats_interval_ms == 0 || std::chrono::steady_clock::now() < next_print) continue;
        next_print += std::chrono::milliseconds(stats_interval_ms);
        dataplane::ApplianceStats current = (*worker)->Snapshot();
        for (const std::string& line : dataplane::StatusLines(config->appliance.name, previous, current))
          fmt::print("{}\n", line);
        std::fflush(stdout);
        previous = std::move(current);
      }
    });
    (*worker)->Run(g_stop);
    worker_done.store(true);
    control.join();
    control_server.reset();  // before the worker it points to
    (*worker)->CloseReplicas();
    dataplane::ApplianceStats last = (*worker)->Snapshot();
    fmt::print("replink-dataplane: '{}' stopping: {} frames in, {} out, {} refused on receipt\n",
               config->appliance.name, last.worker.rx_frames, last.worker.tx_frames, last.rx_faults.Total());
    fmt::print("replink-dataplane: final {}\n", dataplane::StatsJson(config->appliance.name, last));
    std::fflush(stdout);
    worker->reset();
    faults.reset();  // holds mbufs of the port's pool: before the port
  }
  return rc;
}
