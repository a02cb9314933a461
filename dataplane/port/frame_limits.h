// How large a frame a port can really carry, from the configured MTU and what the driver reports.
// DPDK-free so that the driver quirks are unit tested:
//  - ethdev's MTU is capped by max_mtu and by max_rx_pktlen minus the L2 overhead
//    (af_packet and memif in 22.11 report max_rx_pktlen 1518, i.e. MTU 1500);
//  - memif does not enforce the ethdev MTU at all: a frame travels in one buffer of `bsize`
//    bytes, so its real limit is min(configured MTU + 14, bsize) (larger frames would span
//    several buffers, which 22.11 copy mode corrupts).
#pragma once

#include <cstdint>
#include <string_view>

#include "errors/result.h"

namespace replink::port {

struct DeviceFrameCaps {
  std::string_view driver;     // rte_eth_dev_info::driver_name, e.g. "net_memif"
  uint32_t max_rx_pktlen = 0;  // includes the FCS
  uint16_t min_mtu = 0;
  uint16_t max_mtu = 0;
  uint64_t memif_buffer_size = 0;  // memif bsize devarg (0 when not memif)
};

struct FrameLimits {
  uint16_t ethdev_mtu = 0;        // what is given to rte_eth_dev_configure / set_mtu
  uint32_t max_frame_bytes = 0;   // Ethernet header + payload, without FCS
  uint32_t mbuf_data_bytes = 0;   // data room needed for one received frame in one segment
  bool reduced = false;           // the device cannot carry the configured MTU
};

inline constexpr uint32_t kEthernetHeaderBytes = 14;
inline constexpr uint32_t kEthernetFcsBytes = 4;
inline constexpr uint32_t kVlanTagBytes = 4;

Result<FrameLimits> ComputeFrameLimits(uint32_t configured_mtu, const DeviceFrameCaps& caps);

}  // namespace replink::port
