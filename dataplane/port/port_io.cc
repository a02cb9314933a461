#include "dataplane/port/port_io.h"

#include <rte_mbuf.h>

namespace replink::port {

uint16_t PortIo::TxBurstOrDrop(uint16_t queue, std::span<rte_mbuf*> frames) {
  uint16_t sent = TxBurst(queue, frames);
  if (sent < frames.size()) {
    for (size_t i = sent; i < frames.size(); ++i) rte_pktmbuf_free(frames[i]);
    // Single writer per queue: a relaxed load+store is enough and avoids a locked add.
    auto& counter = tx_drops_[queue % kMaxTxQueues].frames;
    counter.store(counter.load(std::memory_order_relaxed) + (frames.size() - sent),
                  std::memory_order_relaxed);
  }
  return sent;
}

uint64_t PortIo::SoftwareTxDrops() const {
  uint64_t total = 0;
  for (const auto& q : tx_drops_) total += q.frames.load(std::memory_order_relaxed);
  return total;
}

}  // namespace replink::port
