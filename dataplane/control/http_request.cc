#include "dataplane/control/http_request.h"

#include <fmt/format.h>

namespace replink::dataplane::control {
namespace {

bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < 'A' || c > 'Z') return false;  // methods we could ever serve are upper-case letters
  return true;
}

bool IsTarget(std::string_view s) {
  if (s.empty() || s[0] != '/') return false;
  for (char c : s)
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f) return false;
  return true;
}

}  // namespace

HttpParse ParseHttpRequestHead(std::string_view buffer, HttpRequest& out) {
  std::size_t end = buffer.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    // Some clients end lines with a bare LF.
    end = buffer.find("\n\n");
    if (end == std::string_view::npos) return buffer.size() > kMaxHttpHead ? HttpParse::kTooLarge : HttpParse::kIncomplete;
  }
  if (end > kMaxHttpHead) return HttpParse::kTooLarge;
  std::string_view line = buffer.substr(0, buffer.find('\n'));
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  std::size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos) return HttpParse::kBad;
  std::size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) return HttpParse::kBad;
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (!IsToken(method) || !IsTarget(target) || (version != "HTTP/1.0" && version != "HTTP/1.1"))
    return HttpParse::kBad;
  out.method = std::string(method);
  out.target = std::string(target);
  out.version = std::string(version);
  return HttpParse::kComplete;
}

std::string HttpResponse(int status, std::string_view reason, std::string_view content_type, std::string_view body,
                         bool head_only) {
  std::string out = fmt::format(
      "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n",
      status, reason, content_type, body.size());
  if (!head_only) out.append(body);
  return out;
}

std::string_view HttpPath(std::string_view target) { return target.substr(0, target.find('?')); }

}  // namespace replink::dataplane::control
