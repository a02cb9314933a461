// Just enough HTTP/1.x for a Prometheus scrape: the request head is parsed (untrusted: bounded,
// every malformed request refused with a status code), the response is written whole and the
// connection closed. DPDK-free; unit tested.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace replink::dataplane::control {

inline constexpr std::size_t kMaxHttpHead = 8192;

struct HttpRequest {
  std::string method;
  std::string target;  // path and query as sent
  std::string version;
};

enum class HttpParse { kIncomplete, kComplete, kBad, kTooLarge };

// Parses the request line once the whole head ("...\r\n\r\n") is in `buffer`.
HttpParse ParseHttpRequestHead(std::string_view buffer, HttpRequest& out);

// A complete response with Content-Length and Connection: close. `head_only` for HEAD requests.
std::string HttpResponse(int status, std::string_view reason, std::string_view content_type, std::string_view body,
                         bool head_only = false);

// The path part of a request target ("/metrics?x=1" -> "/metrics").
std::string_view HttpPath(std::string_view target);

}  // namespace replink::dataplane::control
