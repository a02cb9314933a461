// The steps of ReplicaStore::Commit (and of the replay of a journal at open), named so that tests can
// stop the process at each one and prove that every crash point leaves the old or the new epoch.
#pragma once

#include <cstdint>
#include <functional>

namespace replink::replica {

enum class CommitStep : uint8_t {
  kJournalStart,       // nothing of the epoch written yet
  kJournalTorn,        // half of the journal entry written (reached only when a hook is installed)
  kJournalWritten,     // the whole entry is in the page cache
  kJournalDurable,     // entry fdatasync'ed (dsync mode; reached in both modes)
  kApplyStarted,       // image header says applying_epoch = epoch (replay: before each entry)
  kPagesHalfApplied,   // half of the page records copied into the image
  kMemoryApplied,      // pages, versions and blobs applied
  kDisksWritten,       // io_uring disk writes complete
  kHeaderAdvanced,     // header says committed_epoch = epoch
  kCheckpointSynced,   // checkpoint: image and disks synced (dsync) before the journal restarts;
                       // reached on every commit in page-cache mode, when the journal is full in dsync
  kCommitDone,         // Commit (or the replay at open) is about to return
};
inline constexpr int kCommitStepCount = 11;
static_assert(static_cast<int>(CommitStep::kCommitDone) + 1 == kCommitStepCount);
const char* CommitStepName(CommitStep step);

// Test-only: called at each step; crash tests _exit() from it. Empty in production.
using CommitHook = std::function<void(CommitStep)>;

}  // namespace replink::replica
