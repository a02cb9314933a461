// UringDisk: the guest's block device backing image, read and written with io_uring (one ring, one
// request at a time: the guest ABI has one block request in flight). A path names a file (created
// sparse at the given size if missing); no path makes an anonymous memfd disk for tests and demos.
#pragma once

#include <liburing.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "capture/unique_fd.h"
#include "errors/result.h"

namespace replink::kvm {

class UringDisk {
 public:
  // sectors == 0 with an existing file: use the file's size.
  static Result<std::unique_ptr<UringDisk>> Open(const std::string& path, uint64_t sectors);
  ~UringDisk();
  UringDisk(const UringDisk&) = delete;
  UringDisk& operator=(const UringDisk&) = delete;

  uint64_t sectors() const { return sectors_; }
  const std::string& path() const { return path_; }
  Result<void> Read(uint64_t sector, std::span<std::byte> out);
  Result<void> Write(uint64_t sector, std::span<const std::byte> data);

 private:
  UringDisk() = default;
  Result<void> Transfer(bool write, uint64_t offset, std::byte* buf, std::size_t bytes);

  io_uring ring_{};
  bool ring_ready_ = false;
  UniqueFd fd_;
  uint64_t sectors_ = 0;
  std::string path_;
};

}  // namespace replink::kvm
