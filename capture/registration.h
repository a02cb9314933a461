// Both ends of the registration socket (format in capture/registration_abi.h).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "capture/registration_abi.h"
#include "capture/unique_fd.h"
#include "errors/result.h"

namespace replink {

// Sends one message with up to kMaxFds descriptors (SCM_RIGHTS).
Result<void> SendWithFds(int sock, std::span<const std::byte> message, std::span<const int> fds);
// Receives one message; received fds are returned owned. kClosed on EOF, kTimeout after timeout_ms.
Result<std::size_t> ReceiveWithFds(int sock, std::span<std::byte> buffer, std::vector<UniqueFd>* fds,
                                   int timeout_ms);

// Shim side: connects, sends REGISTER with the fds, waits for the reply. The returned socket stays
// open for the registration's lifetime.
struct ShimRegistration {
  UniqueFd socket;
  registration_abi::RegisterReply reply{};
};
Result<ShimRegistration> RegisterWithDataplane(const std::string& socket_path,
                                               const registration_abi::RegisterRequest& request,
                                               std::span<const int> fds, int timeout_ms);

// Dataplane side: a listening socket polled by the control thread (non-blocking accept).
class RegistrationListener {
 public:
  static Result<RegistrationListener> Listen(const std::string& socket_path);
  // Returns an accepted connection, or an invalid fd when none is pending.
  Result<UniqueFd> Accept();
  int fd() const { return fd_.get(); }
  const std::string& path() const { return path_; }
  RegistrationListener(RegistrationListener&&) = default;
  RegistrationListener& operator=(RegistrationListener&&) = default;
  ~RegistrationListener();

 private:
  RegistrationListener(UniqueFd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}
  UniqueFd fd_;
  std::string path_;
};

// A received and checked REGISTER: the request and its fds by role.
struct IncomingRegistration {
  registration_abi::RegisterRequest request{};
  UniqueFd region;
  UniqueFd doorbell_eventfd;
  UniqueFd guest_memory;
};
// Reads and validates a REGISTER from a fresh connection (untrusted bytes and fd counts).
Result<IncomingRegistration> ReceiveRegistration(int sock, int timeout_ms);
Result<void> SendReply(int sock, uint64_t vm_id, const Result<void>& outcome);

}  // namespace replink
