// The capture loop over the synthetic backend, against a consumer thread that decodes, verifies and
// commits every epoch (EpochVerifier): the replica must equal guest memory, and no I/O may be
// released before its epoch is committed.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <memory>
#include <cstring>
#include <set>
#include <thread>

#include "dataplane/ring_verifier/epoch_verifier.h"
#include "hostshim/capture_loop.h"
#include "hostshim/synthetic/synthetic_backend.h"

namespace replink {
namespace {

// Wraps a backend to observe the loop: checks output commit and can make frames unreadable.
class ObservedBackend final : public GuestBackend {
 public:
  ObservedBackend(GuestBackend& inner, const std::atomic<uint64_t>& committed, uint64_t first_epoch)
      : inner_(inner), committed_(committed), first_epoch_(first_epoch) {}
  const char* name() const override { return "observed"; }
  GuestInfo Describe() const override { return inner_.Describe(); }
  Result<void> StartDirtyTracking() override { return inner_.StartDirtyTracking(); }
  Result<std::optional<IoEvent>> WaitIoEvent(uint64_t t) override { return inner_.WaitIoEvent(t); }
  Result<void> Pause() override { return inner_.Pause(); }
  Result<void> Resume() override { return inner_.Resume(); }
  Result<void> CollectDirty(DirtyBitmap& d) override { return inner_.CollectDirty(d); }
  Result<void> CopyPages(std::span<const uint64_t> gfns, std::span<std::byte* const> dsts,
                         std::vector<uint64_t>* deferred) override {
    REPLINK_TRY(inner_.CopyPages(gfns, dsts, deferred));
    for (uint64_t gfn : gfns) {
      bool flaky = flaky_.count(gfn) && flaky_failures_[gfn]++ < flaky_attempts_;
      if (flaky || broken_.count(gfn)) deferred->push_back(gfn);
    }
    return Ok();
  }
  Result<std::size_t> ReadVcpuState(uint32_t i, std::span<std::byte> o) override { return inner_.ReadVcpuState(i, o); }
  Result<std::size_t> ReadDeviceState(uint32_t i, std::span<std::byte> o) override {
    return inner_.ReadDeviceState(i, o);
  }
  Result<void> ReadDisk(uint16_t disk, uint64_t sector, std::span<std::byte> out) override {
    return inner_.ReadDisk(disk, sector, out);
  }
  Result<void> ReleaseIo(const IoEvent& ev) override {
    // Event ids count from 1 in capture order, so event id k belongs to epoch first_epoch + k - 1.
    uint64_t epoch = first_epoch_ + ev.id - 1;
    if (committed_.load() < epoch) ++released_early_;
    ++released_;
    return inner_.ReleaseIo(ev);
  }

  std::set<uint64_t> flaky_, broken_;
  std::map<uint64_t, int> flaky_failures_;
  int flaky_attempts_ = 2;
  uint64_t released_ = 0;
  uint64_t released_early_ = 0;

 private:
  GuestBackend& inner_;
  const std::atomic<uint64_t>& committed_;
  uint64_t first_epoch_;
};

struct Harness {
  SyntheticBackend backend;
  CaptureRingWriter ring;
  std::atomic<uint64_t> committed{0};
  std::atomic<bool> stop{false};
  std::unique_ptr<CaptureRingReader> reader;
  std::unique_ptr<EpochVerifier> verifier;
  std::thread consumer;
  std::string consumer_error;
  std::set<uint64_t> verifier_fail_epochs;

  void StartConsumer(bool compare_each_epoch) {
    auto region = SharedRegion::Attach(dup(ring.region().fd()));
    ASSERT_TRUE(region.ok());
    auto r = CaptureRingReader::Attach(std::move(region).value());
    ASSERT_TRUE(r.ok()) << r.error().Describe();
    reader = std::make_unique<CaptureRingReader>(std::move(r).value());
    auto cache = codec::DeltaCache::Create(16);
    ASSERT_TRUE(cache.ok());
    verifier = std::make_unique<EpochVerifier>(*reader, codec::PageEncoder(std::move(cache).value()),
                                               codec::CodecSetting::kAuto,
                                               compare_each_epoch ? backend.memory().data() : nullptr);
    verifier->on_commit = [this](uint64_t epoch) { committed.store(epoch); };
    verifier->fail_epochs = verifier_fail_epochs;
    consumer = std::thread([this] {
      while (!stop.load()) {
        auto s = verifier->Poll();
        if (!s.ok()) {
          consumer_error = s.error().Describe();
          return;
        }
        if (reader->pending_descriptors() == 0) std::this_thread::yield();
      }
    });
  }
  ~Harness() {
    stop.store(true);
    if (consumer.joinable()) consumer.join();
  }
};

std::unique_ptr<Harness> MakeHarness(ContentModel content, uint64_t dirty, uint32_t slots) {
  SyntheticGuestSpec spec;
  spec.guest_pages = 2048;
  spec.vcpu_count = 2;
  spec.workload.content = content;
  spec.workload.dirty_pages_per_epoch = dirty;
  spec.workload.seed = 7;
  auto backend = SyntheticBackend::Create(spec);
  EXPECT_TRUE(backend.ok());
  CaptureRingParams p;
  p.vm_id = 3;
  p.vm_name = "loop";
  p.guest_pages = spec.guest_pages;
  p.vcpu_count = 2;
  p.disk_count = 1;
  p.disk_sectors = spec.disk_sectors;
  p.slot_count = slots;
  p.sq_entries = 4096;
  p.prefer_hugetlb = false;
  auto ring = CaptureRingWriter::Create(p);
  EXPECT_TRUE(ring.ok());
  return std::unique_ptr<Harness>(new Harness{std::move(backend).value(), std::move(ring).value()});
}

TEST(CaptureLoop, StrictModeReplicaEqualsGuestAtEveryCommit) {
  auto h = MakeHarness(ContentModel::kMixed, 50, 512);  // initial sync (2048 pages) > arena (512)
  h->StartConsumer(/*compare_each_epoch=*/true);
  ObservedBackend observed(h->backend, h->committed, 1);
  CaptureLoopOptions o;
  o.mode = SyncMode::kStrict;
  o.copy_batch = 64;
  CaptureLoop loop(observed, h->ring, o);
  ASSERT_TRUE(loop.Run(300, nullptr).ok());
  h->stop.store(true);
  h->consumer.join();
  EXPECT_EQ(h->consumer_error, "");
  EXPECT_EQ(loop.stats().committed, 300u);
  EXPECT_EQ(h->verifier->stats().memory_mismatches, 0u);
  EXPECT_GT(h->verifier->stats().pages_compared, 300u * 50u);
  EXPECT_EQ(h->verifier->CountReplicaMismatches(h->backend.memory().data()), 0u);
  EXPECT_EQ(observed.released_, 300u);
  EXPECT_EQ(observed.released_early_, 0u);
}

TEST(CaptureLoop, PipelinedModeHoldsIoUntilCommit) {
  auto h = MakeHarness(ContentModel::kSparse, 20, 1024);
  h->StartConsumer(false);
  ObservedBackend observed(h->backend, h->committed, 1);
  CaptureLoopOptions o;
  o.mode = SyncMode::kPipelined;
  o.max_inflight_epochs = 8;
  CaptureLoop loop(observed, h->ring, o);
  ASSERT_TRUE(loop.Run(500, nullptr).ok());
  h->stop.store(true);
  h->consumer.join();
  EXPECT_EQ(h->consumer_error, "");
  EXPECT_EQ(loop.stats().committed, 500u);
  EXPECT_EQ(observed.released_, 500u);
  EXPECT_EQ(observed.released_early_, 0u);
  // The guest is stopped after the loop: the replica is exactly its memory.
  EXPECT_EQ(h->verifier->CountReplicaMismatches(h->backend.memory().data()), 0u);
}

// The peer loses epochs: each failure makes the next epoch a catch-up that carries every page and disk
// sector the peer has not committed, so the replica (memory and disk) still ends up exact.
void RunWithLostEpochs(SyncMode mode, bool release_on_failure) {
  auto h = MakeHarness(ContentModel::kMixed, 30, 1024);
  for (uint64_t e : {5, 6, 20, 21, 22, 23, 57, 90, 91}) h->verifier_fail_epochs.insert(e);
  h->StartConsumer(false);
  ObservedBackend observed(h->backend, h->committed, 1);
  CaptureLoopOptions o;
  o.mode = mode;
  o.max_inflight_epochs = 4;
  o.release_io_on_failure = release_on_failure;
  CaptureLoop loop(observed, h->ring, o);
  auto run = loop.Run(120, nullptr);
  ASSERT_TRUE(run.ok()) << run.error().Describe() << " consumer: " << h->consumer_error;
  h->stop.store(true);
  h->consumer.join();
  EXPECT_EQ(h->consumer_error, "");
  const VerifierStats& v = h->verifier->stats();
  EXPECT_GE(loop.stats().failed, 9u);
  EXPECT_EQ(loop.stats().committed + loop.stats().failed, 120u);
  EXPECT_GE(loop.stats().catch_up_epochs, 5u);  // the first, and one after each run of failures
  EXPECT_EQ(v.catch_up_epochs, loop.stats().catch_up_epochs);
  // The last epoch committed, so the replica equals the guest, memory and disk.
  EXPECT_EQ(loop.stats().last_committed_epoch, 120u);
  EXPECT_EQ(h->verifier->CountReplicaMismatches(h->backend.memory().data()), 0u);
  ASSERT_EQ(h->verifier->replica_disk().size(), h->backend.disk().size());
  EXPECT_EQ(std::memcmp(h->verifier->replica_disk().data(), h->backend.disk().data(), h->backend.disk().size()), 0);
  if (!release_on_failure) {
    EXPECT_EQ(observed.released_early_, 0u);
  }
  EXPECT_EQ(observed.released_, 120u);
}

TEST(CaptureLoop, CatchUpAfterLostEpochsPipelinedDegraded) { RunWithLostEpochs(SyncMode::kPipelined, true); }
TEST(CaptureLoop, CatchUpAfterLostEpochsStrictStalling) { RunWithLostEpochs(SyncMode::kStrict, false); }

TEST(CaptureLoop, DeferredFramesAreRetriedNotDropped) {
  auto h = MakeHarness(ContentModel::kIncompressible, 40, 512);
  h->StartConsumer(true);
  ObservedBackend observed(h->backend, h->committed, 1);
  for (uint64_t gfn = 0; gfn < 2048; gfn += 7) observed.flaky_.insert(gfn);
  CaptureLoopOptions o;
  o.mode = SyncMode::kStrict;
  o.copy_batch = 32;
  CaptureLoop loop(observed, h->ring, o);
  ASSERT_TRUE(loop.Run(50, nullptr).ok());
  h->stop.store(true);
  h->consumer.join();
  EXPECT_EQ(h->consumer_error, "");
  EXPECT_GT(loop.stats().deferred_pages, 0u);
  EXPECT_EQ(h->verifier->stats().memory_mismatches, 0u);
  EXPECT_EQ(h->verifier->CountReplicaMismatches(h->backend.memory().data()), 0u);
}

TEST(CaptureLoop, PermanentlyUnreadableFrameFailsTheEpochLoudly) {
  auto h = MakeHarness(ContentModel::kSparse, 10, 512);
  h->StartConsumer(false);
  ObservedBackend observed(h->backend, h->committed, 1);
  observed.broken_.insert(5);
  CaptureLoopOptions o;
  o.deferred_retries = 3;
  CaptureLoop loop(observed, h->ring, o);
  auto result = loop.Run(1, nullptr);
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.error().message.find("unreadable"), std::string::npos) << result.error().message;
}

}  // namespace
}  // namespace replink
