#include "hostshim/xen/xen_guest_control.h"

namespace replink::xen {

Result<void> XenstoreGuestControl::RequestSuspend(uint32_t domid) {
  REPLINK_ASSIGN_OR_RETURN(std::string dom_path, store_.DomainPath(domid));
  return store_.Write(dom_path + "/control/shutdown", "suspend");
}

}  // namespace replink::xen
