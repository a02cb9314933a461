// XenStore: a small RAII client over libxenstore for what the shim does with xenstore: read/write keys,
// create device directories with permissions in one transaction, and watch paths.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "errors/result.h"

struct xs_handle;

namespace replink::xen {

class XenStore {
 public:
  static Result<XenStore> Open();
  XenStore(XenStore&& other) noexcept : h_(std::exchange(other.h_, nullptr)) {}
  XenStore& operator=(XenStore&&) = delete;
  XenStore(const XenStore&) = delete;
  ~XenStore();

  Result<std::optional<std::string>> Read(const std::string& path);
  Result<void> Write(const std::string& path, const std::string& value);
  Result<void> Remove(const std::string& path);
  Result<std::vector<std::string>> List(const std::string& path);
  // Writes every key under their directories in one transaction (retried on EAGAIN), then sets each
  // directory's permissions: owner first, then readers ("n0", "r5"...).
  struct Directory {
    std::string path;
    std::vector<std::pair<std::string, std::string>> keys;
    uint32_t owner = 0;
    std::vector<uint32_t> readers;
  };
  Result<void> WriteDirectories(const std::vector<Directory>& dirs);
  Result<std::string> DomainPath(uint32_t domid);
  Result<void> Watch(const std::string& path, const std::string& token);
  // Fired watches (path, token), without blocking.
  std::vector<std::pair<std::string, std::string>> PendingWatches();
  int fd() const;

 private:
  explicit XenStore(xs_handle* h) : h_(h) {}
  xs_handle* h_;
};

}  // namespace replink::xen
