#include "hostshim/xen/uring_file.h"

#include <fcntl.h>
#include <liburing.h>
#include <sys/stat.h>
#include <unistd.h>

#include <utility>

namespace replink::xen {

UringFile::UringFile(int fd, uint64_t size, std::unique_ptr<io_uring> ring)
    : fd_(fd), size_(size), ring_(std::move(ring)) {}

UringFile::UringFile(UringFile&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), size_(other.size_), ring_(std::move(other.ring_)) {}

UringFile::~UringFile() {
  if (ring_) io_uring_queue_exit(ring_.get());
  if (fd_ >= 0) close(fd_);
}

Result<UringFile> UringFile::Open(const std::string& path, bool writable) {
  int fd = open(path.c_str(), (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) return SysError("open disk image {}", path);
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    Error e = SysError("stat {}", path);
    close(fd);
    return e;
  }
  auto ring = std::make_unique<io_uring>();
  int rc = io_uring_queue_init(8, ring.get(), 0);
  if (rc < 0) {
    errno = -rc;
    Error e = SysError("io_uring for {}", path);
    close(fd);
    return e;
  }
  return UringFile(fd, static_cast<uint64_t>(st.st_size), std::move(ring));
}

Result<void> UringFile::Transfer(bool write, uint64_t offset, std::byte* buf, std::size_t len) {
  while (len > 0) {
    io_uring_sqe* sqe = io_uring_get_sqe(ring_.get());
    if (sqe == nullptr) return MakeError(Errc::kNoSpace, "io_uring submission queue full");
    if (write)
      io_uring_prep_write(sqe, fd_, buf, static_cast<unsigned>(len), offset);
    else
      io_uring_prep_read(sqe, fd_, buf, static_cast<unsigned>(len), offset);
    int rc = io_uring_submit(ring_.get());
    if (rc < 0) {
      errno = -rc;
      return SysError("io_uring submit");
    }
    io_uring_cqe* cqe = nullptr;
    rc = io_uring_wait_cqe(ring_.get(), &cqe);
    if (rc < 0) {
      errno = -rc;
      return SysError("io_uring wait");
    }
    int res = cqe->res;
    io_uring_cqe_seen(ring_.get(), cqe);
    if (res < 0) {
      errno = -res;
      return SysError("disk {} of {} bytes at {}", write ? "write" : "read", len, offset);
    }
    if (res == 0) {  // reading past the end of a sparse image: zeros
      std::fill(buf, buf + len, std::byte{0});
      return Ok();
    }
    buf += res;
    offset += static_cast<uint64_t>(res);
    len -= static_cast<std::size_t>(res);
  }
  return Ok();
}

Result<void> UringFile::Read(uint64_t offset, std::span<std::byte> out) { return Transfer(false, offset, out.data(), out.size()); }

Result<void> UringFile::Write(uint64_t offset, std::span<const std::byte> data) {
  // io_uring takes a non-const buffer for both directions; a write only reads it.
  return Transfer(true, offset, const_cast<std::byte*>(data.data()), data.size());
}

}  // namespace replink::xen
