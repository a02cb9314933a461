// The real XenHypervisor: libxenctrl, libxenforeignmemory and libxenguest (4.17). Handles are opened
// once and are not fork-safe: open them in the process that uses them.
#pragma once

#include <memory>

#include "hostshim/xen/xen_hypervisor.h"

namespace replink::xen {

// Opens the control and foreign-memory handles (needs dom0 privileges: /dev/xen/privcmd).
Result<std::unique_ptr<XenHypervisor>> OpenLibxcHypervisor();

}  // namespace replink::xen
