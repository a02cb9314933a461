// The Xen backend's state blobs: the byte formats of the VCPU_STATE / DEVICE_STATE records a Xen shim
// puts into each epoch, and that the secondary turns into a migration stream (migration_stream_writer.h).
// Prose spec: docs/PROTOCOL.md "Xen state blobs". Little-endian, naturally aligned.
//
//   VCPU_STATE  i  vcpu_guest_context (x86_64) of vCPU i, as xc_vcpu_getcontext returns it. Informational:
//                  an HVM/PVH guest's registers travel in the HVM context.
//   DEVICE_STATE 0 HVM context, exactly as xc_domain_hvm_getcontext returns it (the HVM_CONTEXT record).
//   DEVICE_STATE 1 XenPlatformBlob: Xen version, TSC info and the HVM params a save stream carries.
//   DEVICE_STATE 2 XenMemoryMapBlob: the populated frame ranges (what a restore must populate).
#pragma once

#include <cstdint>

namespace replink::xen {

inline constexpr uint32_t kDeviceHvmContext = 0;
inline constexpr uint32_t kDevicePlatform = 1;
inline constexpr uint32_t kDeviceMemoryMap = 2;
inline constexpr uint32_t kXenDeviceBlobs = 3;

inline constexpr uint32_t kPlatformMagic = 0x504E4558;   // "XENP"
inline constexpr uint32_t kMemoryMapMagic = 0x4D4E4558;  // "XENM"
inline constexpr uint32_t kXenBlobVersion = 1;
inline constexpr uint32_t kMaxPlatformParams = 32;

struct XenHvmParamEntry {
  uint64_t index;
  uint64_t value;
};
static_assert(sizeof(XenHvmParamEntry) == 16);

struct XenPlatformBlob {
  uint32_t magic;        //  0 kPlatformMagic
  uint32_t version;      //  4 kXenBlobVersion
  uint32_t xen_major;    //  8
  uint32_t xen_minor;    // 12
  uint32_t tsc_mode;     // 16 the X86_TSC_INFO record's fields
  uint32_t tsc_khz;      // 20
  uint64_t tsc_nsec;     // 24
  uint32_t tsc_incarnation;  // 32
  uint32_t param_count;  // 36 entries that follow (<= kMaxPlatformParams), only non-zero params
  // XenHvmParamEntry params[param_count];
};
static_assert(sizeof(XenPlatformBlob) == 40);

struct XenMemoryRange {
  uint64_t first_gfn;
  uint64_t count;
};
static_assert(sizeof(XenMemoryRange) == 16);

struct XenMemoryMapBlob {
  uint32_t magic;        //  0 kMemoryMapMagic
  uint32_t version;      //  4 kXenBlobVersion
  uint64_t gpfn_count;   //  8 frames the address space spans
  uint64_t range_count;  // 16 XenMemoryRange entries that follow, sorted, non-overlapping, non-adjacent
  // XenMemoryRange ranges[range_count];
};
static_assert(sizeof(XenMemoryMapBlob) == 24);

// The HVM params a save stream carries (the list of Xen's own save code), saved when non-zero.
inline constexpr uint32_t kSavedHvmParams[] = {
    1,   // HVM_PARAM_STORE_PFN
    5,   // HVM_PARAM_IOREQ_PFN
    6,   // HVM_PARAM_BUFIOREQ_PFN
    27,  // HVM_PARAM_PAGING_RING_PFN
    28,  // HVM_PARAM_MONITOR_RING_PFN
    29,  // HVM_PARAM_SHARING_RING_PFN
    37,  // HVM_PARAM_VM86_TSS_SIZED
    17,  // HVM_PARAM_CONSOLE_PFN
    19,  // HVM_PARAM_ACPI_IOPORTS_LOCATION
    9,   // HVM_PARAM_VIRIDIAN
    12,  // HVM_PARAM_IDENT_PT
    34,  // HVM_PARAM_VM_GENERATION_ID_ADDR
    32,  // HVM_PARAM_IOREQ_SERVER_PFN
    33,  // HVM_PARAM_NR_IOREQ_SERVER_PAGES
    36,  // HVM_PARAM_X87_FIP_WIDTH
    38,  // HVM_PARAM_MCA_CAP
};

}  // namespace replink::xen
