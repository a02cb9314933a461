// The Remus-style baseline's wire format (bench only, never spoken by replink itself): one epoch is
// one message on a kernel TCP stream, the way Remus / Xen's checkpointed migration stream sends a
// checkpoint: a header, the frame numbers, the raw pages, the state blobs, the disk write. The
// receiver answers every committed epoch with one ack. Described in docs/BENCHMARKS.md
// ("Remus-style baseline"). Everything is little-endian (x86 only, like the rest of the bench).
//
//   EpochHeader (48 B) | gfn[page_count] (8 B each) | pages (4096 B each)
//   | blob[blob_count]: BlobHeader (8 B) + bytes | disk write (disk_bytes)
//   <- Ack (16 B)
#pragma once

#include <cstddef>
#include <cstdint>

namespace replink::bench::remus {

inline constexpr uint32_t kEpochMagic = 0x52454d45;  // "EMER"
inline constexpr uint32_t kAckMagic = 0x52454d41;    // "AMER"
inline constexpr uint16_t kWireVersion = 1;

// Bounds the receiver enforces before it allocates or reads anything (the stream is untrusted).
inline constexpr uint32_t kMaxBlobsPerEpoch = 64;
inline constexpr uint32_t kMaxBlobBytes = 64 * 1024;
inline constexpr uint32_t kMaxDiskBytes = 1u << 20;

struct EpochHeader {
  uint32_t magic;       // kEpochMagic
  uint16_t version;     // kWireVersion
  uint16_t flags;       // kFlagHasDiskWrite
  uint64_t epoch;       // 1, 2, 3, ... without gaps
  uint64_t capture_ns;  // CLOCK_MONOTONIC at the I/O event (sender and receiver share the host)
  uint32_t page_count;  // gfns and pages that follow
  uint32_t blob_count;  // vCPU / device state blobs that follow the pages
  uint32_t disk_bytes;  // a multiple of 512; 0 without a disk write
  uint16_t disk;        // disk index of the write
  uint16_t reserved;    // 0
  uint64_t disk_sector;
};
static_assert(sizeof(EpochHeader) == 48);

inline constexpr uint16_t kFlagHasDiskWrite = 1;

struct BlobHeader {
  uint16_t type;    // replink::RecordType value: kVcpuState or kDeviceState
  uint16_t index;   // vCPU index or device id
  uint32_t length;  // <= kMaxBlobBytes
};
static_assert(sizeof(BlobHeader) == 8);

enum class AckStatus : uint32_t { kCommitted = 0, kRejected = 1 };

struct Ack {
  uint32_t magic;   // kAckMagic
  uint32_t status;  // AckStatus
  uint64_t epoch;
};
static_assert(sizeof(Ack) == 16);

}  // namespace replink::bench::remus
