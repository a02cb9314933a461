#include "replica/epoch_journal.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <vector>

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace replink::replica {
namespace {

uint64_t PayloadOffsetFor(uint64_t record_count) {
  return RoundUp(sizeof(JournalHeader) + record_count * sizeof(JournalRecord), kJournalPayloadAlignment);
}

// Splits iovecs at byte `at`: [0, at) into `head`, [at, end) into `tail`.
void SplitIovecs(const std::vector<iovec>& iov, uint64_t at, std::vector<iovec>* head,
                 std::vector<iovec>* tail) {
  for (const iovec& v : iov) {
    if (at >= v.iov_len) {
      head->push_back(v);
      at -= v.iov_len;
    } else if (at > 0) {
      head->push_back(iovec{v.iov_base, at});
      tail->push_back(iovec{static_cast<char*>(v.iov_base) + at, v.iov_len - at});
      at = 0;
    } else {
      tail->push_back(v);
    }
  }
}

}  // namespace

Result<EpochJournal> EpochJournal::OpenExclusive(const std::string& path) {
  REPLINK_ASSIGN_OR_RETURN(UniqueFd fd, OpenFile(path, O_RDWR | O_CREAT));
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK)
      return MakeError(Errc::kState, "{}: replica directory is in use by another process", path);
    return SysError("flock {}", path);
  }
  EpochJournal journal;
  journal.fd_ = std::move(fd);
  journal.path_ = path;
  return journal;
}

Result<uint64_t> EpochJournal::Append(const StagedEpoch& epoch, uint64_t image_id,
                                      const std::function<void()>& torn_hook) {
  if (epoch.records.size() > UINT32_MAX)
    return MakeError(Errc::kInvalidArgument, "epoch {}: {} records do not fit a journal entry", epoch.epoch,
                     epoch.records.size());
  JournalHeader header{};
  header.magic = kJournalMagic;
  header.format_version = kJournalFormatVersion;
  header.header_bytes = sizeof(JournalHeader);
  header.image_id = image_id;
  header.vm_id = epoch.vm_id;
  header.trigger = static_cast<uint8_t>(epoch.trigger);
  header.epoch = epoch.epoch;
  header.content_checksum = epoch.content_checksum;
  header.record_count = static_cast<uint32_t>(epoch.records.size());
  header.records_offset = sizeof(JournalHeader);
  header.payload_offset = PayloadOffsetFor(epoch.records.size());
  header.payload_bytes = epoch.payload.size();
  header.trailer_offset = header.payload_offset + header.payload_bytes;

  uint64_t records_bytes = epoch.records.size_bytes();
  uint64_t padding = header.payload_offset - sizeof(JournalHeader) - records_bytes;
  std::vector<iovec> iov = {
      {&header, sizeof(header)},
      {const_cast<JournalRecord*>(epoch.records.data()), records_bytes},
      {const_cast<std::byte*>(kZeroPageBytes), padding},  // < 4096 by construction
      {const_cast<std::byte*>(epoch.payload.data()), epoch.payload.size()},
  };
  XXH3_state_t state;
  XXH3_64bits_reset(&state);
  for (const iovec& v : iov) XXH3_64bits_update(&state, v.iov_base, v.iov_len);
  JournalTrailer trailer{kJournalEndMagic, epoch.epoch, header.trailer_offset + sizeof(JournalTrailer),
                         XXH3_64bits_digest(&state)};
  iov.push_back({&trailer, sizeof(trailer)});

  const uint64_t at = append_offset_;
  if (torn_hook) {
    std::vector<iovec> head, tail;
    uint64_t half = trailer.total_bytes / 2;
    SplitIovecs(iov, half, &head, &tail);
    REPLINK_TRY(WriteFullyAt(fd_.get(), head, at, path_));
    torn_hook();
    REPLINK_TRY(WriteFullyAt(fd_.get(), tail, at + half, path_));
  } else {
    REPLINK_TRY(WriteFullyAt(fd_.get(), iov, at, path_));
  }
  append_offset_ = RoundUp(at + trailer.total_bytes, kJournalEntryAlignment);
  return trailer.total_bytes;
}

Result<void> EpochJournal::Sync() { return DataSync(fd_.get(), path_); }

Result<void> EpochJournal::Retire() {
  append_offset_ = 0;
  REPLINK_ASSIGN_OR_RETURN(uint64_t size, FileSize(fd_.get(), path_));
  if (size == 0) return Ok();
  iovec zero{const_cast<std::byte*>(kZeroPageBytes), std::min<uint64_t>(size, sizeof(JournalHeader))};
  REPLINK_TRY(WriteFullyAt(fd_.get(), {&zero, 1}, 0, path_));
  return DataSync(fd_.get(), path_);
}

Result<void> EpochJournal::Preallocate(uint64_t bytes) {
  REPLINK_ASSIGN_OR_RETURN(uint64_t size, FileSize(fd_.get(), path_));
  if (size >= bytes) return Ok();
  // Real zeros, not fallocate: ext4 would keep fallocated blocks as unwritten extents and convert
  // them (a metadata change) on the first append.
  std::vector<iovec> zeros(256, iovec{const_cast<std::byte*>(kZeroPageBytes), kPageSize});
  for (uint64_t at = size; at < bytes; at += zeros.size() * kPageSize)
    REPLINK_TRY(WriteFullyAt(fd_.get(), zeros, at, path_));
  return DataSync(fd_.get(), path_);
}

namespace {

// Parses the entry at `offset`; on failure returns why in *problem.
bool ParseEntry(const std::byte* file, uint64_t size, uint64_t offset, JournalEntry* entry,
                std::string* problem) {
  const uint64_t room = size - offset;
  const std::byte* base = file + offset;
  if (room < sizeof(JournalHeader) + sizeof(JournalTrailer)) {
    *problem = fmt::format("{} bytes left, fewer than a header and a trailer", room);
    return false;
  }
  JournalHeader& h = entry->header;
  std::memcpy(&h, base, sizeof(h));
  if (h.magic != kJournalMagic) {
    *problem = fmt::format("bad magic {:#018x}", h.magic);
    return false;
  }
  if (h.format_version != kJournalFormatVersion || h.header_bytes != sizeof(JournalHeader)) {
    *problem = fmt::format("format version {} / header size {} not understood", h.format_version,
                           h.header_bytes);
    return false;
  }
  // Each term is checked against the room left before it is added, so the sums cannot overflow.
  if (h.records_offset != sizeof(JournalHeader) || h.record_count > room / sizeof(JournalRecord) ||
      h.payload_offset != PayloadOffsetFor(h.record_count) || h.payload_offset > room ||
      h.payload_bytes > room || h.trailer_offset != h.payload_offset + h.payload_bytes ||
      h.trailer_offset > room - sizeof(JournalTrailer)) {
    *problem = fmt::format("entry layout (records {}, payload {}+{}, trailer at {}) exceeds the {} bytes left",
                           h.record_count, h.payload_offset, h.payload_bytes, h.trailer_offset, room);
    return false;
  }
  JournalTrailer trailer;
  std::memcpy(&trailer, base + h.trailer_offset, sizeof(trailer));
  if (trailer.magic != kJournalEndMagic || trailer.epoch != h.epoch ||
      trailer.total_bytes != h.trailer_offset + sizeof(JournalTrailer)) {
    *problem = fmt::format("epoch {} has no trailer at +{}", h.epoch, h.trailer_offset);
    return false;
  }
  uint64_t checksum = XXH3_64bits(base, h.trailer_offset);
  if (checksum != trailer.checksum) {
    *problem = fmt::format("epoch {} checksum mismatch (stored {:#018x}, computed {:#018x})", h.epoch,
                           trailer.checksum, checksum);
    return false;
  }
  entry->offset = offset;
  entry->epoch.vm_id = h.vm_id;
  entry->epoch.epoch = h.epoch;
  entry->epoch.trigger = static_cast<EpochTrigger>(h.trigger);
  entry->epoch.content_checksum = h.content_checksum;
  entry->epoch.records = {reinterpret_cast<const JournalRecord*>(base + h.records_offset), h.record_count};
  entry->epoch.payload = {base + h.payload_offset, h.payload_bytes};
  return true;
}

}  // namespace

Result<JournalScan> ScanJournal(int fd, std::string_view what) {
  JournalScan scan;
  REPLINK_ASSIGN_OR_RETURN(scan.file_bytes, FileSize(fd, what));
  if (scan.file_bytes == 0) return scan;
  REPLINK_ASSIGN_OR_RETURN(scan.mapping, FileMapping::Map(fd, scan.file_bytes, /*writable=*/false, what));
  uint64_t offset = 0;
  while (offset < scan.file_bytes) {
    JournalEntry entry;
    std::string problem;
    if (!ParseEntry(scan.mapping.data(), scan.file_bytes, offset, &entry, &problem)) {
      scan.stop_reason = fmt::format("at offset {}: {}", offset, problem);
      break;
    }
    if (!scan.chain.empty() && (entry.header.image_id != scan.chain.front().header.image_id ||
                                entry.header.epoch != scan.chain.back().header.epoch + 1)) {
      scan.stop_reason = fmt::format("at offset {}: epoch {} does not continue the chain ending at epoch {}",
                                     offset, entry.header.epoch, scan.chain.back().header.epoch);
      break;
    }
    offset = RoundUp(offset + entry.header.trailer_offset + sizeof(JournalTrailer), kJournalEntryAlignment);
    scan.chain.push_back(entry);
  }
  return scan;
}

}  // namespace replink::replica
