// The Xen guest a replink-shim protects, assembled from its parts: the libxc hypervisor handle, a xenstore
// connection, the block backend serving the guest's disk, and the capture backend over them. Used by
// replink-shim --backend xen.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "hostshim/guest_backend.h"
#include "hostshim/xen/xen_backend.h"

namespace replink::xen {

struct XenShimOptions {
  std::string domain;     // name or numeric id
  std::string disk;       // backing image served as the guest's xvda ("" = no disk, timer epochs only)
  std::string checkpoint = "suspend";  // suspend | pause (see XenCheckpointStyle)
  uint32_t timer_ms = 2000;
};

// Adds --xen-domain, --xen-disk, --xen-checkpoint, --xen-timer-ms to a command line.
void AddXenShimOptions(CLI::App& app, XenShimOptions& options);

// A GuestBackend (the capture backend, forwarded) that also owns everything the backend uses.
class XenProtectedGuest : public GuestBackend {
 public:
  virtual GuestBackend& backend() = 0;
  virtual uint32_t domid() const = 0;
  virtual uint64_t released() const = 0;  // I/Os released
  // One line for the operator: populated frames, dirty rounds, deferred frames, block requests.
  virtual std::string Summary() const = 0;
};

Result<std::unique_ptr<XenProtectedGuest>> OpenXenProtectedGuest(const XenShimOptions& options);
// A domain name or id as the domain id (xenstore's /local/domain/N/name).
Result<uint32_t> ResolveXenDomain(const std::string& name_or_id);

}  // namespace replink::xen
