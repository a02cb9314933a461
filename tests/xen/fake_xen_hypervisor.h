// A fake XenHypervisor for unit tests: guest memory is a vector, log-dirty is exact, holes, transient map
// failures and PV guests are switches. Also a fake guest control that "suspends" the domain at once.
#pragma once

#include <cerrno>
#include <cstring>
#include <map>
#include <set>
#include <vector>

#include "hostshim/xen/xen_backend.h"
#include "hostshim/xen/xen_hypervisor.h"

namespace replink::xen::testing {

class FakeXenHypervisor final : public XenHypervisor {
 public:
  FakeXenHypervisor(uint32_t domid, uint64_t gpfns) : domid_(domid), memory_(gpfns * 4096), populated_(gpfns, true) {}

  // Test controls.
  void MakeHole(uint64_t first, uint64_t count) {
    for (uint64_t g = first; g < first + count; ++g) populated_[g] = false;
  }
  void Write(uint64_t gfn, uint8_t value) {
    std::memset(memory_.data() + gfn * 4096, value, 4096);
    if (log_dirty_) dirty_.insert(gfn);
  }
  const std::byte* memory() const { return memory_.data(); }
  bool hvm = true;
  uint32_t max_vcpu_id = 1;
  std::map<uint64_t, int> transient_failures;  // gfn -> how many more map attempts fail with EAGAIN
  std::set<uint64_t> unmappable;               // populated, but every map fails (EFAULT)
  std::vector<std::size_t> map_batches;        // sizes of CopyFrames calls
  bool shutdown_suspend = false;
  uint64_t pauses = 0, unpauses = 0, resumes = 0;
  bool log_dirty() const { return log_dirty_; }
  uint32_t domid() const { return domid_; }

  Result<XenDomainState> DomainState(uint32_t domid) override {
    if (domid > domid_) return MakeError(Errc::kIo, "no domain {}", domid);
    XenDomainState s;
    s.domid = domid_;
    s.hvm = hvm;
    s.shutdown = shutdown_suspend;
    s.shutdown_reason = shutdown_suspend ? 2 : 0;
    s.max_vcpu_id = max_vcpu_id;
    return s;
  }
  Result<uint64_t> GpfnCount(uint32_t) override { return uint64_t{populated_.size()}; }
  Result<uint32_t> XenVersion() override { return (4u << 16) | 17u; }
  Result<void> Pause(uint32_t) override {
    ++pauses;
    return Ok();
  }
  Result<void> Unpause(uint32_t) override {
    ++unpauses;
    return Ok();
  }
  Result<void> ResumeSuspended(uint32_t) override {
    if (!shutdown_suspend) return MakeError(Errc::kState, "domain is not suspended");
    shutdown_suspend = false;
    ++resumes;
    return Ok();
  }
  Result<void> EnableLogDirty(uint32_t) override {
    if (!hvm) return Error{Errc::kIo, "log-dirty", EOPNOTSUPP};
    log_dirty_ = true;
    return Ok();
  }
  Result<void> DisableLogDirty(uint32_t) override {
    log_dirty_ = false;
    return Ok();
  }
  Result<void> CleanDirtyBitmap(uint32_t, std::span<uint64_t> words, uint64_t pages, bool) override {
    if (!log_dirty_) return MakeError(Errc::kIo, "log-dirty is off");
    std::fill(words.begin(), words.end(), 0);
    // Like Xen, garbage past `pages` in the last word is possible: set it to check the backend masks it.
    if (pages % 64) words[pages / 64] |= ~((uint64_t{1} << (pages % 64)) - 1);
    for (uint64_t g : dirty_) words[g / 64] |= uint64_t{1} << (g % 64);
    dirty_.clear();
    return Ok();
  }
  Result<void> CopyFrames(uint32_t, std::span<const uint64_t> gfns, std::span<std::byte* const> dsts,
                          std::span<int> errors) override {
    map_batches.push_back(gfns.size());
    for (std::size_t i = 0; i < gfns.size(); ++i) {
      uint64_t g = gfns[i];
      auto t = transient_failures.find(g);
      if (g >= populated_.size() || !populated_[g]) {
        errors[i] = -EINVAL;
      } else if (unmappable.count(g)) {
        errors[i] = -EFAULT;
      } else if (t != transient_failures.end() && t->second > 0) {
        --t->second;
        errors[i] = -EAGAIN;
      } else {
        errors[i] = 0;
        std::memcpy(dsts[i], memory_.data() + g * 4096, 4096);
      }
    }
    return Ok();
  }
  Result<void> FrameTypes(uint32_t, std::span<const uint64_t> gfns, std::span<XenFrameType> types) override {
    for (std::size_t i = 0; i < gfns.size(); ++i)
      types[i] = gfns[i] < populated_.size() && populated_[gfns[i]] ? XenFrameType::kRam : XenFrameType::kHole;
    return Ok();
  }
  Result<std::size_t> HvmContext(uint32_t, std::span<std::byte> out) override {
    if (out.empty()) return std::size_t{1000};
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = std::byte(i & 0xff);
    return out.size();
  }
  Result<std::size_t> VcpuContext(uint32_t, uint32_t vcpu, std::span<std::byte> out) override {
    std::memset(out.data(), int(vcpu + 1), 5168);
    return std::size_t{5168};
  }
  Result<uint64_t> HvmParam(uint32_t, uint32_t index) override {
    if (index == 1) return uint64_t{0xfeffc};   // STORE_PFN
    if (index == 17) return uint64_t{0xfefff};  // CONSOLE_PFN
    return uint64_t{0};
  }
  Result<XenTscInfo> TscInfo(uint32_t) override { return XenTscInfo{0, 2000000, 123456789, 1}; }

 private:
  uint32_t domid_;
  std::vector<std::byte> memory_;
  std::vector<bool> populated_;
  std::set<uint64_t> dirty_;
  bool log_dirty_ = false;
};

// "Suspends" the fake domain at once, like a cooperative guest.
class FakeGuestControl final : public XenGuestControl {
 public:
  explicit FakeGuestControl(FakeXenHypervisor& hv) : hv_(hv) {}
  Result<void> RequestSuspend(uint32_t) override {
    ++requests;
    if (cooperative) hv_.shutdown_suspend = true;
    return Ok();
  }
  bool cooperative = true;
  uint64_t requests = 0;

 private:
  FakeXenHypervisor& hv_;
};

}  // namespace replink::xen::testing
