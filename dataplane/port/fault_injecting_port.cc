#include "dataplane/port/fault_injecting_port.h"

#include <algorithm>

#include <rte_cycles.h>
#include <rte_mbuf.h>

namespace replink::port {
namespace {

constexpr uint32_t kBurst = 64;

}  // namespace

Result<std::unique_ptr<FaultInjectingPort>> FaultInjectingPort::Create(
    PortIo& inner, rte_mempool* pool, const config::FaultInjectionConfig& config,
    FaultClock clock, uint64_t reorder_hold_us) {
  if (!config.enabled) {
    return MakeError(Errc::kInvalidArgument,
                     "fault injection is disabled in the config ([fault_injection] enabled = "
                     "false); use the port directly");
  }
  if (pool == nullptr) {
    return MakeError(Errc::kInvalidArgument, "fault injection needs a mempool for copies");
  }
  if (!clock.now) clock.now = [] { return rte_rdtsc(); };
  if (clock.ticks_per_second == 0) clock.ticks_per_second = rte_get_tsc_hz();
  uint64_t tps = clock.ticks_per_second;
  std::unique_ptr<FaultInjectingPort> port(new FaultInjectingPort(inner, std::move(clock)));
  bool rx = config.direction != config::FaultDirection::kTx;
  bool tx = config.direction != config::FaultDirection::kRx;
  // Stream ids keep the random sequences of rx and each tx queue independent but reproducible.
  if (rx) port->rx_ = std::make_unique<FaultShaper>(config, 0, pool, tps, reorder_hold_us);
  if (tx) {
    uint16_t queues = std::min<uint16_t>(inner.tx_queue_count(), kMaxTxQueues);
    for (uint16_t q = 0; q < queues; ++q) {
      port->tx_[q] = std::make_unique<FaultShaper>(config, 1 + q, pool, tps, reorder_hold_us);
    }
  }
  return port;
}

uint16_t FaultInjectingPort::RxBurst(std::span<rte_mbuf*> out) {
  if (!rx_) return inner_.RxBurst(out);
  uint64_t now = clock_.now();
  rx_->ReleaseDue(now);
  if (rx_->ready() < out.size()) {
    rte_mbuf* fresh[kBurst];
    uint32_t room = std::min<uint32_t>(rx_->AdmitRoom(), kBurst);
    uint16_t n = inner_.RxBurst(std::span<rte_mbuf*>(fresh, room));
    for (uint16_t i = 0; i < n; ++i) rx_->Admit(fresh[i], now);
  }
  uint32_t n = rx_->Peek(out);
  rx_->Consume(n);
  return static_cast<uint16_t>(n);
}

void FaultInjectingPort::FlushTx(uint16_t queue, FaultShaper& shaper) {
  rte_mbuf* batch[kBurst];
  while (shaper.ready() > 0) {
    uint32_t n = shaper.Peek(batch);
    uint16_t sent = inner_.TxBurst(queue, std::span<rte_mbuf*>(batch, n));
    shaper.Consume(sent);
    if (sent < n) break;  // the inner port is full; keep the rest in order for next time
  }
}

uint16_t FaultInjectingPort::TxBurst(uint16_t queue, std::span<rte_mbuf*> frames) {
  if (queue >= kMaxTxQueues || !tx_[queue]) return inner_.TxBurst(queue, frames);
  FaultShaper& shaper = *tx_[queue];
  uint64_t now = clock_.now();
  shaper.ReleaseDue(now);
  FlushTx(queue, shaper);  // older frames first
  uint16_t taken = 0;
  while (taken < frames.size() && shaper.CanAdmit()) shaper.Admit(frames[taken++], now);
  FlushTx(queue, shaper);
  return taken;
}

PortCounters FaultInjectingPort::Counters() const {
  PortCounters counters = inner_.Counters();
  counters.tx_drops += SoftwareTxDrops();
  return counters;
}

FaultCounters FaultInjectingPort::rx_faults() const {
  return rx_ ? rx_->counters() : FaultCounters{};
}

FaultCounters FaultInjectingPort::tx_faults() const {
  FaultCounters sum;
  for (const auto& shaper : tx_) {
    if (shaper) sum += shaper->counters();
  }
  return sum;
}

}  // namespace replink::port
