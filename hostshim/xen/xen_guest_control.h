// XenstoreGuestControl: asks a guest to suspend itself the way `xl save` does, by writing "suspend" to
// its control/shutdown key; the guest acknowledges by clearing the key and then suspends.
#pragma once

#include "hostshim/xen/xen_backend.h"
#include "hostshim/xen/xen_store.h"

namespace replink::xen {

class XenstoreGuestControl final : public XenGuestControl {
 public:
  explicit XenstoreGuestControl(XenStore& store) : store_(store) {}
  Result<void> RequestSuspend(uint32_t domid) override;

 private:
  XenStore& store_;
};

}  // namespace replink::xen
