// A complete, validated epoch as the replica applies it: a record table plus the payload bytes the
// records point into. The stager produces it from its arena; recovery produces it from a mapped
// journal. Both feed the same apply code, so a replayed epoch is applied exactly like a live one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "capture/epoch_record.h"
#include "replica/epoch_journal_format.h"

namespace replink::replica {

struct StagedEpoch {
  uint32_t vm_id = 0;
  uint64_t epoch = 0;
  EpochTrigger trigger = EpochTrigger::kExplicit;
  uint64_t content_checksum = 0;  // EpochChecksum value, as verified against EPOCH_END
  std::span<const JournalRecord> records;
  std::span<const std::byte> payload;  // records' payload_offset is relative to this
};

// EpochChecksum over the epoch's records, as the sender computed it for EPOCH_END. Precondition:
// every record's payload range lies within `payload`.
uint64_t ContentChecksumOf(const StagedEpoch& epoch);

// The latest content of a guest page and the epoch that wrote it (0: never written, all zero).
// `data` always points at kPageSize readable bytes.
struct PageRef {
  const std::byte* data = nullptr;
  uint64_t version = 0;
};

// What a zero page reads as.
alignas(4096) inline constexpr std::byte kZeroPageBytes[kPageSize] = {};

}  // namespace replink::replica
