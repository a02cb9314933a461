#include "dataplane/appliance/status_line.h"

#include <fmt/format.h>

namespace replink::dataplane {
namespace {

template <typename T, typename F>
const T* Find(const std::vector<T>& items, uint32_t id, F) {
  for (const T& t : items)
    if (t.id == id) return &t;
  return nullptr;
}

}  // namespace

std::vector<std::string> StatusLines(const std::string& appliance, const ApplianceStats& prev,
                                     const ApplianceStats& cur) {
  std::vector<std::string> lines;
  double dt = cur.taken_ns > prev.taken_ns ? double(cur.taken_ns - prev.taken_ns) / 1e9 : 0;
  if (dt <= 0) return lines;
  uint64_t faults = cur.rx_faults.Total();
  for (const OutboundStats& o : cur.outbound) {
    const OutboundStats* p = Find(prev.outbound, o.id, 0);
    OutboundCounters base = p ? p->counters : OutboundCounters{};
    const OutboundCounters& c = o.counters;
    double pages = double(c.pages - base.pages);
    double payload_gbps = double(c.page_bytes - base.page_bytes) * 8 / dt / 1e9;
    double wire_gbps = double(c.wire_bytes - base.wire_bytes) * 8 / dt / 1e9;
    double ratio = c.page_bytes > base.page_bytes
                       ? double(c.payload_bytes - base.payload_bytes) / double(c.page_bytes - base.page_bytes)
                       : 0;
    lines.push_back(fmt::format(
        "[{}] vm {} {:<10} {:>7.0f} epochs/s {:>9.0f} pages/s {:>6.2f} Gbit/s payload {:>6.2f} Gbit/s wire "
        "x{:.2f}  commit p50 {} us p99 {} us  retx {}  epoch {}",
        appliance, o.id, o.state, double(c.epochs_committed - base.epochs_committed) / dt, pages / dt, payload_gbps,
        wire_gbps, ratio, o.commit_p50_us, o.commit_p99_us, c.retransmits - base.retransmits,
        o.last_committed_epoch));
  }
  for (const InboundStats& i : cur.inbound) {
    const InboundStats* p = Find(prev.inbound, i.id, 0);
    InboundCounters base = p ? p->counters : InboundCounters{};
    const InboundCounters& c = i.counters;
    lines.push_back(fmt::format(
        "[{}] vm {} replica    {:>7.0f} epochs/s {:>9.0f} pages/s  committed epoch {}  dup {} rejected {}  "
        "link faults {}{}",
        appliance, i.id, double(c.epochs_committed - base.epochs_committed) / dt, double(c.pages - base.pages) / dt,
        i.committed_epoch, c.duplicates, c.epochs_rejected, faults,
        i.rejecting ? fmt::format("  (resynchronising: {})", i.last_error) : ""));
  }
  if (cur.outbound.empty() && cur.inbound.empty())
    lines.push_back(fmt::format("[{}] link {} peer {} ({}), no streams yet", appliance, cur.session, cur.liveness,
                                cur.peer_name.empty() ? "?" : cur.peer_name));
  return lines;
}

}  // namespace replink::dataplane
