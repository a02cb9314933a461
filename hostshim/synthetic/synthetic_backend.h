// SyntheticBackend: a "guest" that is just memory plus a generated workload. Each WaitIoEvent runs
// one step of the workload (dirtying pages, tracked exactly) and then issues an I/O: alternately a
// disk write (carried in the epoch) and a network send. Guest memory is a memfd so that a verifying
// consumer (tests, the demo) can map it read-only and compare the replica against it.
#pragma once

#include <cstdint>
#include <vector>

#include "capture/shared_region.h"
#include "hostshim/guest_backend.h"
#include "hostshim/synthetic/synthetic_workload.h"

namespace replink {

struct SyntheticGuestSpec {
  std::string name = "synthetic";
  uint64_t guest_pages = 32768;  // 128 MiB
  uint32_t vcpu_count = 1;
  uint64_t disk_sectors = 1u << 17;  // 64 MiB
  WorkloadSpec workload;
};

class SyntheticBackend final : public GuestBackend {
 public:
  static Result<SyntheticBackend> Create(const SyntheticGuestSpec& spec);

  const char* name() const override { return "synthetic"; }
  GuestInfo Describe() const override;
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

  const SharedRegion& memory() const { return memory_; }
  // The guest's disk (a sparse memfd): released writes land here.
  const SharedRegion& disk() const { return disk_; }
  uint64_t released_ios() const { return released_ios_; }
  // The vCPU blob for a given step: deterministic, so a verifier can recompute it.
  static void FillVcpuState(uint32_t index, uint64_t step, std::span<std::byte> out);
  static constexpr std::size_t kVcpuStateBytes = 1024;

 private:
  SyntheticBackend(SyntheticGuestSpec spec, SharedRegion memory, SharedRegion disk);

  SyntheticGuestSpec spec_;
  SharedRegion memory_;
  SharedRegion disk_;
  SyntheticWorkload workload_;
  DirtyBitmap dirty_;
  bool tracking_ = false;
  bool first_collect_ = true;
  bool paused_ = false;
  uint64_t step_ = 0;
  uint64_t next_event_ns_ = 0;
  uint64_t released_ios_ = 0;
  std::vector<uint64_t> frames_;
  // Disk-write data of held events, recycled round-robin (see kDiskBufferRing).
  std::vector<std::vector<std::byte>> disk_writes_;
};

}  // namespace replink
