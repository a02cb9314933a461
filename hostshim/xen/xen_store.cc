#include "hostshim/xen/xen_store.h"

#include <cerrno>
#include <cstdlib>

extern "C" {
#include <xenstore.h>
}

namespace replink::xen {

Result<XenStore> XenStore::Open() {
  xs_handle* h = xs_open(0);
  if (h == nullptr) return SysError("xs_open (is xenstored running?)");
  return XenStore(h);
}

XenStore::~XenStore() {
  if (h_) xs_close(h_);
}

int XenStore::fd() const { return xs_fileno(h_); }

Result<std::optional<std::string>> XenStore::Read(const std::string& path) {
  unsigned len = 0;
  void* v = xs_read(h_, XBT_NULL, path.c_str(), &len);
  if (v == nullptr) {
    if (errno == ENOENT) return std::optional<std::string>();
    return SysError("xenstore read {}", path);
  }
  std::string s(static_cast<const char*>(v), len);
  std::free(v);
  return std::optional<std::string>(std::move(s));
}

Result<void> XenStore::Write(const std::string& path, const std::string& value) {
  if (!xs_write(h_, XBT_NULL, path.c_str(), value.data(), static_cast<unsigned>(value.size())))
    return SysError("xenstore write {}", path);
  return Ok();
}

Result<void> XenStore::Remove(const std::string& path) {
  if (!xs_rm(h_, XBT_NULL, path.c_str()) && errno != ENOENT) return SysError("xenstore rm {}", path);
  return Ok();
}

Result<std::vector<std::string>> XenStore::List(const std::string& path) {
  unsigned n = 0;
  char** entries = xs_directory(h_, XBT_NULL, path.c_str(), &n);
  if (entries == nullptr) return SysError("xenstore directory {}", path);
  std::vector<std::string> names(entries, entries + n);
  std::free(entries);
  return names;
}

Result<void> XenStore::WriteDirectories(const std::vector<Directory>& dirs) {
  for (int attempt = 0;; ++attempt) {
    xs_transaction_t t = xs_transaction_start(h_);
    if (t == XBT_NULL) return SysError("xenstore transaction start");
    bool ok = true;
    std::string failed;
    for (const Directory& d : dirs) {
      ok = xs_mkdir(h_, t, d.path.c_str());
      std::vector<xs_permissions> perms{{d.owner, XS_PERM_NONE}};
      for (uint32_t r : d.readers) perms.push_back({r, XS_PERM_READ});
      ok = ok && xs_set_permissions(h_, t, d.path.c_str(), perms.data(), static_cast<unsigned>(perms.size()));
      for (const auto& [key, value] : d.keys) {
        if (!ok) break;
        std::string path = d.path + "/" + key;
        ok = xs_write(h_, t, path.c_str(), value.data(), static_cast<unsigned>(value.size()));
        if (!ok) failed = path;
      }
      if (!ok) {
        if (failed.empty()) failed = d.path;
        break;
      }
    }
    if (!ok) {
      Error e = SysError("xenstore write {}", failed);
      xs_transaction_end(h_, t, true);
      return e;
    }
    if (xs_transaction_end(h_, t, false)) return Ok();
    if (errno != EAGAIN || attempt > 20) return SysError("xenstore transaction commit");
  }
}

Result<std::string> XenStore::DomainPath(uint32_t domid) {
  char* p = xs_get_domain_path(h_, domid);
  if (p == nullptr) return SysError("xenstore domain path of {}", domid);
  std::string s(p);
  std::free(p);
  return s;
}

Result<void> XenStore::Watch(const std::string& path, const std::string& token) {
  if (!xs_watch(h_, path.c_str(), token.c_str())) return SysError("xenstore watch {}", path);
  return Ok();
}

std::vector<std::pair<std::string, std::string>> XenStore::PendingWatches() {
  std::vector<std::pair<std::string, std::string>> fired;
  while (char** vec = xs_check_watch(h_)) {
    fired.emplace_back(vec[XS_WATCH_PATH], vec[XS_WATCH_TOKEN]);
    std::free(vec);
  }
  return fired;
}

}  // namespace replink::xen
