#include "control/protocol/control_client.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <chrono>
#include <cstring>
#include <optional>

namespace replink::control {
namespace {

using Clock = std::chrono::steady_clock;

int RemainingMs(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

Error ConnectError(const std::string& path) {
  int e = errno;
  switch (e) {
    case ENOENT:
      return MakeError(Errc::kClosed, "no control socket at {}: is replink-dataplane running (see [control] socket)?",
                       path);
    case ECONNREFUSED:
      return MakeError(Errc::kClosed, "nobody listens on {}: the dataplane is not running (stale socket)", path);
    case EACCES:
    case EPERM:
      return MakeError(Errc::kInvalidArgument,
                       "permission denied on {}: run as root or as a member of the [control] group", path);
    default: errno = e; return SysError("connect to {}", path);
  }
}

}  // namespace

Result<ControlClient> ControlClient::Connect(const std::string& socket_path, int timeout_ms) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.empty() || socket_path.size() >= sizeof(addr.sun_path))
    return MakeError(Errc::kInvalidArgument, "control socket path '{}' is empty or longer than {} bytes", socket_path,
                     sizeof(addr.sun_path) - 1);
  std::memcpy(addr.sun_path, socket_path.data(), socket_path.size());
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) return SysError("socket");
  if (connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    if (errno != EINPROGRESS && errno != EAGAIN) return ConnectError(socket_path);
    // A full listen backlog: wait for room.
    pollfd p{fd.get(), POLLOUT, 0};
    if (poll(&p, 1, timeout_ms) <= 0)
      return MakeError(Errc::kTimeout, "connecting to {} took longer than {} ms", socket_path, timeout_ms);
    int err = 0;
    socklen_t len = sizeof(err);
    getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      errno = err;
      return ConnectError(socket_path);
    }
  }
  return ControlClient(std::move(fd), socket_path);
}

Result<ControlReply> ControlClient::Call(std::string_view command, const Json& args, int timeout_ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  uint32_t id = next_id_++;
  std::string out = EncodeMessage(MessageKind::kRequest, id, RequestBody(command, args));
  std::size_t sent = 0;
  std::optional<Error> send_error;
  while (sent < out.size()) {
    ssize_t n = send(fd_.get(), out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) {
      // The server may have refused the connection (credentials) and closed it: its answer, with
      // the reason, can still be waiting to be read.
      send_error = SysError("send to {}", path_);
      break;
    }
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return SysError("send to {}", path_);
    pollfd p{fd_.get(), POLLOUT, 0};
    if (poll(&p, 1, RemainingMs(deadline)) <= 0)
      return MakeError(Errc::kTimeout, "sending '{}' to {} timed out", command, path_);
  }
  std::byte buffer[16384];
  for (;;) {
    if (auto m = assembler_.Take()) {
      // Id 0 is the server speaking about the connection itself (refused credentials, a framing
      // error) before or instead of answering: that answer is the outcome of this call.
      if (m->request_id == 0) return ParseReply(m->body);
      if (m->request_id != id)
        return MakeError(Errc::kCorrupt, "response for request {} while waiting for {}", m->request_id, id);
      return ParseReply(m->body);
    }
    pollfd p{fd_.get(), POLLIN, 0};
    int ready = poll(&p, 1, RemainingMs(deadline));
    if (ready == 0) return MakeError(Errc::kTimeout, "no answer to '{}' from {} within {} ms", command, path_, timeout_ms);
    if (ready < 0 && errno != EINTR) return SysError("poll {}", path_);
    ssize_t n = recv(fd_.get(), buffer, sizeof(buffer), 0);
    if (n == 0) {
      if (send_error) return *send_error;
      return MakeError(Errc::kClosed, "the dataplane closed the control connection ({})", path_);
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;
      if (send_error) return *send_error;
      return SysError("recv from {}", path_);
    }
    REPLINK_TRY(assembler_.Feed(std::span<const std::byte>(buffer, static_cast<std::size_t>(n))));
  }
}

}  // namespace replink::control
