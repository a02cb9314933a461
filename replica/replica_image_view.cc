#include "replica/replica_image_view.h"

#include <cstring>

namespace replink::replica {

Result<PageRef> ReplicaImageView::Page(uint64_t gfn) const {
  if (gfn >= geometry_->guest_pages)
    return MakeError(Errc::kInvalidArgument, "vm {}: gfn {:#x} outside the guest ({} pages)",
                     geometry_->vm_id, gfn, geometry_->guest_pages);
  uint64_t version = 0;
  std::memcpy(&version, image_ + layout_.version_array_offset + gfn * sizeof(uint64_t), sizeof(version));
  return PageRef{image_ + layout_.page_data_offset + gfn * kPageSize, version};
}

Result<BlobRef> ReplicaImageView::Blob(RecordType type, uint32_t index) const {
  REPLINK_ASSIGN_OR_RETURN(uint32_t slot, BlobSlotOf(*geometry_, type, index));
  BlobSlotHeader entry;
  std::memcpy(&entry, image_ + layout_.blob_dir_offset + slot * sizeof(BlobSlotHeader), sizeof(entry));
  if (entry.type == 0) return BlobRef{};
  if (entry.type != static_cast<uint8_t>(type) || entry.index != index ||
      entry.length > geometry_->max_blob_bytes)
    return MakeError(Errc::kCorrupt, "vm {}: blob slot {} holds type {} index {} length {} (expected {} {})",
                     geometry_->vm_id, slot, entry.type, entry.index, entry.length, RecordTypeName(type),
                     index);
  return BlobRef{{image_ + layout_.blob_data_offset + slot * layout_.blob_slot_stride, entry.length},
                 entry.version};
}

}  // namespace replink::replica
