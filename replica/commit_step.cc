#include "replica/commit_step.h"

namespace replink::replica {

const char* CommitStepName(CommitStep step) {
  switch (step) {
    case CommitStep::kJournalStart: return "journal-start";
    case CommitStep::kJournalTorn: return "journal-torn";
    case CommitStep::kJournalWritten: return "journal-written";
    case CommitStep::kJournalDurable: return "journal-durable";
    case CommitStep::kApplyStarted: return "apply-started";
    case CommitStep::kPagesHalfApplied: return "pages-half-applied";
    case CommitStep::kMemoryApplied: return "memory-applied";
    case CommitStep::kDisksWritten: return "disks-written";
    case CommitStep::kHeaderAdvanced: return "header-advanced";
    case CommitStep::kCheckpointSynced: return "checkpoint-synced";
    case CommitStep::kCommitDone: return "commit-done";
  }
  return "unknown";
}

}  // namespace replink::replica
