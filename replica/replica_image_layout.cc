#include "replica/replica_image_layout.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <fstream>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "replica/posix_file.h"

namespace replink::replica {

Result<void> ValidateGeometry(const ReplicaGeometry& g) {
  if (g.guest_pages == 0 || g.guest_pages > kMaxGuestPages)
    return MakeError(Errc::kInvalidArgument, "vm {}: guest pages {} outside [1, {}]", g.vm_id,
                     g.guest_pages, kMaxGuestPages);
  if (g.vcpu_slots == 0 || g.vcpu_slots > kMaxBlobSlots || g.device_slots > kMaxBlobSlots)
    return MakeError(Errc::kInvalidArgument, "vm {}: {} vCPU / {} device slots outside [1, {}]",
                     g.vm_id, g.vcpu_slots, g.device_slots, kMaxBlobSlots);
  if (g.max_blob_bytes == 0 || g.max_blob_bytes > kMaxBlobSlotBytes)
    return MakeError(Errc::kInvalidArgument, "vm {}: max blob bytes {} outside [1, {}]", g.vm_id,
                     g.max_blob_bytes, kMaxBlobSlotBytes);
  if (g.disk_sectors.size() > kMaxReplicaDisks)
    return MakeError(Errc::kInvalidArgument, "vm {}: {} disks, at most {} supported", g.vm_id,
                     g.disk_sectors.size(), kMaxReplicaDisks);
  for (std::size_t i = 0; i < g.disk_sectors.size(); ++i) {
    if (g.disk_sectors[i] == 0 || g.disk_sectors[i] > kMaxDiskSectors)
      return MakeError(Errc::kInvalidArgument, "vm {}: disk {} has {} sectors, outside [1, {}]",
                       g.vm_id, i, g.disk_sectors[i], kMaxDiskSectors);
  }
  return Ok();
}

ImageLayout ComputeLayout(const ReplicaGeometry& g, uint64_t data_alignment) {
  ImageLayout layout;
  layout.blob_dir_offset = kImageHeaderPageBytes;
  layout.blob_slot_stride = RoundUp(g.max_blob_bytes, kBlobSlotAlignment);
  layout.blob_data_offset =
      layout.blob_dir_offset + RoundUp(uint64_t{g.blob_slots()} * sizeof(BlobSlotHeader), 4096);
  layout.version_array_offset =
      layout.blob_data_offset + RoundUp(g.blob_slots() * layout.blob_slot_stride, 4096);
  layout.page_data_offset =
      RoundUp(layout.version_array_offset + RoundUp(g.guest_pages * 8, 4096), data_alignment);
  layout.file_bytes = RoundUp(layout.page_data_offset + g.guest_pages * kPageSize, data_alignment);
  return layout;
}

ImageLayout LayoutOf(const ImageHeader& h) {
  ImageLayout layout;
  layout.blob_dir_offset = h.blob_dir_offset;
  layout.blob_data_offset = h.blob_data_offset;
  layout.blob_slot_stride = RoundUp(h.blob_slot_bytes, kBlobSlotAlignment);
  layout.version_array_offset = h.version_array_offset;
  layout.page_data_offset = h.page_data_offset;
  layout.file_bytes = h.file_bytes;
  return layout;
}

ReplicaGeometry GeometryOf(const ImageHeader& h) {
  ReplicaGeometry g;
  g.vm_id = h.vm_id;
  g.guest_pages = h.guest_pages;
  g.vcpu_slots = h.vcpu_slots;
  g.device_slots = h.device_slots;
  g.max_blob_bytes = h.blob_slot_bytes;
  g.disk_sectors.assign(h.disk_sectors, h.disk_sectors + std::min(h.disk_count, kMaxReplicaDisks));
  return g;
}

uint64_t GeometryChecksum(const ImageHeader& h) {
  return XXH3_64bits(&h, offsetof(ImageHeader, geometry_checksum));
}

ImageHeader MakeImageHeader(const ReplicaGeometry& g, const ImageLayout& layout, uint64_t image_id) {
  ImageHeader h;
  std::memset(&h, 0, sizeof(h));
  h.magic = kImageMagic;
  h.format_version = kImageFormatVersion;
  h.header_bytes = sizeof(ImageHeader);
  h.image_id = image_id;
  h.vm_id = g.vm_id;
  h.page_size = kPageSize;
  h.guest_pages = g.guest_pages;
  h.vcpu_slots = g.vcpu_slots;
  h.device_slots = g.device_slots;
  h.blob_slot_bytes = g.max_blob_bytes;
  h.disk_count = static_cast<uint32_t>(g.disk_sectors.size());
  for (std::size_t i = 0; i < g.disk_sectors.size(); ++i) h.disk_sectors[i] = g.disk_sectors[i];
  h.blob_dir_offset = layout.blob_dir_offset;
  h.blob_data_offset = layout.blob_data_offset;
  h.version_array_offset = layout.version_array_offset;
  h.page_data_offset = layout.page_data_offset;
  h.file_bytes = layout.file_bytes;
  h.geometry_checksum = GeometryChecksum(h);
  return h;
}

Result<ImageHeader> ParseImageHeader(std::span<const std::byte> bytes, uint64_t file_size,
                                     std::string_view what) {
  ImageHeader h;
  if (bytes.size() < sizeof(h) || file_size < kImageHeaderPageBytes)
    return MakeError(Errc::kCorrupt, "{}: {} bytes is too short for an image header", what, file_size);
  std::memcpy(&h, bytes.data(), sizeof(h));
  if (h.magic != kImageMagic)
    return MakeError(Errc::kCorrupt, "{}: bad magic {:#018x} (not a replica image)", what, h.magic);
  if (h.format_version != kImageFormatVersion)
    return MakeError(Errc::kVersionMismatch, "{}: image format version {}, this build reads {}", what,
                     h.format_version, kImageFormatVersion);
  if (h.header_bytes != sizeof(ImageHeader) || h.page_size != kPageSize)
    return MakeError(Errc::kCorrupt, "{}: header size {} / page size {} unexpected", what,
                     h.header_bytes, h.page_size);
  if (GeometryChecksum(h) != h.geometry_checksum)
    return MakeError(Errc::kCorrupt, "{}: header checksum mismatch (stored {:#018x}, computed {:#018x})",
                     what, h.geometry_checksum, GeometryChecksum(h));
  if (h.disk_count > kMaxReplicaDisks)
    return MakeError(Errc::kCorrupt, "{}: disk count {} above {}", what, h.disk_count, kMaxReplicaDisks);
  ReplicaGeometry g = GeometryOf(h);
  if (auto valid = ValidateGeometry(g); !valid.ok())
    return WithContext(Error{Errc::kCorrupt, valid.error().message, 0}, what);
  // The page data may be aligned more strictly (hugetlbfs); everything else must be exactly where
  // ComputeLayout puts it.
  ImageLayout expect = ComputeLayout(g, 4096);
  ImageLayout got = LayoutOf(h);
  if (got.blob_dir_offset != expect.blob_dir_offset || got.blob_data_offset != expect.blob_data_offset ||
      got.version_array_offset != expect.version_array_offset ||
      got.page_data_offset < expect.page_data_offset || got.page_data_offset % 4096 != 0 ||
      got.page_data_offset > expect.page_data_offset + kMaxDataAlignment ||
      got.file_bytes < got.page_data_offset + g.guest_pages * kPageSize)
    return MakeError(Errc::kCorrupt,
                     "{}: region offsets inconsistent with geometry (blob dir {}, blob data {}, "
                     "versions {}, pages {}, file {})",
                     what, got.blob_dir_offset, got.blob_data_offset, got.version_array_offset,
                     got.page_data_offset, got.file_bytes);
  if (file_size < h.file_bytes)
    return MakeError(Errc::kCorrupt, "{}: file is {} bytes, header needs {}", what, file_size,
                     h.file_bytes);
  if (h.applying_epoch != 0 && h.applying_epoch != h.committed_epoch + 1)
    return MakeError(Errc::kCorrupt, "{}: applying epoch {} is not committed epoch {} + 1", what,
                     h.applying_epoch, h.committed_epoch);
  if ((h.flags & ~kImageKnownFlags) != 0)
    return MakeError(Errc::kCorrupt, "{}: unknown flags {:#x}", what, h.flags);
  return h;
}

Result<uint32_t> BlobSlotOf(const ReplicaGeometry& g, RecordType type, uint32_t index) {
  if (type == RecordType::kVcpuState && index < g.vcpu_slots) return index;
  if (type == RecordType::kDeviceState && index < g.device_slots) return g.vcpu_slots + index;
  if (type != RecordType::kVcpuState && type != RecordType::kDeviceState)
    return MakeError(Errc::kInvalidArgument, "record type {} is not a state blob", RecordTypeName(type));
  return MakeError(Errc::kInvalidArgument, "{} index {} outside [0, {})", RecordTypeName(type), index,
                   type == RecordType::kVcpuState ? g.vcpu_slots : g.device_slots);
}

Result<std::array<uint8_t, 16>> CurrentBootId() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string text;
  if (!(in >> text)) return MakeError(Errc::kUnsupported, "cannot read /proc/sys/kernel/random/boot_id");
  std::array<uint8_t, 16> id{};
  std::size_t nibble = 0;
  for (char c : text) {
    int v = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
    if (v < 0) continue;  // dashes
    if (nibble >= 32) break;
    id[nibble / 2] = static_cast<uint8_t>(id[nibble / 2] | (v << (nibble % 2 == 0 ? 4 : 0)));
    ++nibble;
  }
  if (nibble != 32) return MakeError(Errc::kUnsupported, "boot id '{}' is not a UUID", text);
  return id;
}

}  // namespace replink::replica
