#include "hostshim/kvm/uring_disk.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

namespace replink::kvm {

Result<std::unique_ptr<UringDisk>> UringDisk::Open(const std::string& path, uint64_t sectors) {
  std::unique_ptr<UringDisk> d(new UringDisk());
  d->path_ = path.empty() ? "(memfd)" : path;
  if (path.empty()) {
    d->fd_.reset(memfd_create("replink-kvm-disk", MFD_CLOEXEC));
    if (!d->fd_.valid()) return SysError("memfd_create for the guest disk");
  } else {
    d->fd_.reset(open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
    if (!d->fd_.valid()) return SysError("open guest disk {}", path);
  }
  struct stat st {};
  if (fstat(d->fd_.get(), &st) < 0) return SysError("fstat guest disk {}", d->path_);
  uint64_t have = static_cast<uint64_t>(st.st_size) / 512;
  if (sectors == 0) sectors = have;
  if (sectors == 0) return MakeError(Errc::kInvalidArgument, "guest disk {} is empty and no size was given", d->path_);
  // A block device (or a prepared image) keeps its size; a short file grows sparse.
  if (S_ISREG(st.st_mode) && have < sectors && ftruncate(d->fd_.get(), static_cast<off_t>(sectors * 512)) < 0)
    return SysError("size guest disk {} to {} sectors", d->path_, sectors);
  d->sectors_ = sectors;
  int rc = io_uring_queue_init(4, &d->ring_, 0);
  if (rc < 0) {
    errno = -rc;
    return SysError("io_uring_queue_init for guest disk {}", d->path_);
  }
  d->ring_ready_ = true;
  return d;
}

UringDisk::~UringDisk() {
  if (ring_ready_) io_uring_queue_exit(&ring_);
}

Result<void> UringDisk::Transfer(bool write, uint64_t offset, std::byte* buf, std::size_t bytes) {
  std::size_t done = 0;
  while (done < bytes) {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (sqe == nullptr) return MakeError(Errc::kNoSpace, "guest disk {}: io_uring submission queue full", path_);
    auto n = static_cast<unsigned>(bytes - done);
    if (write)
      io_uring_prep_write(sqe, fd_.get(), buf + done, n, offset + done);
    else
      io_uring_prep_read(sqe, fd_.get(), buf + done, n, offset + done);
    int rc = io_uring_submit(&ring_);
    if (rc < 0) {
      errno = -rc;
      return SysError("guest disk {}: io_uring_submit", path_);
    }
    io_uring_cqe* cqe = nullptr;
    rc = io_uring_wait_cqe(&ring_, &cqe);
    if (rc < 0) {
      errno = -rc;
      return SysError("guest disk {}: io_uring_wait_cqe", path_);
    }
    int res = cqe->res;
    io_uring_cqe_seen(&ring_, cqe);
    if (res < 0) {
      errno = -res;
      return SysError("guest disk {}: {} of {} bytes at {}", path_, write ? "write" : "read", bytes - done, offset + done);
    }
    if (res == 0) return MakeError(Errc::kIo, "guest disk {}: {} at {} hit the end of the file", path_,
                                   write ? "write" : "read", offset + done);
    done += static_cast<std::size_t>(res);  // a short transfer is resubmitted for the rest
  }
  return Ok();
}

Result<void> UringDisk::Read(uint64_t sector, std::span<std::byte> out) {
  if (out.size() % 512 != 0 || sector > sectors_ || out.size() / 512 > sectors_ - sector)
    return MakeError(Errc::kInvalidArgument, "guest disk {}: read of {} bytes at sector {} beyond {} sectors", path_,
                     out.size(), sector, sectors_);
  return Transfer(false, sector * 512, out.data(), out.size());
}

Result<void> UringDisk::Write(uint64_t sector, std::span<const std::byte> data) {
  if (data.size() % 512 != 0 || sector > sectors_ || data.size() / 512 > sectors_ - sector)
    return MakeError(Errc::kInvalidArgument, "guest disk {}: write of {} bytes at sector {} beyond {} sectors", path_,
                     data.size(), sector, sectors_);
  return Transfer(true, sector * 512, const_cast<std::byte*>(data.data()), data.size());
}

}  // namespace replink::kvm
