#include "replica/staging_arena.h"

#include <sys/mman.h>

namespace replink::replica {

Result<StagingArena> StagingArena::Create(uint64_t capacity, bool prefault) {
  if (capacity < kAlignment || capacity % kAlignment != 0)
    return MakeError(Errc::kInvalidArgument, "staging arena of {} bytes: must be a positive multiple of {}",
                     capacity, kAlignment);
  // Touched on demand, it is not reserved either: a Xen guest's arena spans its whole address space
  // (4 GiB for a 128 MiB PVH guest, special pages sit below 4 GiB), which a small secondary (the Xen
  // lab's dom0) cannot commit up front although only populated pages are ever staged.
  int flags = MAP_PRIVATE | MAP_ANONYMOUS | (prefault ? MAP_POPULATE : MAP_NORESERVE);
  void* addr = ::mmap(nullptr, capacity, PROT_READ | PROT_WRITE, flags, -1, 0);
  if (addr == MAP_FAILED) return SysError("staging arena: mmap of {} bytes", capacity);
  StagingArena arena;
  arena.base_ = static_cast<std::byte*>(addr);
  arena.capacity_ = capacity;
  return arena;
}

StagingArena::~StagingArena() {
  if (base_ != nullptr) ::munmap(base_, capacity_);
}

StagingArena& StagingArena::operator=(StagingArena&& other) noexcept {
  if (this != &other) {
    if (base_ != nullptr) ::munmap(base_, capacity_);
    base_ = std::exchange(other.base_, nullptr);
    capacity_ = std::exchange(other.capacity_, 0);
    used_ = std::exchange(other.used_, 0);
  }
  return *this;
}

std::optional<uint64_t> StagingArena::Allocate(uint64_t length) {
  uint64_t cost = CostOf(length);
  if (length == 0 || cost > remaining()) return std::nullopt;
  uint64_t offset = used_;
  used_ += cost;
  return offset;
}

}  // namespace replink::replica
