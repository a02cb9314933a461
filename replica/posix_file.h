// RAII owners for file descriptors and shared mappings, and the few file system calls the replica
// needs, wrapped to return Result with the path in the message.
#pragma once

#include <sys/types.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>

#include "errors/result.h"

namespace replink::replica {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { Reset(); }
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      Reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void Reset();

 private:
  int fd_ = -1;
};

// A MAP_SHARED mapping of a whole file (or its first `size` bytes).
class FileMapping {
 public:
  FileMapping() = default;
  static Result<FileMapping> Map(int fd, uint64_t size, bool writable, std::string_view what);
  ~FileMapping() { Reset(); }
  FileMapping(FileMapping&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  FileMapping& operator=(FileMapping&& other) noexcept {
    if (this != &other) {
      Reset();
      data_ = std::exchange(other.data_, nullptr);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }
  FileMapping(const FileMapping&) = delete;
  FileMapping& operator=(const FileMapping&) = delete;

  std::byte* data() const { return data_; }
  uint64_t size() const { return size_; }
  std::span<std::byte> bytes() const { return {data_, size_}; }
  void Reset();

 private:
  std::byte* data_ = nullptr;
  uint64_t size_ = 0;
};

Result<UniqueFd> OpenFile(const std::string& path, int flags, mode_t mode = 0644);
// Size of a regular file or block device.
Result<uint64_t> FileSize(int fd, std::string_view what);
bool PathExists(const std::string& path);
Result<void> MakeDirectory(const std::string& path);
Result<void> SyncDirectory(const std::string& path);
Result<void> DataSync(int fd, std::string_view what);
// Writes every byte of `iov` at `offset`, retrying short writes and EINTR.
Result<void> WriteFullyAt(int fd, std::span<const iovec> iov, uint64_t offset, std::string_view what);
Result<void> ReadFullyAt(int fd, std::span<std::byte> out, uint64_t offset, std::string_view what);
// The file system's preferred allocation unit: the huge page size on hugetlbfs, 4096 elsewhere.
Result<uint64_t> AllocationUnit(int fd, std::string_view what);
std::string DirName(const std::string& path);

constexpr uint64_t RoundUp(uint64_t value, uint64_t multiple) {
  return (value + multiple - 1) / multiple * multiple;
}

}  // namespace replink::replica
