#include "capture/doorbell.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <ctime>

namespace replink {

void Doorbell::Ring() {
  Sequence().fetch_add(1, std::memory_order_seq_cst);
  if (Waiting().load(std::memory_order_seq_cst) != 0) {
    // Shared (not FUTEX_PRIVATE) because the word lives in a region mapped by two processes.
    syscall(SYS_futex, &line_->sequence, FUTEX_WAKE, 1, nullptr, nullptr, 0);
  }
}

void Doorbell::SleepIfUnchanged(uint32_t seen, uint64_t timeout_ns) {
  struct timespec ts {};
  ts.tv_sec = static_cast<time_t>(timeout_ns / 1'000'000'000ULL);
  ts.tv_nsec = static_cast<long>(timeout_ns % 1'000'000'000ULL);
  // EAGAIN (sequence moved), EINTR and ETIMEDOUT all mean "re-check": the caller loops.
  syscall(SYS_futex, &line_->sequence, FUTEX_WAIT, seen, &ts, nullptr, 0);
}

}  // namespace replink
