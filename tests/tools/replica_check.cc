// replink-replica-check: compares a replica directory (opened read-only, as a restoring shim would)
// with a dump of the primary's guest memory and disk. Exit 0 when byte-identical; prints the first
// differing pages otherwise. Used by the dataplane end-to-end tests.
#include <sys/mman.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstring>

#include <fmt/format.h>

#include "replica/replica_image.h"

namespace {

struct Mapped {
  const std::byte* data = nullptr;
  std::size_t size = 0;
};

Mapped MapFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  struct stat st {};
  fstat(fd, &st);
  Mapped m;
  m.size = static_cast<std::size_t>(st.st_size);
  if (m.size > 0) {
    void* p = mmap(nullptr, m.size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p != MAP_FAILED) m.data = static_cast<const std::byte*>(p);
  }
  close(fd);
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace replink;
  std::string dir, memory, disk;
  int64_t expect_epoch = -1;
  CLI::App app{"replink-replica-check: compare a replica with the primary's memory and disk"};
  app.add_option("--replica", dir, "Replica directory")->required();
  app.add_option("--memory", memory, "Dump of the primary's guest memory")->required();
  app.add_option("--disk", disk, "Dump of the primary's disk 0");
  app.add_option("--epoch", expect_epoch, "Committed epoch the replica must be at");
  CLI11_PARSE(app, argc, argv);

  auto image = replica::ReplicaImage::Open(dir);
  if (!image.ok()) {
    fmt::print(stderr, "replica-check: {}\n", image.error().Describe());
    return 1;
  }
  int rc = 0;
  fmt::print("replica-check: {} at epoch {}, {} pages\n", dir, image->committed_epoch(),
             image->geometry().guest_pages);
  if (expect_epoch >= 0 && image->committed_epoch() != static_cast<uint64_t>(expect_epoch)) {
    fmt::print("replica-check: committed epoch {} != expected {}\n", image->committed_epoch(), expect_epoch);
    rc = 2;
  }
  Mapped mem = MapFile(memory);
  auto replica_mem = image->guest_memory();
  if (mem.data == nullptr || mem.size != replica_mem.size()) {
    fmt::print("replica-check: memory dump {} has {} bytes, replica {}\n", memory, mem.size, replica_mem.size());
    return 2;
  }
  uint64_t bad = 0;
  for (uint64_t gfn = 0; gfn < replica_mem.size() / kPageSize; ++gfn) {
    if (std::memcmp(mem.data + gfn * kPageSize, replica_mem.data() + gfn * kPageSize, kPageSize) != 0) {
      if (bad < 5) fmt::print("replica-check: page {:#x} differs\n", gfn);
      ++bad;
    }
  }
  fmt::print("replica-check: memory: {} of {} pages differ\n", bad, replica_mem.size() / kPageSize);
  if (bad != 0) rc = 2;
  if (!disk.empty()) {
    Mapped d = MapFile(disk);
    Mapped r = MapFile(image->DiskPath(0));
    if (d.data == nullptr || r.data == nullptr || d.size > r.size) {
      fmt::print("replica-check: disk dump {} ({} bytes) vs replica disk {} ({} bytes)\n", disk, d.size,
                 image->DiskPath(0), r.size);
      return 2;
    }
    uint64_t bad_sectors = 0;
    for (std::size_t off = 0; off < d.size; off += kSectorSize)
      if (std::memcmp(d.data + off, r.data + off, kSectorSize) != 0) ++bad_sectors;
    fmt::print("replica-check: disk: {} of {} sectors differ\n", bad_sectors, d.size / kSectorSize);
    if (bad_sectors != 0) rc = 2;
  }
  if (rc == 0) fmt::print("replica-check: OK, byte-identical\n");
  return rc;
}
