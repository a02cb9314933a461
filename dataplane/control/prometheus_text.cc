#include "dataplane/control/prometheus_text.h"

#include <map>
#include <vector>

#include <fmt/format.h>

#include "codec/page_codec.h"

namespace replink::dataplane::control {
namespace {

using Labels = std::vector<std::pair<std::string, std::string>>;

// Collects samples by family so each family is written once, samples together, in a stable order.
class Exposition {
 public:
  void Add(const std::string& name, const char* type, const char* help, const Labels& labels, double value,
           const char* suffix = "") {
    Family& f = families_[name];
    if (f.type.empty()) {
      f.type = type;
      f.help = help;
    }
    f.samples.push_back(fmt::format("{}{}{} {}", name, suffix, FormatLabels(labels), FormatValue(value)));
  }
  void Counter(const std::string& name, const char* help, const Labels& labels, uint64_t value) {
    Add(name, "counter", help, labels, double(value));
  }
  void Gauge(const std::string& name, const char* help, const Labels& labels, double value) {
    Add(name, "gauge", help, labels, value);
  }
  std::string Render() const {
    std::string out;
    for (const auto& [name, f] : families_) {
      out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, f.help, name, f.type);
      for (const std::string& s : f.samples) out += s + "\n";
    }
    return out;
  }

 private:
  struct Family {
    std::string type, help;
    std::vector<std::string> samples;
  };
  static std::string FormatLabels(const Labels& labels) {
    if (labels.empty()) return "";
    std::string out = "{";
    for (std::size_t i = 0; i < labels.size(); ++i)
      out += fmt::format("{}{}=\"{}\"", i ? "," : "", labels[i].first, EscapeLabelValue(labels[i].second));
    return out + "}";
  }
  static std::string FormatValue(double v) {
    if (v == double(uint64_t(v)) && v < 1e15) return fmt::format("{}", uint64_t(v));
    return fmt::format("{}", v);
  }
  std::map<std::string, Family> families_;
};

const char* CodecLabel(std::size_t c) {
  switch (static_cast<codec::CodecId>(c)) {
    case codec::CodecId::kRaw: return "raw";
    case codec::CodecId::kZero: return "zero";
    case codec::CodecId::kXorDelta: return "xor-delta";
    case codec::CodecId::kLz4: return "lz4";
    default: return "other";
  }
}

void LinkMetrics(Exposition& e, const ApplianceStats& s) {
  e.Gauge("replink_link_established", "1 while the link session with the peer is established", {},
          s.session == "established" ? 1 : 0);
  for (const char* state : {"unknown", "up", "suspect", "down"})
    e.Gauge("replink_peer_liveness", "Peer liveness as seen by this appliance (1 for the current state)",
            {{"state", state}}, s.liveness == state ? 1 : 0);
  e.Gauge("replink_peer_rtt_seconds", "Smoothed round-trip time to the peer (heartbeat echoes)", {},
          double(s.peer_rtt_ns) / 1e9);
  if (s.peer_last_heard_ns != 0 && s.taken_ns >= s.peer_last_heard_ns)
    e.Gauge("replink_peer_last_heard_age_seconds", "Time since the last frame accepted from the peer", {},
            double(s.taken_ns - s.peer_last_heard_ns) / 1e9);
  e.Gauge("replink_link_negotiated_mtu_bytes", "MTU agreed with the peer in HELLO (0 before)", {}, s.agreed_mtu);
  e.Gauge("replink_link_heartbeat_interval_seconds", "Heartbeat interval agreed with the peer", {},
          double(s.agreed_heartbeat_ns) / 1e9);
  e.Counter("replink_link_rx_frames_total", "Frames received from the port", {}, s.worker.rx_frames);
  e.Counter("replink_link_rx_bytes_total", "Bytes received from the port", {}, s.worker.rx_bytes);
  e.Counter("replink_link_tx_frames_total", "Frames handed to the port", {}, s.worker.tx_frames);
  e.Counter("replink_link_tx_bytes_total", "Bytes handed to the port", {}, s.worker.tx_bytes);
  const char* dropped_help = "Frames dropped by this appliance, by reason";
  for (std::size_t f = 1; f < link::kFrameFaultCount; ++f)
    e.Counter("replink_link_frames_dropped_total", dropped_help,
              {{"reason", link::FrameFaultName(static_cast<link::FrameFault>(f))}}, s.rx_faults.by_fault[f]);
  e.Counter("replink_link_frames_dropped_total", dropped_help, {{"reason", "unknown-stream"}}, s.worker.unknown_stream);
  e.Counter("replink_link_frames_dropped_total", dropped_help, {{"reason", "session-refused"}},
            s.worker.session_refused);
  e.Counter("replink_link_frames_dropped_total", dropped_help, {{"reason", "port-rx-missed"}}, s.port.rx_missed);
  e.Counter("replink_link_frames_dropped_total", dropped_help, {{"reason", "port-rx-no-mbuf"}}, s.port.rx_no_mbuf);
  e.Counter("replink_link_frames_dropped_total", dropped_help, {{"reason", "port-rx-errors"}}, s.port.rx_errors);
  e.Counter("replink_link_frames_dropped_total", dropped_help, {{"reason", "port-tx-errors"}}, s.port.tx_errors);
  e.Counter("replink_link_frames_dropped_total", dropped_help, {{"reason", "port-tx-dropped"}}, s.port.tx_drops);
  e.Counter("replink_link_sessions_total", "Link sessions established", {}, s.session_counters.sessions);
  e.Counter("replink_link_peer_restarts_total", "Peer restarts seen (new instance id)", {},
            s.session_counters.peer_restarts);
  e.Counter("replink_link_heartbeats_sent_total", "Heartbeats sent", {}, s.session_counters.heartbeats_sent);
  e.Counter("replink_link_heartbeats_received_total", "Heartbeats received", {},
            s.session_counters.heartbeats_received);
  e.Counter("replink_worker_rounds_total", "Polling rounds of the worker lcore", {}, s.worker.rounds);
  e.Counter("replink_worker_busy_rounds_total", "Polling rounds that found work", {}, s.worker.busy_rounds);
  e.Counter("replink_worker_sleeps_total", "Times the idle worker slept", {}, s.worker.sleeps);
  e.Add("replink_worker_slept_seconds_total", "counter", "Time the idle worker slept", {},
        double(s.worker.slept_ns) / 1e9);
}

void OutboundMetrics(Exposition& e, const OutboundStats& o) {
  Labels vm = {{"vm", std::to_string(o.id)}, {"name", o.name}};
  auto with = [&](const char* key, std::string value) {
    Labels l = vm;
    l.emplace_back(key, std::move(value));
    return l;
  };
  const OutboundCounters& c = o.counters;
  e.Gauge("replink_vm_protected", "1 while the VM's epochs are being replicated (state 'protected')", vm,
          o.state == "protected" ? 1 : 0);
  e.Counter("replink_vm_epochs_sent_total", "Epochs sent to the peer", vm, c.epochs_sent);
  e.Counter("replink_vm_epochs_committed_total", "Epochs the peer committed (I/O released)", vm, c.epochs_committed);
  e.Counter("replink_vm_epochs_failed_total", "Epochs completed as failed (link lost, peer reset, refused)", vm,
            c.epochs_failed);
  e.Counter("replink_vm_catch_up_epochs_total", "Catch-up epochs sent", vm, c.catch_up_epochs);
  e.Counter("replink_vm_pages_total", "Guest pages sent", vm, c.pages);
  e.Counter("replink_vm_page_bytes_total", "Raw bytes of the pages sent (payload before encoding)", vm, c.page_bytes);
  e.Counter("replink_vm_encoded_bytes_total", "Encoded bytes of the pages sent", vm, c.payload_bytes);
  e.Counter("replink_vm_wire_bytes_total", "Bytes handed to the port for this VM, retransmissions included", vm,
            c.wire_bytes);
  e.Counter("replink_vm_frames_total", "DATA frames sealed (first transmissions)", vm, c.frames);
  const char* retx_help = "DATA frames retransmitted, by cause";
  e.Counter("replink_vm_retransmits_total", retx_help, with("cause", "fast"), o.sender.fast_retransmits);
  e.Counter("replink_vm_retransmits_total", retx_help, with("cause", "timeout"), o.sender.timeout_retransmits);
  const char* stall_help = "Polling rounds that could not send, by cause";
  e.Counter("replink_vm_send_stalls_total", stall_help, with("cause", "window"), c.window_stalls);
  e.Counter("replink_vm_send_stalls_total", stall_help, with("cause", "pacer"), c.pacer_stalls);
  e.Counter("replink_vm_send_stalls_total", stall_help, with("cause", "mbuf"), c.mbuf_exhausted);
  for (std::size_t k = 0; k < codec::kCodecCount; ++k) {
    e.Counter("replink_vm_codec_pages_total", "Pages sent, by codec", with("codec", CodecLabel(k)), o.codecs[k].pages);
    e.Counter("replink_vm_codec_encoded_bytes_total", "Encoded bytes of the pages sent, by codec",
              with("codec", CodecLabel(k)), o.codecs[k].bytes_out);
  }
  const char* latency = "replink_vm_commit_latency_seconds";
  const char* latency_help = "From capture to the peer's commit report, per epoch";
  for (std::size_t b = 0; b < kCommitLatencyBucketsUs.size(); ++b)
    e.Add(latency, "histogram", latency_help, with("le", fmt::format("{}", double(kCommitLatencyBucketsUs[b]) / 1e6)),
          double(o.commit_buckets[b]), "_bucket");
  e.Add(latency, "histogram", latency_help, with("le", "+Inf"), double(o.commits), "_bucket");
  e.Add(latency, "histogram", latency_help, vm, double(o.commit_sum_us) / 1e6, "_sum");
  e.Add(latency, "histogram", latency_help, vm, double(o.commits), "_count");
  e.Gauge("replink_vm_last_committed_epoch", "Highest epoch the peer committed", vm, double(o.last_committed_epoch));
  if (o.last_commit_age_ns != 0)
    e.Gauge("replink_vm_last_commit_age_seconds", "Time since the last commit report", vm,
            double(o.last_commit_age_ns) / 1e9);
  e.Gauge("replink_vm_ring_pending_descriptors", "Capture-ring descriptors published by the shim, not yet taken",
          vm, double(o.ring_pending));
  e.Gauge("replink_vm_capture_slots_in_use", "Capture slots taken but not yet released", vm, double(o.slots_in_use));
  e.Gauge("replink_vm_capture_slots", "Capture slots in the VM's region", vm, double(o.slot_count));
  e.Gauge("replink_vm_frames_in_flight", "DATA frames sent and not yet acknowledged", vm, double(o.frames_in_flight));
  e.Gauge("replink_vm_send_credits", "Frames the peer's receive window still allows", vm, double(o.credit_limit));
}

void InboundMetrics(Exposition& e, const config::ApplianceConfig& config, const InboundStats& i) {
  std::string name;
  for (const config::VmConfig& vm : config.vms)
    if (vm.id == i.id) name = vm.name;
  Labels vm = {{"vm", std::to_string(i.id)}, {"name", name}};
  const InboundCounters& c = i.counters;
  e.Counter("replink_replica_frames_total", "DATA frames accepted in order", vm, c.frames);
  Labels dup = vm, oow = vm;
  dup.emplace_back("reason", "duplicate");
  oow.emplace_back("reason", "out-of-window");
  e.Counter("replink_replica_frames_dropped_total", "DATA frames dropped by the receiver, by reason", dup, c.duplicates);
  e.Counter("replink_replica_frames_dropped_total", "DATA frames dropped by the receiver, by reason", oow,
            c.out_of_window);
  e.Counter("replink_replica_epochs_committed_total", "Epochs committed into the replica", vm, c.epochs_committed);
  e.Counter("replink_replica_catch_up_epochs_total", "Catch-up epochs committed", vm, c.catch_up_epochs);
  e.Counter("replink_replica_epochs_rejected_total", "Epochs discarded (staging or decoding failed)", vm,
            c.epochs_rejected);
  e.Counter("replink_replica_pages_total", "Pages applied", vm, c.pages);
  e.Counter("replink_replica_encoded_bytes_total", "Encoded page bytes received", vm, c.payload_bytes);
  e.Add("replink_replica_commit_seconds_total", "counter", "Time spent committing epochs into the replica", vm,
        double(c.commit_ns_total) / 1e9);
  e.Gauge("replink_replica_committed_epoch", "The replica's committed epoch", vm, double(i.committed_epoch));
  if (i.last_commit_age_ns != 0)
    e.Gauge("replink_replica_last_commit_age_seconds", "Time since the replica's last commit", vm,
            double(i.last_commit_age_ns) / 1e9);
  e.Gauge("replink_replica_staging_free_bytes", "Free staging space", vm, double(i.staging_free_bytes));
  e.Gauge("replink_replica_receive_credits", "Receive credits advertised to the primary", vm, double(i.credits));
  e.Gauge("replink_replica_promoted", "1 once the replica was promoted (failover) on this appliance", vm,
          i.promoted ? 1 : 0);
  e.Gauge("replink_replica_resynchronising", "1 while the replica waits for the primary to resynchronise", vm,
          i.rejecting ? 1 : 0);
}

}  // namespace

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char ch : value) {
    auto u = static_cast<unsigned char>(ch);
    if (ch == '\\') {
      out += "\\\\";
    } else if (ch == '"') {
      out += "\\\"";
    } else if (ch == '\n') {
      out += "\\n";
    } else if (u < 0x20 || u >= 0x7f) {
      out += '?';  // names come from shims (untrusted): keep the exposition valid UTF-8
    } else {
      out += ch;
    }
  }
  return out;
}

std::string PrometheusText(const config::ApplianceConfig& config, const ApplianceStats& stats, uint64_t scrape_errors) {
  Exposition e;
  e.Gauge("replink_appliance_info", "Identity of this appliance (value always 1)",
          {{"appliance", config.appliance.name},
           {"id", std::to_string(config.appliance.id)},
           {"peer_id", std::to_string(config.peer.id)},
           {"peer", stats.peer_name}},
          1);
  LinkMetrics(e, stats);
  for (const OutboundStats& o : stats.outbound) OutboundMetrics(e, o);
  for (const InboundStats& i : stats.inbound) InboundMetrics(e, config, i);
  e.Counter("replink_metrics_requests_refused_total", "HTTP requests the metrics endpoint refused", {}, scrape_errors);
  return e.Render();
}

}  // namespace replink::dataplane::control
