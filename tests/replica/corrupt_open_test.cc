// Opening a replica whose files were damaged: every corruption of the image header or the journal
// gives a clear error (or, for a journal entry that never completed, a clean discard), never a crash
// or an out-of-bounds access.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <memory>
#include <random>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "replica/epoch_journal_format.h"
#include "replica/replica_directory.h"
#include "tests/replica/replica_test_support.h"

namespace replink::replica::testing {
namespace {

constexpr int kCrashExit = 77;

class ReplicaCorruptOpen : public ::testing::Test {
 protected:
  ReplicaStoreConfig Config(CommitHook hook = {}) const {
    ReplicaStoreConfig config;
    config.directory = dir_.Sub("vm3");
    config.geometry = geometry_;
    config.durability = Durability::kDsync;
    config.journal_checkpoint_bytes = 1;
    config.crash_hook_for_testing = std::move(hook);
    return config;
  }
  std::string ImagePath() const { return MemoryImagePathIn(Config().directory); }
  std::string JournalPath() const { return JournalPathIn(Config().directory); }

  // Commits epochs 1..n and closes cleanly.
  void CommitCleanly(uint64_t n) {
    Result<ReplicaStore> store = ReplicaStore::Open(Config());
    ASSERT_TRUE(store.ok()) << store.error().Describe();
    Result<EpochStager> stager = EpochStager::Create(StagerConfigFor(geometry_), store->committed_epoch());
    for (uint64_t i = 0; i < n; ++i) {
      uint64_t epoch = store->committed_epoch() + 1;
      EpochContent content = GenerateEpoch(seed_, epoch, geometry_);
      Result<StagedEpoch> staged = StageEpoch(*stager, content, epoch);
      ASSERT_TRUE(staged.ok());
      ASSERT_TRUE(store->Commit(*staged).ok());
      stager->MarkCommitted();
    }
    ASSERT_TRUE(store->Close().ok());
  }

  // A child commits the next epoch and _exit()s at `step`.
  void CrashNextCommitAt(CommitStep step) {
    ReplicaStoreConfig config = Config();
    auto armed = std::make_shared<bool>(false);
    config.crash_hook_for_testing = [armed, step](CommitStep reached) {
      if (*armed && reached == step) ::_exit(kCrashExit);
    };
    pid_t pid = ::fork();
    if (pid == 0) {
      Result<ReplicaStore> store = ReplicaStore::Open(config);
      if (!store.ok()) ::_exit(10);
      Result<EpochStager> stager = EpochStager::Create(StagerConfigFor(geometry_), store->committed_epoch());
      uint64_t epoch = store->committed_epoch() + 1;
      Result<StagedEpoch> staged = StageEpoch(*stager, GenerateEpoch(seed_, epoch, geometry_), epoch);
      if (!staged.ok()) ::_exit(11);
      *armed = true;
      (void)store->Commit(*staged);
      ::_exit(0);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    ASSERT_EQ(WEXITSTATUS(status), kCrashExit);
  }

  ImageHeader ReadHeader() const {
    ImageHeader h{};
    int fd = ::open(ImagePath().c_str(), O_RDONLY);
    EXPECT_EQ(::pread(fd, &h, sizeof(h), 0), static_cast<ssize_t>(sizeof(h)));
    ::close(fd);
    return h;
  }
  void WriteHeader(ImageHeader h, bool fix_checksum) const {
    if (fix_checksum) h.geometry_checksum = GeometryChecksum(h);
    int fd = ::open(ImagePath().c_str(), O_WRONLY);
    EXPECT_EQ(::pwrite(fd, &h, sizeof(h), 0), static_cast<ssize_t>(sizeof(h)));
    ::close(fd);
  }

  std::vector<std::byte> ReadJournal() const {
    std::vector<std::byte> bytes(std::filesystem::file_size(JournalPath()));
    int fd = ::open(JournalPath().c_str(), O_RDONLY);
    EXPECT_EQ(::pread(fd, bytes.data(), bytes.size(), 0), static_cast<ssize_t>(bytes.size()));
    ::close(fd);
    return bytes;
  }
  void WriteJournal(const std::vector<std::byte>& bytes) const {
    int fd = ::open(JournalPath().c_str(), O_WRONLY | O_TRUNC);
    EXPECT_EQ(::pwrite(fd, bytes.data(), bytes.size(), 0), static_cast<ssize_t>(bytes.size()));
    ::close(fd);
  }
  // Edits the first journal entry and re-seals it with a valid trailer checksum.
  void EditFirstEntry(const std::function<void(JournalHeader&, JournalRecord*, std::byte* payload)>& edit) const {
    std::vector<std::byte> bytes = ReadJournal();
    JournalHeader h;
    std::memcpy(&h, bytes.data(), sizeof(h));
    ASSERT_EQ(h.magic, kJournalMagic);
    std::vector<JournalRecord> records(h.record_count);
    std::memcpy(records.data(), bytes.data() + h.records_offset, records.size() * sizeof(JournalRecord));
    edit(h, records.data(), bytes.data() + h.payload_offset);
    std::memcpy(bytes.data(), &h, sizeof(h));
    std::memcpy(bytes.data() + h.records_offset, records.data(), records.size() * sizeof(JournalRecord));
    JournalTrailer trailer;
    std::memcpy(&trailer, bytes.data() + h.trailer_offset, sizeof(trailer));
    trailer.epoch = h.epoch;
    trailer.checksum = XXH3_64bits(bytes.data(), h.trailer_offset);
    std::memcpy(bytes.data() + h.trailer_offset, &trailer, sizeof(trailer));
    WriteJournal(bytes);
  }

  // Both openers must refuse; the store with `code`, and the messages must contain `text` (the
  // reader's `image_text` if given).
  void ExpectBothRefuse(Errc code, const std::string& text, std::string image_text = {}) {
    if (image_text.empty()) image_text = text;
    Result<ReplicaStore> store = ReplicaStore::Open(Config());
    ASSERT_FALSE(store.ok()) << "store opened";
    EXPECT_EQ(store.error().code, code) << store.error().Describe();
    EXPECT_NE(store.error().message.find(text), std::string::npos) << store.error().Describe();
    Result<ReplicaImage> image = ReplicaImage::Open(Config().directory);
    ASSERT_FALSE(image.ok()) << "image opened";
    EXPECT_NE(image.error().message.find(image_text), std::string::npos) << image.error().Describe();
  }

  void ExpectRecoversTo(uint64_t epoch, RecoveryReport::Journal outcome) {
    Result<ReplicaStore> store = ReplicaStore::Open(Config());
    ASSERT_TRUE(store.ok()) << store.error().Describe();
    EXPECT_EQ(store->committed_epoch(), epoch);
    EXPECT_EQ(store->recovery().journal, outcome) << RecoveryJournalName(store->recovery().journal) << ": "
                                                  << store->recovery().detail;
    EXPECT_EQ(ModelAt(seed_, epoch, geometry_).DiffAgainst(*store, Config().directory), "");
  }

  TempDir dir_;
  ReplicaGeometry geometry_ = SmallGeometry();
  uint64_t seed_ = 0xBAD;
};

TEST_F(ReplicaCorruptOpen, DamagedImageHeaderFields) {
  CommitCleanly(3);
  const ImageHeader good = ReadHeader();
  struct Case {
    const char* name;
    std::function<void(ImageHeader&)> edit;
    bool fix_checksum;
    Errc code;
    const char* text;
  };
  const std::vector<Case> cases = {
      {"magic", [](ImageHeader& h) { h.magic ^= 1; }, true, Errc::kCorrupt, "bad magic"},
      {"version", [](ImageHeader& h) { h.format_version = 2; }, true, Errc::kVersionMismatch, "format version 2"},
      {"checksum", [](ImageHeader& h) { h.guest_pages = 65; }, false, Errc::kCorrupt, "checksum mismatch"},
      {"page size", [](ImageHeader& h) { h.page_size = 8192; }, true, Errc::kCorrupt, "page size 8192"},
      {"no pages", [](ImageHeader& h) { h.guest_pages = 0; }, true, Errc::kCorrupt, "guest pages 0"},
      {"absurd pages", [](ImageHeader& h) { h.guest_pages = uint64_t{1} << 50; }, true, Errc::kCorrupt, "guest pages"},
      {"too many disks", [](ImageHeader& h) { h.disk_count = 200; }, true, Errc::kCorrupt, "disk count 200"},
      {"blob offset", [](ImageHeader& h) { h.blob_data_offset += 4096; }, true, Errc::kCorrupt, "region offsets"},
      {"page data overlaps versions", [](ImageHeader& h) { h.page_data_offset = h.version_array_offset; }, true,
       Errc::kCorrupt, "region offsets"},
      {"file size claim", [](ImageHeader& h) { h.file_bytes += 1 << 20; }, true, Errc::kCorrupt, "header needs"},
      {"applying epoch", [](ImageHeader& h) { h.applying_epoch = h.committed_epoch + 5; }, false, Errc::kCorrupt,
       "applying epoch"},
      {"flags", [](ImageHeader& h) { h.flags = 0x80; }, false, Errc::kCorrupt, "unknown flags"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ImageHeader h = good;
    c.edit(h);
    WriteHeader(h, c.fix_checksum);
    ExpectBothRefuse(c.code, c.text);
  }
  WriteHeader(good, false);
  Result<ReplicaImage> image = ReplicaImage::Open(Config().directory);
  ASSERT_TRUE(image.ok()) << image.error().Describe();
  EXPECT_EQ(image->committed_epoch(), 3u);
}

TEST_F(ReplicaCorruptOpen, TruncatedOrMissingImage) {
  CommitCleanly(1);
  std::filesystem::resize_file(ImagePath(), std::filesystem::file_size(ImagePath()) - 4096);
  ExpectBothRefuse(Errc::kCorrupt, "header needs");
  std::filesystem::resize_file(ImagePath(), 300);
  ExpectBothRefuse(Errc::kCorrupt, "too short");
  std::filesystem::remove(ImagePath());
  Result<ReplicaImage> image = ReplicaImage::Open(Config().directory);
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.error().sys_errno, ENOENT);
}

TEST_F(ReplicaCorruptOpen, RandomHeaderBitFlipsNeverCrash) {
  CommitCleanly(2);
  const ImageHeader good = ReadHeader();
  std::mt19937_64 rng(5);
  int refused = 0;
  for (int i = 0; i < 300; ++i) {
    ImageHeader h = good;
    auto* raw = reinterpret_cast<uint8_t*>(&h);
    std::size_t at = rng() % sizeof(h);
    raw[at] ^= static_cast<uint8_t>(1u << (rng() % 8));
    WriteHeader(h, false);
    Result<ReplicaImage> image = ReplicaImage::Open(Config().directory);
    Result<ReplicaStore> store = ReplicaStore::Open(Config());
    if (at < offsetof(ImageHeader, committed_epoch)) {  // geometry and its checksum
      EXPECT_FALSE(image.ok()) << "flip at byte " << at;
      EXPECT_FALSE(store.ok()) << "flip at byte " << at;
    }
    refused += !store.ok();
    if (store.ok()) {
      (void)store->Close();
    }
    WriteHeader(good, false);
  }
  EXPECT_GT(refused, 100);
}

TEST_F(ReplicaCorruptOpen, IncompleteJournalEntryIsDiscarded) {
  CommitCleanly(2);
  CrashNextCommitAt(CommitStep::kJournalDurable);  // entry complete, image untouched
  std::vector<std::byte> journal = ReadJournal();
  JournalHeader h;
  std::memcpy(&h, journal.data(), sizeof(h));
  journal[h.trailer_offset / 2] ^= std::byte{0x40};  // no longer verifies: looks torn
  WriteJournal(journal);
  ExpectRecoversTo(2, RecoveryReport::Journal::kDiscardedIncomplete);
}

TEST_F(ReplicaCorruptOpen, TruncatedOrGarbageJournalIsDiscarded) {
  CommitCleanly(2);
  std::mt19937_64 rng(8);
  for (int i = 0; i < 6; ++i) {
    SCOPED_TRACE(i);
    CrashNextCommitAt(CommitStep::kJournalWritten);
    std::vector<std::byte> journal = ReadJournal();
    JournalHeader h;
    std::memcpy(&h, journal.data(), sizeof(h));
    if (i % 2 == 0) {
      journal.resize(rng() % (h.trailer_offset + sizeof(JournalTrailer)));
    } else {
      for (auto& b : journal) b = static_cast<std::byte>(rng());
    }
    WriteJournal(journal);
    ExpectRecoversTo(2, journal.empty() ? RecoveryReport::Journal::kNone
                                        : RecoveryReport::Journal::kDiscardedIncomplete);
  }
}

TEST_F(ReplicaCorruptOpen, UnusableJournalWhileApplyingIsUnrecoverable) {
  CommitCleanly(2);
  CrashNextCommitAt(CommitStep::kPagesHalfApplied);  // image partly at epoch 3
  std::vector<std::byte> journal = ReadJournal();
  journal[200] ^= std::byte{1};
  WriteJournal(journal);
  ExpectBothRefuse(Errc::kCorrupt, "epoch 3 was being applied", "applying epoch 3");
}

TEST_F(ReplicaCorruptOpen, SealedJournalWithInvalidRecordsIsUnrecoverable) {
  CommitCleanly(2);
  struct Case {
    const char* name;
    std::function<void(JournalHeader&, JournalRecord*, std::byte*)> edit;
    const char* text;
  };
  const std::vector<Case> cases = {
      {"gfn beyond guest", [](JournalHeader&, JournalRecord* r, std::byte*) { r[0].type = 2; r[0].key = 1 << 20; r[0].length = 4096; },
       "journal record invalid"},
      {"payload beyond entry",
       [](JournalHeader& h, JournalRecord* r, std::byte*) { r[0].payload_offset = h.payload_bytes; },
       "journal record invalid"},
      {"unknown record type", [](JournalHeader&, JournalRecord* r, std::byte*) { r[0].type = 9; },
       "journal record invalid"},
      {"content altered", [](JournalHeader& h, JournalRecord*, std::byte* p) { if (h.payload_bytes) p[0] ^= std::byte{1}; else h.content_checksum ^= 1; },
       "hashes to"},
      {"epoch gap", [](JournalHeader& h, JournalRecord*, std::byte*) { h.epoch += 2; }, "starts at epoch"},
      {"trigger", [](JournalHeader& h, JournalRecord*, std::byte*) { h.trigger = 0; }, "trigger 0"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    CrashNextCommitAt(CommitStep::kJournalDurable);
    std::vector<std::byte> pristine = ReadJournal();
    EditFirstEntry(c.edit);
    Result<ReplicaStore> store = ReplicaStore::Open(Config());
    ASSERT_FALSE(store.ok());
    EXPECT_EQ(store.error().code, Errc::kCorrupt);
    EXPECT_NE(store.error().message.find(c.text), std::string::npos) << store.error().Describe();
    WriteJournal(pristine);
    ExpectRecoversTo(3, RecoveryReport::Journal::kReplayed);  // the intact entry replays
    ASSERT_TRUE(ReplicaStore::Open(Config())->Close().ok());
    // Back to epoch 2 for the next case: rebuild the directory.
    std::filesystem::remove_all(Config().directory);
    CommitCleanly(2);
  }
}

TEST_F(ReplicaCorruptOpen, JournalOfAnotherImageIsIgnored) {
  CommitCleanly(2);
  CrashNextCommitAt(CommitStep::kJournalDurable);
  std::vector<std::byte> foreign = ReadJournal();
  std::filesystem::remove_all(Config().directory);
  CommitCleanly(2);  // same epochs, new image id
  WriteJournal(foreign);
  ExpectRecoversTo(2, RecoveryReport::Journal::kIgnoredForeign);
}

TEST_F(ReplicaCorruptOpen, PageCacheReplicaAfterAHostRestartIsRefused) {
  ReplicaStoreConfig config = Config();
  config.durability = Durability::kPageCache;
  {
    Result<ReplicaStore> store = ReplicaStore::Open(config);
    ASSERT_TRUE(store.ok());
    Result<EpochStager> stager = EpochStager::Create(StagerConfigFor(geometry_), 0);
    Result<StagedEpoch> staged = StageEpoch(*stager, GenerateEpoch(seed_, 1, geometry_), 1);
    ASSERT_TRUE(store->Commit(*staged).ok());
  }  // no Close: the page-cache writes were never synced
  ImageHeader h = ReadHeader();
  EXPECT_NE(h.flags & kImageFlagUnsynced, 0u);
  {
    Result<ReplicaStore> same_boot = ReplicaStore::Open(config);  // a process crash: fine
    ASSERT_TRUE(same_boot.ok()) << same_boot.error().Describe();
    EXPECT_EQ(same_boot->committed_epoch(), 1u);
  }
  h = ReadHeader();
  h.unsynced_boot_id[0] ^= 0xff;  // as if written before a reboot
  WriteHeader(h, false);
  Result<ReplicaStore> store = ReplicaStore::Open(config);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code, Errc::kCorrupt);
  EXPECT_NE(store.error().message.find("host restarted"), std::string::npos) << store.error().Describe();
  Result<ReplicaImage> image = ReplicaImage::Open(config.directory);
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.error().code, Errc::kState);
}

TEST_F(ReplicaCorruptOpen, DamagedBlobDirectoryEntryIsReportedOnAccess) {
  CommitCleanly(1);
  const ImageHeader h = ReadHeader();
  BlobSlotHeader entry{};
  entry.type = static_cast<uint8_t>(RecordType::kVcpuState);
  entry.index = 0;
  entry.length = geometry_.max_blob_bytes + 1;
  int fd = ::open(ImagePath().c_str(), O_WRONLY);
  ASSERT_EQ(::pwrite(fd, &entry, sizeof(entry), static_cast<off_t>(h.blob_dir_offset)), static_cast<ssize_t>(sizeof(entry)));
  entry.length = 10;
  entry.index = 7;  // slot 1 claims another vCPU
  ASSERT_EQ(::pwrite(fd, &entry, sizeof(entry), static_cast<off_t>(h.blob_dir_offset + sizeof(entry))),
            static_cast<ssize_t>(sizeof(entry)));
  ::close(fd);
  Result<ReplicaImage> image = ReplicaImage::Open(Config().directory);
  ASSERT_TRUE(image.ok()) << image.error().Describe();
  EXPECT_EQ(image->Blob(RecordType::kVcpuState, 0).error().code, Errc::kCorrupt);
  EXPECT_EQ(image->Blob(RecordType::kVcpuState, 1).error().code, Errc::kCorrupt);
  EXPECT_EQ(image->Blob(RecordType::kVcpuState, 2).error().code, Errc::kInvalidArgument);
  EXPECT_FALSE(image->Page(geometry_.guest_pages).ok());
}

}  // namespace
}  // namespace replink::replica::testing
