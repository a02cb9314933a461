// Two processes: a shim (child) registers a region over the Unix socket with SCM_RIGHTS and writes
// epochs, sleeping on the doorbell for completions; the dataplane side (parent) attaches, validates,
// and completes each epoch. Also checks the eventfd wake-up for a sleeping dataplane.
#include <gtest/gtest.h>

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "capture/capture_ring_reader.h"
#include "capture/capture_ring_writer.h"
#include "capture/registration.h"

namespace replink {
namespace {

constexpr int kEpochs = 300;

int RunShim(const std::string& path) {
  CaptureRingParams p;
  p.vm_id = 11;
  p.vm_name = "ipc";
  p.guest_pages = 4096;
  p.slot_count = 256;
  p.sq_entries = 512;
  p.cq_entries = 64;
  p.prefer_hugetlb = false;
  auto w = CaptureRingWriter::Create(p);
  if (!w.ok()) return 10;
  UniqueFd efd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  registration_abi::RegisterRequest req{};
  req.magic = registration_abi::kMagic;
  req.abi_major = capture_abi::kAbiMajor;
  req.abi_minor = capture_abi::kAbiMinor;
  req.type = static_cast<uint32_t>(registration_abi::MessageType::kRegister);
  req.fd_roles = registration_abi::kFdRegion | registration_abi::kFdDoorbellEventfd;
  req.vm_id = 11;
  req.region_bytes = w->region().size();
  int fds[] = {w->region().fd(), efd.get()};
  Result<ShimRegistration> reg = MakeError(Errc::kClosed, "not yet");
  for (int i = 0; i < 100 && !reg.ok(); ++i) {
    reg = RegisterWithDataplane(path, req, fds, 2000);
    if (!reg.ok()) usleep(10000);
  }
  if (!reg.ok()) return 11;
  w->SetDataplaneEventfd(efd.get());
  for (uint64_t e = 1; e <= kEpochs; ++e) {
    if (!w->BeginEpoch(e, EpochTrigger::kDiskWrite, e).ok()) return 12;
    for (uint64_t i = 0; i < 1 + e % 40; ++i) {
      auto slot = w->ReservePageSlot(2'000'000'000);
      if (!slot.ok()) return 13;
      std::memset(slot->data(), static_cast<int>(e + i), kPageSize);
      if (!w->CommitReservedPage((e * 7 + i) % 4096).ok()) return 14;
    }
    if (!w->EndEpoch(2'000'000'000).ok()) return 15;
    // Strict mode: wait for the commit before the next epoch (sleeps on the doorbell).
    capture_abi::CaptureCompletion c{};
    while (w->PollCompletions({&c, 1}) == 0) {
      if (!w->WaitForCompletion(2'000'000'000)) return 16;
    }
    if (c.epoch != e || c.status != static_cast<uint32_t>(capture_abi::CompletionStatus::kCommitted)) return 17;
  }
  return 0;
}

TEST(CaptureIpc, ShimAndDataplaneInTwoProcesses) {
  std::string path = fmt::format("/tmp/replink-capture-ipc-{}.sock", getpid());
  auto listener = RegistrationListener::Listen(path);
  ASSERT_TRUE(listener.ok()) << listener.error().Describe();
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) _exit(RunShim(path));

  UniqueFd conn;
  for (int i = 0; i < 500 && !conn.valid(); ++i) {
    auto a = listener->Accept();
    ASSERT_TRUE(a.ok());
    conn = std::move(a).value();
    if (!conn.valid()) usleep(10000);
  }
  ASSERT_TRUE(conn.valid());
  auto in = ReceiveRegistration(conn.get(), 5000);
  ASSERT_TRUE(in.ok()) << in.error().Describe();
  EXPECT_EQ(in->request.vm_id, 11u);
  ASSERT_TRUE(in->doorbell_eventfd.valid());
  auto region = SharedRegion::Attach(in->region.release());
  ASSERT_TRUE(region.ok());
  auto reader = CaptureRingReader::Attach(std::move(region).value());
  ASSERT_TRUE(reader.ok()) << reader.error().Describe();
  ASSERT_TRUE(SendReply(conn.get(), 11, Ok()).ok());

  int committed = 0;
  int eventfd_wakeups = 0;
  CaptureRecord recs[64];
  while (committed < kEpochs) {
    auto n = reader->Poll(recs);
    ASSERT_TRUE(n.ok()) << n.error().Describe();
    if (*n == 0) {
      // Idle: announce sleep, then wait on the shim's eventfd (what a dataplane worker does).
      reader->SetSleeping(true);
      if (reader->pending_descriptors() == 0) {
        pollfd p{in->doorbell_eventfd.get(), POLLIN, 0};
        if (poll(&p, 1, 100) == 1) {
          uint64_t v;
          ASSERT_EQ(read(in->doorbell_eventfd.get(), &v, sizeof(v)), 8);
          ++eventfd_wakeups;
        }
      }
      reader->SetSleeping(false);
      continue;
    }
    for (std::size_t i = 0; i < *n; ++i) {
      const CaptureRecord& r = recs[i];
      if (r.type == RecordType::kPage) {
        auto page = reader->Slot(r.slot_cursor);
        EXPECT_EQ(page[0], page[kPageSize - 1]);
      }
      if (r.type == RecordType::kEpochEnd) {
        reader->ReleaseSlotsThrough(reader->slots_consumed());
        ASSERT_TRUE(reader->Complete(r.epoch, capture_abi::CompletionStatus::kCommitted).ok());
        ++committed;
      }
    }
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(reader->counters().epochs, static_cast<uint64_t>(kEpochs));
  EXPECT_GT(eventfd_wakeups, 0);  // the shim did wake a sleeping dataplane
}

TEST(CaptureIpc, MalformedRegistrationIsRefused) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
  UniqueFd a(sv[0]), b(sv[1]);
  // Wrong size.
  char junk[17] = {};
  ASSERT_TRUE(SendWithFds(a.get(), std::as_bytes(std::span(junk)), {}).ok());
  EXPECT_EQ(ReceiveRegistration(b.get(), 1000).error().code, Errc::kCorrupt);
  // Announces two fds, sends one.
  registration_abi::RegisterRequest req{};
  req.magic = registration_abi::kMagic;
  req.abi_major = capture_abi::kAbiMajor;
  req.type = static_cast<uint32_t>(registration_abi::MessageType::kRegister);
  req.fd_roles = registration_abi::kFdRegion | registration_abi::kFdGuestMemory;
  int one[] = {a.get()};
  ASSERT_TRUE(SendWithFds(a.get(), std::as_bytes(std::span(&req, 1)), one).ok());
  EXPECT_EQ(ReceiveRegistration(b.get(), 1000).error().code, Errc::kCorrupt);
  // Newer major ABI.
  req.fd_roles = registration_abi::kFdRegion;
  req.abi_major = capture_abi::kAbiMajor + 1;
  ASSERT_TRUE(SendWithFds(a.get(), std::as_bytes(std::span(&req, 1)), one).ok());
  EXPECT_EQ(ReceiveRegistration(b.get(), 1000).error().code, Errc::kVersionMismatch);
  // Peer gone.
  a.reset();
  EXPECT_EQ(ReceiveRegistration(b.get(), 1000).error().code, Errc::kClosed);
}

}  // namespace
}  // namespace replink
