// ControlClient: the replinkctl end of the control socket. One connection, calls one at a time, each
// with a deadline; errors say what the operator should check (is the dataplane running, am I allowed).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "capture/unique_fd.h"
#include "control/protocol/control_frame.h"
#include "control/protocol/control_message.h"
#include "errors/result.h"

namespace replink::control {

class ControlClient {
 public:
  static Result<ControlClient> Connect(const std::string& socket_path, int timeout_ms);

  // Sends one request and waits for its response. A transport or protocol failure is an Error (the
  // connection is unusable afterwards); a command the server refused is a reply with ok = false.
  Result<ControlReply> Call(std::string_view command, const Json& args, int timeout_ms);

 private:
  ControlClient(UniqueFd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}

  UniqueFd fd_;
  std::string path_;
  uint32_t next_id_ = 1;
  MessageAssembler assembler_{MessageKind::kResponse, kMaxResponseBody};
};

}  // namespace replink::control
