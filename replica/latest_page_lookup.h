// The delta base for a page on the receive side: the codec decodes an XOR delta against "the
// receiver's latest copy of that page", and compares the wire's base_version with the version here.
#pragma once

#include <cstdint>

#include "errors/result.h"
#include "replica/epoch_stager.h"
#include "replica/replica_store.h"
#include "replica/staged_epoch.h"

namespace replink::replica {

// Latest content of gfn and the epoch that wrote it: the epoch being staged first, then the committed
// replica (version 0 and zeros if never written). kInvalidArgument if gfn is outside the guest.
Result<PageRef> LatestPage(const EpochStager& stager, const ReplicaStore& store, uint64_t gfn);

}  // namespace replink::replica
