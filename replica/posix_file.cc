#include "replica/posix_file.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <vector>

namespace replink::replica {

void UniqueFd::Reset() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Result<FileMapping> FileMapping::Map(int fd, uint64_t size, bool writable, std::string_view what) {
  if (size == 0) return MakeError(Errc::kInvalidArgument, "{}: cannot map an empty file", what);
  int prot = PROT_READ | (writable ? PROT_WRITE : 0);
  void* addr = ::mmap(nullptr, size, prot, MAP_SHARED, fd, 0);
  if (addr == MAP_FAILED) return SysError("{}: mmap of {} bytes", what, size);
  FileMapping mapping;
  mapping.data_ = static_cast<std::byte*>(addr);
  mapping.size_ = size;
  return mapping;
}

void FileMapping::Reset() {
  if (data_ != nullptr) ::munmap(data_, size_);
  data_ = nullptr;
  size_ = 0;
}

Result<UniqueFd> OpenFile(const std::string& path, int flags, mode_t mode) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  if (fd < 0) return SysError("open {}", path);
  return UniqueFd(fd);
}

Result<uint64_t> FileSize(int fd, std::string_view what) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return SysError("{}: fstat", what);
  if (S_ISBLK(st.st_mode)) {
    uint64_t bytes = 0;
    if (::ioctl(fd, BLKGETSIZE64, &bytes) != 0) return SysError("{}: BLKGETSIZE64", what);
    return bytes;
  }
  if (!S_ISREG(st.st_mode))
    return MakeError(Errc::kInvalidArgument, "{}: not a regular file or block device", what);
  return static_cast<uint64_t>(st.st_size);
}

bool PathExists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

Result<void> MakeDirectory(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) return SysError("mkdir {}", path);
  return Ok();
}

Result<void> SyncDirectory(const std::string& path) {
  REPLINK_ASSIGN_OR_RETURN(UniqueFd dir, OpenFile(path, O_RDONLY | O_DIRECTORY));
  if (::fsync(dir.get()) != 0) return SysError("fsync directory {}", path);
  return Ok();
}

Result<void> DataSync(int fd, std::string_view what) {
  if (::fdatasync(fd) != 0) return SysError("{}: fdatasync", what);
  return Ok();
}

Result<void> WriteFullyAt(int fd, std::span<const iovec> iov, uint64_t offset, std::string_view what) {
  std::vector<iovec> pending(iov.begin(), iov.end());
  std::size_t first = 0;
  while (first < pending.size()) {
    if (pending[first].iov_len == 0) {
      ++first;
      continue;
    }
    int count = static_cast<int>(std::min<std::size_t>(pending.size() - first, IOV_MAX));
    ssize_t done = ::pwritev(fd, &pending[first], count, static_cast<off_t>(offset));
    if (done < 0) {
      if (errno == EINTR) continue;
      return SysError("{}: pwritev at offset {}", what, offset);
    }
    if (done == 0) return MakeError(Errc::kIo, "{}: pwritev made no progress at offset {}", what, offset);
    offset += static_cast<uint64_t>(done);
    auto left = static_cast<std::size_t>(done);
    while (left > 0) {
      std::size_t step = std::min(left, pending[first].iov_len);
      pending[first].iov_base = static_cast<char*>(pending[first].iov_base) + step;
      pending[first].iov_len -= step;
      left -= step;
      if (pending[first].iov_len == 0) ++first;
    }
  }
  return Ok();
}

Result<void> ReadFullyAt(int fd, std::span<std::byte> out, uint64_t offset, std::string_view what) {
  std::size_t got = 0;
  while (got < out.size()) {
    ssize_t n = ::pread(fd, out.data() + got, out.size() - got, static_cast<off_t>(offset + got));
    if (n < 0) {
      if (errno == EINTR) continue;
      return SysError("{}: pread at offset {}", what, offset + got);
    }
    if (n == 0)
      return MakeError(Errc::kCorrupt, "{}: file ends at {} but {} bytes were expected", what,
                       offset + got, offset + out.size());
    got += static_cast<std::size_t>(n);
  }
  return Ok();
}

Result<uint64_t> AllocationUnit(int fd, std::string_view what) {
  struct statfs fs {};
  if (::fstatfs(fd, &fs) != 0) return SysError("{}: fstatfs", what);
  if (fs.f_type == HUGETLBFS_MAGIC) return static_cast<uint64_t>(fs.f_bsize);
  return uint64_t{4096};
}

std::string DirName(const std::string& path) {
  auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace replink::replica
