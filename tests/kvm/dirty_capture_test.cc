// Dirty capture exactness: `churn` under the capture loop, consumed by the network-less EpochVerifier
// in strict mode. At every committed epoch the guest is stopped, so the whole replica must equal the
// guest's memory — not only the pages the epoch carried (a missed dirty page shows up here).
#include <gtest/gtest.h>

#include "dataplane/ring_verifier/epoch_verifier.h"
#include "hostshim/capture_loop.h"
#include "tests/kvm/kvm_test_support.h"

namespace replink::kvm {
namespace {

struct ExactnessCase {
  DirtyLogMode mode;
  uint64_t working_set;
  uint64_t per_round;
};

void RunExactness(const ExactnessCase& c, uint64_t epochs) {
  KvmGuestSpec spec;
  spec.memory_bytes = 8u << 20;
  spec.disk_sectors = 4096;
  spec.dirty_log = c.mode;
  spec.output_fd = spec.console_fd = -1;
  // Every 5th round also writes the disk, so both trigger kinds and DISK_WRITE records are covered.
  auto b = testing::BootGuest("churn", spec, {c.working_set, c.per_round, 0, 0, 5});
  ASSERT_TRUE(b.ok()) << b.error().Describe();
  KvmBackend& guest = **b;
  auto h = testing::RingHarness::Create(guest.Describe(), 1024);  // the first epoch (2048 pages) > arena
  ASSERT_NE(h, nullptr);
  auto cache = codec::DeltaCache::Create(16);
  ASSERT_TRUE(cache.ok());
  EpochVerifier verifier(*h->reader, codec::PageEncoder(std::move(cache).value()), codec::CodecSetting::kAuto,
                         guest.memory());
  uint64_t full_compares = 0, full_mismatches = 0;
  verifier.on_commit = [&](uint64_t) {
    ++full_compares;
    full_mismatches += verifier.CountReplicaMismatches(guest.memory());
  };
  h->Start([&]() -> Result<bool> {
    REPLINK_TRY(verifier.Poll());
    return h->reader->pending_descriptors() != 0;
  });
  CaptureLoopOptions o;
  o.mode = SyncMode::kStrict;
  CaptureLoop loop(guest, *h->ring, o);
  auto run = loop.Run(epochs, nullptr);
  ASSERT_TRUE(run.ok()) << run.error().Describe();
  h->Stop();
  EXPECT_EQ(h->consumer_error, "");
  EXPECT_EQ(loop.stats().committed, epochs);
  EXPECT_EQ(verifier.stats().memory_mismatches, 0u);
  EXPECT_EQ(full_compares, epochs);
  EXPECT_EQ(full_mismatches, 0u) << "pages differing from the guest, summed over all commits";
  EXPECT_EQ(guest.exit_status(), 0u) << guest.console_output();
  // The replica disk equals the guest's (every released write travelled in its epoch).
  std::vector<std::byte> disk(4096 * 512);
  ASSERT_TRUE(guest.ReadDisk(0, 0, disk).ok());
  ASSERT_EQ(verifier.replica_disk().size(), disk.size());
  EXPECT_TRUE(std::equal(disk.begin(), disk.end(), verifier.replica_disk().begin()));
}

TEST(KvmDirtyCapture, RingSmallDirtySetsStrictMode) { RunExactness({DirtyLogMode::kRing, 512, 8}, 150); }
TEST(KvmDirtyCapture, RingLargeDirtySetsStrictMode) { RunExactness({DirtyLogMode::kRing, 1500, 700}, 40); }
TEST(KvmDirtyCapture, BitmapStrictMode) { RunExactness({DirtyLogMode::kBitmap, 1024, 64}, 100); }

// A dirty ring smaller than one round's dirty set: the vCPU exits with "ring full", the backend
// harvests mid-epoch, and nothing may be lost.
TEST(KvmDirtyCapture, RingFullExitsLoseNothing) {
  KvmGuestSpec spec;
  spec.memory_bytes = 8u << 20;
  spec.disk_sectors = 4096;
  spec.dirty_log = DirtyLogMode::kRing;
  spec.dirty_ring_entries = 256;
  spec.output_fd = spec.console_fd = -1;
  auto b = testing::BootGuest("churn", spec, {1200, 600, 0, 0, 0});
  ASSERT_TRUE(b.ok()) << b.error().Describe();
  KvmBackend& guest = **b;
  auto h = testing::RingHarness::Create(guest.Describe(), 1024);
  ASSERT_NE(h, nullptr);
  auto cache = codec::DeltaCache::Create(16);
  ASSERT_TRUE(cache.ok());
  EpochVerifier verifier(*h->reader, codec::PageEncoder(std::move(cache).value()), codec::CodecSetting::kAuto,
                         guest.memory());
  uint64_t full_mismatches = 0;
  verifier.on_commit = [&](uint64_t) { full_mismatches += verifier.CountReplicaMismatches(guest.memory()); };
  h->Start([&]() -> Result<bool> {
    REPLINK_TRY(verifier.Poll());
    return h->reader->pending_descriptors() != 0;
  });
  CaptureLoopOptions o;
  o.mode = SyncMode::kStrict;
  CaptureLoop loop(guest, *h->ring, o);
  ASSERT_TRUE(loop.Run(20, nullptr).ok());
  h->Stop();
  EXPECT_EQ(h->consumer_error, "");
  EXPECT_EQ(full_mismatches, 0u);
}

// Pipelined: the guest runs while epochs are in flight, so compare at the end. With StopAtEvent the
// guest stays at its last I/O, and completions of released I/O are written into its memory only when
// it runs again: the whole replica (memory and disk) equals the guest exactly.
TEST(KvmDirtyCapture, PipelinedFinalStateEqualsReplica) {
  KvmGuestSpec spec;
  spec.memory_bytes = 8u << 20;
  spec.disk_sectors = 4096;
  spec.output_fd = spec.console_fd = -1;
  auto b = testing::BootGuest("churn", spec, {700, 40, 0, 0, 3});
  ASSERT_TRUE(b.ok()) << b.error().Describe();
  KvmBackend& guest = **b;
  guest.StopAtEvent(120);
  auto h = testing::RingHarness::Create(guest.Describe(), 1024);
  ASSERT_NE(h, nullptr);
  auto cache = codec::DeltaCache::Create(16);
  ASSERT_TRUE(cache.ok());
  EpochVerifier verifier(*h->reader, codec::PageEncoder(std::move(cache).value()), codec::CodecSetting::kAuto, nullptr);
  h->Start([&]() -> Result<bool> {
    REPLINK_TRY(verifier.Poll());
    return h->reader->pending_descriptors() != 0;
  });
  CaptureLoopOptions o;
  o.mode = SyncMode::kPipelined;
  o.max_inflight_epochs = 16;
  CaptureLoop loop(guest, *h->ring, o);
  auto run = loop.Run(120, nullptr);
  ASSERT_TRUE(run.ok()) << run.error().Describe();
  h->Stop();
  EXPECT_EQ(h->consumer_error, "");
  EXPECT_EQ(loop.stats().committed, 120u);
  EXPECT_EQ(verifier.CountReplicaMismatches(guest.memory()), 0u);
  std::vector<std::byte> disk(4096 * 512);
  ASSERT_TRUE(guest.ReadDisk(0, 0, disk).ok());
  EXPECT_TRUE(std::equal(disk.begin(), disk.end(), verifier.replica_disk().begin()));
}

}  // namespace
}  // namespace replink::kvm
