// The files of one protected VM's replica directory. The memory image may live elsewhere (e.g. on
// hugetlbfs); memory.img is then a symlink to it, so readers need only the directory.
#pragma once

#include <cstdint>
#include <string>

#include <fmt/format.h>

namespace replink::replica {

inline std::string MemoryImagePathIn(const std::string& dir) { return dir + "/memory.img"; }
inline std::string JournalPathIn(const std::string& dir) { return dir + "/epoch.journal"; }
inline std::string DiskPathIn(const std::string& dir, uint32_t disk) {
  return fmt::format("{}/disk{}.img", dir, disk);
}

}  // namespace replink::replica
