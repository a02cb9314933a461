#include "control/views.h"

#include <fmt/format.h>

#include "control/text_table.h"

namespace replink::control {
namespace {

using Align = TextTable::Align;

std::string Age(const Json& ms) {
  if (!ms.is_number()) return "-";
  double v = ms.get<double>();
  if (v < 1) return fmt::format("{:.0f} us", v * 1000);
  if (v < 10'000) return fmt::format("{:.1f} ms", v);
  return fmt::format("{:.1f} s", v / 1000);
}

std::string Count(const Json& v) {
  if (!v.is_number()) return "-";
  double d = v.get<double>();
  if (d >= 1e9) return fmt::format("{:.2f}G", d / 1e9);
  if (d >= 1e6) return fmt::format("{:.2f}M", d / 1e6);
  if (d >= 1e4) return fmt::format("{:.1f}k", d / 1e3);
  return fmt::format("{:.0f}", d);
}

std::string LinkLine(const Json& link) {
  return fmt::format("{}, peer '{}' {}, rtt {} us, last heard {}", Text(Member(link, {"session"})),
                     Text(Member(link, {"peer"})), Text(Member(link, {"liveness"})), Text(Member(link, {"rtt_us"}), 1),
                     Member(link, {"last_heard_ms_ago"}).is_number() ? Age(Member(link, {"last_heard_ms_ago"})) + " ago"
                                                                     : "never");
}

std::string Negotiated(const Json& agreed) {
  if (!agreed.is_object() || Number(Member(agreed, {"mtu"})) == 0) return "not yet (no session)";
  return fmt::format("mtu {}, window {}, heartbeat {} ms", Text(Member(agreed, {"mtu"})),
                     Text(Member(agreed, {"window"})), Text(Member(agreed, {"heartbeat_ms"}), 1));
}

std::string Identity(const Json& a) {
  return fmt::format("{} (id {}), peer id {}, up {} s", Text(Member(a, {"name"})), Text(Member(a, {"id"})),
                     Text(Member(a, {"peer_id"})), Text(Member(a, {"uptime_s"}), 1));
}

// Non-zero drops, "reason n, reason n" (or "none").
std::string Drops(const Json& drops) {
  std::string out;
  if (drops.is_object())
    for (auto it = drops.begin(); it != drops.end(); ++it)
      if (Number(it.value()) > 0) out += fmt::format("{}{} {}", out.empty() ? "" : ", ", it.key(), Text(it.value()));
  return out.empty() ? "none" : out;
}

std::string CodecShares(const Json& compression) {
  const Json& by = Member(compression, {"by_codec"});
  double total = 0;
  if (by.is_object())
    for (auto it = by.begin(); it != by.end(); ++it) total += Number(Member(it.value(), {"pages"}));
  if (total == 0) return "-";
  std::string out;
  for (auto it = by.begin(); it != by.end(); ++it) {
    double pages = Number(Member(it.value(), {"pages"}));
    if (pages == 0) continue;
    out += fmt::format("{}{} {:.0f}% (x{})", out.empty() ? "" : ", ", it.key(), 100 * pages / total,
                       Text(Member(it.value(), {"ratio"})));
  }
  return out;
}

}  // namespace

const Json& Member(const Json& j, std::initializer_list<const char*> path) {
  static const Json kNull;
  const Json* at = &j;
  for (const char* key : path) {
    if (!at->is_object()) return kNull;
    auto it = at->find(key);
    if (it == at->end()) return kNull;
    at = &*it;
  }
  return *at;
}

std::string Text(const Json& v, int decimals) {
  if (v.is_string()) return v.get<std::string>().empty() ? "-" : v.get<std::string>();
  if (v.is_number_unsigned()) return std::to_string(v.get<uint64_t>());
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  if (v.is_number_float()) return fmt::format("{:.{}f}", v.get<double>(), decimals);
  if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
  return "-";
}

double Number(const Json& v) { return v.is_number() ? v.get<double>() : 0.0; }

std::string RenderStatus(const Json& s) {
  std::string out = AlignedPairs({{"appliance", Identity(Member(s, {"appliance"}))},
                                  {"link", LinkLine(Member(s, {"link"}))},
                                  {"negotiated", Negotiated(Member(s, {"link", "agreed"}))},
                                  {"endpoints", Text(Member(s, {"endpoints"}))}});
  TextTable t({{"VM"}, {"NAME"}, {"ROLE"}, {"STATE"}, {"LAST EPOCH", Align::kRight}, {"COMMIT AGE", Align::kRight}});
  for (const Json& vm : Member(s, {"vms"}))
    t.AddRow({Text(Member(vm, {"id"})), Text(Member(vm, {"name"})), Text(Member(vm, {"role"})), Text(Member(vm, {"state"})),
              Text(Member(vm, {"last_committed_epoch"})), Age(Member(vm, {"last_commit_age_ms"}))});
  for (const Json& vm : Member(s, {"idle_vms"}))
    t.AddRow({Text(Member(vm, {"id"})), Text(Member(vm, {"name"})), "-", "idle (no stream)", "-", "-"});
  out += "\n" + t.Render();
  const Json& unprotected = Member(s, {"unprotected_vms"});
  if (unprotected.is_array() && !unprotected.empty())
    out += fmt::format("unprotected by the operator: {}\n", unprotected.dump());
  return out;
}

std::string RenderStats(const Json& s) {
  const Json& link = Member(s, {"link"});
  std::string out = AlignedPairs({
      {"appliance", Identity(Member(s, {"appliance"}))},
      {"link", LinkLine(link)},
      {"negotiated", Negotiated(Member(link, {"agreed"}))},
      {"traffic", fmt::format("rx {} Gbit/s ({} frames/s), tx {} Gbit/s ({} frames/s) over {} s",
                              Text(Member(link, {"rates", "rx_gbps"}), 3), Count(Member(link, {"rates", "rx_frames_per_s"})),
                              Text(Member(link, {"rates", "tx_gbps"}), 3), Count(Member(link, {"rates", "tx_frames_per_s"})),
                              Text(Member(s, {"interval_s"}), 1))},
      {"drops", Drops(Member(link, {"drops"}))},
      {"worker", fmt::format("busy {}% of rounds", Text(Json(100 * Number(Member(link, {"worker", "busy_share"}))), 0))},
  });
  for (const Json& vm : Member(s, {"vms"})) {
    bool primary = Text(Member(vm, {"role"})) == "primary";
    out += fmt::format("\nvm {} '{}' ({}, {})\n", Text(Member(vm, {"id"})), Text(Member(vm, {"name"})),
                       Text(Member(vm, {"role"})), Text(Member(vm, {"state"})));
    std::vector<std::pair<std::string, std::string>> p;
    const Json& r = Member(vm, {"rates"});
    p.push_back({"rates", fmt::format("{} epochs/s, {} pages/s, payload {} Gbit/s{}", Text(Member(r, {"epochs_per_s"}), 1),
                                      Count(Member(r, {"pages_per_s"})), Text(Member(r, {"payload_gbps"}), 3),
                                      primary ? fmt::format(", wire {} Gbit/s", Text(Member(r, {"wire_gbps"}), 3)) : "")});
    p.push_back({"committed", fmt::format("epoch {}, {} ago", Text(Member(vm, {"last_committed_epoch"})),
                                          Age(Member(vm, {"last_commit_age_ms"})))});
    if (primary) {
      const Json& l = Member(vm, {"commit_latency_us"});
      p.push_back({"commit latency", fmt::format("p50 {} us, p99 {} us, p99.9 {} us, max {} us ({} epochs)",
                                                 Text(Member(l, {"p50"})), Text(Member(l, {"p99"})),
                                                 Text(Member(l, {"p999"})), Text(Member(l, {"max"})),
                                                 Text(Member(l, {"count"})))});
      p.push_back({"compression", fmt::format("x{} overall; {}", Text(Member(vm, {"compression", "ratio"})),
                                              CodecShares(Member(vm, {"compression"})))});
      const Json& x = Member(vm, {"retransmits"});
      p.push_back({"retransmits", fmt::format("{} ({} fast, {} timeout), {} probes", Text(Member(x, {"total"})),
                                              Text(Member(x, {"fast"})), Text(Member(x, {"timeout"})),
                                              Text(Member(x, {"probes"})))});
      p.push_back({"pause per sync", Member(vm, {"pause_per_sync_us"}).is_number()
                                         ? Text(Member(vm, {"pause_per_sync_us"}), 1) + " us"
                                         : "- (measured by the shim, not reported to the dataplane)"});
      const Json& ring = Member(vm, {"ring"});
      p.push_back({"capture ring", fmt::format("{} descriptors pending, {}/{} slots in use ({:.1f}%)",
                                               Text(Member(ring, {"pending_descriptors"})),
                                               Text(Member(ring, {"slots_in_use"})), Text(Member(ring, {"slot_count"})),
                                               100 * Number(Member(ring, {"occupancy"})))});
      const Json& f = Member(vm, {"flow"});
      p.push_back({"flow", fmt::format("{} frames in flight, {} credits, rtt {} us", Text(Member(f, {"frames_in_flight"})),
                                       Text(Member(f, {"credits"})), Text(Member(f, {"rtt_us"}), 1))});
      p.push_back({"stalls", Drops(Member(vm, {"stalls"}))});
      p.push_back({"epochs", fmt::format("{} sent, {} committed, {} failed, {} catch-up",
                                         Text(Member(vm, {"totals", "epochs_sent"})),
                                         Text(Member(vm, {"totals", "epochs_committed"})),
                                         Text(Member(vm, {"totals", "epochs_failed"})),
                                         Text(Member(vm, {"totals", "catch_up_epochs"})))});
    } else {
      p.push_back({"commit", fmt::format("mean {} us in the replica store ({})", Text(Member(vm, {"commit_mean_us"}), 1),
                                         Text(Member(vm, {"durability"})))});
      p.push_back({"drops", Drops(Member(vm, {"drops"}))});
      p.push_back({"flow", fmt::format("{} credits, {} staging bytes free", Text(Member(vm, {"flow", "credits"})),
                                       Count(Member(vm, {"flow", "staging_free_bytes"})))});
      p.push_back({"epochs", fmt::format("{} committed, {} catch-up, {} rejected",
                                         Text(Member(vm, {"totals", "epochs_committed"})),
                                         Text(Member(vm, {"totals", "catch_up_epochs"})),
                                         Text(Member(vm, {"totals", "epochs_rejected"})))});
    }
    out += AlignedPairs(p, 2);
  }
  return out;
}

std::string RenderLinkShow(const Json& l) {
  TextTable t({{"SETTING"}, {"VALUE", Align::kRight}, {"RANGE"}, {"AT RUN TIME"}});
  for (const Json& s : Member(l, {"settings"}))
    t.AddRow({Text(Member(s, {"name"})), Text(Member(s, {"value"})), Text(Member(s, {"range"})),
              Text(Member(s, {"effect"}))});
  std::string out = t.Render();
  out += "\n" + AlignedPairs({{"negotiated", Negotiated(Member(l, {"negotiated"}))},
                              {"port mtu", Text(Member(l, {"port_mtu"}))},
                              {"encapsulation", Text(Member(l, {"encapsulation"}))},
                              {"credits", Text(Member(l, {"read_only", "credits"}))}});
  return out;
}

std::string RenderLinkSet(const Json& r) {
  std::string out;
  const Json& changed = Member(r, {"changed"});
  if (!changed.is_object() || changed.empty()) out += "no change (the values were already in force)\n";
  if (changed.is_object())
    for (auto it = changed.begin(); it != changed.end(); ++it)
      out += fmt::format("{}: {} -> {}\n", it.key(), Text(Member(it.value(), {"from"})), Text(Member(it.value(), {"to"})));
  for (const Json& n : Member(r, {"notes"})) out += "note: " + Text(n) + "\n";
  return out;
}

std::string RenderVmList(const Json& r) {
  TextTable t({{"VM", Align::kRight}, {"NAME"}, {"ROLE"}, {"STATE"}, {"CONFIGURED"}, {"LAST EPOCH", Align::kRight},
               {"COMMIT AGE", Align::kRight}});
  for (const Json& vm : Member(r, {"vms"}))
    t.AddRow({Text(Member(vm, {"id"})), Text(Member(vm, {"name"})), Text(Member(vm, {"role"})), Text(Member(vm, {"state"})),
              Text(Member(vm, {"configured"})), Text(Member(vm, {"last_committed_epoch"})),
              Age(Member(vm, {"last_commit_age_ms"}))});
  return t.Render();
}

std::string RenderFailover(const Json& r) {
  std::string out;
  for (const Json& vm : Member(r, {"vms"}))
    out += fmt::format("vm {}: {} at epoch {}; {}\n", Text(Member(vm, {"vm"})),
                       Member(vm, {"already_promoted"}).is_boolean() && Member(vm, {"already_promoted"}).get<bool>()
                           ? "already promoted"
                           : "promoted",
                       Text(Member(vm, {"epoch"})), Text(Member(vm, {"resume"})));
  return out;
}

std::string RenderTop(const Json& s, int width, const std::string& clock) {
  const Json& link = Member(s, {"link"});
  std::string out = fmt::format("replink top - {}   {}   (q quits)\n", Identity(Member(s, {"appliance"})), clock);
  out += fmt::format("link {}\n", LinkLine(link));
  out += fmt::format("rx {} Gbit/s {} fps  tx {} Gbit/s {} fps  negotiated {}\n",
                     Text(Member(link, {"rates", "rx_gbps"}), 3), Count(Member(link, {"rates", "rx_frames_per_s"})),
                     Text(Member(link, {"rates", "tx_gbps"}), 3), Count(Member(link, {"rates", "tx_frames_per_s"})),
                     Negotiated(Member(link, {"agreed"})));
  out += fmt::format("drops: {}\n\n", Drops(Member(link, {"drops"})));
  TextTable t({{"VM", Align::kRight}, {"ROLE"}, {"STATE"}, {"EPOCH/S", Align::kRight}, {"PAGES/S", Align::kRight},
               {"PAYLOAD", Align::kRight}, {"WIRE", Align::kRight}, {"RATIO", Align::kRight}, {"P50us", Align::kRight},
               {"P99us", Align::kRight}, {"P99.9us", Align::kRight}, {"RETX", Align::kRight}, {"RING%", Align::kRight},
               {"CREDITS", Align::kRight}, {"EPOCH", Align::kRight}});
  std::string codecs;
  for (const Json& vm : Member(s, {"vms"})) {
    bool primary = Text(Member(vm, {"role"})) == "primary";
    const Json& r = Member(vm, {"rates"});
    const Json& l = Member(vm, {"commit_latency_us"});
    t.AddRow({Text(Member(vm, {"id"})), primary ? "pri" : "sec", Text(Member(vm, {"state"})),
              Text(Member(r, {"epochs_per_s"}), 0), Count(Member(r, {"pages_per_s"})), Text(Member(r, {"payload_gbps"}), 2),
              primary ? Text(Member(r, {"wire_gbps"}), 2) : "-",
              primary ? Text(Member(vm, {"compression", "ratio"})) : "-", primary ? Text(Member(l, {"p50"})) : "-",
              primary ? Text(Member(l, {"p99"})) : "-", primary ? Text(Member(l, {"p999"})) : "-",
              primary ? Text(Member(vm, {"retransmits", "total"})) : "-",
              primary ? fmt::format("{:.1f}", 100 * Number(Member(vm, {"ring", "occupancy"}))) : "-",
              Text(primary ? Member(vm, {"flow", "credits"}) : Member(vm, {"flow", "credits"})),
              Text(Member(vm, {"last_committed_epoch"}))});
    if (primary) codecs += fmt::format("vm {} codecs: {}\n", Text(Member(vm, {"id"})), CodecShares(Member(vm, {"compression"})));
  }
  if (t.empty()) {
    out += "no VM streams on this appliance yet\n";
  } else {
    out += t.Render();
    out += "(PAYLOAD / WIRE in Gbit/s; RATIO = page bytes / encoded bytes; latency from capture to commit)\n";
    out += codecs;
  }
  // Keep the layout: never wrap a line on a narrow terminal.
  std::string clipped;
  std::size_t start = 0;
  while (start < out.size()) {
    std::size_t end = out.find('\n', start);
    std::string line = out.substr(start, end - start);
    if (width > 0 && line.size() > std::size_t(width)) line.resize(std::size_t(width));
    clipped += line + "\n";
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return clipped;
}

}  // namespace replink::control
