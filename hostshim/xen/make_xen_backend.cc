#include "hostshim/xen/make_xen_backend.h"

#include <charconv>

#include "hostshim/xen/xen_blkback.h"
#include "hostshim/xen/xen_guest_control.h"
#include "hostshim/xen/xen_hypervisor_libxc.h"
#include "hostshim/xen/xen_store.h"

namespace replink::xen {
namespace {

class Guest final : public XenProtectedGuest {
 public:
  GuestBackend& backend() override { return *backend_; }
  uint32_t domid() const override { return domid_; }

  const char* name() const override { return backend_->name(); }
  GuestInfo Describe() const override { return backend_->Describe(); }
  Result<void> StartDirtyTracking() override { return backend_->StartDirtyTracking(); }
  Result<std::optional<IoEvent>> WaitIoEvent(uint64_t t) override { return backend_->WaitIoEvent(t); }
  Result<void> Pause() override { return backend_->Pause(); }
  Result<void> Resume() override { return backend_->Resume(); }
  Result<void> CollectDirty(DirtyBitmap& d) override { return backend_->CollectDirty(d); }
  Result<void> CopyPages(std::span<const uint64_t> gfns, std::span<std::byte* const> dsts,
                         std::vector<uint64_t>* deferred) override {
    return backend_->CopyPages(gfns, dsts, deferred);
  }
  Result<std::size_t> ReadVcpuState(uint32_t i, std::span<std::byte> o) override { return backend_->ReadVcpuState(i, o); }
  Result<std::size_t> ReadDeviceState(uint32_t i, std::span<std::byte> o) override {
    return backend_->ReadDeviceState(i, o);
  }
  Result<void> ReleaseIo(const IoEvent& e) override {
    ++released_;
    return backend_->ReleaseIo(e);
  }
  Result<void> ReadDisk(uint16_t d, uint64_t s, std::span<std::byte> o) override { return backend_->ReadDisk(d, s, o); }
  uint64_t released() const override { return released_; }
  std::string Summary() const override {
    const XenBackendStats& s = backend_->stats();
    std::string text = fmt::format("dom{}: {} populated ranges, {} dirty rounds, {} frames copied, {} deferred, "
                                   "{} holes, {} suspends, {} timer epochs",
                                   domid_, backend_->populated().size(), s.dirty_rounds, s.frames_copied,
                                   s.frames_deferred, s.holes_zeroed, s.suspends, s.timer_events);
    if (disk_) {
      const XenBlockBackendStats& d = disk_->stats();
      text += fmt::format("; disk: {} connects, {} reads, {} writes ({} bytes), {} bad, {} unsupported", d.connects,
                          d.reads, d.writes, d.write_bytes, d.bad_requests, d.unsupported);
    }
    return text;
  }

  uint32_t domid_ = 0;
  uint64_t released_ = 0;
  std::unique_ptr<XenHypervisor> hv_;
  std::unique_ptr<XenStore> store_;
  std::unique_ptr<XenstoreGuestControl> control_;
  std::unique_ptr<XenBlockBackend> disk_;
  std::unique_ptr<XenBackend> backend_;
};

}  // namespace

void AddXenShimOptions(CLI::App& app, XenShimOptions& options) {
  app.add_option("--xen-domain", options.domain, "Xen: the protected domain (name or id; PVH or HVM)");
  app.add_option("--xen-disk", options.disk, "Xen: raw image the shim serves to the guest as xvda");
  app.add_option("--xen-checkpoint", options.checkpoint,
                 "Xen: suspend (restorable by xl restore) | pause (capture only)")
      ->check(CLI::IsMember({"suspend", "pause"}));
  app.add_option("--xen-timer-ms", options.timer_ms, "Xen: epoch after this long without I/O (0 = never)");
}

Result<uint32_t> ResolveXenDomain(const std::string& name_or_id) {
  uint32_t id = 0;
  auto [end, ec] = std::from_chars(name_or_id.data(), name_or_id.data() + name_or_id.size(), id);
  if (ec == std::errc() && end == name_or_id.data() + name_or_id.size()) return id;
  REPLINK_ASSIGN_OR_RETURN(XenStore store, XenStore::Open());
  REPLINK_ASSIGN_OR_RETURN(std::vector<std::string> domains, store.List("/local/domain"));
  for (const std::string& d : domains) {
    REPLINK_ASSIGN_OR_RETURN(std::optional<std::string> name, store.Read("/local/domain/" + d + "/name"));
    if (name && *name == name_or_id) return static_cast<uint32_t>(std::stoul(d));
  }
  return MakeError(Errc::kInvalidArgument, "no Xen domain named '{}'", name_or_id);
}

Result<std::unique_ptr<XenProtectedGuest>> OpenXenProtectedGuest(const XenShimOptions& options) {
  if (options.checkpoint != "suspend" && options.checkpoint != "pause")
    return MakeError(Errc::kInvalidArgument, "checkpoint style '{}' (suspend | pause)", options.checkpoint);
  auto g = std::make_unique<Guest>();
  REPLINK_ASSIGN_OR_RETURN(g->domid_, ResolveXenDomain(options.domain));
  REPLINK_ASSIGN_OR_RETURN(g->hv_, OpenLibxcHypervisor());
  REPLINK_ASSIGN_OR_RETURN(XenStore store, XenStore::Open());
  g->store_ = std::make_unique<XenStore>(std::move(store));
  g->control_ = std::make_unique<XenstoreGuestControl>(*g->store_);
  XenBackendOptions bo;
  bo.domid = g->domid_;
  bo.name = options.domain;
  bo.style = options.checkpoint == "suspend" ? XenCheckpointStyle::kSuspend : XenCheckpointStyle::kPause;
  bo.timer_ns = uint64_t{options.timer_ms} * 1'000'000;
  // Refuse a PV guest before touching its xenstore directories.
  REPLINK_TRY(XenBackend::Create(*g->hv_, g->control_.get(), nullptr, bo));
  if (!options.disk.empty()) {
    XenBlockBackendOptions disk;
    disk.domid = g->domid_;
    disk.image = options.disk;
    REPLINK_ASSIGN_OR_RETURN(g->disk_, XenBlockBackend::Create(disk));
  }
  REPLINK_ASSIGN_OR_RETURN(g->backend_, XenBackend::Create(*g->hv_, g->control_.get(), g->disk_.get(), bo));
  return std::unique_ptr<XenProtectedGuest>(std::move(g));
}

}  // namespace replink::xen
