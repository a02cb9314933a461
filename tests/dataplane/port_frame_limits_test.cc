// ComputeFrameLimits: the MTU and frame size a port really gets, per driver quirk.
#include <gtest/gtest.h>

#include "dataplane/port/frame_limits.h"

namespace replink::port {
namespace {

constexpr uint16_t kNoMaxMtu = 65535;

TEST(FrameLimits, AfPacketIsCappedAt1518ByteFrames) {
  // What DPDK 22.11 af_packet reports (measured): max_rx_pktlen 1518, max_mtu 65535.
  DeviceFrameCaps caps{"net_af_packet", 1518, 46, kNoMaxMtu, 0};
  auto limits = ComputeFrameLimits(9000, caps);
  ASSERT_TRUE(limits.ok());
  EXPECT_EQ(limits->ethdev_mtu, 1500);
  EXPECT_EQ(limits->max_frame_bytes, 1514u);
  EXPECT_TRUE(limits->reduced);
  auto fits = ComputeFrameLimits(1500, caps);
  ASSERT_TRUE(fits.ok());
  EXPECT_FALSE(fits->reduced);
  EXPECT_EQ(fits->max_frame_bytes, 1514u);
}

TEST(FrameLimits, MemifIsLimitedByItsBufferSizeNotByEthdev) {
  // memif reports max_rx_pktlen 1518 too but carries whatever fits one bsize buffer.
  DeviceFrameCaps caps{"net_memif", 1518, 46, kNoMaxMtu, 9216};
  auto limits = ComputeFrameLimits(9000, caps);
  ASSERT_TRUE(limits.ok());
  EXPECT_EQ(limits->ethdev_mtu, 1500);  // what ethdev accepts
  EXPECT_EQ(limits->max_frame_bytes, 9014u);
  EXPECT_FALSE(limits->reduced);
  EXPECT_GE(limits->mbuf_data_bytes, 9014u);

  caps.memif_buffer_size = 4096;
  auto small = ComputeFrameLimits(9000, caps);
  ASSERT_TRUE(small.ok());
  EXPECT_EQ(small->max_frame_bytes, 4096u);
  EXPECT_TRUE(small->reduced);

  caps.memif_buffer_size = 0;  // devarg absent: the driver default 2048
  EXPECT_EQ(ComputeFrameLimits(9000, caps)->max_frame_bytes, 2048u);
}

TEST(FrameLimits, NicWithJumboSupportUsesItsOverhead) {
  // A NIC that reports max_mtu: overhead = max_rx_pktlen - max_mtu (here 26: header, FCS, 2 VLANs).
  DeviceFrameCaps caps{"net_ice", 9728, 68, 9702, 0};
  auto limits = ComputeFrameLimits(9000, caps);
  ASSERT_TRUE(limits.ok());
  EXPECT_EQ(limits->ethdev_mtu, 9000);
  EXPECT_EQ(limits->max_frame_bytes, 9014u);
  EXPECT_FALSE(limits->reduced);
  EXPECT_GE(limits->mbuf_data_bytes, 9000u + 26u);  // no scatter needed on receive
  EXPECT_EQ(ComputeFrameLimits(9800, caps)->ethdev_mtu, 9702);
}

TEST(FrameLimits, SmallFramesStillGetAStandardBuffer) {
  DeviceFrameCaps caps{"net_ring", UINT32_MAX, 46, kNoMaxMtu, 0};
  auto limits = ComputeFrameLimits(576, caps);
  ASSERT_TRUE(limits.ok());
  EXPECT_EQ(limits->max_frame_bytes, 590u);
  EXPECT_EQ(limits->mbuf_data_bytes, 2048u);
}

TEST(FrameLimits, ImpossibleDevicesAreErrors) {
  EXPECT_FALSE(ComputeFrameLimits(1500, {"net_x", 10, 46, kNoMaxMtu, 0}).ok());
  EXPECT_FALSE(ComputeFrameLimits(68, {"net_x", 1518, 100, kNoMaxMtu, 0}).ok());
}

}  // namespace
}  // namespace replink::port
