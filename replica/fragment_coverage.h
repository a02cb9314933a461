// Which byte ranges of one fragmented item (a state blob or a disk write) have arrived. The dataplane
// may deliver fragments in any order; they must not overlap, and the item is complete when the
// covered bytes add up to its total length.
#pragma once

#include <cstdint>
#include <vector>

namespace replink::replica {

class FragmentCoverage {
 public:
  // Records [offset, offset + length); false (and no change) if it overlaps a range already covered.
  // The caller has checked the range against the item's total length.
  bool Add(uint64_t offset, uint64_t length);
  uint64_t covered_bytes() const { return covered_; }
  std::size_t range_count() const { return ranges_.size(); }

 private:
  struct Range {
    uint64_t begin;
    uint64_t end;
  };
  std::vector<Range> ranges_;  // sorted, disjoint; touching ranges are merged so in-order arrival stays one
  uint64_t covered_ = 0;
};

}  // namespace replink::replica
