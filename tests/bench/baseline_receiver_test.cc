// The Remus-style baseline's receiver treats its TCP stream as untrusted: every malformed message
// ends the connection with an error and a count, never a crash or an out-of-bounds write; a
// well-formed epoch commits and is acknowledged. Runs the real ServeConnection over a socketpair.
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "bench/remus/baseline_receiver.h"
#include "bench/remus/baseline_socket_io.h"
#include "bench/remus/baseline_wire.h"

namespace replink::bench::remus {
namespace {

constexpr uint64_t kGuestPages = 64;

struct Message {
  EpochHeader header{kEpochMagic, kWireVersion, 0, 1, 0, 0, 0, 0, 0, 0, 0};
  std::vector<uint64_t> gfns;
  std::vector<std::byte> tail;  // pages, blobs, disk write as raw bytes

  std::vector<std::byte> Bytes() const {
    std::vector<std::byte> out(sizeof(header));
    std::memcpy(out.data(), &header, sizeof(header));
    auto* g = reinterpret_cast<const std::byte*>(gfns.data());
    out.insert(out.end(), g, g + gfns.size() * sizeof(uint64_t));
    out.insert(out.end(), tail.begin(), tail.end());
    return out;
  }
};

Message OnePageEpoch(uint64_t epoch, uint64_t gfn) {
  Message m;
  m.header.epoch = epoch;
  m.header.page_count = 1;
  m.header.blob_count = 1;
  m.gfns = {gfn};
  m.tail.assign(kPageSize, std::byte{0x5a});
  BlobHeader b{static_cast<uint16_t>(RecordType::kVcpuState), 0, 100};
  auto* bp = reinterpret_cast<const std::byte*>(&b);
  m.tail.insert(m.tail.end(), bp, bp + sizeof(b));
  m.tail.insert(m.tail.end(), 100, std::byte{1});
  return m;
}

class BaselineReceiverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("replink-baseline-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    options_.directory = dir_.string();
    options_.geometry.vm_id = 1;
    options_.geometry.guest_pages = kGuestPages;
    options_.geometry.vcpu_slots = 1;
    options_.geometry.device_slots = 0;
    options_.geometry.max_blob_bytes = 4096;
    options_.geometry.disk_sectors = {1024};
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Sends `bytes` then closes; returns the receiver's result and the acks it wrote.
  Result<ReceiverCounters> Serve(const std::vector<std::byte>& bytes, std::vector<Ack>* acks) {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    Result<ReceiverCounters> result = MakeError(Errc::kState, "not run");
    std::thread receiver([&] { result = ServeConnection(fds[1], options_); });
    (void)WriteExact(fds[0], bytes);
    ::shutdown(fds[0], SHUT_WR);
    receiver.join();
    ::close(fds[1]);
    Ack ack;
    while (::read(fds[0], &ack, sizeof(ack)) == static_cast<ssize_t>(sizeof(ack))) acks->push_back(ack);
    ::close(fds[0]);
    return result;
  }

  std::filesystem::path dir_;
  ReceiverOptions options_;
};

TEST_F(BaselineReceiverTest, CommitsAndAcknowledgesWellFormedEpochs) {
  auto bytes = OnePageEpoch(1, 3).Bytes();
  auto second = OnePageEpoch(2, 63).Bytes();
  bytes.insert(bytes.end(), second.begin(), second.end());
  std::vector<Ack> acks;
  auto r = Serve(bytes, &acks);
  ASSERT_TRUE(r.ok()) << r.error().Describe();
  EXPECT_EQ(r->epochs, 2u);
  EXPECT_EQ(r->rejected, 0u);
  ASSERT_EQ(acks.size(), 2u);
  EXPECT_EQ(acks[1].epoch, 2u);
  EXPECT_EQ(acks[1].magic, kAckMagic);
}

TEST_F(BaselineReceiverTest, RejectsMalformedMessagesWithoutCrashing) {
  struct Case {
    const char* what;
    void (*mutate)(Message&);
  };
  const Case cases[] = {
      {"bad magic", [](Message& m) { m.header.magic = 0; }},
      {"future version", [](Message& m) { m.header.version = 9; }},
      {"epoch gap", [](Message& m) { m.header.epoch = 5; }},
      {"more pages than the guest", [](Message& m) { m.header.page_count = kGuestPages + 1; }},
      {"gfn outside the guest", [](Message& m) { m.gfns[0] = kGuestPages; }},
      {"huge gfn", [](Message& m) { m.gfns[0] = ~uint64_t{0}; }},
      {"too many blobs", [](Message& m) { m.header.blob_count = kMaxBlobsPerEpoch + 1; }},
      {"reserved bits", [](Message& m) { m.header.reserved = 1; }},
      {"disk bytes without a write", [](Message& m) { m.header.disk_bytes = 512; }},
      {"disk write past the end",
       [](Message& m) {
         m.header.flags = kFlagHasDiskWrite;
         m.header.disk_bytes = 4096;
         m.header.disk_sector = 1020;
         m.tail.insert(m.tail.end(), 4096, std::byte{2});
       }},
      {"unaligned disk write",
       [](Message& m) {
         m.header.flags = kFlagHasDiskWrite;
         m.header.disk_bytes = 100;
       }},
      {"blob longer than allowed",
       [](Message& m) {
         BlobHeader b{static_cast<uint16_t>(RecordType::kVcpuState), 0, kMaxBlobBytes + 1};
         std::memcpy(m.tail.data() + kPageSize, &b, sizeof(b));
       }},
      {"blob of a non-blob type",
       [](Message& m) {
         BlobHeader b{static_cast<uint16_t>(RecordType::kPage), 0, 100};
         std::memcpy(m.tail.data() + kPageSize, &b, sizeof(b));
       }},
      {"truncated inside a page", [](Message& m) { m.tail.resize(100); }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    std::filesystem::remove_all(dir_);
    Message m = OnePageEpoch(1, 7);
    c.mutate(m);
    std::vector<Ack> acks;
    auto r = Serve(m.Bytes(), &acks);
    EXPECT_FALSE(r.ok());
    EXPECT_TRUE(acks.empty());
  }
}

}  // namespace
}  // namespace replink::bench::remus
