// KvmVm: one KVM virtual machine on /dev/kvm with one memory slot (a memfd, so a verifying consumer or
// a restore can map the same memory) and dirty logging. Dirty logging prefers the per-vCPU dirty ring
// (KVM_CAP_DIRTY_LOG_RING: cost proportional to the dirty set) and falls back to KVM_GET_DIRTY_LOG
// (a bitmap over the whole slot); both were exact on this host (FIELD-NOTES "KVM here").
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "capture/shared_region.h"
#include "capture/unique_fd.h"
#include "errors/result.h"
#include "hostshim/dirty_bitmap.h"

namespace replink::kvm {

enum class DirtyLogMode { kAuto, kRing, kBitmap };
const char* DirtyLogModeName(DirtyLogMode mode);
Result<DirtyLogMode> ParseDirtyLogMode(std::string_view name);

// What the host's KVM offers; read once per VM.
struct KvmSystem {
  UniqueFd fd;                                  // /dev/kvm
  std::size_t vcpu_mmap_bytes = 0;              // kvm_run area (+ the dirty ring, at its own offset)
  std::vector<kvm_cpuid_entry2> supported_cpuid;
  std::vector<uint32_t> msr_indices;            // KVM_GET_MSR_INDEX_LIST
  std::size_t xsave_bytes = 4096;             // KVM_CAP_XSAVE2 may report more (AMX)
  bool has_xcrs = false;
  uint32_t max_dirty_ring_bytes = 0;            // 0: no dirty ring

  static Result<KvmSystem> Open();
};

// True when /dev/kvm can be opened (tests skip otherwise).
bool KvmAvailable(std::string* why);

class KvmVcpu;

struct KvmVmSpec {
  uint64_t memory_bytes = 64u << 20;  // multiple of 2 MiB
  DirtyLogMode dirty_log = DirtyLogMode::kAuto;
  uint32_t dirty_ring_entries = 65536;  // power of two; KVM here accepts up to 65536
};

class KvmVm {
 public:
  static Result<std::unique_ptr<KvmVm>> Create(const KvmVmSpec& spec);
  ~KvmVm();
  KvmVm(const KvmVm&) = delete;
  KvmVm& operator=(const KvmVm&) = delete;

  const KvmSystem& system() const { return system_; }
  int fd() const { return vm_fd_.get(); }
  std::byte* memory() const { return memory_.data(); }
  uint64_t memory_bytes() const { return memory_.size(); }
  uint64_t pages() const { return memory_.size() / 4096; }
  int memory_fd() const { return memory_.fd(); }
  DirtyLogMode dirty_log() const { return dirty_log_; }
  uint32_t dirty_ring_entries() const { return ring_entries_; }

  Result<std::unique_ptr<KvmVcpu>> CreateVcpu(uint32_t index);

  // Adds every page the guest wrote since the last call to `dirty` and re-arms tracking. Call with
  // every vCPU outside KVM_RUN (or, for the ring, from the thread of the only vCPU whose ring is full).
  Result<void> CollectDirty(std::span<KvmVcpu* const> vcpus, DirtyBitmap& dirty);

 private:
  KvmVm(KvmSystem system, UniqueFd vm_fd, SharedRegion memory);
  Result<void> HarvestRing(KvmVcpu& vcpu, DirtyBitmap& dirty);

  KvmSystem system_;
  UniqueFd vm_fd_;
  SharedRegion memory_;
  DirtyLogMode dirty_log_ = DirtyLogMode::kBitmap;
  uint32_t ring_entries_ = 0;
  std::vector<uint64_t> bitmap_scratch_;
};

}  // namespace replink::kvm
