// EpochStager validation: every rejection path, driven by mutating generated valid epochs, plus
// credits accounting, the delta-base lookup and a garbage-input sweep.
#include <gtest/gtest.h>

#include <functional>
#include <random>

#include "replica/epoch_stager.h"
#include "replica/fragment_coverage.h"
#include "replica/latest_page_lookup.h"
#include "tests/replica/replica_test_support.h"

namespace replink::replica::testing {
namespace {

EpochStager NewStager(const ReplicaGeometry& g, uint64_t last_committed = 0, uint64_t arena = 256 * 1024) {
  Result<EpochStager> stager = EpochStager::Create(StagerConfigFor(g, arena), last_committed);
  EXPECT_TRUE(stager.ok()) << stager.error().Describe();
  return std::move(stager).value();
}

uint64_t Rejections(const EpochStager& stager, StageRejection reason) {
  return stager.counters().rejections_by_reason[static_cast<std::size_t>(reason)];
}

// A generated epoch guaranteed to hold a zero page, a blob and disk writes of several sectors.
EpochContent RichEpoch(uint64_t seed, const ReplicaGeometry& g, uint64_t epoch = 1) {
  GenerateOptions options;
  options.min_pages = 4;
  options.max_pages = 12;
  options.zero_page_fraction = 0.3;
  EpochContent content = GenerateEpoch(seed, epoch, g, options);
  content.pages.front().zero = true;
  content.pages.front().bytes.clear();
  std::mt19937_64 rng(seed);
  content.blobs.clear();
  content.blobs.push_back({RecordType::kVcpuState, 1, std::vector<std::byte>(200 + rng() % 2000, std::byte{7})});
  content.blobs.push_back({RecordType::kDeviceState, 0, std::vector<std::byte>(64, std::byte{9})});
  content.disks.clear();
  content.disks.push_back({0, 4 + rng() % 20, std::vector<std::byte>(3 * kSectorSize, std::byte{5})});
  content.disks.push_back({1, rng() % 20, std::vector<std::byte>(2 * kSectorSize, std::byte{6})});
  return content;
}

struct Scenario {
  uint64_t epoch = 1;
  EpochTrigger trigger = EpochTrigger::kTimer;
  std::vector<StagingCall> calls;
  uint32_t end_count = 0;
  uint64_t end_checksum = 0;
};

using MutateFn = std::function<bool(Scenario&, const EpochContent&, std::mt19937_64&)>;
struct Mutation {
  const char* name;
  StageRejection expect;
  MutateFn mutate;  // false: not applicable to this epoch
};

std::vector<std::size_t> CallsOf(const Scenario& s, StagingCall::Kind kind) {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < s.calls.size(); ++i)
    if (s.calls[i].kind == kind) out.push_back(i);
  return out;
}

StagingCall* Pick(Scenario& s, std::mt19937_64& rng, std::initializer_list<StagingCall::Kind> kinds) {
  std::vector<std::size_t> candidates;
  for (StagingCall::Kind kind : kinds)
    for (std::size_t i : CallsOf(s, kind)) candidates.push_back(i);
  if (candidates.empty()) return nullptr;
  return &s.calls[candidates[rng() % candidates.size()]];
}

// Replaces a fragment of at least 2 bytes with two halves; returns the index of the second half.
std::optional<std::size_t> SplitFragment(Scenario& s, StagingCall::Kind kind) {
  for (std::size_t i = 0; i < s.calls.size(); ++i) {
    StagingCall& call = s.calls[i];
    if (call.kind != kind || call.bytes.size() < 2) continue;
    StagingCall tail = call;
    std::size_t half = call.bytes.size() / 2;
    tail.offset = call.offset + static_cast<uint32_t>(half);
    tail.bytes.assign(call.bytes.begin() + static_cast<std::ptrdiff_t>(half), call.bytes.end());
    call.bytes.resize(half);
    s.calls.insert(s.calls.begin() + static_cast<std::ptrdiff_t>(i) + 1, tail);
    return i + 1;
  }
  return std::nullopt;
}

const std::vector<Mutation>& Mutations(const ReplicaGeometry& g) {
  using K = StagingCall::Kind;
  static const std::vector<Mutation> mutations = {
      {"page gfn beyond guest", StageRejection::kGfnOutOfRange,
       [g](Scenario& s, const EpochContent&, std::mt19937_64& rng) {
         StagingCall* c = Pick(s, rng, {K::kPage, K::kReservePage});
         if (c == nullptr) return false;
         c->key = g.guest_pages + rng() % 100000;
         return true;
       }},
      {"zero page gfn beyond guest", StageRejection::kGfnOutOfRange,
       [g](Scenario& s, const EpochContent&, std::mt19937_64& rng) {
         StagingCall* c = Pick(s, rng, {K::kZeroPage});
         if (c == nullptr) return false;
         c->key = ~uint64_t{0} - rng() % 16;
         return true;
       }},
      {"page staged twice", StageRejection::kDuplicatePage,
       [](Scenario& s, const EpochContent&, std::mt19937_64& rng) {
         StagingCall* c = Pick(s, rng, {K::kPage, K::kReservePage});
         if (c == nullptr) return false;
         s.calls.push_back(*c);
         return true;
       }},
      {"zero page for a staged page", StageRejection::kDuplicatePage,
       [](Scenario& s, const EpochContent&, std::mt19937_64& rng) {
         StagingCall* c = Pick(s, rng, {K::kPage, K::kReservePage});
         if (c == nullptr) return false;
         StagingCall zero;
         zero.kind = K::kZeroPage;
         zero.key = c->key;
         s.calls.push_back(zero);
         return true;
       }},
      {"page of 4095 bytes", StageRejection::kBadLength,
       [](Scenario& s, const EpochContent&, std::mt19937_64& rng) {
         StagingCall* c = Pick(s, rng, {K::kPage});
         if (c == nullptr) return false;
         c->bytes.resize(kPageSize - 1 - rng() % 100);
         return true;
       }},
      {"empty blob fragment", StageRejection::kBadLength,
       [](Scenario& s, const EpochContent&, std::mt19937_64& rng) {
         StagingCall* c = Pick(s, rng, {K::kBlob, K::kDisk});
         if (c == nullptr) return false;
         c->bytes.clear();
         return true;
       }},
      {"blob fragment with zero total", StageRejection::kBadLength,
       [](Scenario& s, const EpochContent&, std::mt19937_64& rng) {
         StagingCall* c = Pick(s, rng, {K::kBlob});
         if (c == nullptr) return false;
         c->total = 0;
         return true;
       }},
      {"blob of a non-blob type", StageRejection::kBadRecordType,
       [](Scenario& s, const EpochContent&, std::mt19937_64& rng) {
         StagingCall* c = Pick(s, rng, {K::kBlob});
         if (c == nullptr) return false;
         c->type = (rng() % 2) ? RecordType::kPage : RecordType::kDiskWrite;
         return true;
       }},
      {"vCPU index beyond slots", StageRejection::kBlobIndexOutOfRange,
       [g](Scenario& s, const EpochContent&, std::mt19937_64& rng) {
         StagingCall* c = Pick(s, rng, {K::kBlob});
         if (c == nullptr) return false;
         c->index = (c->type == RecordType::kVcpuState ? g.vcpu_slots : g.device_slots) +
                    static_cast<uint32_t>(rng() % 50);
         return true;
       }},
      {"blob above the slot size", StageRejection::kBlobTooLarge,
       [g](Scenario& s, const EpochContent&, std::mt19937_64& rng) {
         StagingCall* c = Pick(s, rng, {K::kBlob});
         if (c == nullptr) return false;
         c->total = g.max_blob_bytes + 1 + static_cast<uint32_t>(rng() % 1000);
         return true;
       }},
      {"fragment past its total", StageRejection::kFragmentOutOfBounds,
       [](Scenario& s, const EpochContent&, std::mt19937_64& rng) {
         StagingCall* c = Pick(s, rng, {K::kBlob, K::kDisk});
         if (c == nullptr) return false;
         c->offset = c->total - static_cast<uint32_t>(c->bytes.size()) + 1 + static_cast<uint32_t>(rng() % 64);
         return true;
       }},
      {"fragment disagrees on total", StageRejection::kFragmentInconsistent,
       [](Scenario& s, const EpochContent&, std::mt19937_64& rng) {
         StagingCall* c = Pick(s, rng, {K::kBlob, K::kDisk});
         if (c == nullptr) return false;
         StagingCall extra = *c;  // appended last, so its item already exists
         extra.total = c->total - (c->kind == K::kDisk ? static_cast<uint32_t>(kSectorSize) : 1);
         extra.offset = 0;
         extra.bytes.resize(1);
         s.calls.push_back(extra);
         return extra.total > 0;
       }},
      {"fragment repeated", StageRejection::kFragmentOverlap,
       [](Scenario& s, const EpochContent&, std::mt19937_64& rng) {
         StagingCall* c = Pick(s, rng, {K::kBlob, K::kDisk});
         if (c == nullptr) return false;
         s.calls.push_back(*c);
         return true;
       }},
      {"fragment overlaps another", StageRejection::kFragmentOverlap,
       [](Scenario& s, const EpochContent&, std::mt19937_64& rng) {
         StagingCall* c = Pick(s, rng, {K::kBlob, K::kDisk});
         if (c == nullptr) return false;
         StagingCall extra = *c;
         extra.offset = c->offset + static_cast<uint32_t>(rng() % c->bytes.size());
         extra.bytes.resize(std::min<std::size_t>(c->total - extra.offset, 1 + rng() % 8));
         s.calls.push_back(extra);
         return true;
       }},
      {"disk id unknown", StageRejection::kDiskOutOfRange,
       [g](Scenario& s, const EpochContent&, std::mt19937_64& rng) {
         StagingCall* c = Pick(s, rng, {K::kDisk});
         if (c == nullptr) return false;
         c->index = static_cast<uint32_t>(g.disk_sectors.size() + rng() % 4);
         return true;
       }},
      {"disk write past the end", StageRejection::kDiskOutOfRange,
       [g](Scenario& s, const EpochContent&, std::mt19937_64& rng) {
         StagingCall* c = Pick(s, rng, {K::kDisk});
         if (c == nullptr) return false;
         c->key = g.disk_sectors[c->index] - c->total / kSectorSize + 1 + rng() % 1000;
         return true;
       }},
      {"disk write not sector sized", StageRejection::kDiskUnaligned,
       [](Scenario& s, const EpochContent&, std::mt19937_64& rng) {
         StagingCall* c = Pick(s, rng, {K::kDisk});
         if (c == nullptr) return false;
         c->total += 1 + static_cast<uint32_t>(rng() % 511);
         return true;
       }},
      {"overlapping disk writes", StageRejection::kDiskOverlap,
       [](Scenario& s, const EpochContent& content, std::mt19937_64& rng) {
         const DiskItem& d = content.disks[rng() % content.disks.size()];
         StagingCall extra;
         extra.kind = K::kDisk;
         extra.type = RecordType::kDiskWrite;
         extra.index = d.disk;
         extra.key = d.sector + d.bytes.size() / kSectorSize - 1;  // its last sector
         extra.total = kSectorSize;
         extra.bytes.assign(kSectorSize, std::byte{1});
         s.calls.insert(s.calls.begin() + static_cast<std::ptrdiff_t>(rng() % (s.calls.size() + 1)), extra);
         // EPOCH_END accounts for it, so only the overlap is wrong.
         EpochContent with = content;
         with.disks.push_back({extra.index, extra.key, extra.bytes});
         s.end_count = with.record_count();
         s.end_checksum = with.checksum();
         return true;
       }},
      {"blob fragment missing", StageRejection::kIncompleteItem,
       [](Scenario& s, const EpochContent&, std::mt19937_64&) {
         std::optional<std::size_t> second = SplitFragment(s, K::kBlob);
         if (!second) return false;
         s.calls.erase(s.calls.begin() + static_cast<std::ptrdiff_t>(*second));
         return true;
       }},
      {"disk fragment missing", StageRejection::kIncompleteItem,
       [](Scenario& s, const EpochContent&, std::mt19937_64&) {
         std::optional<std::size_t> second = SplitFragment(s, K::kDisk);
         if (!second) return false;
         s.calls.erase(s.calls.begin() + static_cast<std::ptrdiff_t>(*second));
         return true;
       }},
      {"page record missing", StageRejection::kRecordCountMismatch,
       [](Scenario& s, const EpochContent&, std::mt19937_64& rng) {
         std::vector<std::size_t> pages = CallsOf(s, K::kPage);
         for (std::size_t i : CallsOf(s, K::kZeroPage)) pages.push_back(i);
         if (pages.empty()) return false;
         s.calls.erase(s.calls.begin() + static_cast<std::ptrdiff_t>(pages[rng() % pages.size()]));
         return true;
       }},
      {"END count off by one", StageRejection::kRecordCountMismatch,
       [](Scenario& s, const EpochContent&, std::mt19937_64& rng) {
         s.end_count += (rng() % 2) ? 1 : -1;
         return true;
       }},
      {"END checksum wrong", StageRejection::kChecksumMismatch,
       [](Scenario& s, const EpochContent&, std::mt19937_64& rng) {
         s.end_checksum ^= uint64_t{1} << (rng() % 64);
         return true;
       }},
      {"one content bit flipped", StageRejection::kChecksumMismatch,
       [](Scenario& s, const EpochContent&, std::mt19937_64& rng) {
         StagingCall* c = Pick(s, rng, {K::kPage, K::kReservePage, K::kBlob, K::kDisk});
         if (c == nullptr || c->bytes.empty()) return false;
         std::size_t at = rng() % c->bytes.size();
         c->bytes[at] ^= std::byte{static_cast<uint8_t>(1u << (rng() % 8))};
         return true;
       }},
      {"zero page sent as a page", StageRejection::kChecksumMismatch,
       [](Scenario& s, const EpochContent&, std::mt19937_64& rng) {
         StagingCall* c = Pick(s, rng, {K::kZeroPage});
         if (c == nullptr) return false;
         c->kind = K::kPage;
         c->bytes.assign(kPageSize, std::byte{0});
         return true;
       }},
      {"EPOCH_BEGIN skips an epoch", StageRejection::kEpochGap,
       [](Scenario& s, const EpochContent&, std::mt19937_64& rng) {
         s.epoch += 1 + rng() % 5;
         return true;
       }},
      {"EPOCH_BEGIN of a committed epoch", StageRejection::kEpochStale,
       [](Scenario& s, const EpochContent&, std::mt19937_64&) {
         s.epoch = 0;
         return true;
       }},
      {"EPOCH_BEGIN with an unknown trigger", StageRejection::kBadTrigger,
       [](Scenario& s, const EpochContent&, std::mt19937_64& rng) {
         s.trigger = static_cast<EpochTrigger>((rng() % 2) ? 0 : 5 + rng() % 250);
         return true;
       }},
  };
  return mutations;
}

// Runs a scenario; returns the first error (from Begin, a record or End), if any.
std::optional<Error> RunScenario(EpochStager& stager, const Scenario& s) {
  if (auto begun = stager.Begin(s.epoch, s.trigger); !begun.ok()) return begun.error();
  for (const StagingCall& call : s.calls)
    if (auto done = Perform(stager, call); !done.ok()) return done.error();
  if (auto ended = stager.End(s.end_count, s.end_checksum); !ended.ok()) return ended.error();
  return std::nullopt;
}

TEST(ReplicaStager, EveryMutationOfGeneratedEpochsIsRejectedWithItsReason) {
  const ReplicaGeometry g = SmallGeometry();
  EpochStager stager = NewStager(g);
  for (const Mutation& mutation : Mutations(g)) {
    int applied = 0;
    for (uint64_t seed = 1; seed <= 12; ++seed) {
      SCOPED_TRACE(fmt::format("mutation '{}' seed {}", mutation.name, seed));
      EpochContent content = RichEpoch(seed, g);
      Scenario s{1, content.trigger, PlanStaging(content, seed * 31), content.record_count(), content.checksum()};
      std::mt19937_64 rng(seed * 7919);
      if (!mutation.mutate(s, content, rng)) continue;
      ++applied;
      uint64_t before = Rejections(stager, mutation.expect);
      uint64_t total_before = stager.counters().rejections;
      std::optional<Error> error = RunScenario(stager, s);
      ASSERT_TRUE(error.has_value()) << "accepted";
      EXPECT_EQ(stager.last_rejection(), mutation.expect) << error->Describe();
      EXPECT_NE(error->message.find(StageRejectionName(mutation.expect)), std::string::npos) << error->message;
      EXPECT_NE(error->message.find("vm 3"), std::string::npos) << error->message;
      EXPECT_EQ(Rejections(stager, mutation.expect), before + 1);
      EXPECT_EQ(stager.counters().rejections, total_before + 1);
      // The epoch is gone and the stager takes the same epoch again, intact.
      EXPECT_FALSE(stager.is_open());
      EXPECT_FALSE(stager.is_sealed());
      EXPECT_EQ(stager.remaining_bytes(), stager.capacity_bytes());
      Result<StagedEpoch> good = StageEpoch(stager, content, seed);
      ASSERT_TRUE(good.ok()) << good.error().Describe();
      EXPECT_EQ(good->epoch, 1u);
      stager.Discard();
    }
    EXPECT_GT(applied, 0) << mutation.name;
  }
}

TEST(ReplicaStager, ErrorsNameEpochAndRecordOrdinal) {
  const ReplicaGeometry g = SmallGeometry();
  EpochStager stager = NewStager(g, /*last_committed=*/41);
  ASSERT_TRUE(stager.Begin(42, EpochTrigger::kNetSend).ok());
  std::vector<std::byte> page(kPageSize);
  ASSERT_TRUE(stager.StagePage(1, page).ok());
  ASSERT_TRUE(stager.StageZeroPage(2).ok());
  Result<void> bad = stager.StagePage(64, page);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, Errc::kCorrupt);
  EXPECT_NE(bad.error().message.find("vm 3 epoch 42 record 3"), std::string::npos) << bad.error().message;
  EXPECT_EQ(stager.counters().epochs_discarded, 1u);
}

TEST(ReplicaStager, RecordsOutsideAnEpochAreRejectedWithoutDiscardingASealedOne) {
  const ReplicaGeometry g = SmallGeometry();
  EpochStager stager = NewStager(g);
  std::vector<std::byte> page(kPageSize);
  EXPECT_FALSE(stager.StagePage(0, page).ok());
  EXPECT_EQ(stager.last_rejection(), StageRejection::kNoOpenEpoch);
  EXPECT_FALSE(stager.End(0, 0).ok());
  EXPECT_EQ(Rejections(stager, StageRejection::kNoOpenEpoch), 2u);

  EpochContent content = RichEpoch(5, g);
  ASSERT_TRUE(stager.Begin(1, content.trigger).ok());
  Result<void> twice = stager.Begin(1, content.trigger);
  EXPECT_FALSE(twice.ok());
  EXPECT_EQ(stager.last_rejection(), StageRejection::kAlreadyOpen);
  EXPECT_FALSE(stager.is_open());

  ASSERT_TRUE(StageEpoch(stager, content, 1).ok());
  ASSERT_TRUE(stager.is_sealed());
  EXPECT_FALSE(stager.StageZeroPage(3).ok());
  EXPECT_EQ(stager.last_rejection(), StageRejection::kSealed);
  EXPECT_FALSE(stager.Begin(2, content.trigger).ok());
  EXPECT_FALSE(stager.End(content.record_count(), content.checksum()).ok());
  EXPECT_EQ(Rejections(stager, StageRejection::kSealed), 3u);
  EXPECT_TRUE(stager.is_sealed());  // still there, still committable
  ASSERT_TRUE(stager.sealed_epoch().has_value());
  EXPECT_EQ(stager.sealed_epoch()->content_checksum, content.checksum());
  stager.MarkCommitted();
  EXPECT_EQ(stager.expected_epoch(), 2u);
}

TEST(ReplicaStager, ArenaBoundsTheEpochAndIsTheCreditCount) {
  const ReplicaGeometry g = SmallGeometry();
  EpochStager stager = NewStager(g, 0, /*arena=*/3 * kPageSize + 1024);
  EXPECT_EQ(stager.capacity_bytes(), 3 * kPageSize + 1024);
  ASSERT_TRUE(stager.Begin(1, EpochTrigger::kTimer).ok());
  std::vector<std::byte> page(kPageSize, std::byte{1});
  for (uint64_t gfn = 0; gfn < 3; ++gfn) {
    uint64_t before = stager.remaining_bytes();
    ASSERT_TRUE(stager.StagePage(gfn, page).ok());
    EXPECT_EQ(before - stager.remaining_bytes(), EpochStager::ArenaCost(kPageSize));
  }
  uint64_t before = stager.remaining_bytes();
  ASSERT_TRUE(stager.StageZeroPage(10).ok());  // zero pages cost no credits
  EXPECT_EQ(stager.remaining_bytes(), before);
  ASSERT_TRUE(stager.StageBlobFragment(RecordType::kVcpuState, 0, 100, 0, std::vector<std::byte>(100)).ok());
  EXPECT_EQ(before - stager.remaining_bytes(), EpochStager::ArenaCost(100));
  Result<void> full = stager.StagePage(4, page);
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.error().code, Errc::kNoSpace);
  EXPECT_EQ(stager.last_rejection(), StageRejection::kArenaFull);
  EXPECT_EQ(stager.remaining_bytes(), stager.capacity_bytes());  // discarded epoch frees everything

  ASSERT_TRUE(stager.Begin(1, EpochTrigger::kTimer).ok());
  Result<void> blob = stager.StageDiskWriteFragment(0, 0, 8 * kPageSize, 0, std::vector<std::byte>(512));
  EXPECT_FALSE(blob.ok());
  EXPECT_EQ(stager.last_rejection(), StageRejection::kArenaFull);
}

TEST(ReplicaStager, LatestPageLooksAtTheStagedEpochFirstThenTheReplica) {
  TempDir dir;
  const ReplicaGeometry g = SmallGeometry();
  ReplicaStoreConfig config;
  config.directory = dir.Sub("vm");
  config.geometry = g;
  config.durability = Durability::kPageCache;
  Result<ReplicaStore> store = ReplicaStore::Open(config);
  ASSERT_TRUE(store.ok()) << store.error().Describe();
  EpochStager stager = NewStager(g);

  Result<PageRef> never = LatestPage(stager, *store, 5);
  ASSERT_TRUE(never.ok());
  EXPECT_EQ(never->version, 0u);
  EXPECT_EQ(std::memcmp(never->data, kZeroPageBytes, kPageSize), 0);
  EXPECT_FALSE(LatestPage(stager, *store, g.guest_pages).ok());

  std::vector<std::byte> page(kPageSize, std::byte{0xab});
  EpochContent one;
  one.epoch = 1;
  one.pages.push_back({5, false, page});
  one.pages.push_back({6, false, page});
  ASSERT_TRUE(stager.Begin(1, EpochTrigger::kTimer).ok());
  ASSERT_TRUE(stager.StagePage(5, page).ok());
  Result<PageRef> staged = LatestPage(stager, *store, 5);
  ASSERT_TRUE(staged.ok());
  EXPECT_EQ(staged->version, 1u);
  EXPECT_EQ(std::memcmp(staged->data, page.data(), kPageSize), 0);
  ASSERT_TRUE(stager.StagePage(6, page).ok());
  Result<StagedEpoch> sealed = stager.End(one.record_count(), one.checksum());
  ASSERT_TRUE(sealed.ok()) << sealed.error().Describe();
  ASSERT_TRUE(store->Commit(*sealed).ok());
  stager.MarkCommitted();

  ASSERT_TRUE(stager.Begin(2, EpochTrigger::kTimer).ok());
  ASSERT_TRUE(stager.StageZeroPage(6).ok());
  Result<PageRef> committed = LatestPage(stager, *store, 5);
  ASSERT_TRUE(committed.ok());
  EXPECT_EQ(committed->version, 1u);
  EXPECT_EQ(std::memcmp(committed->data, page.data(), kPageSize), 0);
  Result<PageRef> zero = LatestPage(stager, *store, 6);
  ASSERT_TRUE(zero.ok());
  EXPECT_EQ(zero->version, 2u);
  EXPECT_EQ(std::memcmp(zero->data, kZeroPageBytes, kPageSize), 0);
}

// Random calls with random arguments: never a crash, and every error is counted exactly once.
TEST(ReplicaStager, GarbageInputIsRejectedAndCounted) {
  const ReplicaGeometry g = SmallGeometry();
  EpochStager stager = NewStager(g, 0, 64 * 1024);
  std::mt19937_64 rng(99);
  std::vector<std::byte> buffer(2 * kPageSize, std::byte{3});
  uint64_t errors = 0;
  for (int i = 0; i < 20000; ++i) {
    auto small = [&](uint64_t limit) { return rng() % limit; };
    auto any32 = [&] { return (rng() % 4 == 0) ? static_cast<uint32_t>(rng()) : static_cast<uint32_t>(rng() % 5000); };
    std::span<const std::byte> bytes(buffer.data(), small(buffer.size() + 1));
    Result<void> r = Ok();
    switch (rng() % 8) {
      case 0: r = stager.Begin(small(4), static_cast<EpochTrigger>(small(6))); break;
      case 1: r = stager.StagePage(small(80), bytes); break;
      case 2: r = stager.StageZeroPage(small(80)); break;
      case 3: {
        auto reserved = stager.ReservePage(small(80));
        r = reserved.ok() ? Ok() : Result<void>(reserved.error());
        break;
      }
      case 4:
        r = stager.StageBlobFragment(static_cast<RecordType>(small(9)), static_cast<uint32_t>(small(4)), any32(),
                                     any32(), bytes);
        break;
      case 5:
        r = stager.StageDiskWriteFragment(static_cast<uint32_t>(small(3)), small(80), any32(), any32(), bytes);
        break;
      case 6: {
        auto ended = stager.End(static_cast<uint32_t>(small(10)), rng());
        r = ended.ok() ? Ok() : Result<void>(ended.error());
        break;
      }
      default:
        if (stager.is_sealed()) stager.MarkCommitted();
        break;
    }
    if (!r.ok()) ++errors;
  }
  EXPECT_GT(errors, 1000u);
  EXPECT_EQ(stager.counters().rejections, errors);
}

TEST(ReplicaFragmentCoverage, MergesInAnyOrderAndRefusesOverlaps) {
  FragmentCoverage coverage;
  EXPECT_TRUE(coverage.Add(100, 50));
  EXPECT_TRUE(coverage.Add(0, 50));
  EXPECT_EQ(coverage.range_count(), 2u);
  EXPECT_FALSE(coverage.Add(49, 2));    // reaches into [0, 50)
  EXPECT_FALSE(coverage.Add(149, 10));  // reaches into [100, 150)
  EXPECT_FALSE(coverage.Add(120, 5));   // inside
  EXPECT_FALSE(coverage.Add(40, 100));  // spans a gap and both
  EXPECT_FALSE(coverage.Add(60, 0));    // empty
  EXPECT_TRUE(coverage.Add(50, 50));    // joins both neighbours
  EXPECT_EQ(coverage.range_count(), 1u);
  EXPECT_EQ(coverage.covered_bytes(), 150u);
  EXPECT_TRUE(coverage.Add(150, 1));
  EXPECT_EQ(coverage.range_count(), 1u);
  EXPECT_FALSE(coverage.Add(0, 1));
}

}  // namespace
}  // namespace replink::replica::testing
