#include "hostshim/xen/xen_hypervisor_libxc.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <vector>

extern "C" {
#include <xenctrl.h>
#include <xenforeignmemory.h>
#include <xenguest.h>
// Exported by libxenctrl 4.17 but declared only in its private header (xc_private.h): the frame types
// xl save itself uses to tell populated frames from holes.
int xc_get_pfn_type_batch(xc_interface* xch, uint32_t dom, unsigned int num, xen_pfn_t* arr);
}

namespace replink::xen {
namespace {

constexpr std::size_t kXenPageSize = 4096;

class LibxcHypervisor final : public XenHypervisor {
 public:
  LibxcHypervisor(xc_interface* xch, xenforeignmemory_handle* fmem) : xch_(xch), fmem_(fmem) {}
  ~LibxcHypervisor() override {
    FreeBitmap();
    if (fmem_) xenforeignmemory_close(fmem_);
    if (xch_) xc_interface_close(xch_);
  }
  LibxcHypervisor(const LibxcHypervisor&) = delete;
  LibxcHypervisor& operator=(const LibxcHypervisor&) = delete;

  Result<XenDomainState> DomainState(uint32_t domid) override {
    xc_dominfo_t info{};
    // Returns the first domain with id >= domid: the caller compares ids.
    if (xc_domain_getinfo(xch_, domid, 1, &info) != 1) return SysError("xc_domain_getinfo({})", domid);
    XenDomainState s;
    s.domid = info.domid;
    s.hvm = info.hvm;
    s.shutdown = info.shutdown;
    s.shutdown_reason = info.shutdown_reason;
    s.paused = info.paused;
    s.dying = info.dying;
    s.max_vcpu_id = info.max_vcpu_id;
    s.nr_pages = info.nr_pages;
    return s;
  }

  Result<uint64_t> GpfnCount(uint32_t domid) override {
    xen_pfn_t n = 0;
    if (xc_domain_nr_gpfns(xch_, domid, &n) < 0) return SysError("xc_domain_nr_gpfns({})", domid);
    return uint64_t{n};
  }

  Result<uint32_t> XenVersion() override {
    int v = xc_version(xch_, XENVER_version, nullptr);
    if (v < 0) return SysError("xc_version");
    return static_cast<uint32_t>(v);
  }

  Result<void> Pause(uint32_t domid) override {
    if (xc_domain_pause(xch_, domid) != 0) return SysError("xc_domain_pause({})", domid);
    return Ok();
  }
  Result<void> Unpause(uint32_t domid) override {
    if (xc_domain_unpause(xch_, domid) != 0) return SysError("xc_domain_unpause({})", domid);
    return Ok();
  }
  Result<void> ResumeSuspended(uint32_t domid) override {
    if (xc_domain_resume(xch_, domid, 1) != 0) return SysError("xc_domain_resume({}, fast)", domid);
    return Ok();
  }

  Result<void> EnableLogDirty(uint32_t domid) override {
    if (xc_shadow_control(xch_, domid, XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY, nullptr, 0) != 0) {
      // Already on (a restarted shim): fine, the first CollectDirty copies everything anyway.
      if (errno == EINVAL) {
        xc_shadow_control(xch_, domid, XEN_DOMCTL_SHADOW_OP_OFF, nullptr, 0);
        if (xc_shadow_control(xch_, domid, XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY, nullptr, 0) == 0) return Ok();
      }
      return SysError("enable log-dirty on domain {}", domid);
    }
    return Ok();
  }
  Result<void> DisableLogDirty(uint32_t domid) override {
    if (xc_shadow_control(xch_, domid, XEN_DOMCTL_SHADOW_OP_OFF, nullptr, 0) != 0)
      return SysError("disable log-dirty on domain {}", domid);
    return Ok();
  }

  Result<void> CleanDirtyBitmap(uint32_t domid, std::span<uint64_t> words, uint64_t pages, bool final) override {
    if (words.size() * 64 < pages) return MakeError(Errc::kInvalidArgument, "bitmap of {} words for {} pages", words.size(), pages);
    REPLINK_TRY(EnsureBitmap(words.size() * sizeof(uint64_t)));
    xc_shadow_op_stats_t stats{};
    // The bitmap must be hypercall-safe memory (locked, not a plain heap buffer).
    long long rc = xc_logdirty_control(xch_, domid, XEN_DOMCTL_SHADOW_OP_CLEAN, &bitmap_, pages,
                                       final ? XEN_DOMCTL_SHADOW_LOGDIRTY_FINAL : 0, &stats);
    if (rc < 0) return SysError("log-dirty CLEAN on domain {}", domid);
    std::memcpy(words.data(), bitmap_.hbuf, words.size() * sizeof(uint64_t));
    return Ok();
  }

  Result<void> CopyFrames(uint32_t domid, std::span<const uint64_t> gfns, std::span<std::byte* const> dsts,
                          std::span<int> errors) override {
    if (gfns.empty()) return Ok();
    pfns_.assign(gfns.begin(), gfns.end());
    void* map = xenforeignmemory_map(fmem_, domid, PROT_READ, pfns_.size(), pfns_.data(), errors.data());
    if (map == nullptr) return SysError("map {} frames of domain {} (first gfn {})", gfns.size(), domid, gfns[0]);
    auto* base = static_cast<const std::byte*>(map);
    for (std::size_t i = 0; i < gfns.size(); ++i)
      if (errors[i] == 0) std::memcpy(dsts[i], base + i * kXenPageSize, kXenPageSize);
    xenforeignmemory_unmap(fmem_, map, pfns_.size());
    return Ok();
  }

  Result<void> FrameTypes(uint32_t domid, std::span<const uint64_t> gfns, std::span<XenFrameType> types) override {
    pfns_.assign(gfns.begin(), gfns.end());
    for (std::size_t done = 0; done < pfns_.size();) {
      auto n = static_cast<unsigned>(std::min<std::size_t>(1024, pfns_.size() - done));
      if (xc_get_pfn_type_batch(xch_, domid, n, pfns_.data() + done) != 0)
        return SysError("get page frame types of domain {} (gfn {})", domid, gfns[done]);
      done += n;
    }
    for (std::size_t i = 0; i < pfns_.size(); ++i) {
      uint64_t t = pfns_[i] & XEN_DOMCTL_PFINFO_LTAB_MASK;
      types[i] = t == XEN_DOMCTL_PFINFO_XTAB     ? XenFrameType::kHole
                 : t == XEN_DOMCTL_PFINFO_BROKEN ? XenFrameType::kBroken
                 : t == XEN_DOMCTL_PFINFO_XALLOC ? XenFrameType::kOther
                                                 : XenFrameType::kRam;
    }
    return Ok();
  }

  Result<std::size_t> HvmContext(uint32_t domid, std::span<std::byte> out) override {
    // With a NULL buffer the call returns the size needed (its header comment says otherwise).
    int rc = xc_domain_hvm_getcontext(xch_, domid, out.empty() ? nullptr : reinterpret_cast<uint8_t*>(out.data()),
                                      static_cast<uint32_t>(out.size()));
    if (rc < 0) return SysError("HVM context of domain {}", domid);
    return static_cast<std::size_t>(rc);
  }

  Result<std::size_t> VcpuContext(uint32_t domid, uint32_t vcpu, std::span<std::byte> out) override {
    vcpu_guest_context_any_t ctx{};
    if (xc_vcpu_getcontext(xch_, domid, vcpu, &ctx) != 0) return SysError("vCPU {} context of domain {}", vcpu, domid);
    if (out.size() < sizeof(ctx.x64)) return MakeError(Errc::kNoSpace, "vCPU context needs {} bytes", sizeof(ctx.x64));
    std::memcpy(out.data(), &ctx.x64, sizeof(ctx.x64));
    return sizeof(ctx.x64);
  }

  Result<uint64_t> HvmParam(uint32_t domid, uint32_t index) override {
    uint64_t value = 0;
    if (xc_hvm_param_get(xch_, domid, index, &value) != 0) return SysError("HVM param {} of domain {}", index, domid);
    return value;
  }

  Result<XenTscInfo> TscInfo(uint32_t domid) override {
    XenTscInfo t;
    if (xc_domain_get_tsc_info(xch_, domid, &t.mode, &t.nsec, &t.khz, &t.incarnation) != 0)
      return SysError("TSC info of domain {}", domid);
    return t;
  }

 private:
  Result<void> EnsureBitmap(std::size_t bytes) {
    int pages = static_cast<int>((bytes + kXenPageSize - 1) / kXenPageSize);
    if (pages <= bitmap_pages_) return Ok();
    FreeBitmap();
    bitmap_ = xc_hypercall_buffer_t{};
    bitmap_.ubuf = reinterpret_cast<void*>(-1);  // no bounce buffer: we use hbuf directly
    if (xc__hypercall_buffer_alloc_pages(xch_, &bitmap_, pages) == nullptr)
      return SysError("hypercall buffer of {} pages for the dirty bitmap", pages);
    bitmap_pages_ = pages;
    return Ok();
  }
  void FreeBitmap() {
    if (bitmap_pages_ > 0) xc__hypercall_buffer_free_pages(xch_, &bitmap_, bitmap_pages_);
    bitmap_pages_ = 0;
  }

  xc_interface* xch_;
  xenforeignmemory_handle* fmem_;
  xc_hypercall_buffer_t bitmap_{};
  int bitmap_pages_ = 0;
  std::vector<xen_pfn_t> pfns_;
};

}  // namespace

Result<std::unique_ptr<XenHypervisor>> OpenLibxcHypervisor() {
  xc_interface* xch = xc_interface_open(nullptr, nullptr, 0);
  if (xch == nullptr) return SysError("xc_interface_open (is this dom0 with /dev/xen/privcmd?)");
  xenforeignmemory_handle* fmem = xenforeignmemory_open(nullptr, 0);
  if (fmem == nullptr) {
    Error e = SysError("xenforeignmemory_open");
    xc_interface_close(xch);
    return e;
  }
  return std::unique_ptr<XenHypervisor>(new LibxcHypervisor(xch, fmem));
}

}  // namespace replink::xen
