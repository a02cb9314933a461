// Port: the one DPDK ethdev an appliance owns (memif, af_packet, a PCI NIC, ...), opened by name
// from [port], with 1 rx queue and one tx queue per worker (capped by the device), its own mbuf
// pool, MTU fitted to the device, promiscuous mode, link status and counters.
//
// Lifetime: open after Eal::Init and destroy before the Eal. Destroy decorators (which may hold
// mbufs from this port's pool) before the Port. Open/Start/Stop/destruction happen on one
// control thread while no lcore is bursting.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "dataplane/config/appliance_config.h"
#include "dataplane/port/port_io.h"
#include "errors/result.h"

struct rte_mempool;

namespace replink::port {

struct PortOptions {
  uint16_t tx_queues = 1;  // wanted: one per worker; the device may offer fewer
};

// Facts fixed at Open; the dataplane sizes frames and picks tx queues from these.
struct PortInfo {
  std::string name;    // "net_memif0", "0000:3b:00.0"
  std::string driver;  // "net_memif"
  uint16_t port_id = 0;
  int socket_id = 0;
  uint16_t mtu = 0;               // ethdev MTU actually configured
  uint32_t max_frame_bytes = 0;   // largest frame to send/expect: Ethernet header + payload
  uint32_t device_max_rx_pktlen = 0;
  bool mtu_reduced = false;       // the device could not carry port.mtu
  uint16_t tx_queues = 0;
  uint16_t tx_queues_requested = 0;
  uint16_t rx_descriptors = 0;
  uint16_t tx_descriptors = 0;
  uint32_t mbuf_data_room = 0;  // including headroom
  uint32_t mbuf_count = 0;
  config::MacAddress mac;
  bool probed_by_us = false;  // a vdev we hot-plugged (and remove on close)

  std::string Describe() const;
};

struct LinkStatus {
  bool up = false;
  uint32_t speed_mbps = 0;  // 0 when unknown
  bool full_duplex = false;
};

class Port final : public PortIo {
 public:
  static Result<std::unique_ptr<Port>> Open(const config::PortConfig& config,
                                            const PortOptions& options);
  ~Port() override;
  Port(const Port&) = delete;
  Port& operator=(const Port&) = delete;

  Result<void> Start();
  void Stop();
  bool started() const { return started_; }

  LinkStatus Link() const;
  // Waits for the link, starting the port if needed. A memif client connects only at start and
  // never retries: when its server was not listening yet, or was not started yet (it then drops
  // the connection), the link would stay down forever, so this restarts the port every
  // kReconnectInterval until the link comes up. kTimeout with a hint when it stays down.
  Result<void> WaitForLinkUp(std::chrono::milliseconds timeout);
  // Stop + Start. Reconnects a memif client whose server went away and came back. Like Start
  // and Stop, only while no lcore is bursting on this port.
  Result<void> Restart();

  static constexpr std::chrono::milliseconds kReconnectInterval{250};

  uint16_t RxBurst(std::span<rte_mbuf*> out) override;
  uint16_t TxBurst(uint16_t queue, std::span<rte_mbuf*> frames) override;
  uint16_t tx_queue_count() const override { return info_.tx_queues; }
  PortCounters Counters() const override;

  const PortInfo& info() const { return info_; }
  rte_mempool* mempool() const { return pool_; }

 private:
  Port() = default;
  Result<void> Configure(const config::PortConfig& config, const PortOptions& options);
  void Close();

  PortInfo info_;
  rte_mempool* pool_ = nullptr;
  bool open_ = false;
  bool started_ = false;
  bool memif_client_ = false;  // connects on start only; see WaitForLinkUp
};

}  // namespace replink::port
