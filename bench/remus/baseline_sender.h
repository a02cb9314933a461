// The baseline's sending side: the capture loop of a conventional (Remus / Kemari over TCP) sender,
// written once over a Transport: kernel TCP with a blocking writev per epoch and an ack-reader
// thread, or io_uring (one sendmsg in flight, the ack receive always armed, one thread). Like the
// replink shim it pauses the guest at each I/O event, copies the dirty set, and holds the I/O until
// the epoch's ack; strict keeps the guest paused until then, pipelined resumes after the copy and
// bounds the epochs in flight.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "bench/remus/baseline_capture.h"
#include "errors/result.h"
#include "hostshim/guest_backend.h"

namespace replink::bench::remus {

class Transport {
 public:
  virtual ~Transport() = default;
  virtual const char* name() const = 0;
  // A buffer no send still reads; may wait for a send to finish.
  virtual Result<EpochBuffer*> FreeBuffer() = 0;
  // Starts (tcp: completes) sending the epoch in `buffer`.
  virtual Result<void> Submit(EpochBuffer& buffer) = 0;
  // Collects acks that arrived; with wait, blocks until the acked epoch moves past `acked()`.
  virtual Result<void> Poll(bool wait) = 0;
  virtual uint64_t acked() const = 0;
  // When the ack of `epoch` arrived (CLOCK_MONOTONIC), for epochs <= acked() not yet collected.
  virtual uint64_t AckNs(uint64_t epoch) const = 0;
  // Stop sending: shuts the socket's write side so the receiver sees the end.
  virtual Result<void> Finish() = 0;
};

// Both own `fd` (a connected TCP socket). `info` sizes the epoch buffers.
Result<std::unique_ptr<Transport>> MakeTcpTransport(int fd, const GuestInfo& info);
Result<std::unique_ptr<Transport>> MakeUringTransport(int fd, const GuestInfo& info);

inline constexpr std::size_t kAckHistory = 1 << 16;  // epochs in flight are far fewer

struct SenderOptions {
  bool strict = false;
  uint32_t inflight = 64;  // pipelined: as the replink shim's default
  uint64_t epochs = 1000;
  double max_seconds = 60;
};

struct SenderResult {
  uint64_t epochs = 0;
  uint64_t pages = 0;
  uint64_t wire_bytes = 0;
  double seconds = 0;
  uint64_t pause_ns_total = 0;
  uint64_t pause_ns_max = 0;
  std::vector<uint64_t> commit_ns;  // I/O event -> ack arrived, one per epoch
};

Result<SenderResult> RunSender(GuestBackend& backend, Transport& transport, const SenderOptions& options);

}  // namespace replink::bench::remus
