// The checks the block backend applies to each request a guest puts on its blkif ring (copied out of
// the shared page first: the guest may change it under us). Pure, so it is unit tested without Xen.
#pragma once

#include <cstdint>

namespace replink::xen {

inline constexpr uint8_t kBlkifOpRead = 0;   // BLKIF_OP_READ
inline constexpr uint8_t kBlkifOpWrite = 1;  // BLKIF_OP_WRITE
inline constexpr uint8_t kBlkifMaxSegments = 11;  // BLKIF_MAX_SEGMENTS_PER_REQUEST
inline constexpr uint8_t kBlkifSectorsPerPage = 8;

struct BlkifSegmentView {
  uint32_t gref = 0;
  uint8_t first_sect = 0;
  uint8_t last_sect = 0;
};

struct BlkifRequestView {
  uint8_t operation = 0;
  uint8_t nr_segments = 0;
  uint64_t sector = 0;
  BlkifSegmentView seg[kBlkifMaxSegments];
};

enum class BlkifVerdict : uint8_t {
  kOk,
  kUnsupported,  // flush, barrier, discard, indirect, unknown: never advertised -> EOPNOTSUPP
  kMalformed,    // segment count or bounds, or beyond the disk -> BLKIF_RSP_ERROR
};

struct BlkifCheck {
  BlkifVerdict verdict = BlkifVerdict::kMalformed;
  uint64_t sectors = 0;  // the request's length, when kOk
};

inline BlkifCheck CheckBlkifRequest(const BlkifRequestView& r, uint64_t disk_sectors) {
  if (r.operation != kBlkifOpRead && r.operation != kBlkifOpWrite) return {BlkifVerdict::kUnsupported, 0};
  if (r.nr_segments == 0 || r.nr_segments > kBlkifMaxSegments) return {};
  uint64_t sectors = 0;
  for (uint8_t i = 0; i < r.nr_segments; ++i) {
    const BlkifSegmentView& s = r.seg[i];
    if (s.first_sect > s.last_sect || s.last_sect >= kBlkifSectorsPerPage) return {};
    sectors += uint64_t{s.last_sect} - s.first_sect + 1;
  }
  if (r.sector >= disk_sectors || sectors > disk_sectors - r.sector) return {};
  return {BlkifVerdict::kOk, sectors};
}

}  // namespace replink::xen
