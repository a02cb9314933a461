// The redo log of one replica directory (entry format: epoch_journal_format.h). Commit appends one
// staged epoch as an entry with a single pwritev, straight from the staging arena; a checkpoint (image
// and disks synced) lets the next entry start again at offset 0. At open the chain of entries is read
// back and replayed. The journal file's flock also marks the directory as in use.
//
// A chain is the run of valid entries from offset 0, each at the 4096-aligned offset after the
// previous one, same image_id, consecutive epochs. Whatever follows (a torn entry, or entries of an
// older chain not yet overwritten) is not part of it.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "errors/result.h"
#include "replica/epoch_journal_format.h"
#include "replica/posix_file.h"
#include "replica/staged_epoch.h"

namespace replink::replica {

class EpochJournal {
 public:
  // Opens or creates the journal and takes an exclusive lock (kState if another process holds it).
  static Result<EpochJournal> OpenExclusive(const std::string& path);

  // Appends the epoch as one entry; returns its size. torn_hook (test-only) runs after half of the
  // entry's bytes are written.
  Result<uint64_t> Append(const StagedEpoch& epoch, uint64_t image_id,
                          const std::function<void()>& torn_hook);
  Result<void> Sync();
  // After a checkpoint: the next entry starts a new chain at offset 0.
  void Restart() { append_offset_ = 0; }
  // Durably ends the chain (zeroes the first entry's header) and restarts. The file keeps its size
  // and blocks, so later appends stay pure data writes.
  Result<void> Retire();
  // Writes zeros up to `bytes` so appends below that size never change the file's size or block
  // map: fdatasync of an append then flushes data only, not file system metadata.
  Result<void> Preallocate(uint64_t bytes);
  uint64_t appended_bytes() const { return append_offset_; }
  int fd() const { return fd_.get(); }
  const std::string& path() const { return path_; }

 private:
  UniqueFd fd_;
  std::string path_;
  uint64_t append_offset_ = 0;
};

struct JournalEntry {
  uint64_t offset = 0;
  JournalHeader header{};
  StagedEpoch epoch;  // records and payload point into the scan's mapping
};

// The journal as found at open. Content that does not verify ends the chain instead of failing:
// a write torn by a crash and a corrupted file look the same, and the caller decides (with the
// image's committed and applying epochs) what the chain means.
struct JournalScan {
  uint64_t file_bytes = 0;
  FileMapping mapping;               // keeps the entries' spans valid
  std::vector<JournalEntry> chain;   // in file order; epochs consecutive
  std::string stop_reason;           // why the scan ended before the end of the file, if it did
  bool first_entry_invalid() const { return chain.empty() && file_bytes > 0; }
};

// Fails only when the file cannot be read.
Result<JournalScan> ScanJournal(int fd, std::string_view what);

}  // namespace replink::replica
