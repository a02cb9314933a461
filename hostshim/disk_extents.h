// DiskExtents: the disk ranges an uncommitted epoch wrote, merged into non-overlapping runs so that a
// catch-up epoch can carry their current content once (the peer's stager refuses overlapping writes
// within one epoch, and a replay of a suffix of writes in order equals their merged final content).
#pragma once

#include <cstdint>
#include <map>
#include <vector>

namespace replink {

struct DiskExtent {
  uint16_t disk = 0;
  uint64_t sector = 0;
  uint64_t sectors = 0;
};

class DiskExtents {
 public:
  void Add(const DiskExtent& extent);
  // Merged, sorted by (disk, sector); touching runs are joined.
  std::vector<DiskExtent> Merged() const;
  bool empty() const { return runs_.empty(); }

 private:
  std::map<std::pair<uint16_t, uint64_t>, uint64_t> runs_;  // (disk, first sector) -> end sector
};

}  // namespace replink
