// replinkctl: the operator's command line for a running replink-dataplane, over its control socket
// (docs/PROTOCOL.md "Control protocol"). Human output by default, the dataplane's JSON with --json.
//
// Exit codes (stable, for scripts):
//   0  done
//   1  the dataplane refused or failed the command (wrong role or state, no such VM, timeout)
//   2  usage error, or a value the dataplane rejected as invalid (nothing was changed)
//   3  cannot reach the dataplane (no socket, permission denied, protocol error)
//   4  not supported by this dataplane (the message says what is missing)
//   5  config validate: the file has problems
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include <fmt/format.h>

#include "control/protocol/control_client.h"
#include "control/top_screen.h"
#include "control/views.h"
#include "dataplane/config/config_loader.h"

namespace {

using replink::control::ControlClient;
using replink::control::ControlErrc;
using replink::control::Json;

enum ExitCode : int { kOk = 0, kRefused = 1, kUsage = 2, kUnreachable = 3, kUnsupported = 4, kInvalidConfig = 5 };

struct Globals {
  std::string socket;
  std::string config;
  bool json = false;
  int timeout_ms = 5000;
};

int ExitFor(ControlErrc code) {
  switch (code) {
    case ControlErrc::kInvalidArgument: return kUsage;
    case ControlErrc::kUnsupported: return kUnsupported;
    case ControlErrc::kPermissionDenied:
    case ControlErrc::kProtocol: return kUnreachable;
    default: return kRefused;
  }
}

std::string SocketPath(const Globals& g, std::string* problem) {
  if (!g.socket.empty()) return g.socket;
  if (!g.config.empty()) {
    auto config = replink::config::LoadConfig(g.config);
    if (!config.ok()) {
      *problem = config.error().message;
      return "";
    }
    return config->control.socket;
  }
  if (const char* env = std::getenv("REPLINK_CONTROL_SOCKET"); env != nullptr && *env != '\0') return env;
  return "/run/replink/control.sock";
}

// A failure before any answer: on stderr, and as an error document on stdout with --json.
int Unreachable(const Globals& g, const std::string& message) {
  if (g.json)
    fmt::print("{}\n", Json{{"ok", false}, {"error", {{"code", "unreachable"}, {"message", message}}}}.dump(2));
  fmt::print(stderr, "replinkctl: cannot reach the dataplane: {}\n", message);
  return kUnreachable;
}

// Sends one command and prints its answer (JSON or rendered); returns the exit code.
int Run(const Globals& g, std::string_view command, const Json& args, std::string (*render)(const Json&)) {
  std::string problem;
  std::string path = SocketPath(g, &problem);
  if (path.empty()) {
    fmt::print(stderr, "replinkctl: {}\n", problem);
    return kUsage;
  }
  auto client = ControlClient::Connect(path, g.timeout_ms);
  if (!client.ok()) return Unreachable(g, client.error().message);
  auto reply = client->Call(command, args, g.timeout_ms);
  if (!reply.ok()) {
    if (reply.error().code != replink::Errc::kTimeout) return Unreachable(g, reply.error().Describe());
    fmt::print(stderr, "replinkctl: {}: {}\n", command, reply.error().Describe());
    return kRefused;
  }
  if (!reply->ok) {
    if (g.json) {
      Json error{{"code", replink::control::ControlErrcName(reply->code)}, {"message", reply->message}};
      if (!reply->details.is_null()) error["details"] = reply->details;
      fmt::print("{}\n", Json{{"ok", false}, {"error", error}}.dump(2, ' ', false, Json::error_handler_t::replace));
    }
    fmt::print(stderr, "replinkctl: {}: {}\n", replink::control::ControlErrcName(reply->code), reply->message);
    return ExitFor(reply->code);
  }
  if (g.json) {
    fmt::print("{}\n", reply->result.dump(2, ' ', false, Json::error_handler_t::replace));
  } else {
    fmt::print("{}", render(reply->result));
  }
  return kOk;
}

int Top(const Globals& g, const replink::control::TopOptions& options) {
  std::string problem;
  std::string path = SocketPath(g, &problem);
  if (path.empty()) {
    fmt::print(stderr, "replinkctl: {}\n", problem);
    return kUsage;
  }
  auto client = ControlClient::Connect(path, g.timeout_ms);
  if (!client.ok()) return Unreachable(g, client.error().message);
  auto ran = replink::control::RunTop(*client, options);
  if (!ran.ok()) {
    fmt::print(stderr, "replinkctl: top: {}\n", ran.error().Describe());
    return kUnreachable;
  }
  return kOk;
}

// LoadConfig lists every problem on its own line under a summary line.
Json ProblemLines(const std::string& message) {
  Json lines = Json::array();
  std::size_t start = 0;
  while (start <= message.size()) {
    std::size_t end = message.find('\n', start);
    std::string line = message.substr(start, end == std::string::npos ? std::string::npos : end - start);
    std::size_t first = line.find_first_not_of(' ');
    if (first != std::string::npos && !(start == 0 && line.find(" problem") != std::string::npos))
      lines.push_back(line.substr(first));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return lines;
}

int ValidateConfig(const Globals& g, const std::string& file) {
  auto config = replink::config::LoadConfig(file);
  if (g.json) {
    Json j = config.ok() ? Json{{"file", file}, {"valid", true}, {"appliance", config->appliance.name},
                                {"vms", config->vms.size()}, {"control_socket", config->control.socket}}
                         : Json{{"file", file}, {"valid", false}, {"problems", ProblemLines(config.error().message)}};
    fmt::print("{}\n", j.dump(2, ' ', false, Json::error_handler_t::replace));
  } else if (config.ok()) {
    fmt::print("{}: valid: appliance '{}' (id {}), peer id {}, {} [[vm]], port {}, control socket {}\n", file,
               config->appliance.name, config->appliance.id, config->peer.id, config->vms.size(),
               config->port.DeviceName(), config->control.socket);
  } else {
    fmt::print(stderr, "{}\n", config.error().message);
  }
  return config.ok() ? kOk : kInvalidConfig;
}

}  // namespace

int main(int argc, char** argv) {
  Globals g;
  CLI::App app{"replinkctl: inspect and control a running replink-dataplane"};
  app.require_subcommand(1);
  app.fallthrough();  // global options also after the subcommand: `replinkctl stats --json`
  app.add_option("-s,--socket", g.socket, "Control socket (default: [control] socket of --config, "
                                          "$REPLINK_CONTROL_SOCKET, /run/replink/control.sock)");
  app.add_option("-c,--config", g.config, "Appliance configuration to take the control socket from");
  app.add_flag("--json", g.json, "Print the dataplane's JSON answer (for scripts)");
  app.add_option("--timeout", g.timeout_ms, "Milliseconds to wait for the dataplane")->check(CLI::Range(100, 600000));

  auto* status = app.add_subcommand("status", "Roles, link and peer state, each VM and its last commit");
  auto* stats = app.add_subcommand("stats", "Counters and rates per link and per VM (one shot)");
  auto* top = app.add_subcommand("top", "Live statistics, refreshed every second (q quits)");
  replink::control::TopOptions top_options;
  top->add_option("--interval", top_options.interval_ms, "Refresh interval in ms")->check(CLI::Range(100, 60000));
  top->add_option("--count", top_options.count, "Stop after this many screens (0 = run until quit)");

  auto* link = app.add_subcommand("link", "Link settings");
  link->require_subcommand(1);
  link->fallthrough();
  auto* link_show = link->add_subcommand("show", "Current settings, their ranges and what changing them does");
  auto* link_set = link->add_subcommand("set", "Change settings at run time: NAME=VALUE ... (all or nothing)");
  std::vector<std::string> assignments;
  link_set->add_option("settings", assignments, "mtu, rate_mbps, batch_size, drain_interval_us, codec, "
                                                "delta_cache_mib, window, heartbeat_interval_ms, failure_timeout_ms")
      ->required();

  auto* vm = app.add_subcommand("vm", "Protected VMs");
  vm->require_subcommand(1);
  vm->fallthrough();
  auto* vm_list = vm->add_subcommand("list", "Every VM this appliance protects, replicates or is configured for");
  std::string vm_name;
  auto* vm_protect = vm->add_subcommand("protect", "Allow a VM's shim to register (again) on the primary");
  vm_protect->add_option("vm", vm_name, "VM id or name")->required();
  auto* vm_unprotect = vm->add_subcommand("unprotect", "Stop protecting a VM: its shim is told to stop");
  vm_unprotect->add_option("vm", vm_name, "VM id or name")->required();

  auto* failover = app.add_subcommand("failover", "Planned switch-over (on the primary) or forced promotion "
                                                  "(--force --yes, on the secondary)");
  bool force = false, yes = false;
  uint32_t failover_vm = 0;
  failover->add_flag("--force", force, "Promote this appliance's replicas now (the secondary)");
  failover->add_flag("--yes", yes, "Confirm a forced promotion");
  failover->add_option("--vm", failover_vm, "Only this VM (default: every replica here)");

  auto* config = app.add_subcommand("config", "Configuration files");
  config->require_subcommand(1);
  config->fallthrough();
  std::string config_file;
  auto* validate = config->add_subcommand("validate", "Check an appliance configuration (no dataplane needed)");
  validate->add_option("file", config_file, "TOML file")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? kOk : kUsage;
  }

  if (*status) return Run(g, "status", Json::object(), replink::control::RenderStatus);
  if (*stats) return Run(g, "stats", Json::object(), replink::control::RenderStats);
  if (*top) return Top(g, top_options);
  if (*link_show) return Run(g, "link.show", Json::object(), replink::control::RenderLinkShow);
  if (*link_set) {
    Json args = Json::object();
    for (const std::string& a : assignments) {
      std::size_t eq = a.find('=');
      if (eq == std::string::npos || eq == 0) {
        fmt::print(stderr, "replinkctl: link set: '{}' is not NAME=VALUE\n", a);
        return kUsage;
      }
      args[a.substr(0, eq)] = a.substr(eq + 1);
    }
    return Run(g, "link.set", args, replink::control::RenderLinkSet);
  }
  if (*vm_list) return Run(g, "vm.list", Json::object(), replink::control::RenderVmList);
  if (*vm_protect || *vm_unprotect) {
    auto render = +[](const Json& r) { return replink::control::Text(replink::control::Member(r, {"message"})) + "\n"; };
    return Run(g, *vm_protect ? "vm.protect" : "vm.unprotect", Json{{"vm", vm_name}}, render);
  }
  if (*failover) {
    if (yes && !force) {
      fmt::print(stderr, "replinkctl: failover: --yes confirms --force; a planned switch-over needs neither\n");
      return kUsage;
    }
    Json args{{"mode", force ? "forced" : "planned"}, {"confirm", yes}};
    if (failover_vm != 0) args["vm"] = failover_vm;
    return Run(g, "failover", args, replink::control::RenderFailover);
  }
  if (*validate) return ValidateConfig(g, config_file);
  return kUsage;
}
