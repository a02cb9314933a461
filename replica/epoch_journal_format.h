// The epoch journal: the redo log that makes ReplicaStore::Commit atomic. Each committed epoch is one
// entry (header, record table, payload, trailer), appended and made durable before the image is
// touched; entries start at 4096-aligned offsets. JournalRecord is also the stager's in-memory record
// table, so entries are written straight from the staging arena without re-encoding.
// Layout and recovery rules: docs/PROTOCOL.md "Atomic commit".
#pragma once

#include <cstddef>
#include <cstdint>

namespace replink::replica {

inline constexpr uint64_t kJournalMagic = 0x314C4E4A4B4C5052ULL;     // "RPLKJNL1"
inline constexpr uint64_t kJournalEndMagic = 0x444E454A4B4C5052ULL;  // "RPLKJEND"
inline constexpr uint32_t kJournalFormatVersion = 1;
inline constexpr uint64_t kJournalPayloadAlignment = 4096;  // within an entry
inline constexpr uint64_t kJournalEntryAlignment = 4096;    // within the file

// Offsets in the header are relative to the start of the entry.
struct JournalHeader {
  uint64_t magic;             //   0  kJournalMagic
  uint32_t format_version;    //   8
  uint32_t header_bytes;      //  12  sizeof(JournalHeader)
  uint64_t image_id;          //  16  ImageHeader::image_id of the image this epoch applies to
  uint32_t vm_id;             //  24
  uint8_t trigger;            //  28  EpochTrigger
  uint8_t reserved0[3];       //  29
  uint64_t epoch;             //  32
  uint64_t content_checksum;  //  40  EpochChecksum of the content (as in EPOCH_END)
  uint32_t record_count;      //  48
  uint32_t reserved1;         //  52
  uint64_t records_offset;    //  56  == sizeof(JournalHeader)
  uint64_t payload_offset;    //  64  round_up(records_offset + 32 * record_count, 4096)
  uint64_t payload_bytes;     //  72
  uint64_t trailer_offset;    //  80  == payload_offset + payload_bytes
  uint64_t reserved2[5];      //  88  zero
};
static_assert(sizeof(JournalHeader) == 128);

// One content record. Pages, zero pages, blobs and disk writes are complete here: fragments were
// reassembled by the stager.
struct JournalRecord {
  uint8_t type;             //  0  RecordType: kPage, kZeroPage, kVcpuState, kDeviceState, kDiskWrite
  uint8_t reserved0[3];     //  1
  uint32_t index;           //  4  vCPU index, device id or disk id; 0 for pages
  uint64_t key;             //  8  gfn for pages, first sector for disk writes, 0 for blobs
  uint32_t length;          // 16  payload bytes: 4096 page, 0 zero page, blob / disk write length
  uint32_t reserved1;       // 20
  uint64_t payload_offset;  // 24  offset of the bytes within the payload area
};
static_assert(sizeof(JournalRecord) == 32);

// Written last. An entry is committed iff its trailer is present and the checksum matches.
struct JournalTrailer {
  uint64_t magic;        //  0  kJournalEndMagic
  uint64_t epoch;        //  8  == JournalHeader::epoch
  uint64_t total_bytes;  // 16  trailer_offset + sizeof(JournalTrailer)
  uint64_t checksum;     // 24  XXH3-64 (seed 0) of the entry's bytes [0, trailer_offset)
};
static_assert(sizeof(JournalTrailer) == 32);

}  // namespace replink::replica
