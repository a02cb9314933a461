// XenHypervisor: the hypercalls the Xen capture backend makes, behind one small interface so the
// backend's logic (bitmap scanning, batching, deferred frames, PV refusal) is unit tested against a fake
// (tests/xen/fake_xen_hypervisor.h) while the real implementation (xen_hypervisor_libxc.h) runs in the
// Xen lab. Calls take the domain id so one handle can serve several domains.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "errors/result.h"

namespace replink::xen {

struct XenDomainState {
  uint32_t domid = 0;
  bool hvm = false;  // HVM or PVH container (log-dirty works); false = PV (no shadow paging here)
  bool shutdown = false;
  uint32_t shutdown_reason = 0;  // SHUTDOWN_* when shutdown
  bool paused = false;
  bool dying = false;
  uint32_t max_vcpu_id = 0;
  uint64_t nr_pages = 0;  // populated frames
};

// What a guest frame number is, as Xen's get-page-frame-info reports it (XEN_DOMCTL_PFINFO_*).
enum class XenFrameType : uint8_t {
  kRam,     // a normal page: has content
  kHole,    // XTAB: nothing populated there
  kBroken,  // BROKEN: the page is bad (memory error)
  kOther,   // XALLOC and the rest: no content to copy
};

struct XenTscInfo {
  uint32_t mode = 0;
  uint32_t khz = 0;
  uint64_t nsec = 0;
  uint32_t incarnation = 0;
};

class XenHypervisor {
 public:
  virtual ~XenHypervisor() = default;

  virtual Result<XenDomainState> DomainState(uint32_t domid) = 0;
  // Frames the guest's physical address space spans (max gpfn + 1); a 128 MiB PVH guest reports ~1 M
  // because special pages sit just below 4 GiB.
  virtual Result<uint64_t> GpfnCount(uint32_t domid) = 0;
  virtual Result<uint32_t> XenVersion() = 0;  // major << 16 | minor

  virtual Result<void> Pause(uint32_t domid) = 0;
  virtual Result<void> Unpause(uint32_t domid) = 0;
  // Ends a cooperative suspend by cancelling it: the guest's suspend hypercall returns 1 and it goes on
  // in the same domain (xc_domain_resume with fast = 1).
  virtual Result<void> ResumeSuspended(uint32_t domid) = 0;

  virtual Result<void> EnableLogDirty(uint32_t domid) = 0;
  virtual Result<void> DisableLogDirty(uint32_t domid) = 0;
  // Reads and clears the log-dirty bitmap: bit g of words is frame g; `pages` bits are valid. `final`
  // (the domain is paused) also marks frames Xen itself wrote on the guest's behalf.
  virtual Result<void> CleanDirtyBitmap(uint32_t domid, std::span<uint64_t> words, uint64_t pages, bool final) = 0;

  // Maps the frames read-only and copies each into dsts[i] (4 KiB). errors[i] is 0 or a negative errno
  // per frame: a mapping may partly succeed. The call fails as a whole only if nothing could be tried.
  virtual Result<void> CopyFrames(uint32_t domid, std::span<const uint64_t> gfns, std::span<std::byte* const> dsts,
                                  std::span<int> errors) = 0;
  virtual Result<void> FrameTypes(uint32_t domid, std::span<const uint64_t> gfns, std::span<XenFrameType> types) = 0;

  // HVM context (every vCPU's registers, LAPIC, timers, ...). With an empty `out`, returns the size needed.
  virtual Result<std::size_t> HvmContext(uint32_t domid, std::span<std::byte> out) = 0;
  // vcpu_guest_context of one vCPU (x86_64 layout).
  virtual Result<std::size_t> VcpuContext(uint32_t domid, uint32_t vcpu, std::span<std::byte> out) = 0;
  virtual Result<uint64_t> HvmParam(uint32_t domid, uint32_t index) = 0;
  virtual Result<XenTscInfo> TscInfo(uint32_t domid) = 0;
};

}  // namespace replink::xen
