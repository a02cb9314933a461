// Registration: how a shim hands a capture region to the dataplane. A Unix SOCK_SEQPACKET socket
// (path from the appliance config); one connection per protected VM, kept open for the registration's
// lifetime (EOF = the shim is gone). The request carries the region memfd (and optional fds) with
// SCM_RIGHTS. Prose spec: docs/PROTOCOL.md "Registration".
#pragma once

#include <cstdint>

namespace replink::registration_abi {

inline constexpr uint32_t kMagic = 0x524c5052;  // "RPLR" in memory order
inline constexpr uint32_t kMaxFds = 3;

enum class MessageType : uint32_t {
  kRegister = 1,    // shim -> dataplane, fds attached
  kReply = 2,       // dataplane -> shim
  kUnregister = 3,  // shim -> dataplane: clean detach (the dataplane completes nothing further)
};

// Which fds ride along, in this order after the region memfd (always first).
enum FdRoles : uint32_t {
  kFdRegion = 1u << 0,          // the capture region memfd (required)
  kFdDoorbellEventfd = 1u << 1, // eventfd the shim writes when the dataplane sleeps
  kFdGuestMemory = 1u << 2,     // read-only guest memory, for verifying consumers (tests, demo)
};

struct RegisterRequest {
  uint32_t magic;
  uint16_t abi_major;  // capture_abi::kAbiMajor of the shim
  uint16_t abi_minor;
  uint32_t type;       // MessageType
  uint32_t fd_roles;   // FdRoles present, in bit order
  uint64_t vm_id;
  uint64_t region_bytes;
  char vm_name[32];
  uint8_t reserved[64];
};
static_assert(sizeof(RegisterRequest) == 128);

struct RegisterReply {
  uint32_t magic;
  uint16_t abi_major;  // the dataplane's capture ABI
  uint16_t abi_minor;
  uint32_t type;       // kReply
  int32_t status;      // 0 = accepted; otherwise 1 + replink::Errc
  uint64_t vm_id;
  char message[104];   // NUL-terminated reason when refused
};
static_assert(sizeof(RegisterReply) == 128);

}  // namespace replink::registration_abi
