#include "dataplane/port/frame_limits.h"

#include <algorithm>
#include <limits>

namespace replink::port {

Result<FrameLimits> ComputeFrameLimits(uint32_t configured_mtu, const DeviceFrameCaps& caps) {
  // ethdev's own rule for the L2 overhead between MTU and max_rx_pktlen.
  uint32_t overhead = kEthernetHeaderBytes + kEthernetFcsBytes;
  if (caps.max_mtu != std::numeric_limits<uint16_t>::max() && caps.max_rx_pktlen > caps.max_mtu) {
    overhead = caps.max_rx_pktlen - caps.max_mtu;
  }
  if (caps.max_rx_pktlen <= overhead) {
    return MakeError(Errc::kUnsupported, "driver {} reports max_rx_pktlen {} (no room for a frame)",
                     caps.driver, caps.max_rx_pktlen);
  }
  uint64_t device_mtu = std::min<uint64_t>(caps.max_mtu, caps.max_rx_pktlen - overhead);
  FrameLimits limits;
  limits.ethdev_mtu = static_cast<uint16_t>(std::min<uint64_t>(configured_mtu, device_mtu));
  if (limits.ethdev_mtu < caps.min_mtu) {
    return MakeError(Errc::kUnsupported, "driver {}: MTU {} is below the device minimum {}",
                     caps.driver, limits.ethdev_mtu, caps.min_mtu);
  }

  uint32_t wanted_frame = configured_mtu + kEthernetHeaderBytes;
  if (caps.driver == "net_memif") {
    uint64_t bsize = caps.memif_buffer_size != 0 ? caps.memif_buffer_size : 2048;
    limits.max_frame_bytes = static_cast<uint32_t>(std::min<uint64_t>(wanted_frame, bsize));
  } else {
    limits.max_frame_bytes = limits.ethdev_mtu + kEthernetHeaderBytes;
  }
  limits.reduced = limits.max_frame_bytes < wanted_frame;
  // Room for the frame as the NIC writes it (FCS, one VLAN tag) so that it never needs scatter.
  uint32_t rx_frame = std::max<uint32_t>(limits.max_frame_bytes,
                                         limits.ethdev_mtu + overhead + kVlanTagBytes);
  limits.mbuf_data_bytes = std::max<uint32_t>(rx_frame, 2048);
  return limits;
}

}  // namespace replink::port
