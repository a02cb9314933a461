#include "dataplane/appliance/stats_json.h"

#include <fmt/format.h>

namespace replink::dataplane {
namespace {

std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\u{:04x}", c);
      continue;
    }
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::string StatsJson(const std::string& appliance, const ApplianceStats& s) {
  std::string faults;
  for (std::size_t i = 1; i < link::kFrameFaultCount; ++i) {
    if (!faults.empty()) faults += ",";
    faults += fmt::format("\"{}\":{}", link::FrameFaultName(static_cast<link::FrameFault>(i)), s.rx_faults.by_fault[i]);
  }
  std::string out;
  for (const OutboundStats& o : s.outbound) {
    const OutboundCounters& c = o.counters;
    if (!out.empty()) out += ",";
    out += fmt::format(
        "{{\"vm\":{},\"state\":{},\"epochs_committed\":{},\"epochs_failed\":{},\"catch_up_epochs\":{},"
        "\"pages\":{},\"page_bytes\":{},\"payload_bytes\":{},\"wire_bytes\":{},\"frames\":{},\"retransmits\":{},"
        "\"peer_losses\":{},\"commit_p50_us\":{},\"commit_p99_us\":{},\"last_committed_epoch\":{}}}",
        o.id, Quote(o.state), c.epochs_committed, c.epochs_failed, c.catch_up_epochs, c.pages, c.page_bytes,
        c.payload_bytes, c.wire_bytes, c.frames, c.retransmits, c.peer_losses, o.commit_p50_us, o.commit_p99_us,
        o.last_committed_epoch);
  }
  std::string in;
  for (const InboundStats& i : s.inbound) {
    const InboundCounters& c = i.counters;
    if (!in.empty()) in += ",";
    in += fmt::format(
        "{{\"vm\":{},\"committed_epoch\":{},\"epochs_committed\":{},\"catch_up_epochs\":{},\"epochs_rejected\":{},"
        "\"frames\":{},\"duplicates\":{},\"out_of_window\":{},\"pages\":{},\"opens\":{},\"last_error\":{}}}",
        i.id, i.committed_epoch, c.epochs_committed, c.catch_up_epochs, c.epochs_rejected, c.frames, c.duplicates,
        c.out_of_window, c.pages, c.opens, Quote(i.last_error));
  }
  return fmt::format(
      "{{\"appliance\":{},\"session\":{},\"liveness\":{},\"rx_frames\":{},\"tx_frames\":{},\"unknown_stream\":{},"
      "\"session_refused\":{},\"streams_removed\":{},\"rx_faults_total\":{},\"rx_faults\":{{{}}},"
      "\"outbound\":[{}],\"inbound\":[{}],\"closed_streams\":{{\"epochs_committed\":{},\"epochs_failed\":{},"
      "\"retransmits\":{},\"frames\":{},\"wire_bytes\":{}}}}}",
      Quote(appliance), Quote(s.session), Quote(s.liveness), s.worker.rx_frames, s.worker.tx_frames,
      s.worker.unknown_stream, s.worker.session_refused, s.worker.streams_removed, s.rx_faults.Total(), faults, out,
      in, s.outbound_closed.epochs_committed, s.outbound_closed.epochs_failed, s.outbound_closed.retransmits,
      s.outbound_closed.frames, s.outbound_closed.wire_bytes);
}

}  // namespace replink::dataplane
