#include "dataplane/control/control_commands.h"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include "dataplane/appliance/appliance_setup.h"
#include "dataplane/control/failover_command.h"
#include "dataplane/control/worker_tasks.h"
#include "link/hello_exchange.h"

namespace replink::dataplane::control {
namespace {

using replink::control::ErrorBody;
using replink::control::Json;
using replink::control::OkBody;

Answer Fail(ControlErrc code, std::string_view message, const Json& details = nullptr) {
  return Answer{ErrorBody(code, message, details)};
}
Answer Fail(const Error& e) { return Fail(replink::control::ControlErrcFor(e.code), e.message); }

const ApplianceStats& Newest(CommandContext& ctx) {
  if (ctx.history.empty()) ctx.history.Add(ctx.worker->Snapshot());
  return ctx.history.newest();
}

// A value from the request as text ("9000" and 9000 are the same request).
std::optional<std::string> ValueText(const Json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_unsigned()) return std::to_string(v.get<uint64_t>());
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  if (v.is_number_float()) return v.dump();
  return std::nullopt;
}

OutboundTuning TuningFor(const CommandContext& ctx, const LinkSettings& s) {
  OutboundTuning t = *ctx.registration_tuning;
  t.rate_bps = uint64_t{s.rate_mbps} * 1'000'000;
  t.batch = s.batch_size;
  t.codec = CodecSettingFor(s.codec);
  t.delta_cache_mib = s.delta_cache_mib;
  t.send_window = s.window >= t.window ? 0 : s.window;
  t.mtu = s.mtu >= ctx.port_mtu ? 0 : s.mtu;
  t.failure_timeout_ns = uint64_t{s.failure_timeout_ms} * 1'000'000;
  return t;
}

// Liveness thresholds in heartbeat intervals, as at start (appliance_setup.cc SessionFor).
RetuneTask::SessionTiming TimingFor(const LinkSettings& s) {
  RetuneTask::SessionTiming t;
  t.heartbeat_interval_us = std::max<uint32_t>(s.heartbeat_interval_ms * 1000, link::kMinHeartbeatUs);
  uint32_t intervals = std::max<uint32_t>(1, s.failure_timeout_ms / std::max<uint32_t>(1, s.heartbeat_interval_ms));
  t.down_after = std::max<uint32_t>(2, intervals);
  t.suspect_after = std::max<uint32_t>(1, std::min(3u, t.down_after - 1));
  return t;
}

Answer Status(CommandContext& ctx) {
  Json j = StatusReport(ctx.report, Newest(ctx));
  j["endpoints"] = ctx.endpoints;
  return Answer{OkBody(j)};
}

Answer Stats(CommandContext& ctx) {
  const ApplianceStats& now = Newest(ctx);
  return Answer{OkBody(StatsReport(ctx.report, ctx.history.baseline(1'000'000'000), now))};
}

CommandOutcome LinkSet(CommandContext& ctx, const Json& args, uint64_t now_ns) {
  std::map<std::string, std::string> changes;
  for (auto it = args.begin(); it != args.end(); ++it) {
    auto text = ValueText(it.value());
    if (!text) return Fail(ControlErrc::kInvalidArgument, fmt::format("{}: the value must be a number or a word", it.key()));
    changes[it.key()] = *text;
  }
  if (changes.empty())
    return Fail(ControlErrc::kInvalidArgument, "nothing to set: give one or more NAME=VALUE (see 'link show')");
  SettingLimits limits = CurrentLimits(ctx);
  auto next = ApplyChanges(ctx.settings, changes, limits);
  if (!next.ok()) {
    Json ranges = Json::object();
    for (const SettingDescription& d : DescribeSettings(limits)) ranges[d.name] = d.range;
    return Fail(ControlErrc::kInvalidArgument, next.error().message, Json{{"ranges", ranges}});
  }
  LinkSettings before = ctx.settings;
  LinkSettings after = *next;
  // Everything that may fail is done here, before the worker sees anything: the new delta caches
  // (one per stream, allocated off the worker) and the HELLO with the new heartbeat offer.
  std::map<uint32_t, codec::DeltaCache> caches;
  if (after.delta_cache_mib != before.delta_cache_mib) {
    for (const OutboundStats& o : Newest(ctx).outbound) {
      auto cache = codec::DeltaCache::Create(after.delta_cache_mib);
      if (!cache.ok()) return Fail(ControlErrc::kInvalidArgument, fmt::format("delta_cache_mib: {}", cache.error().Describe()));
      caches.emplace(o.id, std::move(cache).value());
    }
  }
  std::optional<RetuneTask::SessionTiming> timing;
  if (after.heartbeat_interval_ms != before.heartbeat_interval_ms || after.failure_timeout_ms != before.failure_timeout_ms)
    timing = TimingFor(after);
  OutboundTuning tuning = TuningFor(ctx, after);
  auto task = std::make_shared<RetuneTask>(tuning, std::move(caches), timing);
  if (auto posted = ctx.worker->Post(task); !posted.ok()) return Fail(posted.error());
  PendingAnswer pending;
  pending.ready = [task](const CommandContext&) { return task->done(); };
  pending.deadline_ns = now_ns + uint64_t(ctx.worker_timeout_ms) * 1'000'000;
  pending.finish = [task, before, after, tuning](CommandContext& c, bool completed) -> Answer {
    if (!completed)
      return Fail(ControlErrc::kTimeout, "the worker has not applied the change yet (is it running?); "
                                         "'link show' tells when it has");
    if (!task->outcome().ok()) return Fail(task->outcome().error());
    c.settings = after;
    uint32_t allocated = c.registration_tuning->window;
    *c.registration_tuning = tuning;  // shims registering from now on get the new settings too
    c.registration_tuning->window = allocated;
    (void)task->TakeOldCaches();      // unmapped here, on the control thread
    Json changed = Json::object();
    auto old_values = SettingValues(before);
    for (const auto& [name, value] : SettingValues(after))
      if (old_values[name] != value) changed[name] = {{"from", old_values[name]}, {"to", value}};
    Json notes = Json::array();
    if (after.heartbeat_interval_ms != before.heartbeat_interval_ms)
      notes.push_back("heartbeat: offered to the peer in a HELLO; the agreed interval is the shorter of both offers");
    if (after.delta_cache_mib != before.delta_cache_mib)
      notes.push_back("delta_cache_mib: each stream starts with an empty cache; deltas resume as pages are re-sent");
    if (after.mtu != before.mtu)
      notes.push_back("mtu: applies to frames built from now on; retransmissions keep their size");
    return Answer{OkBody(Json{{"changed", changed},
                              {"values", SettingValues(after)},
                              {"streams_retuned", task->retuned_streams()},
                              {"notes", notes}})};
  };
  return pending;
}

// "vm" argument: an id or a name (configured, or reported by a registered shim).
Result<uint32_t> ResolveVm(CommandContext& ctx, const Json& args) {
  auto vm = args.find("vm");
  if (vm == args.end()) return MakeError(Errc::kInvalidArgument, "which VM? give its id or name");
  if (vm->is_number_unsigned() && vm->get<uint64_t>() > 0 && vm->get<uint64_t>() <= UINT32_MAX)
    return static_cast<uint32_t>(vm->get<uint64_t>());
  if (!vm->is_string()) return MakeError(Errc::kInvalidArgument, "vm must be an id (1 .. 2^32-1) or a name");
  std::string name = vm->get<std::string>();
  uint64_t id = 0;
  auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), id);
  if (!name.empty() && ec == std::errc() && end == name.data() + name.size() && id > 0 && id <= UINT32_MAX)
    return static_cast<uint32_t>(id);
  for (const config::VmConfig& c : ctx.config->vms)
    if (c.name == name) return c.id;
  for (const OutboundStats& o : Newest(ctx).outbound)
    if (o.name == name) return o.id;
  return MakeError(Errc::kInvalidArgument, "no VM named '{}' (see 'vm list')", name);
}

Answer VmList(CommandContext& ctx) {
  const ApplianceStats& now = Newest(ctx);
  Json vms = Json::array();
  auto configured = [&](uint32_t id) {
    return std::any_of(ctx.config->vms.begin(), ctx.config->vms.end(), [&](const auto& v) { return v.id == id; });
  };
  auto unprotected = [&](uint32_t id) {
    return std::find(now.unprotected.begin(), now.unprotected.end(), id) != now.unprotected.end();
  };
  for (const OutboundStats& o : now.outbound)
    vms.push_back({{"id", o.id}, {"name", o.name}, {"role", "primary"}, {"state", o.state},
                   {"configured", configured(o.id)}, {"last_committed_epoch", o.last_committed_epoch},
                   {"last_commit_age_ms", o.counters.epochs_committed ? Json(double(o.last_commit_age_ns) / 1e6) : Json()}});
  for (const InboundStats& i : now.inbound) {
    std::string name;
    for (const config::VmConfig& c : ctx.config->vms)
      if (c.id == i.id) name = c.name;
    vms.push_back({{"id", i.id}, {"name", name}, {"role", "secondary"},
                   {"state", i.promoted ? "promoted" : i.rejecting ? "resynchronising" : "replicating"}, {"configured", configured(i.id)},
                   {"last_committed_epoch", i.committed_epoch},
                   {"last_commit_age_ms", i.counters.epochs_committed ? Json(double(i.last_commit_age_ns) / 1e6) : Json()}});
  }
  for (const config::VmConfig& c : ctx.config->vms) {
    bool active = std::any_of(vms.begin(), vms.end(), [&](const Json& v) { return v["id"] == c.id; });
    if (active) continue;
    vms.push_back({{"id", c.id}, {"name", c.name}, {"role", "none"},
                   {"state", unprotected(c.id) ? "unprotected" : "idle"}, {"configured", true},
                   {"last_committed_epoch", nullptr}, {"last_commit_age_ms", nullptr}});
  }
  return Answer{OkBody(Json{{"vms", vms}})};
}

template <typename Task>
CommandOutcome VmProtection(CommandContext& ctx, const Json& args, uint64_t now_ns, bool protect) {
  auto id = ResolveVm(ctx, args);
  if (!id.ok()) return Fail(id.error());
  bool configured = std::any_of(ctx.config->vms.begin(), ctx.config->vms.end(), [&](const auto& v) { return v.id == *id; });
  if (protect && !configured)
    return Fail(ControlErrc::kUnsupported,
                fmt::format("vm {} has no [[vm]] entry in {}: adding VMs at run time is not supported (add the entry and "
                            "restart the dataplane)",
                            *id, ctx.config->source.path));
  auto task = std::make_shared<Task>(*id);
  if (auto posted = ctx.worker->Post(task); !posted.ok()) return Fail(posted.error());
  PendingAnswer pending;
  pending.ready = [task](const CommandContext&) { return task->done(); };
  pending.deadline_ns = now_ns + uint64_t(ctx.worker_timeout_ms) * 1'000'000;
  uint32_t vm = *id;
  pending.finish = [task, vm, protect](CommandContext&, bool completed) -> Answer {
    if (!completed) return Fail(ControlErrc::kTimeout, "the worker has not handled the request yet (is it running?)");
    if (!task->outcome().ok()) return Fail(task->outcome().error());
    return Answer{OkBody(Json{{"vm", vm}, {"protected", protect}, {"message", *task->outcome()}})};
  };
  return pending;
}

}  // namespace

SettingLimits CurrentLimits(const CommandContext& ctx) {
  SettingLimits limits;
  limits.mtu_max = ctx.port_mtu;
  if (!ctx.history.empty() && ctx.history.newest().agreed_mtu != 0)
    limits.mtu_max = std::min(limits.mtu_max, ctx.history.newest().agreed_mtu);
  limits.mtu_max = std::max(limits.mtu_max, kMinLinkMtu);
  limits.window_max = ctx.registration_tuning->window;
  return limits;
}

Json SettingsReport(const CommandContext& ctx) {
  SettingLimits limits = CurrentLimits(ctx);
  auto values = SettingValues(ctx.settings);
  Json list = Json::array();
  for (const SettingDescription& d : DescribeSettings(limits))
    list.push_back({{"name", d.name}, {"value", values[d.name]}, {"range", d.range}, {"effect", d.effect}});
  Json negotiated = nullptr;
  if (!ctx.history.empty() && ctx.history.newest().agreed_mtu != 0) {
    const ApplianceStats& s = ctx.history.newest();
    negotiated = {{"mtu", s.agreed_mtu}, {"window", s.agreed_window},
                  {"heartbeat_ms", double(s.agreed_heartbeat_ns) / 1e6}};
  }
  return Json{{"values", values},
              {"settings", list},
              {"negotiated", negotiated},
              {"port_mtu", ctx.port_mtu},
              {"encapsulation", std::string(config::EncapsulationName(ctx.config->port.encapsulation))},
              {"read_only", {{"credits", "advertised by each receiver from its free buffers (see stats: flow.credits)"}}}};
}

CommandOutcome RunCommand(CommandContext& ctx, const ControlRequest& request, uint64_t now_ns) {
  const std::string& c = request.command;
  if (c == "status") return Status(ctx);
  if (c == "stats") return Stats(ctx);
  if (c == "link.show") return Answer{OkBody(SettingsReport(ctx))};
  if (c == "link.set") return LinkSet(ctx, request.args, now_ns);
  if (c == "vm.list") return VmList(ctx);
  if (c == "vm.protect") return VmProtection<ProtectTask>(ctx, request.args, now_ns, true);
  if (c == "vm.unprotect") return VmProtection<UnprotectTask>(ctx, request.args, now_ns, false);
  if (c == "failover") return Failover(ctx, request.args, now_ns);
  return Fail(ControlErrc::kNotFound, fmt::format("unknown command '{}'", c));
}

}  // namespace replink::dataplane::control
