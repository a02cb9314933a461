#include "dataplane/config/address_parsing.h"

#include <charconv>

namespace replink::config {
namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Parses a decimal number with no sign, no leading zeros (except "0") and value <= max.
bool ParseDecimal(std::string_view text, uint32_t max, uint32_t& out) {
  if (text.empty() || text.size() > 10) return false;
  if (text.size() > 1 && text[0] == '0') return false;
  uint32_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || value > max) return false;
  out = value;
  return true;
}

}  // namespace

Result<MacAddress> ParseMac(std::string_view text) {
  // Exactly "xx:xx:xx:xx:xx:xx": 17 characters.
  MacAddress mac;
  if (text.size() != 17) {
    return MakeError(Errc::kInvalidArgument, "'{}' is not a MAC address (want xx:xx:xx:xx:xx:xx)", text);
  }
  for (size_t i = 0; i < 6; ++i) {
    int hi = HexDigit(text[i * 3]);
    int lo = HexDigit(text[i * 3 + 1]);
    bool separator_ok = (i == 5) || text[i * 3 + 2] == ':';
    if (hi < 0 || lo < 0 || !separator_ok) {
      return MakeError(Errc::kInvalidArgument, "'{}' is not a MAC address (want xx:xx:xx:xx:xx:xx)",
                       text);
    }
    mac.bytes[i] = static_cast<uint8_t>(hi * 16 + lo);
  }
  return mac;
}

Result<Ipv4Address> ParseIpv4(std::string_view text) {
  Ipv4Address ip;
  std::string_view rest = text;
  for (size_t i = 0; i < 4; ++i) {
    size_t dot = rest.find('.');
    bool last = i == 3;
    if (last != (dot == std::string_view::npos)) {
      return MakeError(Errc::kInvalidArgument, "'{}' is not a dotted-quad IPv4 address", text);
    }
    std::string_view part = last ? rest : rest.substr(0, dot);
    uint32_t value = 0;
    if (!ParseDecimal(part, 255, value)) {
      return MakeError(Errc::kInvalidArgument, "'{}' is not a dotted-quad IPv4 address", text);
    }
    ip.bytes[i] = static_cast<uint8_t>(value);
    if (!last) rest.remove_prefix(dot + 1);
  }
  return ip;
}

Result<Ipv4Endpoint> ParseIpv4Endpoint(std::string_view text) {
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    return MakeError(Errc::kInvalidArgument, "'{}' is not ADDRESS:PORT (e.g. 127.0.0.1:9750)", text);
  }
  Ipv4Endpoint endpoint;
  REPLINK_ASSIGN_OR_RETURN(endpoint.ip, ParseIpv4(text.substr(0, colon)));
  uint32_t port = 0;
  if (!ParseDecimal(text.substr(colon + 1), 65535, port) || port == 0) {
    return MakeError(Errc::kInvalidArgument, "'{}': port must be 1..65535", text);
  }
  endpoint.port = static_cast<uint16_t>(port);
  return endpoint;
}

}  // namespace replink::config
