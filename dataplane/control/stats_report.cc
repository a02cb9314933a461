#include "dataplane/control/stats_report.h"

#include <cmath>

#include "codec/page_codec.h"

namespace replink::dataplane::control {
namespace {

constexpr uint64_t kKeepNs = 4'000'000'000ULL;

template <typename T>
const T* FindById(const std::vector<T>& items, uint32_t id) {
  for (const T& t : items)
    if (t.id == id) return &t;
  return nullptr;
}

double PerSecond(uint64_t now, uint64_t before, double seconds) {
  return seconds > 0 && now >= before ? double(now - before) / seconds : 0.0;
}

double Gbps(uint64_t now_bytes, uint64_t before_bytes, double seconds) {
  return PerSecond(now_bytes, before_bytes, seconds) * 8 / 1e9;
}

// Three significant decimals are plenty for humans and keep the JSON small.
double Round3(double v) { return std::round(v * 1000.0) / 1000.0; }

// null when nothing was ever committed (an age of 0 is a commit in the snapshot's own round).
Json AgeMs(uint64_t age_ns, bool committed) {
  return committed ? Json(Round3(double(age_ns) / 1e6)) : Json(nullptr);
}

std::string VmName(const config::ApplianceConfig* config, uint32_t id) {
  if (config != nullptr)
    for (const config::VmConfig& vm : config->vms)
      if (vm.id == id) return vm.name;
  return "";
}

const char* CodecName(std::size_t c) {
  switch (static_cast<codec::CodecId>(c)) {
    case codec::CodecId::kRaw: return "raw";
    case codec::CodecId::kZero: return "zero";
    case codec::CodecId::kXorDelta: return "xor-delta";
    case codec::CodecId::kLz4: return "lz4";
    default: return "other";
  }
}

Json Compression(const OutboundStats& o) {
  Json by_codec = Json::object();
  for (std::size_t c = 0; c < codec::kCodecCount; ++c) {
    const CodecUse& u = o.codecs[c];
    double ratio = u.bytes_out > 0 ? double(u.pages) * double(codec::kPageSize) / double(u.bytes_out) : 0.0;
    by_codec[CodecName(c)] = {{"pages", u.pages}, {"payload_bytes", u.bytes_out}, {"ratio", Round3(ratio)}};
  }
  double ratio = o.counters.payload_bytes > 0 ? double(o.counters.page_bytes) / double(o.counters.payload_bytes) : 0;
  return {{"ratio", Round3(ratio)}, {"by_codec", by_codec}};
}

Json OutboundEntry(const OutboundStats& o, const OutboundStats* before, double seconds, bool detail) {
  const OutboundCounters& c = o.counters;
  OutboundCounters b = before ? before->counters : OutboundCounters{};
  Json vm = {{"id", o.id},
             {"name", o.name},
             {"role", "primary"},
             {"state", o.state},
             {"last_committed_epoch", o.last_committed_epoch},
             {"last_commit_age_ms", AgeMs(o.last_commit_age_ns, o.counters.epochs_committed > 0)}};
  Json rates = {{"epochs_per_s", Round3(PerSecond(c.epochs_committed, b.epochs_committed, seconds))},
                {"pages_per_s", Round3(PerSecond(c.pages, b.pages, seconds))},
                {"payload_gbps", Round3(Gbps(c.page_bytes, b.page_bytes, seconds))},
                {"wire_gbps", Round3(Gbps(c.wire_bytes, b.wire_bytes, seconds))},
                {"retransmits_per_s", Round3(PerSecond(c.retransmits, b.retransmits, seconds))}};
  vm["rates"] = rates;
  vm["commit_latency_us"] = {{"p50", o.commit_p50_us}, {"p99", o.commit_p99_us}, {"p999", o.commit_p999_us},
                             {"max", o.commit_max_us}, {"count", o.commits}};
  if (!detail) return vm;
  vm["totals"] = {{"epochs_sent", c.epochs_sent},       {"epochs_committed", c.epochs_committed},
                  {"epochs_failed", c.epochs_failed},   {"catch_up_epochs", c.catch_up_epochs},
                  {"records", c.records},               {"pages", c.pages},
                  {"zero_pages", c.zero_pages},         {"page_bytes", c.page_bytes},
                  {"payload_bytes", c.payload_bytes},   {"blob_bytes", c.blob_bytes},
                  {"disk_bytes", c.disk_bytes},         {"frames", c.frames},
                  {"wire_bytes", c.wire_bytes},         {"retransmits", c.retransmits},
                  {"open_attempts", c.open_attempts},   {"open_refusals", c.open_refusals},
                  {"peer_losses", c.peer_losses}};
  vm["retransmits"] = {{"total", c.retransmits},
                       {"fast", o.sender.fast_retransmits},
                       {"timeout", o.sender.timeout_retransmits},
                       {"rto_expirations", o.sender.rto_expirations},
                       {"probes", o.sender.probes_sent}};
  vm["stalls"] = {{"window", c.window_stalls}, {"pacer", c.pacer_stalls}, {"mbuf_exhausted", c.mbuf_exhausted},
                  {"completion_ring_full", c.completion_retries}};
  vm["compression"] = Compression(o);
  double occupancy = o.slot_count > 0 ? double(o.slots_in_use) / double(o.slot_count) : 0.0;
  vm["ring"] = {{"pending_descriptors", o.ring_pending},
                {"slots_in_use", o.slots_in_use},
                {"slot_count", o.slot_count},
                {"occupancy", Round3(occupancy)}};
  vm["flow"] = {{"frames_in_flight", o.frames_in_flight},
                {"credits", o.credit_limit},
                {"rtt_us", Round3(double(o.rtt_ns) / 1e3)}};
  vm["commit_latency_us"]["sum"] = o.commit_sum_us;
  // The shim measures how long the guest was paused per sync; it does not report it to the
  // dataplane (yet), so it is absent here rather than guessed.
  vm["pause_per_sync_us"] = nullptr;
  vm["last_loss"] = o.last_loss;
  vm["last_refusal"] = o.last_refusal;
  return vm;
}

Json InboundEntry(const ReportContext& ctx, const InboundStats& i, const InboundStats* before, double seconds,
                  bool detail) {
  const InboundCounters& c = i.counters;
  InboundCounters b = before ? before->counters : InboundCounters{};
  Json vm = {{"id", i.id},
             {"name", VmName(ctx.config, i.id)},
             {"role", "secondary"},
             {"state", i.promoted ? "promoted" : i.rejecting ? "resynchronising" : "replicating"},
             {"last_committed_epoch", i.committed_epoch},
             {"last_commit_age_ms", AgeMs(i.last_commit_age_ns, i.counters.epochs_committed > 0)}};
  vm["rates"] = {{"epochs_per_s", Round3(PerSecond(c.epochs_committed, b.epochs_committed, seconds))},
                 {"pages_per_s", Round3(PerSecond(c.pages, b.pages, seconds))},
                 {"payload_gbps", Round3(Gbps(c.payload_bytes, b.payload_bytes, seconds))}};
  if (!detail) return vm;
  vm["totals"] = {{"frames", c.frames},
                  {"epochs_committed", c.epochs_committed},
                  {"catch_up_epochs", c.catch_up_epochs},
                  {"epochs_rejected", c.epochs_rejected},
                  {"pages", c.pages},
                  {"payload_bytes", c.payload_bytes},
                  {"acks_sent", c.acks_sent},
                  {"resets_requested", c.resets_requested},
                  {"opens", c.opens},
                  {"commit_ns_total", c.commit_ns_total}};
  vm["drops"] = {{"duplicate", c.duplicates}, {"out-of-window", c.out_of_window}};
  vm["commit_mean_us"] =
      c.epochs_committed > 0 ? Round3(double(c.commit_ns_total) / double(c.epochs_committed) / 1e3) : 0.0;
  vm["flow"] = {{"credits", i.credits}, {"staging_free_bytes", i.staging_free_bytes}};
  vm["durability"] = i.durability;
  vm["last_error"] = i.last_error;
  return vm;
}

Json LinkEntry(const ApplianceStats& now, const ApplianceStats* before, double seconds, bool detail) {
  uint64_t heard_ago = now.peer_last_heard_ns != 0 && now.taken_ns > now.peer_last_heard_ns
                           ? now.taken_ns - now.peer_last_heard_ns
                           : 0;
  Json link = {{"session", now.session},
               {"liveness", now.liveness},
               {"peer", now.peer_name},
               {"rtt_us", Round3(double(now.peer_rtt_ns) / 1e3)},
               {"last_heard_ms_ago", now.peer_last_heard_ns == 0 ? Json(nullptr) : Json(Round3(double(heard_ago) / 1e6))},
               {"agreed", {{"mtu", now.agreed_mtu},
                           {"window", now.agreed_window},
                           {"heartbeat_ms", Round3(double(now.agreed_heartbeat_ns) / 1e6)}}}};
  if (!detail) return link;
  const WorkerCounters& w = now.worker;
  WorkerCounters b = before ? before->worker : WorkerCounters{};
  link["totals"] = {{"rx_frames", w.rx_frames}, {"rx_bytes", w.rx_bytes}, {"tx_frames", w.tx_frames},
                    {"tx_bytes", w.tx_bytes},   {"stream_opens", w.stream_opens},
                    {"stream_open_refusals", w.stream_open_refusals}, {"streams_removed", w.streams_removed}};
  link["rates"] = {{"rx_gbps", Round3(Gbps(w.rx_bytes, b.rx_bytes, seconds))},
                   {"tx_gbps", Round3(Gbps(w.tx_bytes, b.tx_bytes, seconds))},
                   {"rx_frames_per_s", Round3(PerSecond(w.rx_frames, b.rx_frames, seconds))},
                   {"tx_frames_per_s", Round3(PerSecond(w.tx_frames, b.tx_frames, seconds))}};
  // Every frame this appliance dropped, by reason: refused on receipt (link/frame_fault.h), for an
  // unknown stream or a stale session, and what the port lost.
  Json drops = Json::object();
  for (std::size_t f = 1; f < link::kFrameFaultCount; ++f)
    drops[link::FrameFaultName(static_cast<link::FrameFault>(f))] = now.rx_faults.by_fault[f];
  drops["unknown-stream"] = w.unknown_stream;
  drops["session-refused"] = w.session_refused;
  drops["port-rx-missed"] = now.port.rx_missed;
  drops["port-rx-no-mbuf"] = now.port.rx_no_mbuf;
  drops["port-rx-errors"] = now.port.rx_errors;
  drops["port-tx-errors"] = now.port.tx_errors;
  drops["port-tx-dropped"] = now.port.tx_drops;
  link["drops"] = drops;
  const link::SessionCounters& s = now.session_counters;
  link["session_counters"] = {{"sessions", s.sessions},           {"peer_restarts", s.peer_restarts},
                              {"hellos_sent", s.hellos_sent},     {"hellos_received", s.hellos_received},
                              {"heartbeats_sent", s.heartbeats_sent}, {"heartbeats_received", s.heartbeats_received},
                              {"resets_sent", s.resets_sent},     {"resets_received", s.resets_received},
                              {"negotiation_failures", s.negotiation_failures}};
  double busy = w.rounds > b.rounds ? double(w.busy_rounds - b.busy_rounds) / double(w.rounds - b.rounds) : 0.0;
  link["worker"] = {{"rounds", w.rounds}, {"busy_share", Round3(busy)}, {"sleeps", w.sleeps},
                    {"slept_ms", Round3(double(w.slept_ns) / 1e6)}};
  return link;
}

Json Identity(const ReportContext& ctx, const ApplianceStats& now) {
  Json j = Json::object();
  if (ctx.config != nullptr) {
    j["name"] = ctx.config->appliance.name;
    j["id"] = ctx.config->appliance.id;
    j["peer_id"] = ctx.config->peer.id;
  }
  j["uptime_s"] = now.taken_ns > ctx.started_ns ? Round3(double(now.taken_ns - ctx.started_ns) / 1e9) : 0.0;
  j["taken_ns"] = now.taken_ns;
  return j;
}

Json Vms(const ReportContext& ctx, const ApplianceStats& now, const ApplianceStats* before, double seconds,
         bool detail) {
  Json vms = Json::array();
  for (const OutboundStats& o : now.outbound)
    vms.push_back(OutboundEntry(o, before ? FindById(before->outbound, o.id) : nullptr, seconds, detail));
  for (const InboundStats& i : now.inbound)
    vms.push_back(InboundEntry(ctx, i, before ? FindById(before->inbound, i.id) : nullptr, seconds, detail));
  return vms;
}

}  // namespace

void StatsHistory::Add(ApplianceStats stats) {
  if (!items_.empty() && stats.taken_ns <= items_.back().taken_ns) return;
  items_.push_back(std::move(stats));
  while (items_.size() > 2 && items_.back().taken_ns - items_.front().taken_ns > kKeepNs) items_.pop_front();
}

const ApplianceStats& StatsHistory::baseline(uint64_t span_ns) const {
  const ApplianceStats& last = items_.back();
  for (auto it = items_.rbegin(); it != items_.rend(); ++it)
    if (last.taken_ns - it->taken_ns >= span_ns) return *it;
  return items_.front();
}

Json StatusReport(const ReportContext& ctx, const ApplianceStats& now) {
  Json j = {{"appliance", Identity(ctx, now)}, {"link", LinkEntry(now, nullptr, 0, false)}};
  j["vms"] = Vms(ctx, now, nullptr, 0, false);
  // Every [[vm]] of the configuration with no stream here yet (shim not registered, or the peer
  // has not opened its replica): the operator sees configured-but-idle VMs too.
  Json idle = Json::array();
  if (ctx.config != nullptr)
    for (const config::VmConfig& vm : ctx.config->vms)
      if (!FindById(now.outbound, vm.id) && !FindById(now.inbound, vm.id)) idle.push_back({{"id", vm.id}, {"name", vm.name}});
  j["idle_vms"] = idle;
  j["unprotected_vms"] = now.unprotected;
  return j;
}

Json StatsReport(const ReportContext& ctx, const ApplianceStats& base, const ApplianceStats& now) {
  double seconds = now.taken_ns > base.taken_ns ? double(now.taken_ns - base.taken_ns) / 1e9 : 0.0;
  const ApplianceStats* before = seconds > 0 ? &base : nullptr;
  Json j = {{"appliance", Identity(ctx, now)}, {"interval_s", Round3(seconds)}};
  j["link"] = LinkEntry(now, before, seconds, true);
  j["vms"] = Vms(ctx, now, before, seconds, true);
  return j;
}

void FlattenJson(const Json& value, const std::string& prefix, Json& out) {
  if (value.is_object()) {
    for (auto it = value.begin(); it != value.end(); ++it)
      FlattenJson(it.value(), prefix.empty() ? it.key() : prefix + "." + it.key(), out);
  } else if (value.is_array()) {
    for (std::size_t i = 0; i < value.size(); ++i) FlattenJson(value[i], prefix + "." + std::to_string(i), out);
  } else {
    out[prefix] = value;
  }
}

}  // namespace replink::dataplane::control
