// FaultInjectingPort: a PortIo decorator that drops, duplicates, reorders, corrupts and delays
// frames in the configured direction(s), for tests and demos of the reliable link over virtual
// ports that never lose anything on their own. It exists only when [fault_injection] enabled =
// true: Create refuses a disabled config, so production never pays for it by accident.
//
// The decorator keeps the PortIo contract: TxBurst returns how many of the caller's frames it
// took (it stops taking when its own output is backed up behind the inner port), and held frames
// move on during later RxBurst/TxBurst calls (an empty TxBurst is enough).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>

#include "dataplane/config/appliance_config.h"
#include "dataplane/port/fault_shaper.h"
#include "dataplane/port/port_io.h"
#include "errors/result.h"

struct rte_mempool;

namespace replink::port {

struct FaultClock {
  std::function<uint64_t()> now;  // default: the TSC
  uint64_t ticks_per_second = 0;  // default: rte_get_tsc_hz()
};

class FaultInjectingPort final : public PortIo {
 public:
  // A reordered frame waits at most this long for a later frame to overtake it.
  static constexpr uint64_t kDefaultReorderHoldUs = 1000;

  // `inner` must outlive the decorator; `pool` (normally the port's) supplies copies.
  static Result<std::unique_ptr<FaultInjectingPort>> Create(
      PortIo& inner, rte_mempool* pool, const config::FaultInjectionConfig& config,
      FaultClock clock = {}, uint64_t reorder_hold_us = kDefaultReorderHoldUs);

  uint16_t RxBurst(std::span<rte_mbuf*> out) override;
  uint16_t TxBurst(uint16_t queue, std::span<rte_mbuf*> frames) override;
  uint16_t tx_queue_count() const override { return inner_.tx_queue_count(); }
  PortCounters Counters() const override;

  FaultCounters rx_faults() const;
  FaultCounters tx_faults() const;  // summed over tx queues

 private:
  FaultInjectingPort(PortIo& inner, FaultClock clock) : inner_(inner), clock_(std::move(clock)) {}
  void FlushTx(uint16_t queue, FaultShaper& shaper);

  PortIo& inner_;
  FaultClock clock_;
  std::unique_ptr<FaultShaper> rx_;                                // null: rx not shaped
  std::array<std::unique_ptr<FaultShaper>, kMaxTxQueues> tx_{};   // null: tx not shaped
};

}  // namespace replink::port
