// The replica memory image: the file on the secondary that holds a protected VM's committed guest memory,
// the epoch that last wrote each page, and the latest vCPU/device state blobs. A restoring shim maps it
// (ReplicaImage); the ReplicaStore writes it. Byte layout, field meanings and validation rules:
// docs/PROTOCOL.md "Replica image format". Everything is little-endian and naturally aligned.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

namespace replink::replica {

static_assert(std::endian::native == std::endian::little,
              "replica files are little-endian and accessed in place: the host must be too");

inline constexpr uint64_t kImageMagic = 0x31474D494B4C5052ULL;  // "RPLKIMG1" as stored bytes
inline constexpr uint32_t kImageFormatVersion = 1;
inline constexpr uint32_t kMaxReplicaDisks = 8;
inline constexpr uint64_t kImageHeaderPageBytes = 4096;  // the header page; the struct uses its start
inline constexpr uint64_t kBlobSlotAlignment = 64;

// ImageHeader::flags
inline constexpr uint64_t kImageFlagUnsynced = 1;  // written in page-cache mode and not yet synced
inline constexpr uint64_t kImageKnownFlags = kImageFlagUnsynced;

// At offset 0 of the image. The first 512 bytes (one sector) hold every field so a power cut cannot
// tear the header across sectors on devices with sector-atomic writes.
struct ImageHeader {
  // Fixed at creation, covered by geometry_checksum.
  uint64_t magic;                           //   0  kImageMagic
  uint32_t format_version;                  //   8  kImageFormatVersion
  uint32_t header_bytes;                    //  12  sizeof(ImageHeader)
  uint64_t image_id;                        //  16  random at creation; binds the journal to this image
  uint32_t vm_id;                           //  24
  uint32_t page_size;                       //  28  4096
  uint64_t guest_pages;                     //  32  number of guest frames (gfn < guest_pages)
  uint32_t vcpu_slots;                      //  40  vCPU state blob slots
  uint32_t device_slots;                    //  44  device state blob slots
  uint32_t blob_slot_bytes;                 //  48  capacity of one blob slot's data
  uint32_t disk_count;                      //  52  replica disks disk0.img .. disk{n-1}.img
  uint64_t disk_sectors[kMaxReplicaDisks];  //  56  size of each disk in 512-byte sectors
  uint64_t blob_dir_offset;                 // 120  BlobSlotHeader[vcpu_slots + device_slots]
  uint64_t blob_data_offset;                // 128  slot data, stride round_up(blob_slot_bytes, 64)
  uint64_t version_array_offset;            // 136  uint64_t[guest_pages]: epoch that last wrote gfn
  uint64_t page_data_offset;                // 144  guest_pages * 4096 bytes of guest memory
  uint64_t file_bytes;                      // 152  minimum size of the file
  uint64_t reserved_fixed[8];               // 160  zero
  uint64_t geometry_checksum;               // 224  XXH3-64 (seed 0) of bytes [0, 224)
  // Mutable; each is changed by a single aligned 8-byte store (see "Atomic commit").
  uint64_t committed_epoch;                 // 232  last epoch applied completely (0: none yet)
  uint64_t applying_epoch;                  // 240  epoch being applied, 0 when idle
  uint64_t flags;                           // 248  kImageFlag*
  uint8_t unsynced_boot_id[16];             // 256  kernel boot id when kImageFlagUnsynced was set
  uint64_t reserved_mutable[30];            // 272  zero
};
static_assert(sizeof(ImageHeader) == 512);
static_assert(offsetof(ImageHeader, disk_sectors) == 56);
static_assert(offsetof(ImageHeader, geometry_checksum) == 224);
static_assert(offsetof(ImageHeader, committed_epoch) == 232);
static_assert(offsetof(ImageHeader, unsynced_boot_id) == 256);

// One per blob slot: vCPU i is slot i, device d is slot vcpu_slots + d.
struct BlobSlotHeader {
  uint8_t type;          //  0  RecordType::kVcpuState / kDeviceState; 0 = never written
  uint8_t reserved0[3];  //  1
  uint32_t index;        //  4  vCPU index or device id
  uint32_t length;       //  8  valid bytes at the start of the slot's data (<= blob_slot_bytes)
  uint32_t reserved1;    // 12
  uint64_t version;      // 16  epoch that last wrote the blob
  uint64_t reserved2;    // 24
};
static_assert(sizeof(BlobSlotHeader) == 32);

}  // namespace replink::replica
