// Text forms of link-layer and IPv4 addresses as written in appliance configs.
#pragma once

#include <cstdint>
#include <string_view>

#include "dataplane/config/appliance_config.h"
#include "errors/result.h"

namespace replink::config {

// "02:00:00:00:00:0a" (colon-separated, hex, case-insensitive).
Result<MacAddress> ParseMac(std::string_view text);

// Dotted quad "192.0.2.1"; no leading zeros, no shorthand forms.
Result<Ipv4Address> ParseIpv4(std::string_view text);

struct Ipv4Endpoint {
  Ipv4Address ip;
  uint16_t port = 0;
};

// "127.0.0.1:9750"; port 1..65535.
Result<Ipv4Endpoint> ParseIpv4Endpoint(std::string_view text);

}  // namespace replink::config
