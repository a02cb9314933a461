// Restore after failover: a fresh VM resumed from a committed replica (replica/ReplicaImage): guest
// memory, the vCPU blob (slot 0) and the device blob (device 0), with the replica's disk 0 as the
// guest's disk, used in place unless the spec names another (a copy, for tests).
#pragma once

#include <memory>
#include <string>

#include "hostshim/kvm/kvm_backend.h"

namespace replink::kvm {

struct RestoredGuest {
  std::unique_ptr<KvmBackend> backend;
  uint64_t epoch = 0;  // the replica's committed epoch the guest resumed from
  uint64_t rip = 0;
};

Result<RestoredGuest> RestoreFromReplica(const std::string& replica_dir, KvmGuestSpec spec);

}  // namespace replink::kvm
