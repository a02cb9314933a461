// XenBackend: GuestBackend for a Xen HVM/PVH guest. Dirty tracking is Xen's log-dirty mode; dirty frames
// are mapped in batches through the foreign-memory interface and copied into the capture ring's slots;
// the HVM context, vCPU contexts, TSC info, HVM params and the populated memory map become state blobs
// (xen_state_blobs.h). I/O events come from an XenIoSource (the shim's own block backend, xen_blkback.h)
// plus a timer for guests that compute without I/O.
//
// Checkpoint styles (XenCheckpointStyle):
//  - kSuspend: each epoch is a cooperative suspend (control/shutdown = "suspend"), cancelled afterwards.
//    The captured state is then one `xl restore` can resume: a Linux guest comes back through its resume
//    path, rebinding event channels and reconnecting its PV devices (its block frontend re-issues the
//    requests in flight). This is what Remus does on Xen, and what replink's failover needs.
//  - kPause: a plain domain pause: cheaper, but a guest restored from such a state does not know it moved
//    (its event channels, shared-info and grant-table mappings do not survive), so only for capture tests.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "hostshim/guest_backend.h"
#include "hostshim/xen/xen_hypervisor.h"
#include "hostshim/xen/xen_state_blobs.h"

namespace replink::xen {

// Where a protected Xen guest's I/O events come from (the shim's block backend).
class XenIoSource {
 public:
  virtual ~XenIoSource() = default;
  virtual uint32_t disk_count() const = 0;
  virtual uint64_t disk_sectors() const = 0;
  // The next write request (nullopt after timeout_ns). Reads and control traffic are served inside.
  virtual Result<std::optional<IoEvent>> WaitIoEvent(uint64_t timeout_ns) = 0;
  // Serves reads and control traffic for up to timeout_ns without handing out events (new writes are
  // queued for the next WaitIoEvent). Called while a suspend is awaited: a guest whose kernel waits
  // for a read (its disk probe, say) cannot finish suspending until the read is answered.
  virtual Result<void> Service(uint64_t timeout_ns) = 0;
  virtual Result<void> ReleaseIo(const IoEvent& event) = 0;
  virtual Result<void> ReadDisk(uint16_t disk, uint64_t sector, std::span<std::byte> out) = 0;
};

// Asks the guest to suspend itself (xenstore control/shutdown). Separate from XenHypervisor: it is a
// xenstore conversation, not a hypercall.
class XenGuestControl {
 public:
  virtual ~XenGuestControl() = default;
  virtual Result<void> RequestSuspend(uint32_t domid) = 0;
};

enum class XenCheckpointStyle { kSuspend, kPause };

struct XenBackendOptions {
  uint32_t domid = 0;
  std::string name;
  XenCheckpointStyle style = XenCheckpointStyle::kSuspend;
  uint64_t suspend_timeout_ns = 30'000'000'000ULL;  // a guest that does not suspend in time fails the epoch
  uint64_t timer_ns = 2'000'000'000ULL;  // a timer epoch after this long without I/O (0 = never)
  uint32_t type_scan_batch = 1024;       // frames per get-page-frame-info call
};

struct XenBackendStats {
  uint64_t dirty_rounds = 0;
  uint64_t frames_copied = 0;
  uint64_t frames_deferred = 0;  // map failures handed back to the capture loop for retry
  uint64_t holes_zeroed = 0;     // frames found unpopulated when mapped (copied as zero)
  uint64_t suspends = 0;
  uint64_t timer_events = 0;
};

class XenBackend final : public GuestBackend {
 public:
  // Fails for a PV guest (Debian's Xen is built without shadow paging: PV log-dirty is EOPNOTSUPP).
  // `control` is needed for kSuspend; `io` may be null (timer events only).
  static Result<std::unique_ptr<XenBackend>> Create(XenHypervisor& hv, XenGuestControl* control, XenIoSource* io,
                                                    const XenBackendOptions& options);

  const char* name() const override { return "xen"; }
  GuestInfo Describe() const override { return info_; }
  Result<void> StartDirtyTracking() override;
  Result<std::optional<IoEvent>> WaitIoEvent(uint64_t timeout_ns) override;
  Result<void> Pause() override;
  Result<void> Resume() override;
  Result<void> CollectDirty(DirtyBitmap& dirty) override;
  Result<void> CopyPages(std::span<const uint64_t> gfns, std::span<std::byte* const> dsts,
                         std::vector<uint64_t>* deferred) override;
  Result<std::size_t> ReadVcpuState(uint32_t index, std::span<std::byte> out) override;
  Result<std::size_t> ReadDeviceState(uint32_t id, std::span<std::byte> out) override;
  Result<void> ReleaseIo(const IoEvent& event) override;
  Result<void> ReadDisk(uint16_t disk, uint64_t sector, std::span<std::byte> out) override;

  const XenBackendStats& stats() const { return stats_; }
  const std::vector<XenMemoryRange>& populated() const { return populated_; }

 private:
  XenBackend(XenHypervisor& hv, XenGuestControl* control, XenIoSource* io, XenBackendOptions options, GuestInfo info);
  Result<void> ScanPopulated();
  Result<void> WaitForSuspend();
  Result<std::size_t> WritePlatformBlob(std::span<std::byte> out);
  Result<std::size_t> WriteMemoryMapBlob(std::span<std::byte> out) const;

  XenHypervisor& hv_;
  XenGuestControl* control_;
  XenIoSource* io_;
  XenBackendOptions options_;
  GuestInfo info_;
  XenBackendStats stats_;
  std::vector<XenMemoryRange> populated_;
  bool tracking_ = false;
  bool first_collect_ = true;
  bool paused_ = false;
  uint64_t next_timer_ns_ = 0;
  std::vector<int> errors_;
  std::vector<uint64_t> retry_gfns_;
  std::vector<XenFrameType> types_;
};

}  // namespace replink::xen
