#include "control/protocol/control_message.h"

namespace replink::control {
namespace {

// Names from shims and configurations reach the JSON: invalid UTF-8 is replaced, never thrown on.
std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

}  // namespace

const char* ControlErrcName(ControlErrc code) {
  switch (code) {
    case ControlErrc::kInvalidArgument: return "invalid-argument";
    case ControlErrc::kUnsupported: return "unsupported";
    case ControlErrc::kBadState: return "bad-state";
    case ControlErrc::kNotFound: return "not-found";
    case ControlErrc::kPermissionDenied: return "permission-denied";
    case ControlErrc::kProtocol: return "protocol-error";
    case ControlErrc::kTimeout: return "timeout";
    case ControlErrc::kInternal: return "internal";
  }
  return "internal";
}

std::optional<ControlErrc> ParseControlErrc(std::string_view name) {
  for (int i = 0; i <= static_cast<int>(ControlErrc::kInternal); ++i) {
    auto code = static_cast<ControlErrc>(i);
    if (name == ControlErrcName(code)) return code;
  }
  return std::nullopt;
}

ControlErrc ControlErrcFor(Errc code) {
  switch (code) {
    case Errc::kInvalidArgument: return ControlErrc::kInvalidArgument;
    case Errc::kUnsupported: return ControlErrc::kUnsupported;
    case Errc::kState:
    case Errc::kClosed: return ControlErrc::kBadState;
    case Errc::kTimeout: return ControlErrc::kTimeout;
    case Errc::kCorrupt:
    case Errc::kVersionMismatch: return ControlErrc::kProtocol;
    default: return ControlErrc::kInternal;
  }
}

std::string RequestBody(std::string_view command, const Json& args) {
  return Dump(Json{{"command", command}, {"args", args}});
}

Result<ControlRequest> ParseRequest(std::string_view body) {
  Json j = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return MakeError(Errc::kCorrupt, "request is not valid JSON");
  if (!j.is_object()) return MakeError(Errc::kCorrupt, "request must be a JSON object");
  ControlRequest r;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() == "command") {
      if (!it.value().is_string()) return MakeError(Errc::kCorrupt, "request 'command' must be a string");
      r.command = it.value().get<std::string>();
    } else if (it.key() == "args") {
      if (!it.value().is_object()) return MakeError(Errc::kCorrupt, "request 'args' must be an object");
      r.args = it.value();
    } else {
      return MakeError(Errc::kCorrupt, "request has an unknown member '{}'", it.key());
    }
  }
  if (r.command.empty()) return MakeError(Errc::kCorrupt, "request has no 'command'");
  return r;
}

std::string OkBody(const Json& result) { return Dump(Json{{"ok", true}, {"result", result}}); }

std::string ErrorBody(ControlErrc code, std::string_view message, const Json& details) {
  Json error{{"code", ControlErrcName(code)}, {"message", message}};
  if (!details.is_null()) error["details"] = details;
  return Dump(Json{{"ok", false}, {"error", error}});
}

Result<ControlReply> ParseReply(std::string_view body) {
  Json j = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return MakeError(Errc::kCorrupt, "response is not a JSON object");
  auto ok = j.find("ok");
  if (ok == j.end() || !ok->is_boolean()) return MakeError(Errc::kCorrupt, "response has no boolean 'ok'");
  ControlReply r;
  r.ok = ok->get<bool>();
  if (r.ok) {
    auto result = j.find("result");
    r.result = result == j.end() ? Json::object() : *result;
    return r;
  }
  auto error = j.find("error");
  if (error == j.end() || !error->is_object()) return MakeError(Errc::kCorrupt, "error response has no 'error'");
  auto code = error->find("code");
  auto message = error->find("message");
  if (code == error->end() || !code->is_string() || message == error->end() || !message->is_string())
    return MakeError(Errc::kCorrupt, "error response lacks 'code' or 'message'");
  // A code this client does not know (a newer server) still fails the command, as "internal".
  r.code = ParseControlErrc(code->get<std::string>()).value_or(ControlErrc::kInternal);
  r.message = message->get<std::string>();
  if (auto details = error->find("details"); details != error->end()) r.details = *details;
  return r;
}

}  // namespace replink::control
