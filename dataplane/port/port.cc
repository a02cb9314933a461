#include "dataplane/port/port.h"

#include <algorithm>
#include <cstring>
#include <thread>

#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "dataplane/config/device_arguments.h"
#include "dataplane/port/frame_limits.h"

namespace replink::port {
namespace {

// Mbufs a port pins outside the application's hands: the rx ring is refilled eagerly by NICs and
// each tx ring holds sent mbufs until it recycles them. Plus room for bursts in flight.
constexpr uint32_t kInFlightMbufHeadroom = 1024;

Error DpdkError(int rc, std::string_view what, std::string_view port_name) {
  int code = rc < 0 ? -rc : rc;
  return Error{Errc::kIo, fmt::format("port {}: {}: {}", port_name, what, rte_strerror(code)),
               code};
}

config::MacAddress ToMac(const rte_ether_addr& addr) {
  config::MacAddress mac;
  std::memcpy(mac.bytes.data(), addr.addr_bytes, mac.bytes.size());
  return mac;
}

rte_ether_addr ToEtherAddr(const config::MacAddress& mac) {
  rte_ether_addr addr;
  std::memcpy(addr.addr_bytes, mac.bytes.data(), mac.bytes.size());
  return addr;
}

struct MemifFacts {
  uint64_t buffer_size = 0;  // bsize in effect (devarg or the driver's default); 0: not memif
  bool client = false;
};

Result<MemifFacts> ReadMemifFacts(const config::PortConfig& config) {
  MemifFacts facts;
  if (!config.is_vdev()) return facts;
  REPLINK_ASSIGN_OR_RETURN(config::DeviceArguments args, config::ParseDeviceArguments(config.vdev));
  if (args.DriverName() != "net_memif") return facts;
  REPLINK_ASSIGN_OR_RETURN(facts.buffer_size, args.GetUnsigned("bsize", 2048));
  facts.client = args.Get("role") == "client";
  return facts;
}

}  // namespace

std::string PortInfo::Describe() const {
  return fmt::format(
      "{} ({}, port {}): mtu {}, max frame {} B{}, tx queues {}/{} requested, descriptors "
      "rx {} tx {}, {} mbufs of {} B, mac {}",
      name, driver, port_id, mtu, max_frame_bytes, mtu_reduced ? " (reduced by device)" : "",
      tx_queues, tx_queues_requested, rx_descriptors, tx_descriptors, mbuf_count, mbuf_data_room,
      config::FormatMac(mac));
}

Result<std::unique_ptr<Port>> Port::Open(const config::PortConfig& config,
                                         const PortOptions& options) {
  std::unique_ptr<Port> port(new Port());
  Result<void> configured = port->Configure(config, options);
  if (!configured.ok()) return std::move(configured).error();  // ~Port undoes what was done
  return port;
}

Result<void> Port::Configure(const config::PortConfig& config, const PortOptions& options) {
  info_.name = config.DeviceName();
  const std::string& name = info_.name;
  uint16_t port_id = 0;
  if (rte_eth_dev_get_port_by_name(name.c_str(), &port_id) != 0) {
    // Not created by EAL (--vdev / PCI scan): hot-plug it now so errors name [port].
    const std::string& devargs = config.is_vdev() ? config.vdev : config.pci;
    int rc = rte_dev_probe(devargs.c_str());
    if (rc != 0) return DpdkError(rc, fmt::format("rte_dev_probe(\"{}\")", devargs), name);
    info_.probed_by_us = true;
    if (rte_eth_dev_get_port_by_name(name.c_str(), &port_id) != 0) {
      return MakeError(Errc::kUnsupported,
                       "port {}: probed, but no ethdev has that name (is it a network device?)",
                       name);
    }
  }
  info_.port_id = port_id;
  open_ = true;

  rte_eth_dev_info dev_info;
  int rc = rte_eth_dev_info_get(port_id, &dev_info);
  if (rc != 0) return DpdkError(rc, "rte_eth_dev_info_get", name);
  info_.driver = dev_info.driver_name != nullptr ? dev_info.driver_name : "?";
  info_.device_max_rx_pktlen = dev_info.max_rx_pktlen;
  int socket = rte_eth_dev_socket_id(port_id);
  info_.socket_id = socket < 0 ? SOCKET_ID_ANY : socket;

  REPLINK_ASSIGN_OR_RETURN(MemifFacts memif, ReadMemifFacts(config));
  memif_client_ = memif.client;
  DeviceFrameCaps caps{info_.driver, dev_info.max_rx_pktlen, dev_info.min_mtu, dev_info.max_mtu,
                       memif.buffer_size};
  auto limits = ComputeFrameLimits(config.mtu, caps);
  if (!limits.ok()) return WithContext(std::move(limits).error(), fmt::format("port {}", name));
  info_.mtu = limits->ethdev_mtu;
  info_.max_frame_bytes = limits->max_frame_bytes;
  info_.mtu_reduced = limits->reduced;

  if (dev_info.max_rx_queues < 1 || dev_info.max_tx_queues < 1) {
    return MakeError(Errc::kUnsupported, "port {}: device offers {} rx / {} tx queues", name,
                     dev_info.max_rx_queues, dev_info.max_tx_queues);
  }
  info_.tx_queues_requested = std::max<uint16_t>(options.tx_queues, 1);
  info_.tx_queues = std::min<uint16_t>(
      {info_.tx_queues_requested, dev_info.max_tx_queues, PortIo::kMaxTxQueues});

  rte_eth_conf conf;
  std::memset(&conf, 0, sizeof(conf));
  conf.rxmode.mtu = info_.mtu;
  rc = rte_eth_dev_configure(port_id, 1, info_.tx_queues, &conf);
  if (rc != 0) return DpdkError(rc, "rte_eth_dev_configure", name);

  uint16_t rx_desc = static_cast<uint16_t>(std::min<uint32_t>(config.rx_queue_size, UINT16_MAX));
  uint16_t tx_desc = static_cast<uint16_t>(std::min<uint32_t>(config.tx_queue_size, UINT16_MAX));
  rc = rte_eth_dev_adjust_nb_rx_tx_desc(port_id, &rx_desc, &tx_desc);
  if (rc != 0) return DpdkError(rc, "rte_eth_dev_adjust_nb_rx_tx_desc", name);
  info_.rx_descriptors = rx_desc;
  info_.tx_descriptors = tx_desc;

  uint64_t pinned = uint64_t{rx_desc} + uint64_t{tx_desc} * info_.tx_queues + kInFlightMbufHeadroom;
  if (config.mempool_size < pinned) {
    return MakeError(Errc::kInvalidArgument,
                     "port {}: port.mempool_size {} is too small: the rings alone can hold {} "
                     "mbufs ({} rx + {} x {} tx descriptors + {} in flight)",
                     name, config.mempool_size, pinned, rx_desc, info_.tx_queues, tx_desc,
                     kInFlightMbufHeadroom);
  }

  if (config.mac) {
    rte_ether_addr addr = ToEtherAddr(*config.mac);
    rc = rte_eth_dev_default_mac_addr_set(port_id, &addr);
    if (rc != 0) return DpdkError(rc, "setting port.mac (for memif use the mac= devarg)", name);
  }
  rte_ether_addr addr;
  rc = rte_eth_macaddr_get(port_id, &addr);
  if (rc != 0) return DpdkError(rc, "rte_eth_macaddr_get", name);
  info_.mac = ToMac(addr);

  uint32_t data_room = RTE_PKTMBUF_HEADROOM + limits->mbuf_data_bytes;
  if (data_room > UINT16_MAX) {
    return MakeError(Errc::kUnsupported, "port {}: frames of {} B do not fit one mbuf", name,
                     limits->mbuf_data_bytes);
  }
  info_.mbuf_data_room = data_room;
  info_.mbuf_count = config.mempool_size;
  std::string pool_name = fmt::format("replink-mb-{}", port_id);
  pool_ = rte_pktmbuf_pool_create(pool_name.c_str(), config.mempool_size, config.mempool_cache, 0,
                                  static_cast<uint16_t>(data_room), info_.socket_id);
  if (pool_ == nullptr) {
    return DpdkError(rte_errno,
                     fmt::format("creating mempool of {} mbufs x {} B (raise eal.memory_mb?)",
                                 config.mempool_size, data_room),
                     name);
  }

  rc = rte_eth_rx_queue_setup(port_id, 0, rx_desc, info_.socket_id, nullptr, pool_);
  if (rc != 0) return DpdkError(rc, "rte_eth_rx_queue_setup", name);
  for (uint16_t q = 0; q < info_.tx_queues; ++q) {
    rc = rte_eth_tx_queue_setup(port_id, q, tx_desc, info_.socket_id, nullptr);
    if (rc != 0) return DpdkError(rc, fmt::format("rte_eth_tx_queue_setup({})", q), name);
  }
  return Ok();
}

Port::~Port() { Close(); }

void Port::Close() {
  if (open_) {
    Stop();
    rte_eth_dev_info dev_info;
    rte_device* device = nullptr;
    if (rte_eth_dev_info_get(info_.port_id, &dev_info) == 0) device = dev_info.device;
    rte_eth_dev_close(info_.port_id);
    // A vdev we hot-plugged is unplugged too, so that the same name can be opened again.
    if (info_.probed_by_us && device != nullptr) rte_dev_remove(device);
    open_ = false;
  }
  if (pool_ != nullptr) {
    rte_mempool_free(pool_);
    pool_ = nullptr;
  }
}

Result<void> Port::Start() {
  if (started_) return Ok();
  int rc = rte_eth_dev_start(info_.port_id);
  if (rc != 0) return DpdkError(rc, "rte_eth_dev_start", info_.name);
  started_ = true;
  // Virtual devices do not filter and may not implement promiscuous mode at all.
  rc = rte_eth_promiscuous_enable(info_.port_id);
  if (rc != 0 && rc != -ENOTSUP) return DpdkError(rc, "rte_eth_promiscuous_enable", info_.name);
  return Ok();
}

void Port::Stop() {
  if (!started_) return;
  rte_eth_dev_stop(info_.port_id);
  started_ = false;
}

LinkStatus Port::Link() const {
  rte_eth_link link;
  std::memset(&link, 0, sizeof(link));
  LinkStatus status;
  if (rte_eth_link_get_nowait(info_.port_id, &link) != 0) return status;
  status.up = link.link_status == RTE_ETH_LINK_UP;
  status.speed_mbps = link.link_speed == RTE_ETH_SPEED_NUM_UNKNOWN ? 0 : link.link_speed;
  status.full_duplex = link.link_duplex == RTE_ETH_LINK_FULL_DUPLEX;
  return status;
}

Result<void> Port::Restart() {
  Stop();
  return Start();
}

Result<void> Port::WaitForLinkUp(std::chrono::milliseconds timeout) {
  using Clock = std::chrono::steady_clock;
  auto deadline = Clock::now() + timeout;
  // The interval doubles (up to 16 s): on a slow machine (the Xen lab's emulated dom0) the memif
  // handshake takes longer than 250 ms, and restarting every 250 ms would cut every attempt short.
  auto interval = std::chrono::duration_cast<Clock::duration>(kReconnectInterval);
  auto next_restart = Clock::now() + interval;
  std::string last_start_error;
  while (!(started_ && Link().up)) {
    auto now = Clock::now();
    if (now >= deadline) {
      std::string hint = info_.driver == "net_memif"
                             ? " (memif: is the peer process up, on the same socket path, with "
                               "the opposite role?)"
                             : "";
      if (!last_start_error.empty()) hint += "; last start attempt: " + last_start_error;
      return MakeError(Errc::kTimeout, "port {}: link still down after {} ms{}", info_.name,
                       timeout.count(), hint);
    }
    bool retry = !started_ || (memif_client_ && now >= next_restart);
    if (retry) {
      auto started = Restart();
      if (!started.ok()) last_start_error = started.error().message;
      next_restart = now + interval;
      interval = std::min<Clock::duration>(interval * 2, std::chrono::seconds(16));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return Ok();
}

uint16_t Port::RxBurst(std::span<rte_mbuf*> out) {
  uint16_t n = static_cast<uint16_t>(std::min<size_t>(out.size(), UINT16_MAX));
  return rte_eth_rx_burst(info_.port_id, 0, out.data(), n);
}

uint16_t Port::TxBurst(uint16_t queue, std::span<rte_mbuf*> frames) {
  // ethdev does not check the queue id outside debug builds. An empty burst is free here:
  // memif would still kick its peer's eventfd (a system call) on every call.
  if (queue >= info_.tx_queues || frames.empty()) return 0;
  uint16_t n = static_cast<uint16_t>(std::min<size_t>(frames.size(), UINT16_MAX));
  return rte_eth_tx_burst(info_.port_id, queue, frames.data(), n);
}

PortCounters Port::Counters() const {
  PortCounters counters;
  rte_eth_stats stats;
  if (rte_eth_stats_get(info_.port_id, &stats) == 0) {
    counters.rx_packets = stats.ipackets;
    counters.rx_bytes = stats.ibytes;
    counters.tx_packets = stats.opackets;
    counters.tx_bytes = stats.obytes;
    counters.rx_errors = stats.ierrors;
    counters.rx_missed = stats.imissed;
    counters.rx_no_mbuf = stats.rx_nombuf;
    counters.tx_errors = stats.oerrors;
  }
  counters.tx_drops = SoftwareTxDrops();
  return counters;
}

}  // namespace replink::port
