// io_uring, the fairer kernel baseline: one thread, no ack-reader thread and no blocking syscalls
// per epoch. The ack receive is always armed; one sendmsg is in flight at a time (two sends on one
// TCP stream may interleave after a short send), while the next epoch is captured into the second
// buffer.
#include <liburing.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstring>

#include "bench/remus/baseline_sender.h"
#include "bench/remus/baseline_socket_io.h"

namespace replink::bench::remus {
namespace {

constexpr uint64_t kRecvTag = ~uint64_t{0};

class UringTransport final : public Transport {
 public:
  UringTransport(int fd, const GuestInfo& info)
      : fd_(fd), buffers_{EpochBuffer(info), EpochBuffer(info)}, ack_ns_(kAckHistory) {}
  ~UringTransport() override {
    ::shutdown(fd_, SHUT_RDWR);
    if (ring_ready_) io_uring_queue_exit(&ring_);
    ::close(fd_);
  }
  const char* name() const override { return "io_uring"; }

  Result<void> Start() {
    if (int r = io_uring_queue_init(16, &ring_, 0); r < 0)
      return MakeError(Errc::kUnsupported, "baseline io_uring: queue_init: {}", std::strerror(-r));
    ring_ready_ = true;
    return ArmRecv();
  }

  Result<EpochBuffer*> FreeBuffer() override {
    while (true) {
      for (std::size_t i = 0; i < buffers_.size(); ++i)
        if (!busy_[i]) return &buffers_[i];
      REPLINK_TRY(Reap(true));
    }
  }

  Result<void> Submit(EpochBuffer& buffer) override {
    std::size_t i = static_cast<std::size_t>(&buffer - buffers_.data());
    busy_[i] = true;
    queued_[queued_count_++] = i;
    if (!sending_) REPLINK_TRY(StartNextSend());
    return Flush();
  }

  Result<void> Poll(bool wait) override { return Reap(wait); }
  uint64_t acked() const override { return acked_; }
  uint64_t AckNs(uint64_t epoch) const override { return ack_ns_[epoch % kAckHistory]; }

  Result<void> Finish() override {
    while (sending_ || queued_count_ > 0) REPLINK_TRY(Reap(true));
    ::shutdown(fd_, SHUT_WR);
    return Ok();
  }

 private:
  Result<void> StartNextSend() {
    std::size_t i = queued_[0];
    queued_[0] = queued_[1];
    --queued_count_;
    auto iov = buffers_[i].Iovecs();
    send_iov_.assign(iov.begin(), iov.end());
    send_first_ = 0;
    send_buffer_ = i;
    sending_ = true;
    return PrepSend();
  }

  Result<void> PrepSend() {
    std::memset(&msg_, 0, sizeof(msg_));
    msg_.msg_iov = send_iov_.data() + send_first_;
    msg_.msg_iovlen = send_iov_.size() - send_first_;
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (sqe == nullptr) return MakeError(Errc::kNoSpace, "baseline io_uring: submission queue full");
    io_uring_prep_sendmsg(sqe, fd_, &msg_, MSG_WAITALL);
    io_uring_sqe_set_data64(sqe, send_buffer_);
    return Ok();
  }

  Result<void> ArmRecv() {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (sqe == nullptr) return MakeError(Errc::kNoSpace, "baseline io_uring: submission queue full");
    io_uring_prep_recv(sqe, fd_, ack_bytes_.data() + ack_fill_, ack_bytes_.size() - ack_fill_, 0);
    io_uring_sqe_set_data64(sqe, kRecvTag);
    return Flush();
  }

  Result<void> Flush() {
    int r = io_uring_submit(&ring_);
    if (r < 0) return MakeError(Errc::kIo, "baseline io_uring: submit: {}", std::strerror(-r));
    return Ok();
  }

  Result<void> Reap(bool wait) {
    io_uring_cqe* cqe = nullptr;
    int r = wait ? io_uring_wait_cqe(&ring_, &cqe) : io_uring_peek_cqe(&ring_, &cqe);
    while (r == 0 && cqe != nullptr) {
      uint64_t tag = io_uring_cqe_get_data64(cqe);
      int res = cqe->res;
      io_uring_cqe_seen(&ring_, cqe);
      REPLINK_TRY(tag == kRecvTag ? OnRecv(res) : OnSent(res));
      cqe = nullptr;
      r = io_uring_peek_cqe(&ring_, &cqe);
    }
    if (r < 0 && r != -EAGAIN && r != -EINTR)
      return MakeError(Errc::kIo, "baseline io_uring: wait: {}", std::strerror(-r));
    return Flush();
  }

  Result<void> OnSent(int res) {
    if (res < 0) return MakeError(Errc::kIo, "baseline io_uring: sendmsg: {}", std::strerror(-res));
    AdvanceIovecs(send_iov_, send_first_, static_cast<std::size_t>(res));
    if (send_first_ < send_iov_.size()) return PrepSend();  // short send: the rest
    busy_[send_buffer_] = false;
    sending_ = false;
    if (queued_count_ > 0) return StartNextSend();
    return Ok();
  }

  Result<void> OnRecv(int res) {
    if (res < 0) return MakeError(Errc::kIo, "baseline io_uring: recv: {}", std::strerror(-res));
    if (res == 0) return MakeError(Errc::kClosed, "baseline io_uring: receiver closed the connection");
    uint64_t now = MonotonicNs();
    ack_fill_ += static_cast<std::size_t>(res);
    std::size_t used = 0;
    for (; ack_fill_ - used >= sizeof(Ack); used += sizeof(Ack)) {
      Ack ack;
      std::memcpy(&ack, ack_bytes_.data() + used, sizeof(ack));
      if (ack.magic != kAckMagic || ack.status != static_cast<uint32_t>(AckStatus::kCommitted) ||
          ack.epoch != acked_ + 1)
        return MakeError(Errc::kCorrupt, "baseline io_uring: bad ack for epoch {}", ack.epoch);
      acked_ = ack.epoch;
      ack_ns_[acked_ % kAckHistory] = now;
    }
    std::memmove(ack_bytes_.data(), ack_bytes_.data() + used, ack_fill_ - used);
    ack_fill_ -= used;
    return ArmRecv();
  }

  int fd_;
  io_uring ring_{};
  bool ring_ready_ = false;
  std::array<EpochBuffer, 2> buffers_;
  std::array<bool, 2> busy_{};
  std::array<std::size_t, 2> queued_{};
  std::size_t queued_count_ = 0;
  bool sending_ = false;
  std::size_t send_buffer_ = 0;
  std::vector<iovec> send_iov_;
  std::size_t send_first_ = 0;
  msghdr msg_{};
  std::array<std::byte, 64 * sizeof(Ack)> ack_bytes_{};
  std::size_t ack_fill_ = 0;
  uint64_t acked_ = 0;
  std::vector<uint64_t> ack_ns_;
};

}  // namespace

Result<std::unique_ptr<Transport>> MakeUringTransport(int fd, const GuestInfo& info) {
  auto t = std::make_unique<UringTransport>(fd, info);
  REPLINK_TRY(t->Start());
  return std::unique_ptr<Transport>(std::move(t));
}

}  // namespace replink::bench::remus
