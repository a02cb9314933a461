// Many random epochs through stager and store: after every commit the replica equals a reference
// model byte for byte (pages, versions, zero pages, blobs, disks), across reopen, in both durability
// modes, with short and long journal chains, and on hugetlbfs when the host has huge pages.
#include <gtest/gtest.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "replica/latest_page_lookup.h"
#include "replica/replica_directory.h"
#include "tests/replica/replica_test_support.h"

namespace replink::replica::testing {
namespace {

struct Mode {
  Durability durability;
  uint64_t checkpoint_bytes;
};

class ReplicaRoundTrip : public ::testing::TestWithParam<Mode> {
 protected:
  ReplicaStoreConfig Config() const {
    ReplicaStoreConfig config;
    config.directory = dir_.Sub("vm3");
    config.geometry = geometry_;
    config.durability = GetParam().durability;
    config.journal_checkpoint_bytes = GetParam().checkpoint_bytes;
    return config;
  }

  TempDir dir_;
  ReplicaGeometry geometry_ = SmallGeometry();
};

TEST_P(ReplicaRoundTrip, RandomEpochsMatchTheReferenceModelAcrossReopen) {
  const uint64_t seed = 0x5eed;
  const std::string vm_dir = Config().directory;
  ReferenceReplica model(geometry_);
  uint64_t epoch = 0;
  for (int session = 0; session < 3; ++session) {
    Result<ReplicaStore> store = ReplicaStore::Open(Config());
    ASSERT_TRUE(store.ok()) << store.error().Describe();
    EXPECT_EQ(store->recovery().created, session == 0);
    EXPECT_EQ(store->committed_epoch(), epoch);
    ASSERT_EQ(model.DiffAgainst(*store, vm_dir), "");
    Result<EpochStager> stager = EpochStager::Create(StagerConfigFor(geometry_), store->committed_epoch());
    ASSERT_TRUE(stager.ok());
    for (int i = 0; i < 60; ++i) {
      ++epoch;
      EpochContent content = GenerateEpoch(seed, epoch, geometry_);
      Result<StagedEpoch> staged = StageEpoch(*stager, content, epoch);
      ASSERT_TRUE(staged.ok()) << staged.error().Describe();
      ASSERT_TRUE(store->Commit(*staged).ok());
      stager->MarkCommitted();
      model.Apply(content);
      ASSERT_EQ(model.DiffAgainst(*store, vm_dir), "") << "after epoch " << epoch;
    }
    EXPECT_EQ(store->counters().commits, 60u);
    if (session == 1) continue;  // leave without Close: the next Open recovers from the journal
    ASSERT_TRUE(store->Close().ok());
    Result<ReplicaImage> image = ReplicaImage::Open(vm_dir);
    ASSERT_TRUE(image.ok()) << image.error().Describe();
    EXPECT_EQ(model.DiffAgainst(*image, vm_dir), "");
  }
}

TEST_P(ReplicaRoundTrip, LargeEpochsWithEveryPageAndFullBlobs) {
  GenerateOptions options;
  options.min_pages = 64;
  options.max_pages = 64;
  options.zero_page_fraction = 0.5;
  Result<ReplicaStore> store = ReplicaStore::Open(Config());
  ASSERT_TRUE(store.ok()) << store.error().Describe();
  Result<EpochStager> stager = EpochStager::Create(StagerConfigFor(geometry_, 1 << 20), 0);
  ASSERT_TRUE(stager.ok());
  ReferenceReplica model(geometry_);
  for (uint64_t epoch = 1; epoch <= 12; ++epoch) {
    EpochContent content = GenerateEpoch(77, epoch, geometry_, options);
    std::erase_if(content.blobs, [](const BlobItem& b) { return b.type == RecordType::kDeviceState && b.index == 1; });
    content.blobs.push_back({RecordType::kDeviceState, 1, std::vector<std::byte>(geometry_.max_blob_bytes, std::byte(epoch))});
    Result<StagedEpoch> staged = StageEpoch(*stager, content, epoch);
    ASSERT_TRUE(staged.ok()) << staged.error().Describe();
    ASSERT_TRUE(store->Commit(*staged).ok());
    stager->MarkCommitted();
    model.Apply(content);
  }
  ASSERT_TRUE(store->Close().ok());
  Result<ReplicaImage> image = ReplicaImage::Open(Config().directory);
  ASSERT_TRUE(image.ok()) << image.error().Describe();
  EXPECT_EQ(model.DiffAgainst(*image, Config().directory), "");
  EXPECT_EQ(image->guest_memory().size(), geometry_.guest_pages * kPageSize);
}

INSTANTIATE_TEST_SUITE_P(Modes, ReplicaRoundTrip,
                         ::testing::Values(Mode{Durability::kDsync, 1},
                                           Mode{Durability::kDsync, 96 * 1024},
                                           Mode{Durability::kPageCache, 1}),
                         [](const ::testing::TestParamInfo<Mode>& param_info) {
                           return fmt::format("{}_checkpoint_{}",
                                              param_info.param.durability == Durability::kDsync ? "dsync" : "pagecache",
                                              param_info.param.checkpoint_bytes);
                         });

ReplicaStoreConfig BasicConfig(const TempDir& dir) {
  ReplicaStoreConfig config;
  config.directory = dir.Sub("vm3");
  config.geometry = SmallGeometry();
  config.durability = Durability::kPageCache;
  return config;
}

TEST(ReplicaStore, RefusesASecondWriterAndReadersWhileOpen) {
  TempDir dir;
  Result<ReplicaStore> store = ReplicaStore::Open(BasicConfig(dir));
  ASSERT_TRUE(store.ok()) << store.error().Describe();
  Result<ReplicaStore> second = ReplicaStore::Open(BasicConfig(dir));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, Errc::kState);
  Result<ReplicaImage> image = ReplicaImage::Open(BasicConfig(dir).directory);
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.error().code, Errc::kState);
}

TEST(ReplicaStore, RefusesAConfigThatDoesNotMatchTheImage) {
  TempDir dir;
  ASSERT_TRUE(ReplicaStore::Open(BasicConfig(dir)).ok());
  ReplicaStoreConfig other = BasicConfig(dir);
  other.geometry.guest_pages = 65;
  Result<ReplicaStore> store = ReplicaStore::Open(other);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code, Errc::kInvalidArgument);
  EXPECT_NE(store.error().message.find("65 pages"), std::string::npos) << store.error().message;
  other = BasicConfig(dir);
  other.geometry.disk_sectors = {64};
  EXPECT_FALSE(ReplicaStore::Open(other).ok());
  other = BasicConfig(dir);
  other.create_if_missing = false;
  other.directory = dir.Sub("absent");
  EXPECT_FALSE(ReplicaStore::Open(other).ok());
}

TEST(ReplicaStore, CommitOfTheWrongEpochOrAnInvalidViewLeavesTheReplicaUsable) {
  TempDir dir;
  const ReplicaGeometry g = SmallGeometry();
  Result<ReplicaStore> store = ReplicaStore::Open(BasicConfig(dir));
  ASSERT_TRUE(store.ok());
  Result<EpochStager> stager = EpochStager::Create(StagerConfigFor(g), 0);
  ASSERT_TRUE(stager.ok());
  EpochContent content = GenerateEpoch(3, 1, g);
  Result<StagedEpoch> staged = StageEpoch(*stager, content, 1);
  ASSERT_TRUE(staged.ok());

  StagedEpoch wrong_epoch = *staged;
  wrong_epoch.epoch = 2;
  EXPECT_EQ(store->Commit(wrong_epoch).error().code, Errc::kState);
  StagedEpoch wrong_vm = *staged;
  wrong_vm.vm_id = 4;
  EXPECT_EQ(store->Commit(wrong_vm).error().code, Errc::kInvalidArgument);
  std::vector<JournalRecord> records(staged->records.begin(), staged->records.end());
  records.front().payload_offset = staged->payload.size();  // points past the payload
  records.front().length = kPageSize;
  records.front().type = static_cast<uint8_t>(RecordType::kPage);
  StagedEpoch bad_record = *staged;
  bad_record.records = records;
  EXPECT_EQ(store->Commit(bad_record).error().code, Errc::kCorrupt);
  EXPECT_FALSE(store->failed());
  EXPECT_EQ(store->committed_epoch(), 0u);

  ASSERT_TRUE(store->Commit(*staged).ok());
  ReferenceReplica model(g);
  model.Apply(content);
  EXPECT_EQ(model.DiffAgainst(*store, BasicConfig(dir).directory), "");
  ASSERT_TRUE(store->Close().ok());
  EXPECT_EQ(store->Commit(*staged).error().code, Errc::kState);  // closed
}

TEST(ReplicaStore, DisksMayBePreparedByTheOperator) {
  TempDir dir;
  ReplicaStoreConfig config = BasicConfig(dir);
  std::filesystem::create_directories(config.directory);
  {
    std::ofstream disk(DiskPathIn(config.directory, 0), std::ios::binary);
    std::string seed(64 * kSectorSize, 'D');
    disk << seed;
  }
  Result<ReplicaStore> store = ReplicaStore::Open(config);
  ASSERT_TRUE(store.ok()) << store.error().Describe();
  ASSERT_TRUE(store->Close().ok());
  std::ifstream disk(DiskPathIn(config.directory, 0), std::ios::binary);
  std::string content((std::istreambuf_iterator<char>(disk)), std::istreambuf_iterator<char>());
  EXPECT_EQ(content, std::string(64 * kSectorSize, 'D'));  // kept, not recreated

  std::filesystem::resize_file(DiskPathIn(config.directory, 1), 10);
  Result<ReplicaStore> reopened = ReplicaStore::Open(config);
  ASSERT_FALSE(reopened.ok());
  EXPECT_NE(reopened.error().message.find("disk 1"), std::string::npos) << reopened.error().message;
}

// hugetlbfs: the image must be mapped whole and sized in huge pages; it survives a process, not a
// reboot (a dangling link then starts a fresh image).
TEST(ReplicaStore, MemoryImageOnHugetlbfs) {
  struct statfs fs {};
  if (::statfs("/dev/hugepages", &fs) != 0 || fs.f_type != 0x958458f6)
    GTEST_SKIP() << "no hugetlbfs at /dev/hugepages";
  std::ifstream meminfo("/proc/meminfo");
  std::string line;
  uint64_t free_pages = 0;
  while (std::getline(meminfo, line))
    if (line.rfind("HugePages_Free:", 0) == 0) free_pages = std::stoull(line.substr(15));
  if (free_pages < 8) GTEST_SKIP() << "fewer than 8 free huge pages";

  TempDir dir;
  ReplicaStoreConfig config = BasicConfig(dir);
  config.durability = Durability::kDsync;
  std::string image_path = fmt::format("/dev/hugepages/replink-replica-test-{}.img", ::getpid());
  config.memory_image_path = image_path;
  struct Cleanup {
    std::string path;
    ~Cleanup() { ::unlink(path.c_str()); }
  } cleanup{image_path};
  ReferenceReplica model(config.geometry);
  {
    Result<ReplicaStore> store = ReplicaStore::Open(config);
    ASSERT_TRUE(store.ok()) << store.error().Describe();
    Result<EpochStager> stager = EpochStager::Create(StagerConfigFor(config.geometry), 0);
    for (uint64_t epoch = 1; epoch <= 10; ++epoch) {
      EpochContent content = GenerateEpoch(11, epoch, config.geometry);
      Result<StagedEpoch> staged = StageEpoch(*stager, content, epoch);
      ASSERT_TRUE(staged.ok());
      ASSERT_TRUE(store->Commit(*staged).ok());
      stager->MarkCommitted();
      model.Apply(content);
    }
    ASSERT_TRUE(store->Close().ok());
  }
  EXPECT_EQ(std::filesystem::read_symlink(MemoryImagePathIn(config.directory)), image_path);
  EXPECT_EQ(std::filesystem::file_size(image_path) % fs.f_bsize, 0u);
  {
    Result<ReplicaImage> image = ReplicaImage::Open(config.directory);
    ASSERT_TRUE(image.ok()) << image.error().Describe();
    EXPECT_EQ(model.DiffAgainst(*image, config.directory), "");
  }
  // The huge page file disappears (as after a reboot): a new, empty image at epoch 0.
  ::unlink(image_path.c_str());
  Result<ReplicaStore> fresh = ReplicaStore::Open(config);
  ASSERT_TRUE(fresh.ok()) << fresh.error().Describe();
  EXPECT_TRUE(fresh->recovery().created);
  EXPECT_EQ(fresh->committed_epoch(), 0u);
}

}  // namespace
}  // namespace replink::replica::testing
