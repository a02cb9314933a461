// The KVM runner by itself: the guests boot at CPL3, the block device and the output port work, the
// dirty log (ring and bitmap) reports what the guest wrote, and the state blobs reject bad input.
#include <gtest/gtest.h>

#include <cstring>

#include "guests/churn_format.h"
#include "hostshim/kvm/device_state_blob.h"
#include "hostshim/kvm/kvm_shim.h"
#include "hostshim/kvm/vcpu_state_blob.h"
#include "tests/kvm/kvm_test_support.h"

namespace replink::kvm {
namespace {

using testing::BootGuest;

KvmGuestSpec QuietSpec(uint64_t mib = 8) {
  KvmGuestSpec s;
  s.memory_bytes = mib << 20;
  s.disk_sectors = 2048;
  s.output_fd = -1;
  s.console_fd = -1;
  s.keep_output = true;
  return s;
}

TEST(KvmRunner, LedgerRunsUnprotectedWritesItsLogAndKeepsTheInvariant) {
  auto b = BootGuest("ledger", QuietSpec(), {16, 1000, 40});
  ASSERT_TRUE(b.ok()) << b.error().Describe();
  ASSERT_TRUE(RunUnprotected(**b, nullptr).ok());
  EXPECT_TRUE((*b)->finished());
  EXPECT_EQ((*b)->exit_status(), 0u) << (*b)->console_output();
  auto receipts = testing::ParseReceipts((*b)->released_output());
  ASSERT_TRUE(receipts.ok());
  ASSERT_EQ(receipts->size(), 40u);
  for (std::size_t i = 0; i < receipts->size(); ++i) {
    EXPECT_EQ((*receipts)[i].seq, i + 1);
    EXPECT_EQ((*receipts)[i].total, 16000u);
  }
  EXPECT_EQ((*b)->released_ios(), 80u);  // one log write and one receipt per transaction

  std::vector<std::byte> disk(2048 * 512);
  ASSERT_TRUE((*b)->ReadDisk(0, 0, disk).ok());
  std::vector<ledger_record> records;
  auto balances = testing::ReplayLedgerLog(disk, 16, 1000, 40, &records);
  ASSERT_TRUE(balances.ok()) << balances.error().Describe();
  const ledger_state* s = testing::LedgerState((*b)->memory());
  EXPECT_EQ(s->applied_seq, 40u);
  for (uint64_t i = 0; i < 16; ++i) EXPECT_EQ(s->balance[i], (*balances)[i]) << "account " << i;
  for (std::size_t i = 0; i < records.size(); ++i) {
    EXPECT_EQ(records[i].from, (*receipts)[i].from);
    EXPECT_EQ(records[i].amount, (*receipts)[i].amount);
  }
}

// Each round of churn dirties `per_round` known frames; both dirty-log mechanisms must report them.
void CheckChurnDirtySets(DirtyLogMode mode) {
  KvmGuestSpec spec = QuietSpec();
  spec.dirty_log = mode;
  auto b = BootGuest("churn", spec, {256, 16, 0, 40});
  ASSERT_TRUE(b.ok()) << b.error().Describe();
  KvmBackend& k = **b;
  ASSERT_EQ(k.dirty_log(), mode);
  ASSERT_TRUE(k.StartDirtyTracking().ok());
  DirtyBitmap dirty;
  uint64_t cursor = 0;
  for (int round = 1; round <= 40; ++round) {
    auto ev = k.WaitIoEvent(5'000'000'000ULL);
    ASSERT_TRUE(ev.ok()) << ev.error().Describe();
    ASSERT_TRUE(ev->has_value()) << "round " << round;
    ASSERT_TRUE(k.Pause().ok());
    ASSERT_TRUE(k.CollectDirty(dirty).ok());
    if (round == 1) {
      EXPECT_EQ(dirty.Count(), dirty.pages());  // the first collection is everything
    } else {
      for (int i = 0; i < 16; ++i, ++cursor) {
        uint64_t gfn = CHURN_WORKING_SET_GPA / 4096 + cursor % 256;
        EXPECT_TRUE(dirty.Test(gfn)) << "round " << round << " gfn " << gfn;
      }
      // The frames plus the state page, the stack and the device page (a page the guest only read may
      // show once after the first collection: a safe superset).
      if (round > 2) {
        EXPECT_LT(dirty.Count(), 16u + 8u);
      }
    }
    if (round == 1) cursor += 16;
    ASSERT_TRUE(k.Resume().ok());
    ASSERT_TRUE(k.ReleaseIo(**ev).ok());
  }
}

TEST(KvmRunner, DirtyRingReportsTheWrittenFrames) { CheckChurnDirtySets(DirtyLogMode::kRing); }
TEST(KvmRunner, DirtyBitmapReportsTheWrittenFrames) { CheckChurnDirtySets(DirtyLogMode::kBitmap); }

TEST(KvmRunner, GuestFaultIsReportedNotFatal) {
  // An image that jumps to an unmapped address (above 4 GiB): the guest dies, the host reports it.
  std::vector<std::byte> image(16);
  const unsigned char code[] = {0x48, 0xb8, 0, 0, 0, 0, 0x10, 0, 0, 0, 0xff, 0xe0};  // mov rax, 1<<36; jmp rax
  std::memcpy(image.data(), code, sizeof code);
  rg_boot_params p{};
  auto b = KvmBackend::Boot(QuietSpec(), image, p);
  ASSERT_TRUE(b.ok());
  auto ev = (*b)->WaitIoEvent(5'000'000'000ULL);
  EXPECT_FALSE(ev.ok());
}

TEST(KvmStateBlobs, VcpuBlobRejectsDamage) {
  auto b = BootGuest("churn", QuietSpec(), {64, 4, 0, 3});
  ASSERT_TRUE(b.ok());
  ASSERT_TRUE((*b)->StartDirtyTracking().ok());
  auto ev = (*b)->WaitIoEvent(5'000'000'000ULL);
  ASSERT_TRUE(ev.ok() && ev->has_value());
  ASSERT_TRUE((*b)->Pause().ok());
  std::vector<std::byte> blob(1u << 20);
  auto n = (*b)->ReadVcpuState(0, blob);
  ASSERT_TRUE(n.ok()) << n.error().Describe();
  blob.resize(*n);
  auto summary = SummarizeVcpuBlob(blob);
  ASSERT_TRUE(summary.ok());
  EXPECT_GE(summary->rip, RG_IMAGE_GPA);
  // Every truncation and a sample of single-byte changes in the framing must be refused or decode to
  // the same sizes: never read outside the blob (ASan watches).
  for (std::size_t len = 0; len < blob.size(); len += 97) EXPECT_FALSE(SummarizeVcpuBlob({blob.data(), len}).ok());
  for (std::size_t off : {0, 8, 12, 16, 20, 32, 36}) {
    std::vector<std::byte> bad = blob;
    bad[off] ^= std::byte{0x41};
    EXPECT_FALSE(SummarizeVcpuBlob(bad).ok()) << "offset " << off;
  }
}

TEST(KvmStateBlobs, DeviceBlobRoundTripAndDamage) {
  std::deque<HeldBlockWrite> writes;
  writes.push_back(HeldBlockWrite{1, 7, 33, std::vector<std::byte>(1024)});
  std::deque<HeldOutput> outputs;
  for (int i = 0; i < 3; ++i) outputs.push_back(HeldOutput{uint64_t(i), uint64_t(10 + i), std::vector<std::byte>(5 + i, std::byte{'x'})});
  std::vector<std::byte> blob(4096);
  auto n = SaveDeviceState(writes, outputs, blob);
  ASSERT_TRUE(n.ok());
  blob.resize(*n);
  auto parsed = ParseDeviceState(blob);
  ASSERT_TRUE(parsed.ok()) << parsed.error().Describe();
  ASSERT_EQ(parsed->writes.size(), 1u);
  EXPECT_EQ(parsed->writes[0].request_no, 7u);
  EXPECT_EQ(parsed->writes[0].sector, 33u);
  ASSERT_EQ(parsed->outputs.size(), 3u);
  EXPECT_EQ(parsed->outputs[2].message_no, 12u);
  EXPECT_EQ(parsed->outputs[2].bytes.size(), 7u);
  for (std::size_t len = 0; len < blob.size(); ++len) EXPECT_FALSE(ParseDeviceState({blob.data(), len}).ok());
  for (std::size_t off = 0; off < blob.size(); ++off) {
    std::vector<std::byte> bad = blob;
    bad[off] ^= std::byte{0xff};
    (void)ParseDeviceState(bad);  // may be accepted (message bytes) but must not crash or overread
  }
}

}  // namespace
}  // namespace replink::kvm
