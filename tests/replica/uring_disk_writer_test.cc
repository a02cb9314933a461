// UringDiskWriter: more writes than queue slots all land, failures are reported (never dropped),
// and syncs of every fd complete.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <random>
#include <vector>

#include "replica/uring_disk_writer.h"
#include "tests/replica/replica_test_support.h"

namespace replink::replica::testing {
namespace {

std::vector<std::byte> ReadAll(int fd, std::size_t size) {
  std::vector<std::byte> out(size);
  EXPECT_EQ(::pread(fd, out.data(), size, 0), static_cast<ssize_t>(size));
  return out;
}

TEST(ReplicaUringDiskWriter, WritesMoreOpsThanTheQueueHolds) {
  TempDir dir;
  int fd = ::open(dir.Sub("disk").c_str(), O_RDWR | O_CREAT, 0600);
  ASSERT_GE(fd, 0);
  Result<UringDiskWriter> writer = UringDiskWriter::Create(4);
  ASSERT_TRUE(writer.ok()) << writer.error().Describe();
  constexpr std::size_t kSize = 1 << 20;
  std::vector<std::byte> data(kSize);
  std::mt19937_64 rng(1);
  for (auto& b : data) b = static_cast<std::byte>(rng());
  std::vector<DiskWriteOp> ops;
  for (std::size_t at = 0; at < kSize;) {  // uneven pieces, submitted out of order
    auto length = static_cast<uint32_t>(std::min<std::size_t>(kSize - at, 512 * (1 + rng() % 40)));
    ops.push_back({fd, at, data.data() + at, length});
    at += length;
  }
  ops.push_back({fd, 0, data.data(), 0});  // empty op: nothing to do
  std::shuffle(ops.begin(), ops.end(), rng);
  ASSERT_GT(ops.size(), 16u);
  ASSERT_TRUE(writer->WriteAll(ops).ok());
  EXPECT_EQ(ReadAll(fd, kSize), data);
  int fds[] = {fd, fd};
  EXPECT_TRUE(writer->SyncAll(fds).ok());
  ::close(fd);
}

TEST(ReplicaUringDiskWriter, ReportsFailedWritesAndSyncs) {
  TempDir dir;
  std::string path = dir.Sub("disk");
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT, 0600);
  ASSERT_GE(fd, 0);
  int read_only = ::open(path.c_str(), O_RDONLY);
  ASSERT_GE(read_only, 0);
  Result<UringDiskWriter> writer = UringDiskWriter::Create(8);
  ASSERT_TRUE(writer.ok());
  std::vector<std::byte> data(4096, std::byte{1});
  std::vector<DiskWriteOp> ops = {{fd, 0, data.data(), 4096}, {read_only, 4096, data.data(), 4096},
                                  {fd, 8192, data.data(), 4096}};
  Result<void> written = writer->WriteAll(ops);
  ASSERT_FALSE(written.ok());
  EXPECT_EQ(written.error().code, Errc::kIo);
  EXPECT_EQ(written.error().sys_errno, EBADF);
  // The ring is still usable, and the good writes in the batch completed.
  ASSERT_TRUE(writer->WriteAll({ops.data(), 1}).ok());
  EXPECT_EQ(ReadAll(fd, 12288)[8192], std::byte{1});
  int bad_fds[] = {fd, 1 << 20};
  Result<void> synced = writer->SyncAll(bad_fds);
  ASSERT_FALSE(synced.ok());
  EXPECT_EQ(synced.error().sys_errno, EBADF);
  EXPECT_FALSE(UringDiskWriter::Create(0).ok());
  ::close(read_only);
  ::close(fd);
}

}  // namespace
}  // namespace replink::replica::testing
