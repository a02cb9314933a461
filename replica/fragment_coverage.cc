#include "replica/fragment_coverage.h"

#include <algorithm>

namespace replink::replica {

bool FragmentCoverage::Add(uint64_t offset, uint64_t length) {
  if (length == 0) return false;
  uint64_t end = offset + length;
  // First range starting after `offset`; the one before it is the only one that can reach into us.
  auto next = std::upper_bound(ranges_.begin(), ranges_.end(), offset,
                               [](uint64_t value, const Range& r) { return value < r.begin; });
  if (next != ranges_.begin() && std::prev(next)->end > offset) return false;
  if (next != ranges_.end() && next->begin < end) return false;

  bool joins_prev = next != ranges_.begin() && std::prev(next)->end == offset;
  bool joins_next = next != ranges_.end() && next->begin == end;
  if (joins_prev && joins_next) {
    std::prev(next)->end = next->end;
    ranges_.erase(next);
  } else if (joins_prev) {
    std::prev(next)->end = end;
  } else if (joins_next) {
    next->begin = offset;
  } else {
    ranges_.insert(next, Range{offset, end});
  }
  covered_ += length;
  return true;
}

}  // namespace replink::replica
