#include "capture/region_layout.h"

#include <cstring>

namespace replink {
namespace {

bool IsPowerOfTwo(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }
uint64_t AlignUp(uint64_t v, uint64_t to) { return (v + to - 1) / to * to; }

}  // namespace

Result<RegionGeometry> ComputeGeometry(uint32_t sq_entries, uint32_t cq_entries, uint32_t slot_count) {
  using namespace capture_abi;
  if (!IsPowerOfTwo(sq_entries) || sq_entries > kMaxRingEntries)
    return MakeError(Errc::kInvalidArgument, "sq_entries {} must be a power of two <= {}", sq_entries,
                     kMaxRingEntries);
  if (!IsPowerOfTwo(cq_entries) || cq_entries > kMaxRingEntries)
    return MakeError(Errc::kInvalidArgument, "cq_entries {} must be a power of two <= {}", cq_entries,
                     kMaxRingEntries);
  if (slot_count == 0 || slot_count > kMaxSlots)
    return MakeError(Errc::kInvalidArgument, "slot_count {} must be in [1, {}]", slot_count, kMaxSlots);
  RegionGeometry g;
  g.sq_entries = sq_entries;
  g.cq_entries = cq_entries;
  g.slot_count = slot_count;
  g.sq_offset = kHeaderBytes;
  g.cq_offset = AlignUp(g.sq_offset + uint64_t{sq_entries} * sizeof(CaptureDescriptor), kCacheLine);
  g.slots_offset = AlignUp(g.cq_offset + uint64_t{cq_entries} * sizeof(CaptureCompletion), 4096);
  g.region_bytes = g.slots_offset + uint64_t{slot_count} * kSlotBytes;
  return g;
}

Result<void> ValidateIdentity(const capture_abi::RegionIdentity& id, uint64_t mapped_bytes) {
  using namespace capture_abi;
  if (id.magic != kRegionMagic)
    return MakeError(Errc::kCorrupt, "bad region magic {:#018x}", id.magic);
  if (id.abi_major != kAbiMajor)
    return MakeError(Errc::kVersionMismatch, "capture ABI {}.{} (this dataplane speaks {}.{})",
                     id.abi_major, id.abi_minor, kAbiMajor, kAbiMinor);
  if ((id.features & kRequiredFeatureMask) != 0)
    return MakeError(Errc::kVersionMismatch, "region requires unknown features {:#x}",
                     id.features & kRequiredFeatureMask);
  if (id.header_bytes != kHeaderBytes)
    return MakeError(Errc::kCorrupt, "header_bytes {} != {}", id.header_bytes, kHeaderBytes);
  if (id.slot_bytes != kSlotBytes)
    return MakeError(Errc::kCorrupt, "slot_bytes {} != {}", id.slot_bytes, kSlotBytes);
  if (id.region_bytes > mapped_bytes)
    return MakeError(Errc::kCorrupt, "region_bytes {} exceeds the {} bytes received", id.region_bytes,
                     mapped_bytes);
  auto geometry = ComputeGeometry(id.sq_entries, id.cq_entries, id.slot_count);
  if (!geometry.ok()) return WithContext(geometry.error(), "region geometry");
  // The shim must use exactly the canonical layout: no overlap is possible then.
  if (id.sq_offset != geometry->sq_offset || id.cq_offset != geometry->cq_offset ||
      id.slots_offset != geometry->slots_offset)
    return MakeError(Errc::kCorrupt, "ring offsets sq={} cq={} slots={} are not the canonical layout",
                     id.sq_offset, id.cq_offset, id.slots_offset);
  if (geometry->region_bytes > id.region_bytes)
    return MakeError(Errc::kCorrupt, "region of {} bytes too small for its rings ({} needed)",
                     id.region_bytes, geometry->region_bytes);
  if (id.guest_pages == 0 || id.guest_pages > (uint64_t{1} << 40))
    return MakeError(Errc::kCorrupt, "guest_pages {} out of range", id.guest_pages);
  if (id.vcpu_count == 0 || id.vcpu_count > 4096)
    return MakeError(Errc::kCorrupt, "vcpu_count {} out of range [1, 4096]", id.vcpu_count);
  if (id.device_count > 256)
    return MakeError(Errc::kCorrupt, "device_count {} out of range [0, 256]", id.device_count);
  if (id.disk_count > 64)
    return MakeError(Errc::kCorrupt, "disk_count {} out of range [0, 64]", id.disk_count);
  if (id.disk_sectors > (uint64_t{1} << 48))
    return MakeError(Errc::kCorrupt, "disk_sectors {} out of range", id.disk_sectors);
  return Ok();
}

std::string VmNameOf(const capture_abi::RegionIdentity& identity) {
  return std::string(identity.vm_name, strnlen(identity.vm_name, sizeof(identity.vm_name)));
}

}  // namespace replink
