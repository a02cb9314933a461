#include "dataplane/config/device_arguments.h"

#include <charconv>

namespace replink::config {

std::string_view DeviceArguments::DriverName() const {
  std::string_view driver = name;
  while (!driver.empty() && driver.back() >= '0' && driver.back() <= '9') driver.remove_suffix(1);
  return driver;
}

std::optional<std::string_view> DeviceArguments::Get(std::string_view key) const {
  for (const auto& [k, v] : values) {
    if (k == key) return std::string_view(v);
  }
  return std::nullopt;
}

Result<uint64_t> DeviceArguments::GetUnsigned(std::string_view key, uint64_t fallback) const {
  auto text = Get(key);
  if (!text) return fallback;
  uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (text->empty() || ec != std::errc() || ptr != text->data() + text->size()) {
    return MakeError(Errc::kInvalidArgument, "device '{}': {}={} is not an unsigned integer", name,
                     key, *text);
  }
  return value;
}

Result<DeviceArguments> ParseDeviceArguments(std::string_view devargs) {
  DeviceArguments parsed;
  size_t comma = devargs.find(',');
  parsed.name = std::string(devargs.substr(0, comma));
  if (parsed.name.empty()) {
    return MakeError(Errc::kInvalidArgument, "device arguments '{}' have no device name", devargs);
  }
  for (char c : parsed.name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.' || c == ':';
    if (!ok) {
      return MakeError(Errc::kInvalidArgument, "device name '{}' contains '{}'", parsed.name, c);
    }
  }
  std::string_view rest = comma == std::string_view::npos ? "" : devargs.substr(comma + 1);
  while (!rest.empty()) {
    size_t next = rest.find(',');
    std::string_view item = rest.substr(0, next);
    size_t eq = item.find('=');
    if (item.empty() || eq == 0 || eq == std::string_view::npos) {
      return MakeError(Errc::kInvalidArgument, "device '{}': '{}' is not key=value", parsed.name,
                       item);
    }
    parsed.values.emplace_back(std::string(item.substr(0, eq)), std::string(item.substr(eq + 1)));
    if (next == std::string_view::npos) break;
    rest.remove_prefix(next + 1);
  }
  return parsed;
}

}  // namespace replink::config
