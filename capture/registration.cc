#include "capture/registration.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "capture/capture_ring_abi.h"

namespace replink {
namespace {

using namespace registration_abi;

Result<sockaddr_un> UnixAddress(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path))
    return MakeError(Errc::kInvalidArgument, "socket path '{}' is empty or longer than {} bytes", path,
                     sizeof(addr.sun_path) - 1);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

}  // namespace

Result<void> SendWithFds(int sock, std::span<const std::byte> message, std::span<const int> fds) {
  if (fds.size() > kMaxFds) return MakeError(Errc::kInvalidArgument, "too many fds ({})", fds.size());
  iovec iov{const_cast<std::byte*>(message.data()), message.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (!fds.empty()) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  ssize_t n = sendmsg(sock, &msg, MSG_NOSIGNAL);
  if (n < 0) return SysError("sendmsg on registration socket");
  if (static_cast<std::size_t>(n) != message.size())
    return MakeError(Errc::kIo, "short send on registration socket ({} of {})", n, message.size());
  return Ok();
}

Result<std::size_t> ReceiveWithFds(int sock, std::span<std::byte> buffer, std::vector<UniqueFd>* fds,
                                   int timeout_ms) {
  pollfd p{sock, POLLIN, 0};
  int pr = poll(&p, 1, timeout_ms);
  if (pr < 0) return SysError("poll on registration socket");
  if (pr == 0) return MakeError(Errc::kTimeout, "no message within {} ms", timeout_ms);
  iovec iov{buffer.data(), buffer.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  if (n < 0) return SysError("recvmsg on registration socket");
  // Take ownership of every fd the kernel installed, even if we then refuse the message.
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      fds->emplace_back(fd);
    }
  }
  if (n == 0) return MakeError(Errc::kClosed, "peer closed the registration socket");
  if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
    return MakeError(Errc::kCorrupt, "registration message or its fds truncated");
  return static_cast<std::size_t>(n);
}

Result<ShimRegistration> RegisterWithDataplane(const std::string& socket_path, const RegisterRequest& request,
                                               std::span<const int> fds, int timeout_ms) {
  REPLINK_ASSIGN_OR_RETURN(sockaddr_un addr, UnixAddress(socket_path));
  UniqueFd sock(socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!sock.valid()) return SysError("socket(AF_UNIX)");
  if (connect(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0)
    return SysError("connect to dataplane registration socket {}", socket_path);
  REPLINK_TRY(SendWithFds(sock.get(), std::as_bytes(std::span(&request, 1)), fds));
  ShimRegistration out;
  std::vector<UniqueFd> unexpected;
  REPLINK_ASSIGN_OR_RETURN(std::size_t n, ReceiveWithFds(sock.get(), std::as_writable_bytes(std::span(&out.reply, 1)),
                                                         &unexpected, timeout_ms));
  if (n != sizeof(RegisterReply) || out.reply.magic != kMagic ||
      out.reply.type != static_cast<uint32_t>(MessageType::kReply))
    return MakeError(Errc::kCorrupt, "malformed registration reply ({} bytes)", n);
  out.reply.message[sizeof(out.reply.message) - 1] = '\0';
  if (out.reply.abi_major != capture_abi::kAbiMajor)
    return MakeError(Errc::kVersionMismatch, "dataplane speaks capture ABI {}.{}, this shim {}.{}",
                     out.reply.abi_major, out.reply.abi_minor, capture_abi::kAbiMajor, capture_abi::kAbiMinor);
  if (out.reply.status != 0) {
    int code = out.reply.status - 1;
    Errc errc = code >= 0 && code <= static_cast<int>(Errc::kState) ? static_cast<Errc>(code) : Errc::kState;
    return MakeError(errc, "dataplane refused vm {}: {}", request.vm_id, out.reply.message);
  }
  out.socket = std::move(sock);
  return out;
}

Result<RegistrationListener> RegistrationListener::Listen(const std::string& socket_path) {
  REPLINK_ASSIGN_OR_RETURN(sockaddr_un addr, UnixAddress(socket_path));
  UniqueFd sock(socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!sock.valid()) return SysError("socket(AF_UNIX)");
  unlink(socket_path.c_str());  // a stale socket from a previous run
  if (bind(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0)
    return SysError("bind registration socket {}", socket_path);
  if (listen(sock.get(), 16) != 0) return SysError("listen on {}", socket_path);
  return RegistrationListener(std::move(sock), socket_path);
}

RegistrationListener::~RegistrationListener() {
  if (fd_.valid()) unlink(path_.c_str());
}

Result<UniqueFd> RegistrationListener::Accept() {
  int fd = accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC);
  if (fd < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return UniqueFd();
    return SysError("accept on {}", path_);
  }
  return UniqueFd(fd);
}

Result<IncomingRegistration> ReceiveRegistration(int sock, int timeout_ms) {
  IncomingRegistration in;
  std::vector<UniqueFd> fds;
  alignas(8) std::byte buffer[sizeof(RegisterRequest) + 1];
  REPLINK_ASSIGN_OR_RETURN(std::size_t n, ReceiveWithFds(sock, buffer, &fds, timeout_ms));
  if (n != sizeof(RegisterRequest))
    return MakeError(Errc::kCorrupt, "registration request of {} bytes (expected {})", n,
                     sizeof(RegisterRequest));
  std::memcpy(&in.request, buffer, sizeof(RegisterRequest));
  const RegisterRequest& r = in.request;
  if (r.magic != kMagic) return MakeError(Errc::kCorrupt, "bad registration magic {:#x}", r.magic);
  if (r.type != static_cast<uint32_t>(MessageType::kRegister))
    return MakeError(Errc::kCorrupt, "expected REGISTER, got message type {}", r.type);
  if (r.abi_major != capture_abi::kAbiMajor)
    return MakeError(Errc::kVersionMismatch, "shim speaks capture ABI {}.{}, this dataplane {}.{}",
                     r.abi_major, r.abi_minor, capture_abi::kAbiMajor, capture_abi::kAbiMinor);
  uint32_t known = kFdRegion | kFdDoorbellEventfd | kFdGuestMemory;
  if ((r.fd_roles & kFdRegion) == 0 || (r.fd_roles & ~known) != 0)
    return MakeError(Errc::kCorrupt, "bad fd roles {:#x}", r.fd_roles);
  std::size_t expected = static_cast<std::size_t>(__builtin_popcount(r.fd_roles));
  if (fds.size() != expected)
    return MakeError(Errc::kCorrupt, "fd roles {:#x} announce {} fds, {} received", r.fd_roles, expected,
                     fds.size());
  std::size_t next = 0;
  in.region = std::move(fds[next++]);
  if (r.fd_roles & kFdDoorbellEventfd) in.doorbell_eventfd = std::move(fds[next++]);
  if (r.fd_roles & kFdGuestMemory) in.guest_memory = std::move(fds[next++]);
  in.request.vm_name[sizeof(in.request.vm_name) - 1] = '\0';
  return in;
}

Result<void> SendReply(int sock, uint64_t vm_id, const Result<void>& outcome) {
  RegisterReply reply{};
  reply.magic = kMagic;
  reply.abi_major = capture_abi::kAbiMajor;
  reply.abi_minor = capture_abi::kAbiMinor;
  reply.type = static_cast<uint32_t>(MessageType::kReply);
  reply.vm_id = vm_id;
  if (!outcome.ok()) {
    reply.status = 1 + static_cast<int32_t>(outcome.error().code);
    std::string text = outcome.error().Describe();
    std::strncpy(reply.message, text.c_str(), sizeof(reply.message) - 1);
  }
  return SendWithFds(sock, std::as_bytes(std::span(&reply, 1)), {});
}

}  // namespace replink
