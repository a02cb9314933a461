// FrameSink: how a stream gets frame buffers and hands frames to the port, without knowing the
// worker's batching. The worker implements it over its mbuf pool and tx queue.
#pragma once

#include <cstdint>
#include <span>

struct rte_mbuf;

namespace replink::dataplane {

class FrameSink {
 public:
  virtual ~FrameSink() = default;
  // A fresh mbuf with room for one maximum-size frame, or nullptr when the pool is empty.
  virtual rte_mbuf* Allocate() = 0;
  // Queues a frame for transmission; ownership of one reference passes to the sink.
  virtual void Send(rte_mbuf* frame) = 0;
  // The usable buffer of an mbuf from Allocate (its data room after headroom).
  static std::span<std::byte> Room(rte_mbuf* m);
  // Sets the mbuf's length to the `bytes` written at the start of Room().
  static void SetLength(rte_mbuf* m, std::size_t bytes);
  static std::span<std::byte> Bytes(rte_mbuf* m);
};

}  // namespace replink::dataplane
