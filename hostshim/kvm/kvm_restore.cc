#include "hostshim/kvm/kvm_restore.h"

#include <vector>

#include "hostshim/kvm/vcpu_state_blob.h"
#include "replica/replica_image.h"

namespace replink::kvm {

Result<RestoredGuest> RestoreFromReplica(const std::string& replica_dir, KvmGuestSpec spec) {
  REPLINK_ASSIGN_OR_RETURN(replica::ReplicaImage image, replica::ReplicaImage::Open(replica_dir));
  const replica::ReplicaGeometry& g = image.geometry();
  auto context = [&](Error e) { return WithContext(std::move(e), fmt::format("restore from {}", replica_dir)); };
  if (image.committed_epoch() == 0)
    return context(MakeError(Errc::kState, "the replica has no committed epoch"));
  if (g.disk_sectors.size() != 1)
    return context(MakeError(Errc::kInvalidArgument, "a KVM guest has 1 disk, the replica {}", g.disk_sectors.size()));
  auto vcpu = image.Blob(RecordType::kVcpuState, 0);
  if (!vcpu.ok()) return context(std::move(vcpu).error());
  auto device = image.Blob(RecordType::kDeviceState, 0);
  if (!device.ok()) return context(std::move(device).error());
  if (vcpu->bytes.empty() || device->bytes.empty())
    return context(MakeError(Errc::kCorrupt, "vCPU or device state was never written"));
  // A blob older than the epoch is fine (each epoch writes both, but be exact about what we need):
  // both must come from the committed epoch, or the guest would resume with stale registers.
  if (vcpu->version != image.committed_epoch() || device->version != image.committed_epoch())
    return context(MakeError(Errc::kCorrupt, "vCPU blob of epoch {} / device blob of epoch {}, committed epoch {}",
                             vcpu->version, device->version, image.committed_epoch()));
  REPLINK_ASSIGN_OR_RETURN(VcpuBlobSummary summary, SummarizeVcpuBlob(vcpu->bytes));
  if (spec.disk_path.empty()) spec.disk_path = image.DiskPath(0);
  spec.disk_sectors = g.disk_sectors[0];
  auto backend = KvmBackend::Restore(spec, image.guest_memory(), vcpu->bytes, device->bytes);
  if (!backend.ok()) return context(std::move(backend).error());
  return RestoredGuest{std::move(backend).value(), image.committed_epoch(), summary.rip};
}

}  // namespace replink::kvm
