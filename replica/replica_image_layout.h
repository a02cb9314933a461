// Where everything lives in the replica memory image, computed from the VM's geometry, and the
// validation of an image header read from disk (an untrusted file after a restart). Shared by the
// writer (ReplicaStore) and the read-only opener (ReplicaImage) so both agree byte for byte.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "capture/epoch_record.h"
#include "errors/result.h"
#include "replica/replica_image_format.h"

namespace replink::replica {

// Upper bounds accepted from a header or a config; generous, but they keep all offset arithmetic far
// from overflow.
inline constexpr uint64_t kMaxGuestPages = uint64_t{1} << 36;  // 256 TiB of guest memory
inline constexpr uint32_t kMaxBlobSlots = 4096;
inline constexpr uint32_t kMaxBlobSlotBytes = 64u << 20;
inline constexpr uint64_t kMaxDiskSectors = uint64_t{1} << 47;  // 64 PiB
inline constexpr uint64_t kMaxDataAlignment = uint64_t{1} << 30;

// The shape of one protected VM's replica: fixed when the replica is created.
struct ReplicaGeometry {
  uint32_t vm_id = 0;
  uint64_t guest_pages = 0;
  uint32_t vcpu_slots = 1;
  uint32_t device_slots = 1;
  uint32_t max_blob_bytes = 64 * 1024;  // largest vCPU or device state blob
  std::vector<uint64_t> disk_sectors;   // one entry per replica disk

  uint32_t blob_slots() const { return vcpu_slots + device_slots; }
  bool operator==(const ReplicaGeometry&) const = default;
};

Result<void> ValidateGeometry(const ReplicaGeometry& geometry);

struct ImageLayout {
  uint64_t blob_dir_offset = 0;
  uint64_t blob_data_offset = 0;
  uint64_t blob_slot_stride = 0;
  uint64_t version_array_offset = 0;
  uint64_t page_data_offset = 0;
  uint64_t file_bytes = 0;
};

// data_alignment: where guest memory starts and how the file size is rounded (the huge page size on
// hugetlbfs so the whole file maps with huge pages; 4096 otherwise).
ImageLayout ComputeLayout(const ReplicaGeometry& geometry, uint64_t data_alignment);
ImageLayout LayoutOf(const ImageHeader& header);
ReplicaGeometry GeometryOf(const ImageHeader& header);

ImageHeader MakeImageHeader(const ReplicaGeometry& geometry, const ImageLayout& layout,
                            uint64_t image_id);
uint64_t GeometryChecksum(const ImageHeader& header);

// Validates a header read from a file of `file_size` bytes: magic, version, checksum, bounds, offsets
// consistent with the geometry, mutable fields consistent. Errors are kCorrupt / kVersionMismatch.
Result<ImageHeader> ParseImageHeader(std::span<const std::byte> bytes, uint64_t file_size,
                                     std::string_view what);

// Slot of a blob in the image's blob area, or an error if the index is out of range.
Result<uint32_t> BlobSlotOf(const ReplicaGeometry& geometry, RecordType type, uint32_t index);

// The kernel's boot id (16 bytes), used to tell a process crash from a reboot.
Result<std::array<uint8_t, 16>> CurrentBootId();

}  // namespace replink::replica
