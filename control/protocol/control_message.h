// The JSON inside a control message (docs/PROTOCOL.md "Control protocol"):
//
//   request:  {"command": "link.set", "args": {"rate_mbps": 1000}}
//   response: {"ok": true, "result": {...}}
//             {"ok": false, "error": {"code": "invalid-argument", "message": "...", "details": {...}}}
//
// Error codes are stable strings: replinkctl turns them into exit codes, scripts may match them.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "errors/result.h"

namespace replink::control {

using Json = nlohmann::json;

// The commands the control server knows (the request's "command").
inline constexpr std::string_view kCommands[] = {"status",  "stats",      "link.show",    "link.set",
                                                  "vm.list", "vm.protect", "vm.unprotect", "failover"};

enum class ControlErrc : uint8_t {
  kInvalidArgument,   // a value out of range or malformed: nothing was changed
  kUnsupported,       // this dataplane cannot do that (yet); the message says what is missing
  kBadState,          // not now: wrong role, link down, VM not registered, ...
  kNotFound,          // no such VM or command
  kPermissionDenied,  // the caller's credentials are not allowed on this socket
  kProtocol,          // malformed message or JSON
  kTimeout,           // the worker did not answer in time
  kInternal,
};
const char* ControlErrcName(ControlErrc code);
std::optional<ControlErrc> ParseControlErrc(std::string_view name);
ControlErrc ControlErrcFor(Errc code);

struct ControlRequest {
  std::string command;
  Json args = Json::object();
};

struct ControlReply {
  bool ok = false;
  Json result;                 // when ok
  ControlErrc code = ControlErrc::kInternal;  // otherwise
  std::string message;
  Json details;                // optional structured context (e.g. the allowed ranges)
};

std::string RequestBody(std::string_view command, const Json& args = Json::object());
// Checks the shape: an object with a string "command" and an optional object "args", nothing else.
Result<ControlRequest> ParseRequest(std::string_view body);

std::string OkBody(const Json& result);
std::string ErrorBody(ControlErrc code, std::string_view message, const Json& details = nullptr);
Result<ControlReply> ParseReply(std::string_view body);

}  // namespace replink::control
