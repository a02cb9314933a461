// DirtyBitmap: one bit per guest frame, scanned a 64-bit word at a time (a 128 MiB Xen PVH guest
// reports ~1 M gfns, mostly clean: word scanning skips them cheaply).
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <vector>

namespace replink {

class DirtyBitmap {
 public:
  explicit DirtyBitmap(uint64_t pages = 0) { Resize(pages); }
  void Resize(uint64_t pages) {
    pages_ = pages;
    words_.assign((pages + 63) / 64, 0);
  }
  uint64_t pages() const { return pages_; }
  void Set(uint64_t gfn) { words_[gfn >> 6] |= uint64_t{1} << (gfn & 63); }
  bool Test(uint64_t gfn) const { return (words_[gfn >> 6] >> (gfn & 63)) & 1; }
  void SetAll() {
    for (auto& w : words_) w = ~uint64_t{0};
    if (pages_ % 64) words_.back() = (uint64_t{1} << (pages_ % 64)) - 1;
  }
  void Clear() { std::fill(words_.begin(), words_.end(), 0); }
  uint64_t Count() const {
    uint64_t n = 0;
    for (uint64_t w : words_) n += static_cast<uint64_t>(std::popcount(w));
    return n;
  }
  // Raw words, for backends that fill the bitmap from a hypervisor (KVM_GET_DIRTY_LOG, Xen CLEAN).
  std::vector<uint64_t>& words() { return words_; }

  template <typename Fn>
  void ForEach(Fn fn) const {
    for (std::size_t i = 0; i < words_.size(); ++i) {
      uint64_t w = words_[i];
      while (w != 0) {
        fn(uint64_t{i} * 64 + static_cast<uint64_t>(std::countr_zero(w)));
        w &= w - 1;
      }
    }
  }

 private:
  uint64_t pages_ = 0;
  std::vector<uint64_t> words_;
};

}  // namespace replink
