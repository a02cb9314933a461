// The capture ring: the shared-memory ABI between a host shim (producer) and the dataplane (consumer).
// One region per protected VM. This header is the single definition of its bytes; docs/PROTOCOL.md
// "Capture ring" is the prose spec (layout diagram, record table, ordering rules, versioning).
//
// Region layout (all offsets from the start of the region, little-endian, x86-64 natural alignment):
//
//   0            RegionHeader (4 KiB): identity (written once by the shim before the fd is handed
//                over, never changed after), then one cache line per index/doorbell
//   sq_offset    submission ring: sq_entries x CaptureDescriptor (shim -> dataplane)
//   cq_offset    completion ring: cq_entries x CaptureCompletion (dataplane -> shim)
//   slots_offset slot arena: slot_count x 4 KiB page slots (shim fills, dataplane releases)
//
// Ownership: every index has exactly one writer. Indices are free-running 64-bit counters; the ring
// position is counter & (entries - 1). Writers publish with a release store after writing the entries;
// readers load with acquire before reading them. The dataplane treats every byte of the region as
// untrusted: it validates a private copy of the identity once, and copies each descriptor out of the
// ring before validating it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace replink::capture_abi {

inline constexpr uint64_t kRegionMagic = 0x3150'4143'4b4c'5052ULL;  // "RPLKCAP1" in memory order
inline constexpr uint16_t kAbiMajor = 1;  // incompatible layout changes
inline constexpr uint16_t kAbiMinor = 0;  // compatible additions (new feature bits, reserved fields used)
inline constexpr uint32_t kSlotBytes = 4096;
inline constexpr std::size_t kCacheLine = 64;
inline constexpr std::size_t kHeaderBytes = 4096;
inline constexpr std::size_t kVmNameBytes = 32;
inline constexpr std::size_t kFailMessageBytes = 120;
// Upper bounds the dataplane enforces on a region it is handed (a bigger one is refused, not trusted).
inline constexpr uint32_t kMaxRingEntries = 1u << 20;
inline constexpr uint32_t kMaxSlots = 1u << 22;  // 16 GiB of slots

// Feature bits (RegionIdentity::features). A consumer refuses a region with a bit it does not know in
// kRequiredFeatureMask; other unknown bits are ignored (a newer shim adding an optional feature).
enum FeatureBits : uint32_t {
  kFeatureDoorbellEventfd = 1u << 0,  // the shim signals an eventfd (passed at registration) when the
                                      // dataplane has announced it is sleeping (dp_sleeping)
};
inline constexpr uint32_t kRequiredFeatureMask = 0xffff0000u;  // high half: must-understand bits

// Written once by the shim before registration. Read-only afterwards for both sides.
struct RegionIdentity {
  uint64_t magic;          // kRegionMagic
  uint16_t abi_major;      // kAbiMajor of the shim that built the region
  uint16_t abi_minor;
  uint32_t header_bytes;   // kHeaderBytes
  uint64_t region_bytes;   // total mapped size, >= slots_offset + slot_count * slot_bytes
  uint64_t vm_id;          // the protected VM's identity, unique per appliance pair
  char vm_name[kVmNameBytes];  // NUL-padded, for humans
  uint64_t guest_pages;    // every gfn in a PAGE/ZERO_PAGE descriptor is < guest_pages
  uint32_t vcpu_count;     // every VCPU_STATE index is < vcpu_count
  uint32_t disk_count;     // every DISK_WRITE disk is < disk_count
  uint64_t disk_sectors;   // every DISK_WRITE lies within [0, disk_sectors) (same size for all disks)
  uint32_t sq_entries;     // power of two, <= kMaxRingEntries
  uint32_t cq_entries;     // power of two, <= kMaxRingEntries
  uint64_t sq_offset;      // 64-byte aligned
  uint64_t cq_offset;      // 64-byte aligned
  uint64_t slots_offset;   // 4 KiB aligned
  uint32_t slot_bytes;     // kSlotBytes
  uint32_t slot_count;     // <= kMaxSlots
  uint32_t features;       // FeatureBits
  uint32_t shim_pid;       // for the operator
  uint64_t first_epoch;    // the epoch number of the first EPOCH_BEGIN in this region
  uint32_t device_count;   // every DEVICE_STATE index is < device_count (<= 256)
  uint8_t reserved[108];   // zero; for compatible additions
};
static_assert(sizeof(RegionIdentity) == 256);

// One index or doorbell per cache line so producer and consumer never share a line they write.
struct alignas(kCacheLine) IndexLine {
  uint64_t value;
  uint8_t pad[kCacheLine - sizeof(uint64_t)];
};
static_assert(sizeof(IndexLine) == kCacheLine);

// A 32-bit futex word with a "somebody sleeps on it" flag beside it.
struct alignas(kCacheLine) DoorbellLine {
  uint32_t sequence;  // incremented by the waker after publishing; futex word
  uint32_t waiting;   // set to 1 by the sleeper before it re-checks and sleeps
  uint8_t pad[kCacheLine - 2 * sizeof(uint32_t)];
};
static_assert(sizeof(DoorbellLine) == kCacheLine);

enum class StreamState : uint32_t {
  kActive = 0,
  kFailed = 1,    // the dataplane rejected something in this region; see fail_* fields
  kDetached = 2,  // the dataplane let go of the region cleanly
};

// Written by the dataplane when it gives up on a region. The shim reads it to tell the operator why.
struct alignas(kCacheLine) FailureLine {
  uint32_t state;        // StreamState
  uint32_t reason;       // replink::Errc of the failure
  uint64_t epoch;        // epoch being processed when it failed
  char message[kFailMessageBytes];  // NUL-terminated, human readable
};
static_assert(sizeof(FailureLine) == 192);

struct RegionHeader {
  RegionIdentity identity;        // bytes 0..255
  IndexLine sq_tail;              // writer: shim.      descriptors published
  IndexLine sq_head;              // writer: dataplane. descriptors consumed
  IndexLine cq_tail;              // writer: dataplane. completions published
  IndexLine cq_head;              // writer: shim.      completions consumed
  IndexLine slots_allocated;      // writer: shim.      informational (the dataplane keeps its own count)
  IndexLine slots_released;       // writer: dataplane. every slot with cursor < value may be reused
  DoorbellLine shim_doorbell;     // waker: dataplane (completion, slot release, sq space); sleeper: shim
  DoorbellLine dp_doorbell;       // waker: shim (eventfd) when dp is sleeping; flag written by dataplane
  FailureLine failure;            // writer: dataplane
  uint8_t reserved[kHeaderBytes - 256 - 6 * kCacheLine - 2 * kCacheLine - 192];
};
static_assert(sizeof(RegionHeader) == kHeaderBytes);

// EPOCH_BEGIN index bits.
enum BeginFlags : uint16_t {
  // This epoch carries everything that changed since the last epoch the dataplane completed as
  // committed (pages and disk sectors of every uncommitted epoch), not only the changes since the
  // previous epoch. The first epoch of a region (a full copy) and the first after a failed epoch are
  // catch-up epochs. The dataplane resynchronises the peer at a catch-up epoch.
  kBeginCatchUp = 1u << 0,
};
inline constexpr uint16_t kKnownBeginFlags = kBeginCatchUp;

// Submission descriptors. One per record; content lives in slots.
//
//  type          flags     index            length            epoch  key             slot   slot_span
//  EPOCH_BEGIN   trigger   begin flags      0                 n      capture time ns 0      0
//  PAGE          0         0                4096              n      gfn             s      1
//  ZERO_PAGE     0         0                0                 n      gfn             0      0
//  VCPU_STATE    0         vcpu index       blob bytes        n      0               s      ceil(len/4K)
//  DEVICE_STATE  0         device id        blob bytes        n      0               s      ceil(len/4K)
//  DISK_WRITE    0         disk id          bytes (k * 512)   n      first sector    s      ceil(len/4K)
//  EPOCH_END     0         0                record count      n      checksum        0      slots used
//
// `slot` is the ring position of the first slot; content continues in the following slots, wrapping
// at slot_count. Slots are consumed strictly in order: each descriptor's first slot is the one after the
// previous descriptor's last. Record count excludes EPOCH_BEGIN and EPOCH_END.
struct CaptureDescriptor {
  uint8_t type;       // replink::RecordType
  uint8_t flags;      // EPOCH_BEGIN: replink::EpochTrigger; otherwise 0
  uint16_t index;
  uint32_t length;
  uint64_t epoch;
  uint64_t key;
  uint32_t slot;
  uint32_t slot_span;
};
static_assert(sizeof(CaptureDescriptor) == 32);

enum class CompletionStatus : uint32_t {
  kCommitted = 1,  // the peer has committed the epoch: the shim may release the epoch's I/O
  kFailed = 2,     // the epoch will not be committed (see detail: replink::Errc); protection degraded
};

struct CaptureCompletion {
  uint64_t epoch;
  uint32_t status;  // CompletionStatus
  uint32_t detail;  // replink::Errc for kFailed, 0 otherwise
};
static_assert(sizeof(CaptureCompletion) == 16);

}  // namespace replink::capture_abi
