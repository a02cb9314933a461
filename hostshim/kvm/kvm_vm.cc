#include "hostshim/kvm/kvm_vm.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>

#include "hostshim/kvm/kvm_abi.h"
#include "hostshim/kvm/kvm_vcpu.h"

namespace replink::kvm {
namespace {

constexpr std::size_t kTwoMiB = 2u << 20;

Result<std::vector<kvm_cpuid_entry2>> SupportedCpuid(int kvm) {
  for (uint32_t n = 64; n <= 4096; n *= 2) {
    std::vector<std::byte> buf(sizeof(abi::CountHead) + n * sizeof(kvm_cpuid_entry2));
    abi::CountHead head{n, 0};
    std::memcpy(buf.data(), &head, sizeof head);
    if (ioctl(kvm, abi::kGetSupportedCpuid, buf.data()) == 0) {
      std::memcpy(&head, buf.data(), sizeof head);
      std::vector<kvm_cpuid_entry2> out(std::min(head.count, n));
      std::memcpy(out.data(), buf.data() + sizeof head, out.size() * sizeof(kvm_cpuid_entry2));
      return out;
    }
    if (errno != E2BIG) return SysError("KVM_GET_SUPPORTED_CPUID");
  }
  return MakeError(Errc::kUnsupported, "KVM_GET_SUPPORTED_CPUID: more than 4096 entries");
}

Result<std::vector<uint32_t>> MsrIndexList(int kvm) {
  // Layout: u32 count, then u32 indices (see kvm_abi.h). The first call only learns the count.
  uint32_t count = 0;
  if (ioctl(kvm, abi::kGetMsrIndexList, &count) < 0 && errno != E2BIG) return SysError("KVM_GET_MSR_INDEX_LIST");
  std::vector<uint32_t> buf(1 + count);
  buf[0] = count;
  if (ioctl(kvm, abi::kGetMsrIndexList, buf.data()) < 0) return SysError("KVM_GET_MSR_INDEX_LIST");
  return std::vector<uint32_t>(buf.begin() + 1, buf.begin() + 1 + std::min(buf[0], count));
}

}  // namespace

const char* DirtyLogModeName(DirtyLogMode mode) {
  switch (mode) {
    case DirtyLogMode::kAuto: return "auto";
    case DirtyLogMode::kRing: return "ring";
    case DirtyLogMode::kBitmap: return "bitmap";
  }
  return "?";
}

Result<DirtyLogMode> ParseDirtyLogMode(std::string_view name) {
  if (name == "auto") return DirtyLogMode::kAuto;
  if (name == "ring") return DirtyLogMode::kRing;
  if (name == "bitmap") return DirtyLogMode::kBitmap;
  return MakeError(Errc::kInvalidArgument, "dirty log mode '{}' (auto | ring | bitmap)", name);
}

bool KvmAvailable(std::string* why) {
  int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    if (why) *why = fmt::format("/dev/kvm cannot be opened: {}", strerror(errno));
    return false;
  }
  close(fd);
  return true;
}

Result<KvmSystem> KvmSystem::Open() {
  KvmSystem s;
  s.fd.reset(open("/dev/kvm", O_RDWR | O_CLOEXEC));
  if (!s.fd.valid()) return SysError("open /dev/kvm");
  int api = ioctl(s.fd.get(), KVM_GET_API_VERSION, 0);
  if (api != KVM_API_VERSION) return MakeError(Errc::kVersionMismatch, "KVM API version {} (want {})", api, KVM_API_VERSION);
  int mmap_bytes = ioctl(s.fd.get(), KVM_GET_VCPU_MMAP_SIZE, 0);
  if (mmap_bytes <= 0) return SysError("KVM_GET_VCPU_MMAP_SIZE");
  s.vcpu_mmap_bytes = static_cast<std::size_t>(mmap_bytes);
  REPLINK_ASSIGN_OR_RETURN(s.supported_cpuid, SupportedCpuid(s.fd.get()));
  REPLINK_ASSIGN_OR_RETURN(s.msr_indices, MsrIndexList(s.fd.get()));
  int xsave2 = ioctl(s.fd.get(), KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);
  if (xsave2 > static_cast<int>(abi::kXsaveLegacyBytes)) s.xsave_bytes = static_cast<std::size_t>(xsave2);
  s.has_xcrs = ioctl(s.fd.get(), KVM_CHECK_EXTENSION, KVM_CAP_XCRS) > 0;
  int ring = ioctl(s.fd.get(), KVM_CHECK_EXTENSION, KVM_CAP_DIRTY_LOG_RING);
  s.max_dirty_ring_bytes = ring > 0 ? static_cast<uint32_t>(ring) : 0;
  return s;
}

KvmVm::KvmVm(KvmSystem system, UniqueFd vm_fd, SharedRegion memory)
    : system_(std::move(system)), vm_fd_(std::move(vm_fd)), memory_(std::move(memory)) {}

KvmVm::~KvmVm() = default;

Result<std::unique_ptr<KvmVm>> KvmVm::Create(const KvmVmSpec& spec) {
  if (spec.memory_bytes == 0 || spec.memory_bytes % kTwoMiB != 0 || spec.memory_bytes > (4ull << 30))
    return MakeError(Errc::kInvalidArgument, "guest memory {} bytes: must be a multiple of 2 MiB up to 4 GiB",
                     spec.memory_bytes);
  REPLINK_ASSIGN_OR_RETURN(KvmSystem system, KvmSystem::Open());
  UniqueFd vm_fd(ioctl(system.fd.get(), KVM_CREATE_VM, 0));
  if (!vm_fd.valid()) return SysError("KVM_CREATE_VM");
  // Only needed by VMX for real mode; harmless elsewhere (kvm_pvm may not implement it).
  (void)ioctl(vm_fd.get(), KVM_SET_TSS_ADDR, 0xfffbd000ul);

  DirtyLogMode mode = spec.dirty_log;
  uint32_t ring_bytes = spec.dirty_ring_entries * static_cast<uint32_t>(sizeof(kvm_dirty_gfn));
  bool ring_ok = system.max_dirty_ring_bytes >= ring_bytes && spec.dirty_ring_entries > 0 &&
                 (spec.dirty_ring_entries & (spec.dirty_ring_entries - 1)) == 0;
  if (mode == DirtyLogMode::kRing && !ring_ok)
    return MakeError(Errc::kUnsupported, "dirty ring of {} entries not offered (KVM allows {} bytes)",
                     spec.dirty_ring_entries, system.max_dirty_ring_bytes);
  if (mode == DirtyLogMode::kAuto) mode = ring_ok ? DirtyLogMode::kRing : DirtyLogMode::kBitmap;
  if (mode == DirtyLogMode::kRing) {
    // Must happen before any vCPU exists.
    kvm_enable_cap cap{};
    cap.cap = KVM_CAP_DIRTY_LOG_RING;
    cap.args[0] = ring_bytes;
    if (ioctl(vm_fd.get(), KVM_ENABLE_CAP, &cap) < 0) {
      if (spec.dirty_log == DirtyLogMode::kRing) return SysError("KVM_ENABLE_CAP(DIRTY_LOG_RING, {} bytes)", ring_bytes);
      mode = DirtyLogMode::kBitmap;
    }
  }

  REPLINK_ASSIGN_OR_RETURN(SharedRegion memory,
                           SharedRegion::Create("replink-kvm-guest", spec.memory_bytes, /*prefer_hugetlb=*/false));
  kvm_userspace_memory_region region{};
  region.slot = 0;
  region.flags = KVM_MEM_LOG_DIRTY_PAGES;
  region.guest_phys_addr = 0;
  region.memory_size = spec.memory_bytes;
  region.userspace_addr = reinterpret_cast<uint64_t>(memory.data());
  if (ioctl(vm_fd.get(), KVM_SET_USER_MEMORY_REGION, &region) < 0) return SysError("KVM_SET_USER_MEMORY_REGION");

  std::unique_ptr<KvmVm> vm(new KvmVm(std::move(system), std::move(vm_fd), std::move(memory)));
  vm->dirty_log_ = mode;
  vm->ring_entries_ = mode == DirtyLogMode::kRing ? spec.dirty_ring_entries : 0;
  vm->bitmap_scratch_.assign((vm->pages() + 63) / 64, 0);
  return vm;
}

Result<std::unique_ptr<KvmVcpu>> KvmVm::CreateVcpu(uint32_t index) {
  UniqueFd fd(ioctl(vm_fd_.get(), KVM_CREATE_VCPU, static_cast<unsigned long>(index)));
  if (!fd.valid()) return SysError("KVM_CREATE_VCPU {}", index);
  void* run = mmap(nullptr, system_.vcpu_mmap_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (run == MAP_FAILED) return SysError("mmap kvm_run of vCPU {}", index);
  void* ring = nullptr;
  std::size_t ring_bytes = std::size_t{ring_entries_} * sizeof(kvm_dirty_gfn);
  if (ring_entries_ != 0) {
    long page = sysconf(_SC_PAGESIZE);
    ring = mmap(nullptr, ring_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(),
                static_cast<off_t>(KVM_DIRTY_LOG_PAGE_OFFSET) * page);
    if (ring == MAP_FAILED) {
      munmap(run, system_.vcpu_mmap_bytes);
      return SysError("mmap dirty ring of vCPU {}", index);
    }
  }
  std::unique_ptr<KvmVcpu> vcpu(new KvmVcpu(index, std::move(fd), static_cast<kvm_run*>(run),
                                            system_.vcpu_mmap_bytes, static_cast<kvm_dirty_gfn*>(ring),
                                            ring_bytes));
  return vcpu;
}

Result<void> KvmVm::HarvestRing(KvmVcpu& vcpu, DirtyBitmap& dirty) {
  kvm_dirty_gfn* ring = vcpu.dirty_ring();
  uint32_t& fetch = vcpu.dirty_ring_fetch();
  uint32_t harvested = 0;
  while (true) {
    kvm_dirty_gfn& e = ring[fetch & (ring_entries_ - 1)];
    // KVM publishes an entry by setting DIRTY last; we hand it back by setting RESET.
    uint32_t flags = std::atomic_ref<uint32_t>(e.flags).load(std::memory_order_acquire);
    if ((flags & KVM_DIRTY_GFN_F_DIRTY) == 0) break;
    if (e.slot != 0 || e.offset >= pages())
      return MakeError(Errc::kCorrupt, "dirty ring of vCPU {}: entry slot {} offset {} outside guest memory",
                       vcpu.index(), e.slot, e.offset);
    dirty.Set(e.offset);
    std::atomic_ref<uint32_t>(e.flags).store(KVM_DIRTY_GFN_F_RESET, std::memory_order_release);
    ++fetch;
    if (++harvested > ring_entries_) break;
  }
  if (harvested != 0 && ioctl(vm_fd_.get(), KVM_RESET_DIRTY_RINGS, 0) < 0) return SysError("KVM_RESET_DIRTY_RINGS");
  return Ok();
}

Result<void> KvmVm::CollectDirty(std::span<KvmVcpu* const> vcpus, DirtyBitmap& dirty) {
  if (dirty.pages() != pages()) dirty.Resize(pages());
  if (dirty_log_ == DirtyLogMode::kRing) {
    for (KvmVcpu* v : vcpus) REPLINK_TRY(HarvestRing(*v, dirty));
    return Ok();
  }
  // Without manual protection KVM_GET_DIRTY_LOG returns and clears the slot's bitmap in one call.
  kvm_dirty_log log{};
  log.slot = 0;
  log.dirty_bitmap = bitmap_scratch_.data();
  if (ioctl(vm_fd_.get(), KVM_GET_DIRTY_LOG, &log) < 0) return SysError("KVM_GET_DIRTY_LOG");
  std::vector<uint64_t>& words = dirty.words();
  for (std::size_t i = 0; i < bitmap_scratch_.size(); ++i) words[i] |= bitmap_scratch_[i];
  return Ok();
}

}  // namespace replink::kvm
