#include "hostshim/disk_extents.h"

#include <algorithm>

namespace replink {

void DiskExtents::Add(const DiskExtent& e) {
  if (e.sectors == 0) return;
  uint64_t start = e.sector, end = e.sector + e.sectors;
  // Absorb every run that overlaps or touches [start, end).
  auto it = runs_.lower_bound({e.disk, start});
  if (it != runs_.begin()) {
    auto prev = std::prev(it);
    if (prev->first.first == e.disk && prev->second >= start) it = prev;
  }
  while (it != runs_.end() && it->first.first == e.disk && it->first.second <= end) {
    start = std::min(start, it->first.second);
    end = std::max(end, it->second);
    it = runs_.erase(it);
  }
  runs_[{e.disk, start}] = end;
}

std::vector<DiskExtent> DiskExtents::Merged() const {
  std::vector<DiskExtent> out;
  out.reserve(runs_.size());
  for (const auto& [key, end] : runs_) out.push_back(DiskExtent{key.first, key.second, end - key.second});
  return out;
}

}  // namespace replink
