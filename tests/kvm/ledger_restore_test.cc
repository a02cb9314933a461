// Failover without the network: a ledger guest runs under the capture loop (pipelined) while a
// consumer commits every epoch into a real replica directory (EpochStager + ReplicaStore). Then the
// primary is gone, and the guest is restored from the replica — in this process through the library
// and in another one through `replink-shim --backend kvm --restore` — and runs to its end. The sum of
// balances must never change, the disk log must replay to the balances in memory, and the receipts
// must continue the primary's without a gap (repeats at the switch are allowed and identical).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "hostshim/capture_loop.h"
#include "hostshim/kvm/kvm_restore.h"
#include "hostshim/kvm/kvm_shim.h"
#include "tests/kvm/kvm_test_support.h"

namespace replink::kvm {
namespace {

constexpr uint64_t kAccounts = 64, kInitial = 1000, kTransactions = 200;

struct Primary {
  std::string receipts;  // what the primary released before it died
  uint64_t committed_epoch = 0;
};

void RunPrimary(const std::string& replica_dir, Primary* out) {
  KvmGuestSpec spec;
  spec.memory_bytes = 8u << 20;
  spec.disk_sectors = 2048;
  spec.output_fd = spec.console_fd = -1;
  spec.keep_output = true;
  auto b = testing::BootGuest("ledger", spec, {kAccounts, kInitial, kTransactions});
  ASSERT_TRUE(b.ok()) << b.error().Describe();
  KvmBackend& guest = **b;
  auto h = testing::RingHarness::Create(guest.Describe(), 1024);
  ASSERT_NE(h, nullptr);
  auto writer = testing::RingReplicaWriter::Open(*h->reader, replica_dir, guest.Describe());
  ASSERT_TRUE(writer.ok()) << writer.error().Describe();
  h->Start([&]() -> Result<bool> { return (*writer)->Poll(); });
  CaptureLoopOptions o;
  o.mode = SyncMode::kPipelined;
  o.max_inflight_epochs = 8;
  CaptureLoop loop(guest, *h->ring, o);
  auto run = loop.Run(150, nullptr);  // about 75 of the 200 transactions
  ASSERT_TRUE(run.ok()) << run.error().Describe();
  h->Stop();
  ASSERT_EQ(h->consumer_error, "");
  EXPECT_EQ(loop.stats().committed, 150u);
  out->committed_epoch = (*writer)->committed_epoch();
  ASSERT_TRUE((*writer)->Close().ok());
  out->receipts = guest.released_output();
  // The primary dies here (the backend and its VM are destroyed with `b`).
}

// Receipts of the restored guest continue the primary's: no gap, identical repeats.
void CheckContinuation(const std::vector<testing::Receipt>& primary, const std::vector<testing::Receipt>& restored) {
  ASSERT_FALSE(restored.empty());
  uint64_t last_primary = primary.empty() ? 0 : primary.back().seq;
  EXPECT_LE(restored.front().seq, last_primary + 1) << "receipts lost at the failover";
  for (std::size_t i = 1; i < restored.size(); ++i) ASSERT_EQ(restored[i].seq, restored[i - 1].seq + 1);
  EXPECT_EQ(restored.back().seq, kTransactions);
  for (const testing::Receipt& r : restored) {
    EXPECT_EQ(r.total, kAccounts * kInitial);
    if (r.seq <= last_primary) {
      EXPECT_EQ(r.line, primary[r.seq - 1].line) << "a repeated receipt changed";
    }
  }
}

std::string CopyDisk(const std::string& replica_dir, const std::string& to) {
  std::filesystem::copy_file(replica_dir + "/disk0.img", to, std::filesystem::copy_options::overwrite_existing);
  return to;
}

TEST(KvmLedgerRestore, InvariantAndLogReplayAfterRestore) {
  testing::TempDir dir;
  ASSERT_FALSE(dir.path.empty());
  std::string replica_dir = dir.path + "/replica";
  Primary primary;
  RunPrimary(replica_dir, &primary);
  if (HasFatalFailure()) return;
  auto primary_receipts = testing::ParseReceipts(primary.receipts);
  ASSERT_TRUE(primary_receipts.ok());
  ASSERT_GT(primary_receipts->size(), 10u);

  // --- restore through the library, in this process ---
  KvmGuestSpec spec;
  spec.output_fd = spec.console_fd = -1;
  spec.keep_output = true;
  spec.disk_path = CopyDisk(replica_dir, dir.path + "/restored.disk");
  auto restored = RestoreFromReplica(replica_dir, spec);
  ASSERT_TRUE(restored.ok()) << restored.error().Describe();
  EXPECT_EQ(restored->epoch, primary.committed_epoch);
  KvmBackend& guest = *restored->backend;
  ASSERT_TRUE(RunUnprotected(guest, nullptr).ok());
  ASSERT_TRUE(guest.finished());
  EXPECT_EQ(guest.exit_status(), 0u) << guest.console_output();
  auto receipts = testing::ParseReceipts(guest.released_output());
  ASSERT_TRUE(receipts.ok());
  CheckContinuation(*primary_receipts, *receipts);

  const ledger_state* s = testing::LedgerState(guest.memory());
  ASSERT_EQ(s->applied_seq, kTransactions);
  int64_t total = 0;
  for (uint64_t i = 0; i < kAccounts; ++i) total += s->balance[i];
  EXPECT_EQ(total, int64_t(kAccounts * kInitial));
  std::vector<std::byte> disk(2048 * 512);
  ASSERT_TRUE(guest.ReadDisk(0, 0, disk).ok());
  auto replayed = testing::ReplayLedgerLog(disk, kAccounts, kInitial, kTransactions, nullptr);
  ASSERT_TRUE(replayed.ok()) << replayed.error().Describe();
  for (uint64_t i = 0; i < kAccounts; ++i) EXPECT_EQ((*replayed)[i], s->balance[i]) << "account " << i;

  // --- restore through the CLI, in another process ---
  const char* shim = std::getenv("REPLINK_SHIM");
  if (shim == nullptr) GTEST_SKIP() << "REPLINK_SHIM not set (run through meson test)";
  std::string disk2 = CopyDisk(replica_dir, dir.path + "/cli.disk");
  std::string cmd = fmt::format("{} --backend kvm --restore {} --disk {} --unprotected --vm-name ledger 2>/dev/null",
                                shim, replica_dir, disk2);
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  while (std::size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int status = pclose(p);
  ASSERT_EQ(status, 0) << out;
  auto cli_receipts = testing::ParseReceipts(out);
  ASSERT_TRUE(cli_receipts.ok());
  CheckContinuation(*primary_receipts, *cli_receipts);
  ASSERT_EQ(cli_receipts->size(), receipts->size());
  for (std::size_t i = 0; i < receipts->size(); ++i) EXPECT_EQ((*cli_receipts)[i].line, (*receipts)[i].line);
  EXPECT_NE(out.find("restored from"), std::string::npos) << out;
}

}  // namespace
}  // namespace replink::kvm
