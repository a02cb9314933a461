// The stager's bounded memory: one anonymous mapping, allocated front to back in 64-byte units and
// emptied after each epoch. Its capacity is what the link layer advertises to the sender as receiver
// credits, so the cost of a record must be predictable: CostOf(length), independent of record order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <utility>

#include "errors/result.h"
#include "replica/posix_file.h"

namespace replink::replica {

class StagingArena {
 public:
  static constexpr uint64_t kAlignment = 64;
  static constexpr uint64_t CostOf(uint64_t length) { return RoundUp(length, kAlignment); }

  StagingArena() = default;
  // prefault: touch every page now, so the first epochs do not pay page faults on the fast path.
  static Result<StagingArena> Create(uint64_t capacity, bool prefault);
  ~StagingArena();
  StagingArena(StagingArena&& other) noexcept
      : base_(std::exchange(other.base_, nullptr)),
        capacity_(std::exchange(other.capacity_, 0)),
        used_(std::exchange(other.used_, 0)) {}
  StagingArena& operator=(StagingArena&& other) noexcept;
  StagingArena(const StagingArena&) = delete;
  StagingArena& operator=(const StagingArena&) = delete;

  // Offset of `length` fresh bytes, or nullopt when the arena cannot hold them.
  std::optional<uint64_t> Allocate(uint64_t length);
  std::byte* at(uint64_t offset) const { return base_ + offset; }
  std::span<const std::byte> used_bytes() const { return {base_, used_}; }
  void Clear() { used_ = 0; }

  uint64_t capacity() const { return capacity_; }
  uint64_t used() const { return used_; }
  uint64_t remaining() const { return capacity_ - used_; }

 private:
  std::byte* base_ = nullptr;
  uint64_t capacity_ = 0;
  uint64_t used_ = 0;
};

}  // namespace replink::replica
