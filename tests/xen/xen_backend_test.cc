// The Xen capture backend over a fake hypervisor: PV refusal, the populated-frame scan and initial sync,
// dirty bitmap collection, map batching, partial map failures (holes zeroed, transient failures
// deferred and retried by the capture loop, never dropped), state blobs, suspend/pause checkpoints and
// timer events; and the capture loop end to end against a verifying consumer.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "dataplane/ring_verifier/epoch_verifier.h"
#include "hostshim/capture_loop.h"
#include "tests/xen/fake_xen_hypervisor.h"

namespace replink::xen {
namespace {

using testing::FakeGuestControl;
using testing::FakeXenHypervisor;

XenBackendOptions Options(XenCheckpointStyle style = XenCheckpointStyle::kPause) {
  XenBackendOptions o;
  o.domid = 7;
  o.name = "guest";
  o.style = style;
  o.timer_ns = 0;
  o.type_scan_batch = 100;
  return o;
}

std::vector<uint64_t> Dirty(const DirtyBitmap& d) {
  std::vector<uint64_t> v;
  d.ForEach([&](uint64_t g) { v.push_back(g); });
  return v;
}

TEST(XenBackend, RefusesPvGuests) {
  FakeXenHypervisor hv(7, 1000);
  hv.hvm = false;
  auto b = XenBackend::Create(hv, nullptr, nullptr, Options());
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().code, Errc::kUnsupported);
  EXPECT_NE(b.error().message.find("PV guest"), std::string::npos) << b.error().message;
}

TEST(XenBackend, RefusesMissingDomainAndSuspendWithoutControl) {
  FakeXenHypervisor hv(9, 1000);
  auto missing = XenBackend::Create(hv, nullptr, nullptr, Options());  // asks for 7, next is 9
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Errc::kInvalidArgument);
  FakeXenHypervisor hv7(7, 1000);
  auto no_control = XenBackend::Create(hv7, nullptr, nullptr, Options(XenCheckpointStyle::kSuspend));
  EXPECT_FALSE(no_control.ok());
}

TEST(XenBackend, DescribesGuestAndScansPopulatedRanges) {
  FakeXenHypervisor hv(7, 1000);  // 1000 gfns (not a multiple of 64)
  hv.MakeHole(100, 400);
  hv.MakeHole(990, 5);
  auto b = XenBackend::Create(hv, nullptr, nullptr, Options());
  ASSERT_TRUE(b.ok()) << b.error().Describe();
  GuestInfo info = (*b)->Describe();
  EXPECT_EQ(info.guest_pages, 1000u);
  EXPECT_EQ(info.vcpu_count, 2u);
  EXPECT_EQ(info.device_blobs, kXenDeviceBlobs);
  ASSERT_TRUE((*b)->StartDirtyTracking().ok());
  EXPECT_TRUE(hv.log_dirty());
  const auto& r = (*b)->populated();
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].first_gfn, 0u);
  EXPECT_EQ(r[0].count, 100u);
  EXPECT_EQ(r[1].first_gfn, 500u);
  EXPECT_EQ(r[1].count, 490u);
  EXPECT_EQ(r[2].first_gfn, 995u);
  EXPECT_EQ(r[2].count, 5u);
}

TEST(XenBackend, FirstCollectIsEveryPopulatedFrameThenOnlyDirtyOnes) {
  FakeXenHypervisor hv(7, 1000);
  hv.MakeHole(64, 900);
  auto b = XenBackend::Create(hv, nullptr, nullptr, Options());
  ASSERT_TRUE(b.ok());
  ASSERT_TRUE((*b)->StartDirtyTracking().ok());
  DirtyBitmap d;
  EXPECT_FALSE((*b)->CollectDirty(d).ok());  // not paused
  ASSERT_TRUE((*b)->Pause().ok());
  ASSERT_TRUE((*b)->CollectDirty(d).ok());
  EXPECT_EQ(d.Count(), 100u);  // 0..63 and 964..999; nothing past gfn 999 despite the bitmap's tail
  ASSERT_TRUE((*b)->Resume().ok());
  hv.Write(5, 1);
  hv.Write(999, 2);
  ASSERT_TRUE((*b)->Pause().ok());
  ASSERT_TRUE((*b)->CollectDirty(d).ok());
  EXPECT_EQ(Dirty(d), (std::vector<uint64_t>{5, 999}));
  ASSERT_TRUE((*b)->CollectDirty(d).ok());  // read-and-clear
  EXPECT_EQ(d.Count(), 0u);
  EXPECT_EQ(hv.pauses, 2u);
  EXPECT_EQ(hv.unpauses, 1u);
}

TEST(XenBackend, MapFailuresHolesAreZeroedTransientOnesDeferred) {
  FakeXenHypervisor hv(7, 256);
  for (uint64_t g = 0; g < 256; ++g) hv.Write(g, uint8_t(g + 1));
  auto b = XenBackend::Create(hv, nullptr, nullptr, Options());
  ASSERT_TRUE(b.ok());
  ASSERT_TRUE((*b)->StartDirtyTracking().ok());
  hv.MakeHole(10, 1);  // ballooned out after the scan
  hv.transient_failures[20] = 1;
  std::vector<uint64_t> gfns{9, 10, 20, 30};
  std::vector<std::vector<std::byte>> pages(4, std::vector<std::byte>(4096, std::byte{0xee}));
  std::vector<std::byte*> dsts;
  for (auto& p : pages) dsts.push_back(p.data());
  std::vector<uint64_t> deferred;
  ASSERT_TRUE((*b)->CopyPages(gfns, dsts, &deferred).ok());
  EXPECT_EQ(deferred, (std::vector<uint64_t>{20}));
  EXPECT_EQ(pages[0][0], std::byte{10});
  EXPECT_EQ(pages[1][0], std::byte{0});  // hole: zero
  EXPECT_EQ(pages[3][4095], std::byte{31});
  EXPECT_EQ((*b)->stats().holes_zeroed, 1u);
  EXPECT_EQ((*b)->stats().frames_deferred, 1u);
  // The retry succeeds.
  deferred.clear();
  ASSERT_TRUE((*b)->CopyPages(std::vector<uint64_t>{20}, std::vector<std::byte*>{pages[2].data()}, &deferred).ok());
  EXPECT_TRUE(deferred.empty());
  EXPECT_EQ(pages[2][0], std::byte{21});
  // Out-of-range gfns are an error, not a fault.
  EXPECT_FALSE((*b)->CopyPages(std::vector<uint64_t>{256}, std::vector<std::byte*>{pages[0].data()}, &deferred).ok());
}

TEST(XenBackend, StateBlobs) {
  FakeXenHypervisor hv(7, 300);
  hv.MakeHole(100, 100);
  auto b = XenBackend::Create(hv, nullptr, nullptr, Options());
  ASSERT_TRUE(b.ok());
  ASSERT_TRUE((*b)->StartDirtyTracking().ok());
  std::vector<std::byte> out(1 << 20);
  auto hvm = (*b)->ReadDeviceState(kDeviceHvmContext, out);
  ASSERT_TRUE(hvm.ok());
  EXPECT_EQ(*hvm, 1000u);
  auto platform = (*b)->ReadDeviceState(kDevicePlatform, out);
  ASSERT_TRUE(platform.ok());
  ASSERT_EQ(*platform, sizeof(XenPlatformBlob) + 2 * sizeof(XenHvmParamEntry));
  XenPlatformBlob p;
  std::memcpy(&p, out.data(), sizeof(p));
  EXPECT_EQ(p.magic, kPlatformMagic);
  EXPECT_EQ(p.xen_major, 4u);
  EXPECT_EQ(p.xen_minor, 17u);
  EXPECT_EQ(p.tsc_khz, 2000000u);
  EXPECT_EQ(p.param_count, 2u);
  XenHvmParamEntry e[2];
  std::memcpy(e, out.data() + sizeof(p), sizeof(e));
  EXPECT_EQ(e[0].index, 1u);
  EXPECT_EQ(e[0].value, 0xfeffcu);
  auto map = (*b)->ReadDeviceState(kDeviceMemoryMap, out);
  ASSERT_TRUE(map.ok());
  ASSERT_EQ(*map, sizeof(XenMemoryMapBlob) + 2 * sizeof(XenMemoryRange));
  XenMemoryMapBlob m;
  std::memcpy(&m, out.data(), sizeof(m));
  EXPECT_EQ(m.gpfn_count, 300u);
  EXPECT_EQ(m.range_count, 2u);
  EXPECT_FALSE((*b)->ReadDeviceState(3, out).ok());
  auto vcpu = (*b)->ReadVcpuState(1, out);
  ASSERT_TRUE(vcpu.ok());
  EXPECT_FALSE((*b)->ReadVcpuState(2, out).ok());
  EXPECT_FALSE((*b)->ReadDeviceState(kDeviceMemoryMap, std::span<std::byte>(out.data(), 30)).ok());
}

TEST(XenBackend, SuspendCheckpointsAreCancelledOnResume) {
  FakeXenHypervisor hv(7, 128);
  FakeGuestControl control(hv);
  auto o = Options(XenCheckpointStyle::kSuspend);
  auto b = XenBackend::Create(hv, &control, nullptr, o);
  ASSERT_TRUE(b.ok());
  ASSERT_TRUE((*b)->Pause().ok());
  EXPECT_EQ(control.requests, 1u);
  EXPECT_TRUE(hv.shutdown_suspend);
  ASSERT_TRUE((*b)->Resume().ok());
  EXPECT_EQ(hv.resumes, 1u);
  EXPECT_EQ(hv.pauses, 0u);
  // A guest that never suspends fails the checkpoint after the timeout, with a clear error.
  control.cooperative = false;
  o.suspend_timeout_ns = 20'000'000;
  auto stubborn = XenBackend::Create(hv, &control, nullptr, o);
  ASSERT_TRUE(stubborn.ok());
  auto r = (*stubborn)->Pause();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kTimeout);
}

TEST(XenBackend, TimerEventsWithoutIo) {
  FakeXenHypervisor hv(7, 128);
  auto o = Options();
  o.timer_ns = 20'000'000;
  auto b = XenBackend::Create(hv, nullptr, nullptr, o);
  ASSERT_TRUE(b.ok());
  ASSERT_TRUE((*b)->StartDirtyTracking().ok());
  std::optional<IoEvent> ev;
  for (int i = 0; i < 100 && !ev; ++i) {
    auto r = (*b)->WaitIoEvent(5'000'000);
    ASSERT_TRUE(r.ok());
    ev = *r;
  }
  ASSERT_TRUE(ev.has_value());
  EXPECT_EQ(ev->trigger, EpochTrigger::kTimer);
  EXPECT_FALSE(ev->has_disk_write);
  EXPECT_TRUE((*b)->ReleaseIo(*ev).ok());
}

// The capture loop over the Xen backend, against the network-less verifying consumer: the replica must
// equal the fake guest's memory at every commit, with batches of copy_batch frames, holes and frames
// that fail to map a few times.
TEST(XenBackend, CaptureLoopReplicatesWithBatchesHolesAndDeferredFrames) {
  constexpr uint64_t kGpfns = 2048;
  FakeXenHypervisor hv(7, kGpfns);
  for (uint64_t g = 0; g < kGpfns; ++g) hv.Write(g, uint8_t(g * 7 + 1));
  hv.MakeHole(1500, 300);
  for (uint64_t g = 1500; g < 1800; ++g) ASSERT_EQ(hv.memory()[g * 4096], std::byte(uint8_t(g * 7 + 1)));
  FakeGuestControl control(hv);
  auto o = Options(XenCheckpointStyle::kSuspend);
  o.timer_ns = 1'000'000;
  auto backend = XenBackend::Create(hv, &control, nullptr, o);
  ASSERT_TRUE(backend.ok());
  // Holes read as zero in the replica: make the fake's memory agree before comparing.
  for (uint64_t g = 1500; g < 1800; ++g) hv.Write(g, 0);

  CaptureRingParams p;
  p.vm_id = 5;
  p.vm_name = "xen";
  p.guest_pages = kGpfns;
  p.vcpu_count = 2;
  p.device_count = kXenDeviceBlobs;
  p.slot_count = 512;
  p.sq_entries = 4096;
  p.prefer_hugetlb = false;
  auto ring = CaptureRingWriter::Create(p);
  ASSERT_TRUE(ring.ok()) << ring.error().Describe();
  auto region = SharedRegion::Attach(dup(ring->region().fd()));
  ASSERT_TRUE(region.ok());
  auto reader = CaptureRingReader::Attach(std::move(region).value());
  ASSERT_TRUE(reader.ok()) << reader.error().Describe();
  auto cache = codec::DeltaCache::Create(16);
  ASSERT_TRUE(cache.ok());
  std::atomic<bool> stop{false};
  std::string consumer_error;
  // Strict mode: the guest is stopped while the consumer compares, so the comparison is race-free.
  EpochVerifier verifier(*reader, codec::PageEncoder(std::move(cache).value()), codec::CodecSetting::kAuto,
                         hv.memory());
  std::thread consumer([&] {
    while (!stop.load()) {
      auto s = verifier.Poll();
      if (!s.ok()) {
        consumer_error = s.error().Describe();
        return;
      }
      std::this_thread::yield();
    }
  });
  hv.transient_failures[3] = 2;
  hv.transient_failures[700] = 1;
  CaptureLoopOptions lo;
  lo.mode = SyncMode::kStrict;
  lo.copy_batch = 100;
  CaptureLoop loop(**backend, *ring, lo);
  uint64_t step = 0;
  loop.on_epoch = [&](const CaptureStats&) {
    // The "guest" runs between epochs: dirty a few frames, including a retried one.
    for (uint64_t g : {3ull, 64ull, 700ull + step % 5, 2047ull}) hv.Write(g, uint8_t(step + g));
    if (step == 2) hv.transient_failures[64] = 1;
    ++step;
  };
  auto r = loop.Run(6, {});
  stop.store(true);
  consumer.join();
  ASSERT_TRUE(r.ok()) << r.error().Describe();
  EXPECT_TRUE(consumer_error.empty()) << consumer_error;
  EXPECT_EQ(loop.stats().committed, 6u);
  EXPECT_EQ(verifier.stats().memory_mismatches, 0u);
  EXPECT_GT(verifier.stats().pages_compared, 0u);
  EXPECT_GE(loop.stats().deferred_pages, 3u);
  EXPECT_GE((*backend)->stats().frames_deferred, 3u);
  EXPECT_EQ((*backend)->stats().suspends, 6u);
  for (std::size_t n : hv.map_batches) EXPECT_LE(n, 100u);
  // Every populated frame once, then the 4 frames dirtied between each pair of epochs.
  EXPECT_EQ(loop.stats().pages, (kGpfns - 300) + 5 * 4);
}

}  // namespace
}  // namespace replink::xen
