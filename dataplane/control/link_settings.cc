#include "dataplane/control/link_settings.h"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

namespace replink::dataplane::control {
namespace {

struct IntegerSetting {
  std::string_view name;
  uint32_t LinkSettings::*field;
  uint32_t min;
  uint32_t max;  // static maximum; mtu and window are capped by SettingLimits
  std::string_view effect;
};

constexpr std::string_view kCodecNames[] = {"auto", "none", "lz4", "delta"};

std::vector<IntegerSetting> IntegerSettings(const SettingLimits& limits) {
  return {
      {"mtu", &LinkSettings::mtu, kMinLinkMtu, limits.mtu_max,
       "next DATA frame; up to the negotiated MTU without renegotiation (more needs both ports and a restart)"},
      {"rate_mbps", &LinkSettings::rate_mbps, 0, 400000, "every stream's pacer at once; 0 = unlimited"},
      {"batch_size", &LinkSettings::batch_size, 1, 512, "capture-ring records taken per poll, next poll"},
      {"drain_interval_us", &LinkSettings::drain_interval_us, 1, 1000000,
       "kept; the worker flushes every round, so any value is met"},
      {"delta_cache_mib", &LinkSettings::delta_cache_mib, 1, 1048576,
       "a new empty delta cache per stream, swapped between pages"},
      {"window", &LinkSettings::window, 16, limits.window_max,
       "frames in flight per stream, next frame (the maximum is the window allocated at start)"},
      {"heartbeat_interval_ms", &LinkSettings::heartbeat_interval_ms, 1, 60000,
       "renegotiated in the session by a HELLO; the shorter offer of both sides wins"},
      {"failure_timeout_ms", &LinkSettings::failure_timeout_ms, 10, 600000,
       "liveness thresholds and stream degrade timeout, at once (>= 3 heartbeats)"},
  };
}

std::string RangeText(uint32_t min, uint32_t max) { return fmt::format("[{}, {}]", min, max); }

// Edit distance for the "did you mean" hint (names are short; quadratic is fine).
std::size_t Distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

}  // namespace

LinkSettings SettingsFromConfig(const config::ApplianceConfig& c, uint32_t port_mtu) {
  LinkSettings s;
  s.mtu = port_mtu;
  s.rate_mbps = c.link.rate_mbps;
  s.batch_size = c.link.batch_size;
  s.drain_interval_us = c.link.drain_interval_us;
  s.codec = c.link.codec;
  s.delta_cache_mib = std::max<uint32_t>(c.link.delta_cache_mib, 1);
  s.window = c.link.window;
  s.heartbeat_interval_ms = c.peer.heartbeat_interval_ms;
  s.failure_timeout_ms = c.peer.failure_timeout_ms;
  return s;
}

std::vector<SettingDescription> DescribeSettings(const SettingLimits& limits) {
  std::vector<SettingDescription> out;
  for (const IntegerSetting& s : IntegerSettings(limits))
    out.push_back({std::string(s.name), RangeText(s.min, s.max), std::string(s.effect)});
  out.push_back({"codec", "auto | none | lz4 | delta", "every stream's codec policy, from the next page"});
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

Result<LinkSettings> ApplyChanges(const LinkSettings& current, const std::map<std::string, std::string>& changes,
                                  const SettingLimits& limits) {
  LinkSettings next = current;
  std::vector<std::string> problems;
  std::vector<IntegerSetting> integers = IntegerSettings(limits);
  for (const auto& [name, text] : changes) {
    if (name == "codec") {
      auto known = std::find(std::begin(kCodecNames), std::end(kCodecNames), text);
      if (known == std::end(kCodecNames)) {
        problems.push_back(fmt::format("codec: '{}' is not one of auto, none, lz4, delta", text));
        continue;
      }
      next.codec = static_cast<config::CodecPolicy>(known - std::begin(kCodecNames));
      continue;
    }
    auto setting = std::find_if(integers.begin(), integers.end(), [&](const auto& s) { return s.name == name; });
    if (setting == integers.end()) {
      std::string hint;
      std::size_t best = 4;
      for (const SettingDescription& d : DescribeSettings(limits)) {
        std::size_t distance = Distance(name, d.name);
        if (distance < best) {
          best = distance;
          hint = fmt::format(" (did you mean '{}'?)", d.name);
        }
      }
      if (name == "credits") hint = " (read-only: the receiver advertises its free buffers; lower 'window' instead)";
      problems.push_back(fmt::format("{}: not a link setting that can change at run time{}", name, hint));
      continue;
    }
    uint64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
      problems.push_back(fmt::format("{}: '{}' is not a whole number in {}", name, text,
                                     RangeText(setting->min, setting->max)));
      continue;
    }
    if (value < setting->min || value > setting->max) {
      std::string why;
      if (name == "mtu") why = " (the MTU negotiated with the peer; more needs both ports reconfigured and a restart)";
      if (name == "window") why = " (the window allocated at start; more needs [link] window and a restart)";
      problems.push_back(
          fmt::format("{}: {} is out of range {}{}", name, value, RangeText(setting->min, setting->max), why));
      continue;
    }
    next.*(setting->field) = static_cast<uint32_t>(value);
  }
  if (problems.empty() && next.failure_timeout_ms < 3 * uint64_t{next.heartbeat_interval_ms})
    problems.push_back(fmt::format("failure_timeout_ms: {} must be at least 3 x heartbeat_interval_ms ({})",
                                   next.failure_timeout_ms, 3 * uint64_t{next.heartbeat_interval_ms}));
  if (problems.empty()) return next;
  std::string message = problems.size() == 1 ? problems[0]
                                             : fmt::format("{} problems, nothing changed:", problems.size());
  if (problems.size() > 1)
    for (const std::string& p : problems) message += "\n  " + p;
  return MakeError(Errc::kInvalidArgument, "{}", message);
}

std::map<std::string, std::string> SettingValues(const LinkSettings& s) {
  std::map<std::string, std::string> out;
  for (const IntegerSetting& setting : IntegerSettings(SettingLimits{}))
    out[std::string(setting.name)] = std::to_string(s.*(setting.field));
  out["codec"] = std::string(kCodecNames[static_cast<std::size_t>(s.codec)]);
  return out;
}

}  // namespace replink::dataplane::control
