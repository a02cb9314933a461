// Kernel TCP, the conventional way: one blocking writev per epoch (header, gfns, pages, blobs, disk
// write straight from the capture buffer, no extra copy), TCP_NODELAY, kernel buffer autotuning, and
// a thread that blocks reading acks so the capture thread never polls the socket.
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "bench/remus/baseline_sender.h"
#include "bench/remus/baseline_socket_io.h"

namespace replink::bench::remus {
namespace {

class TcpTransport final : public Transport {
 public:
  TcpTransport(int fd, const GuestInfo& info) : fd_(fd), buffer_(info), ack_ns_(kAckHistory) {
    reader_ = std::thread([this] { ReadAcks(); });
  }
  ~TcpTransport() override {
    ::shutdown(fd_, SHUT_RDWR);
    if (reader_.joinable()) reader_.join();
    ::close(fd_);
  }
  const char* name() const override { return "tcp"; }

  Result<EpochBuffer*> FreeBuffer() override { return &buffer_; }  // writev finished with it

  Result<void> Submit(EpochBuffer& buffer) override {
    if (failed_.load(std::memory_order_acquire)) return MakeError(Errc::kClosed, "baseline tcp: ack reader failed");
    return WriteVecExact(fd_, buffer.Iovecs());
  }

  Result<void> Poll(bool wait) override {
    if (failed_.load(std::memory_order_acquire))
      return MakeError(Errc::kClosed, "baseline tcp: connection lost or bad ack");
    // Returns at once if anything happened since the caller last read acked().
    if (wait) changes_.wait(observed_changes_, std::memory_order_acquire);
    return Ok();
  }
  uint64_t acked() const override {
    observed_changes_ = changes_.load(std::memory_order_acquire);
    return acked_.load(std::memory_order_acquire);
  }
  uint64_t AckNs(uint64_t epoch) const override { return ack_ns_[epoch % kAckHistory].load(std::memory_order_relaxed); }

  Result<void> Finish() override {
    ::shutdown(fd_, SHUT_WR);
    return Ok();
  }

 private:
  void ReadAcks() {
    while (true) {
      Ack ack;
      auto got = ReadExactOrEof(fd_, {reinterpret_cast<std::byte*>(&ack), sizeof(ack)});
      uint64_t now = MonotonicNs();
      bool valid = got.ok() && *got && ack.magic == kAckMagic &&
                   ack.status == static_cast<uint32_t>(AckStatus::kCommitted) &&
                   ack.epoch == acked_.load(std::memory_order_relaxed) + 1;
      if (!valid) {
        failed_.store(true, std::memory_order_release);
        changes_.fetch_add(1, std::memory_order_release);
        changes_.notify_all();
        return;
      }
      ack_ns_[ack.epoch % kAckHistory].store(now, std::memory_order_relaxed);
      acked_.store(ack.epoch, std::memory_order_release);
      changes_.fetch_add(1, std::memory_order_release);
      changes_.notify_all();
    }
  }

  int fd_;
  EpochBuffer buffer_;
  std::vector<std::atomic<uint64_t>> ack_ns_;
  std::atomic<uint64_t> acked_{0};
  std::atomic<bool> failed_{false};
  std::atomic<uint64_t> changes_{0};          // bumped after every ack and at failure
  mutable uint64_t observed_changes_ = 0;     // changes_ when the capture thread last read acked()
  std::thread reader_;
};

}  // namespace

Result<std::unique_ptr<Transport>> MakeTcpTransport(int fd, const GuestInfo& info) {
  return std::unique_ptr<Transport>(new TcpTransport(fd, info));
}

}  // namespace replink::bench::remus
