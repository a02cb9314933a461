#include "dataplane/control/failover_command.h"

#include <fmt/format.h>

#include "link/peer_liveness.h"

namespace replink::dataplane::control {
namespace {

using replink::control::ErrorBody;
using replink::control::Json;
using replink::control::OkBody;

// Runs on the worker: checks the peer and promotes the chosen replicas.
class PromoteTask final : public WorkerTask {
 public:
  explicit PromoteTask(std::optional<uint32_t> vm) : vm_(vm) {}

  void Run(LinkWorker& worker, uint64_t now_ns) override {
    (void)now_ns;
    link::Liveness peer = worker.session().liveness().state();
    if (worker.session().established() && (peer == link::Liveness::kUp || peer == link::Liveness::kSuspect)) {
      error_ = MakeError(Errc::kState,
                         "the primary is still reachable (peer {}): promoting now would split the brain. Stop the "
                         "primary first, or wait until the peer is declared down",
                         link::LivenessName(peer));
      return;
    }
    std::vector<uint32_t> targets;
    for (const auto& [id, in] : worker.inbound_streams())
      if (!vm_ || *vm_ == id) targets.push_back(id);
    if (targets.empty()) {
      error_ = vm_ ? MakeError(Errc::kState, "no replica of vm {} is open on this appliance (its primary has not "
                               "opened the stream since this dataplane started)", *vm_)
                   : MakeError(Errc::kState, "this appliance holds no open replica to promote");
      return;
    }
    for (uint32_t id : targets) {
      const auto& in = worker.inbound_streams().at(id);
      bool already = in->promoted();
      if (!already) worker.Promote(id, "operator request (replinkctl failover --force)");
      results_.push_back({id, in->promoted(), already, in->store().committed_epoch()});
    }
  }

  struct Outcome {
    uint32_t vm;
    bool promoted;
    bool already;
    uint64_t epoch;
  };
  const std::optional<Error>& error() const { return error_; }
  const std::vector<Outcome>& results() const { return results_; }

 private:
  std::optional<uint32_t> vm_;
  std::optional<Error> error_;
  std::vector<Outcome> results_;
};

Answer Refuse(ControlErrc code, std::string_view message, const Json& details = nullptr) {
  return Answer{ErrorBody(code, message, details)};
}

Answer Planned(CommandContext& ctx) {
  const ApplianceStats& now = ctx.history.newest();
  if (now.outbound.empty())
    return Refuse(ControlErrc::kBadState,
                  now.inbound.empty() ? "no VM is protected from this appliance: a planned switch-over starts on the primary"
                                      : "this appliance is the secondary: a planned switch-over starts on the primary "
                                        "(a forced promotion here is 'failover --force --yes')");
  Json readiness = Json::array();
  for (const OutboundStats& o : now.outbound)
    readiness.push_back({{"vm", o.id}, {"name", o.name}, {"state", o.state},
                         {"epochs_sent", o.counters.epochs_sent}, {"epochs_committed", o.counters.epochs_committed},
                         {"last_committed_epoch", o.last_committed_epoch}});
  return Refuse(ControlErrc::kUnsupported,
                "a planned switch-over is not supported yet: the link protocol has no message asking the peer to "
                "promote. By hand: stop each VM's shim once its epochs are committed ('replinkctl vm unprotect VM' "
                "here), then run 'replinkctl failover --force --yes' on the secondary",
                Json{{"vms", readiness}});
}

}  // namespace

CommandOutcome Failover(CommandContext& ctx, const Json& args, uint64_t now_ns) {
  if (ctx.history.empty()) ctx.history.Add(ctx.worker->Snapshot());
  std::string mode = "planned";
  if (auto m = args.find("mode"); m != args.end()) {
    if (!m->is_string() || (*m != "planned" && *m != "forced"))
      return Refuse(ControlErrc::kInvalidArgument, "mode must be 'planned' or 'forced'");
    mode = m->get<std::string>();
  }
  if (mode == "planned") return Planned(ctx);
  auto confirm = args.find("confirm");
  if (confirm == args.end() || !confirm->is_boolean() || !confirm->get<bool>())
    return Refuse(ControlErrc::kInvalidArgument,
                  "a forced promotion makes this appliance's replica the live VM and refuses the old primary from "
                  "then on: repeat with --yes to confirm");
  std::optional<uint32_t> vm;
  if (auto v = args.find("vm"); v != args.end()) {
    if (!v->is_number_unsigned() || v->get<uint64_t>() == 0 || v->get<uint64_t>() > UINT32_MAX)
      return Refuse(ControlErrc::kInvalidArgument, "vm must be an id in [1, 2^32-1]");
    vm = static_cast<uint32_t>(v->get<uint64_t>());
  }
  auto task = std::make_shared<PromoteTask>(vm);
  if (auto posted = ctx.worker->Post(task); !posted.ok())
    return Refuse(replink::control::ControlErrcFor(posted.error().code), posted.error().message);
  PendingAnswer pending;
  pending.ready = [task](const CommandContext&) { return task->done(); };
  pending.deadline_ns = now_ns + uint64_t(ctx.worker_timeout_ms) * 1'000'000;
  pending.finish = [task](CommandContext& c, bool completed) -> Answer {
    if (!completed) return Refuse(ControlErrc::kTimeout, "the worker has not handled the promotion yet");
    if (task->error()) return Refuse(replink::control::ControlErrcFor(task->error()->code), task->error()->message);
    Json vms = Json::array();
    bool all = true;
    for (const auto& r : task->results()) {
      const config::VmConfig* vm_config = nullptr;
      for (const config::VmConfig& v : c.config->vms)
        if (v.id == r.vm) vm_config = &v;
      std::string resume = !r.promoted ? "the replica could not be closed cleanly: see the dataplane's log"
                           : vm_config && !vm_config->promote_command.empty()
                               ? "the dataplane runs the VM's promote_command to resume the guest"
                               : fmt::format("no promote_command configured: resume the guest from {} at epoch {}",
                                             vm_config ? vm_config->replica_dir : std::string("its replica"), r.epoch);
      all = all && r.promoted;
      vms.push_back({{"vm", r.vm}, {"promoted", r.promoted}, {"already_promoted", r.already}, {"epoch", r.epoch},
                     {"replica_dir", vm_config ? vm_config->replica_dir : ""}, {"resume", resume}});
    }
    if (!all) return Refuse(ControlErrc::kInternal, "not every replica could be promoted", Json{{"vms", vms}});
    return Answer{OkBody(Json{{"mode", "forced"}, {"vms", vms}})};
  };
  return pending;
}

}  // namespace replink::dataplane::control
