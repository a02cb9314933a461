// Where things live in a capture region, computed once from a few sizes (shim side) and validated
// against the untrusted identity (dataplane side). Both sides use these functions so they cannot
// disagree about the layout.
#pragma once

#include <cstdint>
#include <string>

#include "capture/capture_ring_abi.h"
#include "errors/result.h"

namespace replink {

struct RegionGeometry {
  uint32_t sq_entries = 0;
  uint32_t cq_entries = 0;
  uint32_t slot_count = 0;
  uint64_t sq_offset = 0;
  uint64_t cq_offset = 0;
  uint64_t slots_offset = 0;
  uint64_t region_bytes = 0;  // minimum; a hugetlb region may be larger
};

// Lays out a region; entries must be powers of two within the ABI bounds.
Result<RegionGeometry> ComputeGeometry(uint32_t sq_entries, uint32_t cq_entries, uint32_t slot_count);

// Checks an identity read from a region of `mapped_bytes` (a private copy: never re-read the shared
// one after validating). Errors name the offending field.
Result<void> ValidateIdentity(const capture_abi::RegionIdentity& identity, uint64_t mapped_bytes);

std::string VmNameOf(const capture_abi::RegionIdentity& identity);

}  // namespace replink
