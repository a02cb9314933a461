// GuestBackend: what the capture loop needs from a hypervisor. One implementation per backend
// (synthetic/, kvm/, xen/); the capture loop (capture_loop.h) is written once above it, like the
// per-guest-type ops tables of Xen's save code.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "capture/epoch_record.h"
#include "errors/result.h"
#include "hostshim/dirty_bitmap.h"

namespace replink {

struct GuestInfo {
  std::string name;
  uint64_t guest_pages = 0;
  uint32_t vcpu_count = 1;
  uint32_t disk_count = 0;
  uint64_t disk_sectors = 0;
  uint32_t device_blobs = 0;  // device/platform state blobs captured per epoch (ids 0..n-1)
};

// An I/O the guest issued that must not take effect before the peer commits the epoch that
// precedes it (output commit). The backend keeps whatever it needs to complete it later.
struct IoEvent {
  EpochTrigger trigger = EpochTrigger::kTimer;
  uint64_t id = 0;  // backend's cookie for ReleaseIo
  // A disk write travels inside the epoch so the replica disk stays in step with memory.
  bool has_disk_write = false;
  uint16_t disk = 0;
  uint64_t sector = 0;
  std::span<const std::byte> disk_data;  // valid until ReleaseIo
};

class GuestBackend {
 public:
  virtual ~GuestBackend() = default;
  virtual const char* name() const = 0;
  virtual GuestInfo Describe() const = 0;

  // Turns on dirty tracking. The first CollectDirty afterwards reports every page (initial sync).
  virtual Result<void> StartDirtyTracking() = 0;
  // Lets the guest run until its next I/O event (or a timer). nullopt on timeout with no event.
  virtual Result<std::optional<IoEvent>> WaitIoEvent(uint64_t timeout_ns) = 0;
  // Stops every vCPU at a consistent point / lets them run again.
  virtual Result<void> Pause() = 0;
  virtual Result<void> Resume() = 0;
  // Reads and clears the dirty set into `dirty` (sized to guest_pages). Called while paused.
  virtual Result<void> CollectDirty(DirtyBitmap& dirty) = 0;
  // Copies the given frames into dsts[i] (4 KiB each). Frames that could not be read this time are
  // appended to `deferred` (the loop retries them); anything else is an error.
  virtual Result<void> CopyPages(std::span<const uint64_t> gfns, std::span<std::byte* const> dsts,
                                 std::vector<uint64_t>* deferred) = 0;
  // Serialises vCPU `index` / device blob `id` into out; returns the bytes used.
  virtual Result<std::size_t> ReadVcpuState(uint32_t index, std::span<std::byte> out) = 0;
  virtual Result<std::size_t> ReadDeviceState(uint32_t id, std::span<std::byte> out) = 0;
  // The peer committed the epoch before this I/O (or protection was given up): let it take effect.
  virtual Result<void> ReleaseIo(const IoEvent& event) = 0;
  // Reads the primary's current disk content (for catch-up epochs: writes that were released while the
  // peer did not commit them).
  virtual Result<void> ReadDisk(uint16_t disk, uint64_t sector, std::span<std::byte> out) = 0;
};

}  // namespace replink
