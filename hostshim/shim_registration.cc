#include "hostshim/shim_registration.h"

#include <sys/eventfd.h>

#include <chrono>
#include <cstring>
#include <thread>

namespace replink {

Result<ShimConnection> ConnectToDataplane(const std::string& socket_path, CaptureRingWriter& ring,
                                          int guest_memory_fd, int connect_timeout_ms) {
  using namespace registration_abi;
  ShimConnection conn;
  conn.doorbell_eventfd.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!conn.doorbell_eventfd.valid()) return SysError("eventfd");
  const capture_abi::RegionIdentity& id = ring.identity();
  RegisterRequest req{};
  req.magic = kMagic;
  req.abi_major = capture_abi::kAbiMajor;
  req.abi_minor = capture_abi::kAbiMinor;
  req.type = static_cast<uint32_t>(MessageType::kRegister);
  req.fd_roles = kFdRegion | kFdDoorbellEventfd | (guest_memory_fd >= 0 ? kFdGuestMemory : 0u);
  req.vm_id = id.vm_id;
  req.region_bytes = id.region_bytes;
  std::memcpy(req.vm_name, id.vm_name, sizeof(req.vm_name));
  std::vector<int> fds{ring.region().fd(), conn.doorbell_eventfd.get()};
  if (guest_memory_fd >= 0) fds.push_back(guest_memory_fd);

  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(connect_timeout_ms);
  while (true) {
    auto reg = RegisterWithDataplane(socket_path, req, fds, 5000);
    if (reg.ok()) {
      conn.registration = std::move(reg).value();
      ring.SetDataplaneEventfd(conn.doorbell_eventfd.get());
      return conn;
    }
    // Only "nobody listening yet" is worth retrying; a refusal is final.
    bool retry = reg.error().code == Errc::kIo &&
                 (reg.error().sys_errno == ENOENT || reg.error().sys_errno == ECONNREFUSED);
    if (!retry || std::chrono::steady_clock::now() > deadline) return std::move(reg).error();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace replink
