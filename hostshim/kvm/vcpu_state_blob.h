// The KVM vCPU state blob: everything KVM holds for one vCPU, serialised so that a fresh VM in another
// process (the peer, after failover) resumes the guest exactly. It travels as the VCPU_STATE record
// of every epoch and is stored in the replica's blob slot. docs/PROTOCOL.md "KVM vCPU state blob" is
// the prose; the structs here pin the layout.
//
//   VcpuBlobHeader (32 B), then sections: VcpuBlobSection (8 B) + payload, padded to 8 bytes.
//
// The payloads are the kernel's own structs (linux/kvm.h, x86-64) and are accepted only with exactly
// this host's sizes: a blob moves between hosts of the same KVM ABI, which a version field could not
// make otherwise.
#pragma once

#include <cstdint>
#include <span>

#include "errors/result.h"

namespace replink::kvm {

class KvmVcpu;
struct KvmSystem;

inline constexpr uint64_t kVcpuBlobMagic = 0x555043564b4c5052ULL;  // "RPLKVCPU"
inline constexpr uint32_t kVcpuBlobVersion = 1;

struct VcpuBlobHeader {
  uint64_t magic;
  uint32_t version;
  uint32_t header_bytes;   // 32
  uint32_t section_count;
  uint32_t total_bytes;    // header + every section, padding included
  uint32_t vcpu_index;
  uint32_t reserved;
};
static_assert(sizeof(VcpuBlobHeader) == 32);

enum class VcpuSection : uint32_t {
  kCpuid = 1,      // u32 count, u32 0, kvm_cpuid_entry2[count]
  kRegs = 2,       // kvm_regs
  kSregs = 3,      // kvm_sregs
  kFpu = 4,        // kvm_fpu (informational: XSAVE carries the same state and is what a restore loads)
  kXsave = 5,      // kvm_xsave (4096 B), KVM_CAP_XSAVE2 bytes when the host reports more than 4096
  kXcrs = 6,       // kvm_xcrs (absent when the host has no KVM_CAP_XCRS)
  kEvents = 7,     // kvm_vcpu_events
  kDebugRegs = 8,  // kvm_debugregs
  kMpState = 9,    // kvm_mp_state
  kMsrs = 10,      // u32 count, u32 0, VcpuBlobMsr[count]
};

struct VcpuBlobSection {
  uint32_t type;   // VcpuSection
  uint32_t bytes;  // payload bytes (the padding to 8 follows and is not counted)
};
static_assert(sizeof(VcpuBlobSection) == 8);

struct VcpuBlobMsr {
  uint32_t index;
  uint32_t reserved;
  uint64_t value;
};
static_assert(sizeof(VcpuBlobMsr) == 16);

// Largest blob this host produces (CPUID and MSR counts are bounded by what KVM reports).
std::size_t MaxVcpuBlobBytes(const KvmSystem& system);

// Serialises the vCPU (which must be outside KVM_RUN and settled, see KvmVcpu::Settle) into out.
Result<std::size_t> SaveVcpuState(KvmVcpu& vcpu, const KvmSystem& system, std::span<std::byte> out);

// Loads a blob (untrusted: every size is checked first) into a fresh vCPU, in the order that resumed
// exactly here: CPUID, regs, xsave, xcrs, sregs, msrs, mp_state, events, debugregs.
Result<void> RestoreVcpuState(KvmVcpu& vcpu, std::span<const std::byte> blob);

// RIP and RSP of a blob, for logs and tests.
struct VcpuBlobSummary {
  uint64_t rip = 0;
  uint64_t rsp = 0;
};
Result<VcpuBlobSummary> SummarizeVcpuBlob(std::span<const std::byte> blob);

}  // namespace replink::kvm
