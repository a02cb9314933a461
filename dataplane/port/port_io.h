// PortIo: the burst interface the dataplane's poll loops use, implemented by Port (a real DPDK
// ethdev) and by decorators such as FaultInjectingPort. One virtual call per burst, not per frame.
//
// Threading: RxBurst is called by one lcore only (replink uses a single rx queue); each tx queue
// is owned by one lcore. Counters() may be called from any thread (values may be slightly stale).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <span>

struct rte_mbuf;

namespace replink::port {

struct PortCounters {
  uint64_t rx_packets = 0;
  uint64_t rx_bytes = 0;
  uint64_t tx_packets = 0;
  uint64_t tx_bytes = 0;
  uint64_t rx_errors = 0;   // device-reported receive errors (ierrors)
  uint64_t rx_missed = 0;   // dropped by the device because the rx ring was full (imissed)
  uint64_t rx_no_mbuf = 0;  // receive failed for lack of mbufs
  uint64_t tx_errors = 0;   // device-reported transmit errors (oerrors)
  uint64_t tx_drops = 0;    // frames the application gave up on (TxBurstOrDrop)
};

class PortIo {
 public:
  static constexpr uint16_t kMaxTxQueues = 16;

  virtual ~PortIo() = default;

  // Receives up to out.size() frames; the caller owns what is returned.
  virtual uint16_t RxBurst(std::span<rte_mbuf*> out) = 0;
  // Offers frames to tx `queue` and returns how many the port took; the caller still owns the
  // rest (frames[taken..]). An empty span is valid and lets decorators release held frames, so
  // poll loops should call it on their drain timer even when they have nothing to send.
  virtual uint16_t TxBurst(uint16_t queue, std::span<rte_mbuf*> frames) = 0;
  virtual uint16_t tx_queue_count() const = 0;
  virtual PortCounters Counters() const = 0;

  // Sends what the port takes and frees the rest, counting them in PortCounters::tx_drops.
  uint16_t TxBurstOrDrop(uint16_t queue, std::span<rte_mbuf*> frames);

 protected:
  uint64_t SoftwareTxDrops() const;

 private:
  // Written only by the lcore that owns the queue; padded against false sharing.
  struct alignas(64) QueueDrops {
    std::atomic<uint64_t> frames{0};
  };
  std::array<QueueDrops, kMaxTxQueues> tx_drops_{};
};

}  // namespace replink::port
