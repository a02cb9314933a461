// replink-xen-workload: the Xen lab guest's workload, and the disk check of its records.
//
// In the guest (--disk DEV): writes record N to sector N (N = 1, 2, ...) with O_DIRECT through Linux
// AIO and prints "replink-workload: record N done" once the write completed. Waiting in io_getevents
// is an interruptible sleep, so the guest's freezer can suspend this task while the write is still
// held by the backend (replink checkpoints a guest through Xen's cooperative suspend; a task stuck in
// an uninterruptible wait would make that suspend fail).
//
// In dom0 (--check IMAGE --through N): every record 1..N must be present and intact.
//
// Built static: the guest's initramfs holds only busybox and this program.
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>

namespace {

constexpr std::size_t kRecordBytes = 512;

// FNV-1a: enough to tell a torn or foreign sector from a record.
uint64_t Fnv(const unsigned char* p, std::size_t n) {
  uint64_t h = 1469598103934665603ULL;
  for (std::size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ULL;
  return h;
}

// Record layout: "REPLINK-RECORD <n:20>\n", the number repeated as filler, FNV of bytes [0, 504) at 504.
void FillRecord(uint64_t n, unsigned char* rec) {
  std::memset(rec, 0, kRecordBytes);
  int len = std::snprintf(reinterpret_cast<char*>(rec), 64, "REPLINK-RECORD %020" PRIu64 "\n", n);
  for (std::size_t i = static_cast<std::size_t>(len); i + 8 <= 504; i += 8) std::memcpy(rec + i, &n, 8);
  uint64_t h = Fnv(rec, 504);
  std::memcpy(rec + 504, &h, 8);
}

bool RecordValid(uint64_t n, const unsigned char* rec) {
  unsigned char want[kRecordBytes];
  FillRecord(n, want);
  return std::memcmp(want, rec, kRecordBytes) == 0;
}

int Check(const char* image, uint64_t through) {
  int fd = open(image, O_RDONLY);
  if (fd < 0) {
    std::printf("replink-workload: check: cannot open %s: %s\n", image, std::strerror(errno));
    return 1;
  }
  unsigned char rec[kRecordBytes];
  for (uint64_t n = 1; n <= through; ++n) {
    if (pread(fd, rec, kRecordBytes, static_cast<off_t>(n * kRecordBytes)) != static_cast<ssize_t>(kRecordBytes) ||
        !RecordValid(n, rec)) {
      std::printf("replink-workload: check: record %" PRIu64 " missing or damaged in %s\n", n, image);
      return 1;
    }
  }
  std::printf("replink-workload: check: records 1..%" PRIu64 " intact in %s\n", through, image);
  close(fd);
  return 0;
}

long IoSetup(unsigned nr, aio_context_t* ctx) { return syscall(SYS_io_setup, nr, ctx); }
long IoSubmit(aio_context_t ctx, long n, iocb** iocbs) { return syscall(SYS_io_submit, ctx, n, iocbs); }
long IoGetevents(aio_context_t ctx, long min, long max, io_event* events, timespec* timeout) {
  return syscall(SYS_io_getevents, ctx, min, max, events, timeout);
}

int Run(const char* disk, uint64_t interval_ms) {
  int fd = -1;
  for (int waited = 0; fd < 0; ++waited) {
    fd = open(disk, O_RDWR | O_DIRECT);
    if (fd >= 0) break;
    if (waited % 50 == 0) std::printf("replink-workload: waiting for %s (%s)\n", disk, std::strerror(errno));
    std::fflush(stdout);
    usleep(100'000);
  }
  aio_context_t ctx = 0;
  if (IoSetup(4, &ctx) != 0) {
    std::printf("replink-workload: io_setup: %s\n", std::strerror(errno));
    return 1;
  }
  void* buf = nullptr;
  if (posix_memalign(&buf, 4096, 4096) != 0) return 1;
  auto* rec = static_cast<unsigned char*>(buf);
  std::printf("replink-workload: writing records to %s\n", disk);
  for (uint64_t n = 1;; ++n) {
    FillRecord(n, rec);
    iocb cb{};
    cb.aio_lio_opcode = IOCB_CMD_PWRITE;
    cb.aio_fildes = static_cast<uint32_t>(fd);
    cb.aio_buf = reinterpret_cast<uint64_t>(rec);
    cb.aio_nbytes = kRecordBytes;
    cb.aio_offset = static_cast<int64_t>(n * kRecordBytes);
    iocb* list[1] = {&cb};
    if (IoSubmit(ctx, 1, list) != 1) {
      std::printf("replink-workload: io_submit record %" PRIu64 ": %s\n", n, std::strerror(errno));
      return 1;
    }
    io_event ev{};
    long got;
    while ((got = IoGetevents(ctx, 1, 1, &ev, nullptr)) != 1) {
      if (got < 0 && errno != EINTR) {
        std::printf("replink-workload: io_getevents: %s\n", std::strerror(errno));
        return 1;
      }
    }
    if (ev.res != static_cast<int64_t>(kRecordBytes)) {
      std::printf("replink-workload: record %" PRIu64 " write failed: %lld\n", n, static_cast<long long>(ev.res));
      return 1;
    }
    std::printf("replink-workload: record %" PRIu64 " done\n", n);
    std::fflush(stdout);
    if (interval_ms) usleep(static_cast<useconds_t>(interval_ms * 1000));
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string disk, check;
  uint64_t through = 0, interval_ms = 100;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--disk") disk = argv[i + 1];
    else if (a == "--check") check = argv[i + 1];
    else if (a == "--through") through = std::strtoull(argv[i + 1], nullptr, 10);
    else if (a == "--interval-ms") interval_ms = std::strtoull(argv[i + 1], nullptr, 10);
  }
  if (!check.empty()) return Check(check.c_str(), through);
  if (!disk.empty()) return Run(disk.c_str(), interval_ms);
  std::fprintf(stderr, "usage: replink-xen-workload --disk DEV [--interval-ms N] | --check IMAGE --through N\n");
  return 2;
}
