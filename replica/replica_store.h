// ReplicaStore: the secondary's copy of one protected VM, one directory per VM:
//   memory.img     memory image (replica_image_format.h), mmap'ed; regular file or a symlink to hugetlbfs
//   diskN.img      replica disks, written through io_uring
//   epoch.journal  redo log that makes Commit atomic; its flock marks the directory in use
// Commit(epoch) applies a staged epoch so that a crash at any point leaves, after Open, exactly the
// old or exactly the new epoch (docs/PROTOCOL.md "Atomic commit"). Commit returns only when the epoch
// is applied (and, in dsync mode, durable in the journal), so the caller may then send
// EPOCH_COMMITTED. In dsync mode the image and disks are synced at checkpoints, when the journal has
// grown past journal_checkpoint_bytes; until then the journal can redo every epoch since.
// Single-threaded: one dataplane worker owns a store.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "errors/result.h"
#include "replica/commit_step.h"
#include "replica/epoch_journal.h"
#include "replica/posix_file.h"
#include "replica/replica_image_layout.h"
#include "replica/replica_image_view.h"
#include "replica/staged_epoch.h"
#include "replica/uring_disk_writer.h"

namespace replink::replica {

enum class Durability : uint8_t {
  kDsync,      // the epoch is on stable storage (journal fdatasync'ed) before Commit returns (DRBD C)
  kPageCache,  // written to the page cache only: survives a process crash, not a power loss
};
const char* DurabilityName(Durability durability);

struct ReplicaStoreConfig {
  std::string directory;
  ReplicaGeometry geometry;  // must match an existing replica exactly
  Durability durability = Durability::kDsync;
  // Empty: <directory>/memory.img. Otherwise the image is created here (e.g. /dev/hugepages/vm3.img)
  // and <directory>/memory.img links to it.
  std::string memory_image_path;
  bool create_if_missing = true;
  unsigned io_queue_depth = 64;
  // dsync: checkpoint (sync image + disks, restart the journal) once the journal holds this much.
  // Larger: fewer syncs of scattered image pages; longer replay after a crash.
  uint64_t journal_checkpoint_bytes = 64u << 20;
  CommitHook crash_hook_for_testing;  // also runs during the replay at Open
};

// What Open found and did.
struct RecoveryReport {
  enum class Journal : uint8_t {
    kNone,                // empty journal
    kReplayed,            // the chain ended past the committed epoch: replayed, replica moved forward
    kReappliedCommitted,  // the chain ended at the committed epoch: re-applied (idempotent; repairs
                          // writeback lost to a power cut)
    kDiscardedIncomplete, // no complete entry: an epoch whose journal never completed was dropped
    kIgnoredStale,        // chain of older epochs only
    kIgnoredForeign,      // journal written for another image (the image was recreated)
  };
  bool created = false;
  Journal journal = Journal::kNone;
  uint64_t journal_epoch = 0;  // last epoch of the chain
  uint64_t replayed_entries = 0;
  std::string detail;
};
const char* RecoveryJournalName(RecoveryReport::Journal outcome);

struct ReplicaCounters {
  uint64_t commits = 0;
  uint64_t replays = 0;  // journal entries re-applied at open
  uint64_t checkpoints = 0;
  uint64_t failed_commits = 0;
  uint64_t journal_bytes = 0;
  uint64_t pages = 0;
  uint64_t zero_pages = 0;
  uint64_t blob_bytes = 0;
  uint64_t disk_bytes = 0;
};

class ReplicaStore {
 public:
  // Creates the replica if missing, validates an existing one against the config, then recovers:
  // replays a committed-but-unapplied journal, discards an incomplete one.
  static Result<ReplicaStore> Open(ReplicaStoreConfig config);

  // Applies `epoch` (committed_epoch() + 1). A validation failure leaves the replica untouched and
  // the store usable; a failure after the journal write began poisons the store (kState until
  // reopened, which recovers).
  Result<void> Commit(const StagedEpoch& epoch);

  // Makes everything durable, retires the journal, marks the replica clean and releases the files
  // (and the directory lock), so a ReplicaImage can open it. Everything but the accessors of plain
  // values is refused afterwards.
  Result<void> Close();

  uint64_t committed_epoch() const { return committed_epoch_; }
  const ReplicaGeometry& geometry() const { return geometry_; }
  Durability durability() const { return config_.durability; }
  const RecoveryReport& recovery() const { return recovery_; }
  const ReplicaCounters& counters() const { return counters_; }
  bool failed() const { return failed_; }
  uint64_t image_id() const { return image_id_; }

  // Committed content, for delta bases (see LatestPage) and tests. kState once closed.
  Result<PageRef> CommittedPage(uint64_t gfn) const;
  Result<BlobRef> CommittedBlob(RecordType type, uint32_t index) const;

 private:
  ReplicaStore() = default;
  Result<void> OpenImage(const std::string& dir, bool* created);
  Result<void> OpenDisks(const std::string& dir);
  Result<void> CheckUnsyncedFlag();
  Result<void> Recover();
  Result<void> SetupDurability();
  Result<void> CommitValidated(const StagedEpoch& epoch);
  Result<void> Apply(const StagedEpoch& epoch);
  Result<void> Checkpoint();
  Result<void> SyncImageAndDisks();
  ReplicaImageView view() const { return {image_map_.data(), &geometry_, layout_}; }
  ImageHeader* live_header() const;
  void StoreHeaderWord(uint64_t ImageHeader::*field, uint64_t value) const;
  void Hook(CommitStep step) const {
    if (config_.crash_hook_for_testing) config_.crash_hook_for_testing(step);
  }

  ReplicaStoreConfig config_;
  std::string context_;  // "vm 3 replica /path"
  ReplicaGeometry geometry_;
  ImageLayout layout_;
  uint64_t image_id_ = 0;
  EpochJournal journal_;
  UniqueFd image_fd_;
  FileMapping image_map_;
  std::vector<UniqueFd> disk_files_;
  std::vector<int> sync_fds_;  // image + disks, for SyncAll
  std::vector<int> disk_fds_;
  std::unique_ptr<UringDiskWriter> disk_writer_;
  uint64_t committed_epoch_ = 0;
  bool failed_ = false;
  bool closed_ = false;
  RecoveryReport recovery_;
  ReplicaCounters counters_;
};

}  // namespace replink::replica
