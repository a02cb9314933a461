// SharedRegion: an owned memfd and its shared mapping. The shim creates one per protected VM (hugetlb
// when the host has free huge pages, normal pages otherwise), prefaults it (first-touch faults cost
// ~30x on the copy path, see FIELD-NOTES) and hands the fd to the dataplane, which maps the same fd.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "errors/result.h"

namespace replink {

class SharedRegion {
 public:
  enum class Backing { kHugetlb, kNormalPages };

  // Creates, sizes, maps and prefaults a new region. With prefer_hugetlb, size is rounded up to 2 MiB.
  static Result<SharedRegion> Create(std::string_view name, std::size_t bytes, bool prefer_hugetlb);
  // A region that is not prefaulted: memory is used only where it is written (a guest's disk).
  static Result<SharedRegion> CreateSparse(std::string_view name, std::size_t bytes);
  // Maps an fd received from another process; takes ownership of fd (closed on failure too).
  static Result<SharedRegion> Attach(int fd, bool writable = true);

  SharedRegion() = default;
  SharedRegion(SharedRegion&& other) noexcept;
  SharedRegion& operator=(SharedRegion&& other) noexcept;
  SharedRegion(const SharedRegion&) = delete;
  SharedRegion& operator=(const SharedRegion&) = delete;
  ~SharedRegion();

  std::byte* data() const { return base_; }
  std::size_t size() const { return size_; }
  int fd() const { return fd_; }
  Backing backing() const { return backing_; }
  std::span<std::byte> bytes() const { return {base_, size_}; }

 private:
  SharedRegion(int fd, std::byte* base, std::size_t size, Backing backing)
      : fd_(fd), base_(base), size_(size), backing_(backing) {}
  void Reset();

  int fd_ = -1;
  std::byte* base_ = nullptr;
  std::size_t size_ = 0;
  Backing backing_ = Backing::kNormalPages;
};

}  // namespace replink
