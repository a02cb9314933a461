// UringFile: a disk image read and written through io_uring (one submission, waited for). The block
// backend's reads and released writes go through it.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "errors/result.h"

struct io_uring;

namespace replink::xen {

class UringFile {
 public:
  static Result<UringFile> Open(const std::string& path, bool writable);
  UringFile(UringFile&& other) noexcept;
  UringFile& operator=(UringFile&&) = delete;
  UringFile(const UringFile&) = delete;
  ~UringFile();

  uint64_t size() const { return size_; }
  Result<void> Read(uint64_t offset, std::span<std::byte> out);
  Result<void> Write(uint64_t offset, std::span<const std::byte> data);

 private:
  UringFile(int fd, uint64_t size, std::unique_ptr<io_uring> ring);
  Result<void> Transfer(bool write, uint64_t offset, std::byte* buf, std::size_t len);

  int fd_;
  uint64_t size_;
  std::unique_ptr<io_uring> ring_;
};

}  // namespace replink::xen
