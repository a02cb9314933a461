#include "hostshim/kvm/vcpu_state_blob.h"

#include <linux/kvm.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

#include "hostshim/kvm/kvm_abi.h"
#include "hostshim/kvm/kvm_vcpu.h"
#include "hostshim/kvm/kvm_vm.h"

namespace replink::kvm {
namespace {

constexpr std::size_t Pad8(std::size_t n) { return (n + 7) & ~std::size_t{7}; }
constexpr uint32_t kMaxMsrs = 1024;
constexpr uint32_t kMaxCpuid = 4096;

class BlobWriter {
 public:
  explicit BlobWriter(std::span<std::byte> out) : out_(out), used_(sizeof(VcpuBlobHeader)) {}
  // Reserves a section of `bytes` and returns its payload (zeroed), or an empty span when full.
  std::span<std::byte> Add(VcpuSection type, std::size_t bytes) {
    std::size_t need = sizeof(VcpuBlobSection) + Pad8(bytes);
    if (used_ + need > out_.size()) {
      full_ = true;
      return {};
    }
    VcpuBlobSection s{static_cast<uint32_t>(type), static_cast<uint32_t>(bytes)};
    std::memcpy(out_.data() + used_, &s, sizeof s);
    std::span<std::byte> payload = out_.subspan(used_ + sizeof s, Pad8(bytes));
    std::memset(payload.data(), 0, payload.size());
    used_ += need;
    ++sections_;
    return payload.first(bytes);
  }
  template <typename T>
  T* AddStruct(VcpuSection type) {
    std::span<std::byte> p = Add(type, sizeof(T));
    return p.empty() ? nullptr : reinterpret_cast<T*>(p.data());
  }
  bool full() const { return full_; }
  std::size_t Finish(uint32_t vcpu_index) {
    VcpuBlobHeader h{kVcpuBlobMagic, kVcpuBlobVersion, sizeof(VcpuBlobHeader), sections_,
                     static_cast<uint32_t>(used_), vcpu_index, 0};
    std::memcpy(out_.data(), &h, sizeof h);
    return used_;
  }

 private:
  std::span<std::byte> out_;
  std::size_t used_;
  uint32_t sections_ = 0;
  bool full_ = false;
};

template <typename T>
Result<void> Get(int fd, unsigned long request, T* value, const char* what, uint32_t index) {
  if (value == nullptr) return MakeError(Errc::kNoSpace, "vCPU {} state blob: no room for {}", index, what);
  if (ioctl(fd, request, value) < 0) return SysError("{} vCPU {}", what, index);
  return Ok();
}

// Reads every MSR KVM lists; an MSR that cannot be read (KVM_GET_MSRS stops at the first failure) is
// skipped, so the blob holds exactly the readable ones.
Result<std::vector<VcpuBlobMsr>> ReadMsrs(int fd, std::span<const uint32_t> indices, uint32_t vcpu) {
  std::vector<VcpuBlobMsr> out;
  std::vector<std::byte> buf(sizeof(abi::CountHead) + indices.size() * sizeof(kvm_msr_entry));
  auto* entries = reinterpret_cast<kvm_msr_entry*>(buf.data() + sizeof(abi::CountHead));
  std::size_t pos = 0;
  while (pos < indices.size()) {
    std::size_t n = indices.size() - pos;
    std::memset(buf.data(), 0, buf.size());
    abi::CountHead head{static_cast<uint32_t>(n), 0};
    std::memcpy(buf.data(), &head, sizeof head);
    for (std::size_t i = 0; i < n; ++i) entries[i].index = indices[pos + i];
    int got = ioctl(fd, abi::kGetMsrs, buf.data());
    if (got < 0) return SysError("KVM_GET_MSRS vCPU {}", vcpu);
    for (int i = 0; i < got; ++i) out.push_back(VcpuBlobMsr{entries[i].index, 0, entries[i].data});
    pos += static_cast<std::size_t>(got) + 1;  // skip the one that failed (if any)
  }
  return out;
}

struct ParsedBlob {
  std::array<std::span<const std::byte>, 11> sections{};
};

Result<ParsedBlob> Parse(std::span<const std::byte> blob) {
  VcpuBlobHeader h{};
  if (blob.size() < sizeof h) return MakeError(Errc::kCorrupt, "vCPU blob of {} bytes is shorter than its header", blob.size());
  std::memcpy(&h, blob.data(), sizeof h);
  if (h.magic != kVcpuBlobMagic) return MakeError(Errc::kCorrupt, "vCPU blob: bad magic {:#x}", h.magic);
  if (h.version != kVcpuBlobVersion)
    return Error{Errc::kVersionMismatch, fmt::format("vCPU blob version {} (this build reads {})", h.version, kVcpuBlobVersion), 0};
  if (h.header_bytes != sizeof h || h.total_bytes > blob.size() || h.total_bytes < sizeof h)
    return MakeError(Errc::kCorrupt, "vCPU blob: header_bytes {} total_bytes {} (blob {} bytes)", h.header_bytes,
                     h.total_bytes, blob.size());
  ParsedBlob p;
  std::size_t off = sizeof h;
  for (uint32_t i = 0; i < h.section_count; ++i) {
    VcpuBlobSection s{};
    if (off + sizeof s > h.total_bytes) return MakeError(Errc::kCorrupt, "vCPU blob: section {} header past the end", i);
    std::memcpy(&s, blob.data() + off, sizeof s);
    off += sizeof s;
    if (s.bytes > h.total_bytes - off || Pad8(s.bytes) > h.total_bytes - off)
      return MakeError(Errc::kCorrupt, "vCPU blob: section {} (type {}) of {} bytes past the end", i, s.type, s.bytes);
    if (s.type == 0 || s.type >= p.sections.size())
      return MakeError(Errc::kCorrupt, "vCPU blob: unknown section type {}", s.type);
    if (!p.sections[s.type].empty()) return MakeError(Errc::kCorrupt, "vCPU blob: section type {} twice", s.type);
    p.sections[s.type] = blob.subspan(off, s.bytes);
    off += Pad8(s.bytes);
  }
  if (off != h.total_bytes) return MakeError(Errc::kCorrupt, "vCPU blob: {} bytes after the last section", h.total_bytes - off);
  return p;
}

template <typename T>
Result<T> Fixed(const ParsedBlob& p, VcpuSection type, const char* what) {
  std::span<const std::byte> s = p.sections[static_cast<uint32_t>(type)];
  if (s.size() != sizeof(T))
    return MakeError(Errc::kCorrupt, "vCPU blob: {} section is {} bytes, this host's struct is {}", what, s.size(), sizeof(T));
  T v;
  std::memcpy(&v, s.data(), sizeof v);
  return v;
}

// A counted array section: u32 count, u32 0, T[count].
template <typename T>
Result<std::span<const std::byte>> Counted(const ParsedBlob& p, VcpuSection type, uint32_t max, uint32_t* count,
                                           const char* what) {
  std::span<const std::byte> s = p.sections[static_cast<uint32_t>(type)];
  if (s.size() < 8) return MakeError(Errc::kCorrupt, "vCPU blob: {} section missing or short", what);
  std::memcpy(count, s.data(), 4);
  if (*count > max || s.size() != 8 + std::size_t{*count} * sizeof(T))
    return MakeError(Errc::kCorrupt, "vCPU blob: {} section of {} bytes for {} entries", what, s.size(), *count);
  return s.subspan(8);
}

}  // namespace

std::size_t MaxVcpuBlobBytes(const KvmSystem& system) {
  return sizeof(VcpuBlobHeader) + 10 * sizeof(VcpuBlobSection) + 8 + system.supported_cpuid.size() * sizeof(kvm_cpuid_entry2) +
         Pad8(sizeof(kvm_regs)) + Pad8(sizeof(kvm_sregs)) + Pad8(sizeof(kvm_fpu)) + Pad8(system.xsave_bytes) +
         Pad8(sizeof(kvm_xcrs)) + Pad8(sizeof(kvm_vcpu_events)) + Pad8(sizeof(kvm_debugregs)) +
         Pad8(sizeof(kvm_mp_state)) + 8 + system.msr_indices.size() * sizeof(VcpuBlobMsr);
}

Result<std::size_t> SaveVcpuState(KvmVcpu& vcpu, const KvmSystem& system, std::span<std::byte> out) {
  const int fd = vcpu.fd();
  const uint32_t idx = vcpu.index();
  if (out.size() < sizeof(VcpuBlobHeader)) return MakeError(Errc::kNoSpace, "vCPU {} state buffer too small", idx);
  BlobWriter w(out);

  // CPUID as the vCPU has it (KVM_GET_CPUID2 needs the count: ask with the supported table's size).
  std::vector<std::byte> cpuid_buf(sizeof(abi::CountHead) + kMaxCpuid * sizeof(kvm_cpuid_entry2));
  abi::CountHead head{kMaxCpuid, 0};
  std::memcpy(cpuid_buf.data(), &head, sizeof head);
  if (ioctl(fd, abi::kGetCpuid2, cpuid_buf.data()) < 0) return SysError("KVM_GET_CPUID2 vCPU {}", idx);
  std::memcpy(&head, cpuid_buf.data(), sizeof head);
  if (head.count > kMaxCpuid) return MakeError(Errc::kUnsupported, "vCPU {}: {} CPUID entries", idx, head.count);
  // Same layout as the blob's section: count, padding, entries.
  std::span<std::byte> c = w.Add(VcpuSection::kCpuid, 8 + head.count * sizeof(kvm_cpuid_entry2));
  if (!c.empty()) std::memcpy(c.data(), cpuid_buf.data(), c.size());
  REPLINK_TRY(Get(fd, KVM_GET_REGS, w.AddStruct<kvm_regs>(VcpuSection::kRegs), "KVM_GET_REGS", idx));
  REPLINK_TRY(Get(fd, KVM_GET_SREGS, w.AddStruct<kvm_sregs>(VcpuSection::kSregs), "KVM_GET_SREGS", idx));
  REPLINK_TRY(Get(fd, KVM_GET_FPU, w.AddStruct<kvm_fpu>(VcpuSection::kFpu), "KVM_GET_FPU", idx));
  std::span<std::byte> xsave = w.Add(VcpuSection::kXsave, system.xsave_bytes);
  if (xsave.empty()) return MakeError(Errc::kNoSpace, "vCPU {} state blob: no room for XSAVE", idx);
  unsigned long xsave_req = system.xsave_bytes > abi::kXsaveLegacyBytes ? abi::kGetXsave2 : abi::kGetXsave;
  if (ioctl(fd, xsave_req, xsave.data()) < 0) return SysError("KVM_GET_XSAVE vCPU {}", idx);
  if (system.has_xcrs) REPLINK_TRY(Get(fd, KVM_GET_XCRS, w.AddStruct<kvm_xcrs>(VcpuSection::kXcrs), "KVM_GET_XCRS", idx));
  REPLINK_TRY(Get(fd, KVM_GET_VCPU_EVENTS, w.AddStruct<kvm_vcpu_events>(VcpuSection::kEvents), "KVM_GET_VCPU_EVENTS", idx));
  REPLINK_TRY(Get(fd, KVM_GET_DEBUGREGS, w.AddStruct<kvm_debugregs>(VcpuSection::kDebugRegs), "KVM_GET_DEBUGREGS", idx));
  REPLINK_TRY(Get(fd, KVM_GET_MP_STATE, w.AddStruct<kvm_mp_state>(VcpuSection::kMpState), "KVM_GET_MP_STATE", idx));
  REPLINK_ASSIGN_OR_RETURN(std::vector<VcpuBlobMsr> msrs, ReadMsrs(fd, system.msr_indices, idx));
  std::span<std::byte> m = w.Add(VcpuSection::kMsrs, 8 + msrs.size() * sizeof(VcpuBlobMsr));
  if (m.empty()) return MakeError(Errc::kNoSpace, "vCPU {} state blob: no room for {} MSRs", idx, msrs.size());
  uint32_t count = static_cast<uint32_t>(msrs.size());
  std::memcpy(m.data(), &count, 4);
  std::memcpy(m.data() + 8, msrs.data(), msrs.size() * sizeof(VcpuBlobMsr));
  if (w.full()) return MakeError(Errc::kNoSpace, "vCPU {} state blob larger than {} bytes", idx, out.size());
  return w.Finish(idx);
}

Result<void> RestoreVcpuState(KvmVcpu& vcpu, std::span<const std::byte> blob) {
  const int fd = vcpu.fd();
  const uint32_t idx = vcpu.index();
  REPLINK_ASSIGN_OR_RETURN(ParsedBlob p, Parse(blob));
  // Check everything before the first ioctl: a bad blob must not leave a half-loaded vCPU.
  uint32_t ncpuid = 0, nmsrs = 0;
  REPLINK_ASSIGN_OR_RETURN(auto cpuid_bytes, Counted<kvm_cpuid_entry2>(p, VcpuSection::kCpuid, kMaxCpuid, &ncpuid, "CPUID"));
  REPLINK_ASSIGN_OR_RETURN(auto msr_bytes, Counted<VcpuBlobMsr>(p, VcpuSection::kMsrs, kMaxMsrs, &nmsrs, "MSR"));
  REPLINK_ASSIGN_OR_RETURN(kvm_regs regs, Fixed<kvm_regs>(p, VcpuSection::kRegs, "REGS"));
  REPLINK_ASSIGN_OR_RETURN(kvm_sregs sregs, Fixed<kvm_sregs>(p, VcpuSection::kSregs, "SREGS"));
  REPLINK_ASSIGN_OR_RETURN(kvm_vcpu_events events, Fixed<kvm_vcpu_events>(p, VcpuSection::kEvents, "EVENTS"));
  REPLINK_ASSIGN_OR_RETURN(kvm_debugregs debugregs, Fixed<kvm_debugregs>(p, VcpuSection::kDebugRegs, "DEBUGREGS"));
  REPLINK_ASSIGN_OR_RETURN(kvm_mp_state mp, Fixed<kvm_mp_state>(p, VcpuSection::kMpState, "MP_STATE"));
  std::span<const std::byte> xsave = p.sections[static_cast<uint32_t>(VcpuSection::kXsave)];
  if (xsave.size() < abi::kXsaveLegacyBytes) return MakeError(Errc::kCorrupt, "vCPU blob: XSAVE section of {} bytes", xsave.size());
  std::span<const std::byte> xcrs_bytes = p.sections[static_cast<uint32_t>(VcpuSection::kXcrs)];
  if (!xcrs_bytes.empty() && xcrs_bytes.size() != sizeof(kvm_xcrs))
    return MakeError(Errc::kCorrupt, "vCPU blob: XCRS section of {} bytes", xcrs_bytes.size());

  std::vector<kvm_cpuid_entry2> cpuid(ncpuid);
  std::memcpy(cpuid.data(), cpuid_bytes.data(), cpuid_bytes.size());
  REPLINK_TRY(vcpu.SetCpuid(cpuid));
  if (ioctl(fd, KVM_SET_REGS, &regs) < 0) return SysError("KVM_SET_REGS vCPU {}", idx);
  // KVM_SET_XSAVE reads as many bytes as the vCPU's XSAVE2 size: hand it an aligned copy.
  // (at least 64 KiB, so a host whose XSAVE2 area is larger than the blob's reads zeros, not beyond).
  std::vector<uint64_t> xsave_copy(std::max<std::size_t>(xsave.size(), 64u << 10) / 8 + 1, 0);
  std::memcpy(xsave_copy.data(), xsave.data(), xsave.size());
  if (ioctl(fd, abi::kSetXsave, xsave_copy.data()) < 0) return SysError("KVM_SET_XSAVE vCPU {}", idx);
  if (!xcrs_bytes.empty()) {
    kvm_xcrs xcrs;
    std::memcpy(&xcrs, xcrs_bytes.data(), sizeof xcrs);
    if (ioctl(fd, KVM_SET_XCRS, &xcrs) < 0) return SysError("KVM_SET_XCRS vCPU {}", idx);
  }
  if (ioctl(fd, KVM_SET_SREGS, &sregs) < 0) return SysError("KVM_SET_SREGS vCPU {}", idx);
  // One MSR at a time: a batched KVM_SET_MSRS stops at the first refusal, and KVM here refuses 0 for
  // some paravirtual MSRs (0x4b564d06) that are simply off in our guests.
  for (uint32_t i = 0; i < nmsrs; ++i) {
    VcpuBlobMsr m;
    std::memcpy(&m, msr_bytes.data() + i * sizeof m, sizeof m);
    struct {
      abi::CountHead head;
      kvm_msr_entry entry;
    } one{{1, 0}, {}};
    one.entry.index = m.index;
    one.entry.data = m.value;
    int rc = ioctl(fd, abi::kSetMsrs, &one);
    if (rc != 1 && m.value != 0)
      return MakeError(Errc::kUnsupported, "vCPU {}: KVM refused MSR {:#x} = {:#x}", idx, m.index, m.value);
  }
  if (ioctl(fd, KVM_SET_MP_STATE, &mp) < 0) return SysError("KVM_SET_MP_STATE vCPU {}", idx);
  if (ioctl(fd, KVM_SET_VCPU_EVENTS, &events) < 0) return SysError("KVM_SET_VCPU_EVENTS vCPU {}", idx);
  if (ioctl(fd, KVM_SET_DEBUGREGS, &debugregs) < 0) return SysError("KVM_SET_DEBUGREGS vCPU {}", idx);
  return Ok();
}

Result<VcpuBlobSummary> SummarizeVcpuBlob(std::span<const std::byte> blob) {
  REPLINK_ASSIGN_OR_RETURN(ParsedBlob p, Parse(blob));
  REPLINK_ASSIGN_OR_RETURN(kvm_regs regs, Fixed<kvm_regs>(p, VcpuSection::kRegs, "REGS"));
  return VcpuBlobSummary{regs.rip, regs.rsp};
}

}  // namespace replink::kvm
