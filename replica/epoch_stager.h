// EpochStager: receives one epoch's records from the link layer and holds them, fully validated, in
// bounded memory until ReplicaStore::Commit applies them. Nothing touches the replica before the whole
// epoch has arrived and its EPOCH_END record count and EpochChecksum match.
//
// Every record is untrusted input. A violation returns an Error naming vm, epoch, record ordinal and
// reason, is counted per reason, and discards the epoch being staged (the replica is untouched); the
// stager then expects BEGIN of the same epoch again.
//
// Usage (single thread, the link layer's receive path):
//   stager.Begin(epoch, trigger); stager.StagePage(...) ...; auto staged = stager.End(count, checksum);
//   store.Commit(*staged); stager.MarkCommitted();
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "capture/epoch_record.h"
#include "errors/result.h"
#include "replica/fragment_coverage.h"
#include "replica/replica_image_layout.h"
#include "replica/staged_epoch.h"
#include "replica/staging_arena.h"

namespace replink::replica {

enum class StageRejection : uint8_t {
  kNoOpenEpoch,           // a record or END without BEGIN
  kAlreadyOpen,           // BEGIN while an epoch is being staged
  kSealed,                // a record while a sealed epoch waits for commit
  kEpochGap,              // BEGIN skips epochs
  kEpochStale,            // BEGIN of an epoch already committed
  kBadTrigger,
  kBadRecordType,         // blob call with a type that is not a state blob
  kBadLength,             // page not 4096 bytes, empty fragment, zero total
  kGfnOutOfRange,
  kDuplicatePage,         // a gfn staged twice in one epoch (page or zero page)
  kBlobIndexOutOfRange,
  kBlobTooLarge,
  kFragmentOutOfBounds,   // offset + length beyond the item's total
  kFragmentInconsistent,  // fragments of one item disagree on its total length
  kFragmentOverlap,       // fragment overlaps (or repeats) bytes already received
  kDiskOutOfRange,        // unknown disk id or write past the end of the disk
  kDiskUnaligned,         // disk write length not a multiple of 512
  kDiskOverlap,           // two writes of one epoch touch the same sector
  kArenaFull,             // the sender exceeded the advertised credits
  kIncompleteItem,        // END while a blob or disk write misses bytes
  kRecordCountMismatch,
  kChecksumMismatch,
};
inline constexpr std::size_t kStageRejectionCount = 22;
static_assert(static_cast<std::size_t>(StageRejection::kChecksumMismatch) + 1 == kStageRejectionCount);
const char* StageRejectionName(StageRejection reason);

struct StagerConfig {
  ReplicaGeometry geometry;          // must match the ReplicaStore's
  uint64_t arena_bytes = 64u << 20;  // staging bound: advertise as receiver credits
  bool prefault_arena = true;
};

struct StagerCounters {
  uint64_t epochs_begun = 0;
  uint64_t epochs_sealed = 0;
  uint64_t epochs_committed = 0;
  uint64_t epochs_discarded = 0;  // by a rejection or Discard()
  uint64_t records_accepted = 0;  // record calls, fragments included
  uint64_t payload_bytes_accepted = 0;
  uint64_t rejections = 0;
  std::array<uint64_t, kStageRejectionCount> rejections_by_reason{};
};

class EpochStager {
 public:
  // last_committed: the replica's committed epoch; the next BEGIN must be last_committed + 1.
  static Result<EpochStager> Create(const StagerConfig& config, uint64_t last_committed);

  Result<void> Begin(uint64_t epoch, EpochTrigger trigger);
  Result<void> StagePage(uint64_t gfn, std::span<const std::byte> page);
  // Arena slot for the page's decoded content, so a codec can decode in place. Look up a delta's base
  // (LatestPage) before reserving: afterwards the lookup returns this slot.
  Result<std::span<std::byte, kPageSize>> ReservePage(uint64_t gfn);
  Result<void> StageZeroPage(uint64_t gfn);
  // type: kVcpuState or kDeviceState; index: vCPU index / device id.
  Result<void> StageBlobFragment(RecordType type, uint32_t index, uint32_t total_length,
                                 uint32_t offset, std::span<const std::byte> bytes);
  Result<void> StageDiskWriteFragment(uint32_t disk, uint64_t sector, uint32_t total_length,
                                      uint32_t offset, std::span<const std::byte> bytes);
  // EPOCH_END: record_count counts content records (pages, zero pages, blobs, disk writes; each
  // fragmented item once), as EpochChecksum::records() does. On success the epoch is sealed.
  Result<StagedEpoch> End(uint32_t record_count, uint64_t checksum);

  void Discard();                        // drop the open or sealed epoch (e.g. link reset)
  void MarkCommitted();                  // the sealed epoch is committed: free the arena
  void Rebase(uint64_t last_committed);  // discard; next BEGIN must be last_committed + 1

  // The staged content of gfn in the open or sealed epoch, if any (version = that epoch).
  std::optional<PageRef> StagedPage(uint64_t gfn) const;
  std::optional<StagedEpoch> sealed_epoch() const;

  bool is_open() const { return state_ == State::kOpen; }
  bool is_sealed() const { return state_ == State::kSealed; }
  uint64_t expected_epoch() const { return expected_epoch_; }
  uint64_t capacity_bytes() const { return arena_.capacity(); }
  uint64_t remaining_bytes() const { return arena_.remaining(); }
  // Credits a record of `length` payload bytes consumes (pages: kPageSize; zero pages: 0).
  static uint64_t ArenaCost(uint64_t length) { return length == 0 ? 0 : StagingArena::CostOf(length); }
  const StagerCounters& counters() const { return counters_; }
  std::optional<StageRejection> last_rejection() const { return last_rejection_; }
  const ReplicaGeometry& geometry() const { return config_.geometry; }

 private:
  enum class State { kIdle, kOpen, kSealed };
  struct FragmentedItem {
    uint32_t record = 0;  // index into records_
    FragmentCoverage coverage;
  };
  static constexpr uint32_t kNone = UINT32_MAX;

  EpochStager(StagerConfig config, StagingArena arena, uint64_t last_committed);
  Result<void> CheckRecordAllowed();
  Result<uint32_t> AddPageRecord(uint64_t gfn, RecordType type);
  Result<void> AddFragment(uint32_t item, uint32_t total_length, uint32_t offset,
                           std::span<const std::byte> bytes, const char* what);
  Result<uint32_t> NewFragmentedItem(RecordType type, uint32_t index, uint64_t key, uint32_t total);
  Result<void> CheckDiskOverlaps();
  StagedEpoch View() const;
  void ResetEpoch();
  Error Reject(StageRejection reason, std::string detail);

  StagerConfig config_;
  StagingArena arena_;
  State state_ = State::kIdle;
  uint64_t expected_epoch_ = 1;
  uint64_t epoch_ = 0;
  EpochTrigger trigger_ = EpochTrigger::kExplicit;
  uint32_t record_ordinal_ = 0;  // calls in this epoch; BEGIN is 0
  uint64_t checksum_ = 0;

  std::vector<JournalRecord> records_;
  std::vector<uint32_t> record_of_gfn_;   // guest_pages entries, kNone when not staged
  std::vector<FragmentedItem> items_;
  std::vector<uint32_t> item_of_blob_slot_;
  std::unordered_map<uint64_t, uint32_t> item_of_disk_write_;  // (disk << 56 | sector) -> item

  StagerCounters counters_;
  std::optional<StageRejection> last_rejection_;
};

}  // namespace replink::replica
