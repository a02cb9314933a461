#include "replica/replica_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <climits>
#include <cstring>
#include <new>
#include <random>

#include <fmt/ranges.h>

#include "replica/epoch_applier.h"
#include "replica/replica_directory.h"

namespace replink::replica {

const char* DurabilityName(Durability durability) {
  switch (durability) {
    case Durability::kDsync: return "dsync";
    case Durability::kPageCache: return "page-cache";
  }
  return "unknown";
}

const char* RecoveryJournalName(RecoveryReport::Journal outcome) {
  using J = RecoveryReport::Journal;
  switch (outcome) {
    case J::kNone: return "none";
    case J::kReplayed: return "replayed";
    case J::kReappliedCommitted: return "reapplied-committed";
    case J::kDiscardedIncomplete: return "discarded-incomplete";
    case J::kIgnoredStale: return "ignored-stale";
    case J::kIgnoredForeign: return "ignored-foreign";
  }
  return "unknown";
}

namespace {

uint64_t RandomImageId() {
  std::random_device random;
  return ((uint64_t{random()} << 32) ^ random()) | 1;  // never 0
}

std::string Describe(const ReplicaGeometry& g) {
  return fmt::format("vm {}, {} pages, {} vCPU + {} device slots of {} B, disks {}", g.vm_id,
                     g.guest_pages, g.vcpu_slots, g.device_slots, g.max_blob_bytes,
                     fmt::join(g.disk_sectors, "/"));
}

// Builds the image under a temporary name and renames it into place, so a crash during creation
// never leaves a half-initialised image under the real name.
Result<void> CreateMemoryImage(const std::string& target, const ReplicaGeometry& g) {
  std::string tmp = target + ".creating";
  ::unlink(tmp.c_str());
  REPLINK_ASSIGN_OR_RETURN(UniqueFd fd, OpenFile(tmp, O_RDWR | O_CREAT | O_EXCL, 0600));
  REPLINK_ASSIGN_OR_RETURN(uint64_t unit, AllocationUnit(fd.get(), tmp));
  ImageLayout layout = ComputeLayout(g, unit);
  if (::ftruncate(fd.get(), static_cast<off_t>(layout.file_bytes)) != 0)
    return SysError("{}: ftruncate to {} bytes", tmp, layout.file_bytes);
  {
    REPLINK_ASSIGN_OR_RETURN(FileMapping map, FileMapping::Map(fd.get(), layout.file_bytes, true, tmp));
    ImageHeader header = MakeImageHeader(g, layout, RandomImageId());
    std::memcpy(map.data(), &header, sizeof(header));
  }
  REPLINK_TRY(DataSync(fd.get(), tmp));
  if (::rename(tmp.c_str(), target.c_str()) != 0) return SysError("rename {} to {}", tmp, target);
  return SyncDirectory(DirName(target));
}

}  // namespace

ImageHeader* ReplicaStore::live_header() const {
  return std::launder(reinterpret_cast<ImageHeader*>(image_map_.data()));
}

// Header words change with one aligned 8-byte store each, so a crash never sees half a value.
void ReplicaStore::StoreHeaderWord(uint64_t ImageHeader::*field, uint64_t value) const {
  std::atomic_ref<uint64_t>(live_header()->*field).store(value, std::memory_order_release);
}

Result<ReplicaStore> ReplicaStore::Open(ReplicaStoreConfig config) {
  REPLINK_TRY(ValidateGeometry(config.geometry));
  if (config.directory.empty())
    return MakeError(Errc::kInvalidArgument, "vm {}: replica directory not configured", config.geometry.vm_id);
  ReplicaStore store;
  store.config_ = std::move(config);
  store.geometry_ = store.config_.geometry;
  const std::string& dir = store.config_.directory;
  store.context_ = fmt::format("vm {} replica {}", store.geometry_.vm_id, dir);
  auto in_context = [&](Error error) { return WithContext(std::move(error), store.context_); };

  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    if (!store.config_.create_if_missing)
      return MakeError(Errc::kState, "{}: directory does not exist", store.context_);
    if (auto made = MakeDirectory(dir); !made.ok()) return in_context(std::move(made).error());
  }
  Result<EpochJournal> journal = EpochJournal::OpenExclusive(JournalPathIn(dir));
  if (!journal.ok()) return in_context(std::move(journal).error());
  store.journal_ = std::move(journal).value();

  bool created = false;
  if (auto opened = store.OpenImage(dir, &created); !opened.ok()) return in_context(std::move(opened).error());
  if (auto disks = store.OpenDisks(dir); !disks.ok()) return in_context(std::move(disks).error());
  Result<UringDiskWriter> writer = UringDiskWriter::Create(store.config_.io_queue_depth);
  if (!writer.ok()) return in_context(std::move(writer).error());
  store.disk_writer_ = std::make_unique<UringDiskWriter>(std::move(writer).value());
  store.sync_fds_.push_back(store.image_fd_.get());
  store.sync_fds_.insert(store.sync_fds_.end(), store.disk_fds_.begin(), store.disk_fds_.end());

  REPLINK_TRY(store.CheckUnsyncedFlag());
  REPLINK_TRY(store.Recover());
  REPLINK_TRY(store.SetupDurability());
  store.recovery_.created = created;
  return store;
}

Result<void> ReplicaStore::OpenImage(const std::string& dir, bool* created) {
  const std::string link = MemoryImagePathIn(dir);
  const std::string& external = config_.memory_image_path;
  struct stat st {};
  if (::stat(link.c_str(), &st) != 0) {
    if (errno != ENOENT) return SysError("stat {}", link);
    if (!config_.create_if_missing) return MakeError(Errc::kState, "no memory image at {}", link);
    // A dangling link: the hugetlbfs image did not survive a reboot. Start a fresh image; its new
    // image_id makes the old journal foreign.
    if (PathExists(link) && ::unlink(link.c_str()) != 0) return SysError("unlink {}", link);
    if (external.empty() || !PathExists(external)) {
      REPLINK_TRY(CreateMemoryImage(external.empty() ? link : external, geometry_));
      *created = true;
    }
    if (!external.empty()) {
      if (::symlink(external.c_str(), link.c_str()) != 0) return SysError("symlink {} -> {}", link, external);
      REPLINK_TRY(SyncDirectory(dir));
    }
  } else if (!external.empty()) {
    std::array<char, PATH_MAX> target{};
    ssize_t n = ::readlink(link.c_str(), target.data(), target.size());
    if (n < 0 || std::string(target.data(), static_cast<std::size_t>(n)) != external)
      return MakeError(Errc::kInvalidArgument, "{} does not link to the configured image {}", link, external);
  }

  REPLINK_ASSIGN_OR_RETURN(image_fd_, OpenFile(link, O_RDWR));
  REPLINK_ASSIGN_OR_RETURN(uint64_t size, FileSize(image_fd_.get(), link));
  std::array<std::byte, sizeof(ImageHeader)> raw{};
  if (size >= raw.size()) REPLINK_TRY(ReadFullyAt(image_fd_.get(), raw, 0, link));
  REPLINK_ASSIGN_OR_RETURN(ImageHeader header, ParseImageHeader(raw, size, link));
  ReplicaGeometry found = GeometryOf(header);
  if (!(found == geometry_))
    return MakeError(Errc::kInvalidArgument, "{} holds ({}), the configuration says ({})", link,
                     Describe(found), Describe(geometry_));
  layout_ = LayoutOf(header);
  image_id_ = header.image_id;
  committed_epoch_ = header.committed_epoch;
  REPLINK_ASSIGN_OR_RETURN(image_map_, FileMapping::Map(image_fd_.get(), header.file_bytes, true, link));
  return Ok();
}

Result<void> ReplicaStore::OpenDisks(const std::string& dir) {
  bool created_any = false;
  for (uint32_t i = 0; i < geometry_.disk_sectors.size(); ++i) {
    std::string path = DiskPathIn(dir, i);
    uint64_t want = geometry_.disk_sectors[i] * kSectorSize;
    Result<UniqueFd> fd = OpenFile(path, O_RDWR);
    if (!fd.ok() && fd.error().sys_errno == ENOENT && config_.create_if_missing) {
      REPLINK_ASSIGN_OR_RETURN(UniqueFd fresh, OpenFile(path, O_RDWR | O_CREAT | O_EXCL, 0600));
      if (::ftruncate(fresh.get(), static_cast<off_t>(want)) != 0)
        return SysError("{}: ftruncate to {} bytes", path, want);
      REPLINK_TRY(DataSync(fresh.get(), path));
      created_any = true;
      fd = std::move(fresh);
    }
    if (!fd.ok()) return std::move(fd).error();
    REPLINK_ASSIGN_OR_RETURN(uint64_t size, FileSize(fd->get(), path));
    if (size < want)
      return MakeError(Errc::kInvalidArgument, "{} is {} bytes, disk {} needs {}", path, size, i, want);
    disk_fds_.push_back(fd->get());
    disk_files_.push_back(std::move(fd).value());
  }
  if (created_any) REPLINK_TRY(SyncDirectory(dir));
  return Ok();
}

Result<void> ReplicaStore::CheckUnsyncedFlag() {
  const ImageHeader* h = live_header();
  if ((h->flags & kImageFlagUnsynced) == 0) return Ok();
  REPLINK_ASSIGN_OR_RETURN(auto boot, CurrentBootId());
  if (std::memcmp(h->unsynced_boot_id, boot.data(), boot.size()) != 0)
    return MakeError(Errc::kCorrupt,
                     "{}: written in page-cache mode and the host restarted before it was synced; its "
                     "content is undefined: remove the directory and resynchronise the VM",
                     context_);
  return Ok();  // same boot: a process crash, and the page cache kept every write
}

Result<void> ReplicaStore::Recover() {
  const ImageHeader* h = live_header();
  const uint64_t committed = h->committed_epoch;
  const uint64_t applying = h->applying_epoch;
  auto unrecoverable = [&](std::string why) {
    return MakeError(Errc::kCorrupt, "{}: {}; the replica cannot be recovered and must be resynchronised",
                     context_, why);
  };
  REPLINK_ASSIGN_OR_RETURN(JournalScan scan, ScanJournal(journal_.fd(), journal_.path()));
  recovery_.detail = scan.stop_reason;
  if (scan.chain.empty()) {
    // Safe to drop: applying_epoch is set only once an entry is complete (and durable), so no
    // epoch of an incomplete entry has touched the image.
    if (applying != 0)
      return unrecoverable(fmt::format("epoch {} was being applied but the journal has no entry ({})",
                                       applying, scan.stop_reason));
    if (scan.file_bytes == 0) return Ok();
    recovery_.journal = RecoveryReport::Journal::kDiscardedIncomplete;
    return journal_.Retire();
  }
  const JournalHeader& first = scan.chain.front().header;
  const JournalHeader& last = scan.chain.back().header;
  recovery_.journal_epoch = last.epoch;
  if (first.image_id != image_id_) {
    if (applying != 0)
      return unrecoverable(fmt::format("epoch {} was being applied but the journal belongs to image {:#x}",
                                       applying, first.image_id));
    recovery_.journal = RecoveryReport::Journal::kIgnoredForeign;
    recovery_.detail = fmt::format("journal of image {:#x}, this image is {:#x}", first.image_id, image_id_);
    return journal_.Retire();
  }
  if (last.epoch < committed) {
    if (applying != 0)
      return unrecoverable(fmt::format("epoch {} was being applied but the journal ends at epoch {}",
                                       applying, last.epoch));
    recovery_.journal = RecoveryReport::Journal::kIgnoredStale;
    return journal_.Retire();
  }
  // The header may lag the chain (dsync does not sync it between checkpoints) but never precede it:
  // the image was synced at the checkpoint that started the chain.
  if (first.epoch > committed + 1)
    return unrecoverable(fmt::format("the journal starts at epoch {} but the image is at epoch {}",
                                     first.epoch, committed));
  if (applying > last.epoch)
    return unrecoverable(fmt::format("epoch {} was being applied but the journal ends at epoch {}", applying,
                                     last.epoch));
  // Check every entry before applying any, so a bad entry never leaves a partial replay.
  for (const JournalEntry& entry : scan.chain) {
    const JournalHeader& jh = entry.header;
    if (jh.vm_id != geometry_.vm_id || !IsValidEpochTrigger(jh.trigger))
      return unrecoverable(fmt::format("journal entry of epoch {} names vm {} trigger {}", jh.epoch, jh.vm_id,
                                       jh.trigger));
    if (auto valid = ValidateEpochRecords(entry.epoch, geometry_); !valid.ok())
      return unrecoverable(fmt::format("journal record invalid: {}", valid.error().message));
    if (uint64_t content = ContentChecksumOf(entry.epoch); content != jh.content_checksum)
      return unrecoverable(fmt::format("journal entry of epoch {} hashes to {:#018x}, EPOCH_END said {:#018x}",
                                       jh.epoch, content, jh.content_checksum));
  }
  // Redo every entry in order. Entries the image already holds are rewritten with the bytes they
  // wrote (after a power cut, their writeback may have been lost); applying them in order ends in
  // the state of the last one whatever the image held before.
  for (const JournalEntry& entry : scan.chain) {
    if (auto applied = Apply(entry.epoch); !applied.ok())
      return WithContext(std::move(applied).error(),
                         fmt::format("{}: replay of epoch {}", context_, entry.header.epoch));
    ++counters_.replays;
  }
  StoreHeaderWord(&ImageHeader::applying_epoch, 0);
  StoreHeaderWord(&ImageHeader::committed_epoch, last.epoch);
  committed_epoch_ = last.epoch;
  Hook(CommitStep::kHeaderAdvanced);
  recovery_.journal = last.epoch > committed ? RecoveryReport::Journal::kReplayed
                                             : RecoveryReport::Journal::kReappliedCommitted;
  recovery_.replayed_entries = scan.chain.size();
  recovery_.detail = fmt::format("epochs {}..{} from the journal, image was at {}{}{}", first.epoch,
                                 last.epoch, committed, scan.stop_reason.empty() ? "" : "; scan stopped ",
                                 scan.stop_reason);
  // A fresh chain must not overwrite entries whose effects are not yet durable.
  REPLINK_TRY(Checkpoint());
  Hook(CommitStep::kCommitDone);
  return Ok();
}

Result<void> ReplicaStore::SetupDurability() {
  ImageHeader* h = live_header();
  const uint64_t flags = h->flags;
  if (config_.durability == Durability::kPageCache) {
    if ((flags & kImageFlagUnsynced) != 0) return Ok();
    // The flag must be on disk before any unsynced write could be, or a power cut would go unnoticed.
    REPLINK_ASSIGN_OR_RETURN(auto boot, CurrentBootId());
    std::memcpy(h->unsynced_boot_id, boot.data(), boot.size());
    StoreHeaderWord(&ImageHeader::flags, flags | kImageFlagUnsynced);
    return DataSync(image_fd_.get(), context_);
  }
  REPLINK_TRY(journal_.Preallocate(RoundUp(config_.journal_checkpoint_bytes, kJournalEntryAlignment)));
  if ((flags & kImageFlagUnsynced) == 0) return Ok();
  REPLINK_TRY(SyncImageAndDisks());
  REPLINK_TRY(journal_.Sync());
  StoreHeaderWord(&ImageHeader::flags, flags & ~kImageFlagUnsynced);
  return DataSync(image_fd_.get(), context_);
}

Result<void> ReplicaStore::SyncImageAndDisks() { return disk_writer_->SyncAll(sync_fds_); }

Result<void> ReplicaStore::Commit(const StagedEpoch& epoch) {
  if (failed_ || closed_)
    return MakeError(Errc::kState, "{}: {}", context_,
                     failed_ ? "a commit failed earlier; reopen the store to recover" : "store is closed");
  if (epoch.vm_id != geometry_.vm_id)
    return MakeError(Errc::kInvalidArgument, "{}: epoch {} belongs to vm {}", context_, epoch.epoch,
                     epoch.vm_id);
  if (epoch.epoch != committed_epoch_ + 1)
    return MakeError(Errc::kState, "{}: commit of epoch {} but the replica is at epoch {}", context_,
                     epoch.epoch, committed_epoch_);
  if (auto valid = ValidateEpochRecords(epoch, geometry_); !valid.ok())
    return WithContext(std::move(valid).error(), context_);
  if (auto done = CommitValidated(epoch); !done.ok()) {
    // The journal may hold the epoch (complete or not): only recovery at the next Open knows
    // whether it moves the replica forward, so refuse to continue.
    failed_ = true;
    ++counters_.failed_commits;
    return WithContext(std::move(done).error(),
                       fmt::format("{} epoch {}: commit failed, reopen the store to recover", context_,
                                   epoch.epoch));
  }
  ++counters_.commits;
  return Ok();
}

Result<void> ReplicaStore::CommitValidated(const StagedEpoch& epoch) {
  Hook(CommitStep::kJournalStart);
  std::function<void()> torn;
  if (config_.crash_hook_for_testing) torn = [this] { Hook(CommitStep::kJournalTorn); };
  REPLINK_ASSIGN_OR_RETURN(uint64_t bytes, journal_.Append(epoch, image_id_, torn));
  counters_.journal_bytes += bytes;
  Hook(CommitStep::kJournalWritten);
  if (config_.durability == Durability::kDsync) REPLINK_TRY(journal_.Sync());
  Hook(CommitStep::kJournalDurable);
  // applying_epoch tells recovery that the image may be partly modified, so the journal entry must
  // not be dropped (an unusable entry at that point is corruption, not a torn write).
  StoreHeaderWord(&ImageHeader::applying_epoch, epoch.epoch);
  REPLINK_TRY(Apply(epoch));
  // Clear applying first: (committed N-1, applying 0) with an entry for N replays N, while the other
  // order would pass through the invalid (committed N, applying N).
  StoreHeaderWord(&ImageHeader::applying_epoch, 0);
  StoreHeaderWord(&ImageHeader::committed_epoch, epoch.epoch);
  committed_epoch_ = epoch.epoch;
  Hook(CommitStep::kHeaderAdvanced);
  // Page-cache mode restarts the journal every time: nothing is synced, so a longer chain buys
  // nothing, and a process crash loses no page-cache write.
  if (config_.durability == Durability::kPageCache ||
      journal_.appended_bytes() >= config_.journal_checkpoint_bytes)
    REPLINK_TRY(Checkpoint());
  Hook(CommitStep::kCommitDone);
  return Ok();
}

Result<void> ReplicaStore::Apply(const StagedEpoch& epoch) {
  Hook(CommitStep::kApplyStarted);
  ApplyTarget target{&geometry_, image_map_.data(), layout_, disk_fds_, disk_writer_.get()};
  REPLINK_ASSIGN_OR_RETURN(ApplyStats stats, ApplyEpoch(epoch, target, config_.crash_hook_for_testing));
  counters_.pages += stats.pages;
  counters_.zero_pages += stats.zero_pages;
  counters_.blob_bytes += stats.blob_bytes;
  counters_.disk_bytes += stats.disk_bytes;
  return Ok();
}

// Everything the journal could redo is made durable in place, then the journal starts over.
Result<void> ReplicaStore::Checkpoint() {
  if (config_.durability == Durability::kDsync) REPLINK_TRY(SyncImageAndDisks());
  Hook(CommitStep::kCheckpointSynced);
  journal_.Restart();
  ++counters_.checkpoints;
  return Ok();
}

Result<PageRef> ReplicaStore::CommittedPage(uint64_t gfn) const {
  if (closed_) return MakeError(Errc::kState, "{}: store is closed", context_);
  return view().Page(gfn);
}

Result<BlobRef> ReplicaStore::CommittedBlob(RecordType type, uint32_t index) const {
  if (closed_) return MakeError(Errc::kState, "{}: store is closed", context_);
  return view().Blob(type, index);
}

Result<void> ReplicaStore::Close() {
  if (failed_) return MakeError(Errc::kState, "{}: a commit failed; reopen the store to recover", context_);
  if (closed_) return Ok();
  // Order matters: the image must be durable before the journal that could redo it is dropped.
  REPLINK_TRY(SyncImageAndDisks());
  REPLINK_TRY(journal_.Retire());
  ImageHeader* h = live_header();
  if ((h->flags & kImageFlagUnsynced) != 0) {
    StoreHeaderWord(&ImageHeader::flags, h->flags & ~kImageFlagUnsynced);
    REPLINK_TRY(DataSync(image_fd_.get(), context_));
  }
  closed_ = true;
  image_map_.Reset();
  image_fd_.Reset();
  sync_fds_.clear();
  disk_fds_.clear();
  disk_files_.clear();
  disk_writer_.reset();
  journal_ = EpochJournal();  // drops the directory lock
  return Ok();
}

}  // namespace replink::replica
