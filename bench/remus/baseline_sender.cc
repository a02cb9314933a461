#include "bench/remus/baseline_sender.h"

#include <algorithm>
#include <array>
#include <deque>

namespace replink::bench::remus {

Result<SenderResult> RunSender(GuestBackend& backend, Transport& transport, const SenderOptions& options) {
  EpochCapturer capturer(backend);
  REPLINK_TRY(backend.StartDirtyTracking());
  std::vector<uint64_t> capture_ns(kAckHistory);
  struct Held {
    uint64_t epoch;
    IoEvent event;
  };
  std::deque<Held> held;
  SenderResult result;
  result.commit_ns.reserve(options.epochs);
  uint64_t collected = 0;  // acks already turned into latency samples and released I/Os

  auto collect = [&]() -> Result<void> {
    uint64_t acked = transport.acked();
    for (uint64_t e = collected + 1; e <= acked; ++e)
      result.commit_ns.push_back(transport.AckNs(e) - capture_ns[e % kAckHistory]);
    collected = std::max(collected, acked);
    while (!held.empty() && held.front().epoch <= acked) {
      REPLINK_TRY(backend.ReleaseIo(held.front().event));
      held.pop_front();
    }
    return Ok();
  };
  auto wait_acked = [&](uint64_t epoch) -> Result<void> {
    while (transport.acked() < epoch) REPLINK_TRY(transport.Poll(true));
    return collect();
  };

  uint64_t start = MonotonicNs();
  uint64_t deadline = start + static_cast<uint64_t>(options.max_seconds * 1e9);
  uint64_t epoch = 1;
  while (epoch <= options.epochs && MonotonicNs() < deadline) {
    REPLINK_ASSIGN_OR_RETURN(std::optional<IoEvent> event, backend.WaitIoEvent(100'000'000));
    if (!event) continue;
    uint64_t event_ns = MonotonicNs();
    REPLINK_ASSIGN_OR_RETURN(EpochBuffer * buffer, transport.FreeBuffer());
    REPLINK_TRY(backend.Pause());
    REPLINK_TRY(capturer.Capture(*event, epoch, event_ns, *buffer));
    capture_ns[epoch % kAckHistory] = event_ns;
    result.pages += buffer->header.page_count;
    result.wire_bytes += buffer->wire_bytes();
    held.push_back(Held{epoch, *event});
    // Pipelined: the guest runs again once its state is copied; only the I/O waits for the ack.
    auto resume = [&]() -> Result<void> {
      REPLINK_TRY(backend.Resume());
      uint64_t paused = MonotonicNs() - event_ns;
      result.pause_ns_total += paused;
      result.pause_ns_max = std::max(result.pause_ns_max, paused);
      return Ok();
    };
    if (!options.strict) REPLINK_TRY(resume());
    REPLINK_TRY(transport.Submit(*buffer));
    if (options.strict) {
      REPLINK_TRY(wait_acked(epoch));
      REPLINK_TRY(resume());
    }
    REPLINK_TRY(transport.Poll(false));
    REPLINK_TRY(collect());
    if (!options.strict && epoch - transport.acked() >= options.inflight)
      REPLINK_TRY(wait_acked(epoch + 1 - options.inflight));
    result.epochs = epoch;
    ++epoch;
  }
  REPLINK_TRY(wait_acked(result.epochs));
  result.seconds = static_cast<double>(MonotonicNs() - start) / 1e9;
  REPLINK_TRY(transport.Finish());
  return result;
}

}  // namespace replink::bench::remus
