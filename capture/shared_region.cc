#include "capture/shared_region.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <utility>

namespace replink {
namespace {

constexpr std::size_t kHugePage = 2u << 20;

std::size_t RoundUp(std::size_t v, std::size_t to) { return (v + to - 1) / to * to; }

// Writing one byte per 4 KiB page faults every page in now rather than on the copy path.
void Prefault(std::byte* base, std::size_t size) {
  for (std::size_t off = 0; off < size; off += 4096) {
    volatile std::byte* p = base + off;
    *p = std::byte{0};
  }
}

}  // namespace

Result<SharedRegion> SharedRegion::Create(std::string_view name, std::size_t bytes,
                                          bool prefer_hugetlb) {
  if (bytes == 0) return MakeError(Errc::kInvalidArgument, "shared region of 0 bytes");
  std::string memfd_name(name.substr(0, 200));
  if (prefer_hugetlb) {
    std::size_t huge_size = RoundUp(bytes, kHugePage);
    int fd = memfd_create(memfd_name.c_str(), MFD_CLOEXEC | MFD_HUGETLB);
    if (fd >= 0) {
      if (ftruncate(fd, static_cast<off_t>(huge_size)) == 0) {
        void* p = mmap(nullptr, huge_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
        if (p != MAP_FAILED) {
          // MAP_POPULATE on hugetlbfs reserves and maps; touching guarantees the pages exist now
          // (a hugetlb pool exhausted later would SIGBUS, so find out here).
          Prefault(static_cast<std::byte*>(p), huge_size);
          return SharedRegion(fd, static_cast<std::byte*>(p), huge_size, Backing::kHugetlb);
        }
      }
      close(fd);
    }
    // Fall through: no free huge pages is an ordinary situation, not an error.
  }
  std::size_t size = RoundUp(bytes, 4096);
  int fd = memfd_create(memfd_name.c_str(), MFD_CLOEXEC);
  if (fd < 0) return SysError("memfd_create({})", memfd_name);
  if (ftruncate(fd, static_cast<off_t>(size)) != 0) {
    Error e = SysError("ftruncate memfd {} to {} bytes", memfd_name, size);
    close(fd);
    return e;
  }
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
  if (p == MAP_FAILED) {
    Error e = SysError("mmap memfd {} ({} bytes)", memfd_name, size);
    close(fd);
    return e;
  }
  Prefault(static_cast<std::byte*>(p), size);
  return SharedRegion(fd, static_cast<std::byte*>(p), size, Backing::kNormalPages);
}

Result<SharedRegion> SharedRegion::CreateSparse(std::string_view name, std::size_t bytes) {
  std::string memfd_name(name.substr(0, 200));
  std::size_t size = RoundUp(std::max<std::size_t>(bytes, 1), 4096);
  int fd = memfd_create(memfd_name.c_str(), MFD_CLOEXEC);
  if (fd < 0) return SysError("memfd_create({})", memfd_name);
  if (ftruncate(fd, static_cast<off_t>(size)) != 0) {
    Error e = SysError("ftruncate memfd {} to {} bytes", memfd_name, size);
    close(fd);
    return e;
  }
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    Error e = SysError("mmap memfd {} ({} bytes)", memfd_name, size);
    close(fd);
    return e;
  }
  return SharedRegion(fd, static_cast<std::byte*>(p), size, Backing::kNormalPages);
}

Result<SharedRegion> SharedRegion::Attach(int fd, bool writable) {
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    Error e = SysError("fstat of received region fd {}", fd);
    close(fd);
    return e;
  }
  if (st.st_size <= 0) {
    close(fd);
    return MakeError(Errc::kCorrupt, "received region is empty");
  }
  struct statfs sfs {};
  Backing backing = Backing::kNormalPages;
  if (fstatfs(fd, &sfs) == 0 && sfs.f_type == HUGETLBFS_MAGIC) backing = Backing::kHugetlb;
  auto size = static_cast<std::size_t>(st.st_size);
  int prot = PROT_READ | (writable ? PROT_WRITE : 0);
  void* p = mmap(nullptr, size, prot, MAP_SHARED | MAP_POPULATE, fd, 0);
  if (p == MAP_FAILED) {
    Error e = SysError("mmap received region ({} bytes)", size);
    close(fd);
    return e;
  }
  return SharedRegion(fd, static_cast<std::byte*>(p), size, backing);
}

SharedRegion::SharedRegion(SharedRegion&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      base_(std::exchange(other.base_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      backing_(other.backing_) {}

SharedRegion& SharedRegion::operator=(SharedRegion&& other) noexcept {
  if (this != &other) {
    Reset();
    fd_ = std::exchange(other.fd_, -1);
    base_ = std::exchange(other.base_, nullptr);
    size_ = std::exchange(other.size_, 0);
    backing_ = other.backing_;
  }
  return *this;
}

SharedRegion::~SharedRegion() { Reset(); }

void SharedRegion::Reset() {
  if (base_ != nullptr) munmap(base_, size_);
  if (fd_ >= 0) close(fd_);
  base_ = nullptr;
  fd_ = -1;
  size_ = 0;
}

}  // namespace replink
