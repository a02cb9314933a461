// vCPU save/restore round trip in another process: a ledger guest is stopped at an I/O, its memory,
// vCPU blob and device blob are written to files, and a child process (this binary, `--child`)
// resumes it in a fresh VM. Parent and child then run the same number of I/O events: the output they
// emit and the memory and registers they end with must be identical (the guest is deterministic).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <iterator>

#include "hostshim/kvm/vcpu_state_blob.h"
#include "tests/kvm/kvm_test_support.h"

namespace replink::kvm {
namespace {

constexpr int kEventsAfter = 30;

KvmGuestSpec Spec() {
  KvmGuestSpec s;
  s.memory_bytes = 8u << 20;
  s.disk_sectors = 2048;
  s.output_fd = s.console_fd = -1;
  s.keep_output = true;
  return s;
}

Result<void> WriteFile(const std::string& path, std::span<const std::byte> bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!f) return MakeError(Errc::kIo, "cannot write {}", path);
  return Ok();
}

std::vector<std::byte> ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::vector<char> c((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::vector<std::byte> out(c.size());
  std::memcpy(out.data(), c.data(), c.size());
  return out;
}

// Releases events until the n-th (counted from 1) arrives, then stops the guest at it.
Result<IoEvent> RunEvents(KvmBackend& k, int n) {
  for (int i = 1;; ++i) {
    REPLINK_ASSIGN_OR_RETURN(std::optional<IoEvent> ev, k.WaitIoEvent(10'000'000'000ULL));
    if (!ev) return MakeError(Errc::kTimeout, "no I/O event {} within 10 s", i);
    if (i == n) {
      REPLINK_TRY(k.Pause());
      return *ev;
    }
    REPLINK_TRY(k.ReleaseIo(*ev));
  }
}

Result<void> SaveSnapshot(KvmBackend& k, const std::string& dir, const std::string& prefix) {
  std::vector<std::byte> blob(1u << 20);
  REPLINK_TRY(WriteFile(dir + "/" + prefix + ".mem", {k.memory(), k.memory_bytes()}));
  REPLINK_ASSIGN_OR_RETURN(std::size_t n, k.ReadVcpuState(0, blob));
  REPLINK_TRY(WriteFile(dir + "/" + prefix + ".vcpu", {blob.data(), n}));
  REPLINK_ASSIGN_OR_RETURN(std::size_t d, k.ReadDeviceState(0, blob));
  REPLINK_TRY(WriteFile(dir + "/" + prefix + ".dev", {blob.data(), d}));
  std::string out = k.released_output();
  return WriteFile(dir + "/" + prefix + ".out", std::as_bytes(std::span(out.data(), out.size())));
}

TEST(KvmVcpuRestore, ResumesExactlyInAnotherProcess) {
  testing::TempDir dir;
  ASSERT_FALSE(dir.path.empty());
  auto b = testing::BootGuest("ledger", Spec(), {32, 500, 0});
  ASSERT_TRUE(b.ok()) << b.error().Describe();
  KvmBackend& k = **b;
  auto held = RunEvents(k, 25);  // mid-run, stopped at an I/O that has not taken effect
  ASSERT_TRUE(held.ok()) << held.error().Describe();
  ASSERT_TRUE(SaveSnapshot(k, dir.path, "snap").ok());
  std::size_t output_at_snapshot = k.released_output().size();

  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    execl("/proc/self/exe", "vcpu_restore_test", "--child", dir.path.c_str(), nullptr);
    _exit(127);
  }
  // Meanwhile the original goes on from the same point.
  ASSERT_TRUE(k.Resume().ok());
  ASSERT_TRUE(k.ReleaseIo(*held).ok());
  auto end = RunEvents(k, kEventsAfter);
  ASSERT_TRUE(end.ok()) << end.error().Describe();
  ASSERT_TRUE(SaveSnapshot(k, dir.path, "parent").ok());

  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0) << "the child failed to restore or run (see its stderr)";

  std::string parent_out = k.released_output().substr(output_at_snapshot);
  auto child_out = ReadFile(dir.path + "/child.out");
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(child_out.data()), child_out.size()), parent_out);
  EXPECT_FALSE(parent_out.empty());
  auto parent_mem = ReadFile(dir.path + "/parent.mem");
  auto child_mem = ReadFile(dir.path + "/child.mem");
  ASSERT_EQ(parent_mem.size(), child_mem.size());
  std::size_t differing = 0;
  for (std::size_t p = 0; p < parent_mem.size(); p += 4096)
    differing += std::memcmp(parent_mem.data() + p, child_mem.data() + p, 4096) != 0;
  EXPECT_EQ(differing, 0u) << "pages differ between the original and the restored guest";
  auto pv = SummarizeVcpuBlob(ReadFile(dir.path + "/parent.vcpu"));
  auto cv = SummarizeVcpuBlob(ReadFile(dir.path + "/child.vcpu"));
  ASSERT_TRUE(pv.ok() && cv.ok());
  EXPECT_EQ(pv->rip, cv->rip);
  EXPECT_EQ(pv->rsp, cv->rsp);
}

}  // namespace
}  // namespace replink::kvm

// The child: restore the snapshot in a fresh VM, run the same number of events, save the result.
int KvmTestChildMain(int argc, char** argv) {
  using namespace replink::kvm;
  if (argc < 3) return 2;
  std::string dir = argv[2];
  auto mem = ReadFile(dir + "/snap.mem");
  auto vcpu = ReadFile(dir + "/snap.vcpu");
  auto dev = ReadFile(dir + "/snap.dev");
  auto b = KvmBackend::Restore(Spec(), mem, vcpu, dev);
  if (!b.ok()) {
    fmt::print(stderr, "child: {}\n", b.error().Describe());
    return 1;
  }
  auto end = RunEvents(**b, kEventsAfter);
  if (!end.ok()) {
    fmt::print(stderr, "child: {}\n", end.error().Describe());
    return 1;
  }
  auto saved = SaveSnapshot(**b, dir, "child");
  if (!saved.ok()) {
    fmt::print(stderr, "child: {}\n", saved.error().Describe());
    return 1;
  }
  return 0;
}
