#include "link/link_encapsulation.h"

#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "link/wire_access.h"
#include "link_test_support.h"

namespace replink::link {
namespace {

using testing::MakeEncap;
using testing::PeerOf;

std::span<const std::byte> Unwrapped(const LinkEncapsulation& encap, std::span<const std::byte> frame,
                                     FrameFault* fault) {
  std::span<const std::byte> inner;
  FaultDetail detail;
  *fault = encap.Unwrap(frame, &inner, &detail);
  return inner;
}

TEST(InternetChecksum, MatchesRfc1071Example) {
  // RFC 1071 section 3: words 0001 f203 f4f5 f6f7 sum to ddf2 (before complement).
  const uint8_t raw[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  EXPECT_EQ(InternetChecksum(std::as_bytes(std::span(raw))), static_cast<uint16_t>(~0xddf2));
}

TEST(LinkEncapsulation, RejectsBadConfig) {
  EncapsulationConfig c;
  c.mtu = 1000;
  EXPECT_FALSE(LinkEncapsulation::Create(c).ok());
  c.mtu = 9217;
  EXPECT_FALSE(LinkEncapsulation::Create(c).ok());
  c.mtu = 1500;
  c.ether_type = 0x05dc;  // a length
  EXPECT_FALSE(LinkEncapsulation::Create(c).ok());
  c.ether_type = kEtherTypeReplink;
  c.kind = Encapsulation::kUdpIpv4;
  EXPECT_FALSE(LinkEncapsulation::Create(c).ok());  // no addresses
}

TEST(LinkEncapsulation, RawEthernetRoundTrip) {
  LinkEncapsulation a = MakeEncap(Encapsulation::kRawEthernet, 1500);
  LinkEncapsulation b = PeerOf(a);
  EXPECT_EQ(a.header_size(), 14u);
  EXPECT_EQ(a.max_link_frame(), 1500u);
  std::vector<std::byte> buf(a.max_frame());
  for (std::size_t i = 0; i < 200; ++i) buf[14 + i] = static_cast<std::byte>(i);
  std::span<std::byte> frame = a.WriteHeaders(buf, 200);
  ASSERT_EQ(frame.size(), 214u);
  EXPECT_EQ(LoadBe16(frame.data() + 12), kEtherTypeReplink);
  EXPECT_EQ(std::memcmp(frame.data(), b.config().local_mac.octets.data(), 6), 0);

  FrameFault fault;
  auto inner = Unwrapped(b, frame, &fault);
  ASSERT_EQ(fault, FrameFault::kNone);
  ASSERT_EQ(inner.size(), 200u);
  EXPECT_EQ(inner.data(), frame.data() + 14);

  // Addressed to someone else, or another EtherType: not for us.
  Unwrapped(a, frame, &fault);
  EXPECT_EQ(fault, FrameFault::kNotForUs);
  frame[13] = std::byte{0xB6};
  Unwrapped(b, frame, &fault);
  EXPECT_EQ(fault, FrameFault::kNotForUs);
  Unwrapped(b, frame.first(10), &fault);
  EXPECT_EQ(fault, FrameFault::kTruncated);
}

TEST(LinkEncapsulation, UdpIpv4RoundTripWithValidHeaderChecksum) {
  LinkEncapsulation a = MakeEncap(Encapsulation::kUdpIpv4, 9000);
  LinkEncapsulation b = PeerOf(a);
  EXPECT_EQ(a.header_size(), 42u);
  EXPECT_EQ(a.max_link_frame(), 9000u - 28u);
  std::vector<std::byte> buf(a.max_frame());
  std::span<std::byte> frame = a.WriteHeaders(buf, 1000);
  ASSERT_EQ(frame.size(), 1042u);
  const std::byte* ip = frame.data() + 14;
  EXPECT_EQ(LoadBe16(frame.data() + 12), kEtherTypeIpv4);
  EXPECT_EQ(std::to_integer<int>(ip[0]), 0x45);
  EXPECT_EQ(LoadBe16(ip + 2), 1028u);
  EXPECT_EQ(LoadBe16(ip + 6), 0x4000u);  // DF
  EXPECT_EQ(std::to_integer<int>(ip[9]), 17);
  EXPECT_EQ(LoadBe32(ip + 12), 0x0a000001u);
  EXPECT_EQ(LoadBe32(ip + 16), 0x0a000002u);
  EXPECT_EQ(InternetChecksum(std::span<const std::byte>(ip, 20)), 0u);
  EXPECT_NE(LoadBe16(ip + 10), 0u);
  EXPECT_EQ(LoadBe16(ip + 20 + 2), kDefaultUdpPort);
  EXPECT_EQ(LoadBe16(ip + 20 + 4), 1008u);

  FrameFault fault;
  auto inner = Unwrapped(b, frame, &fault);
  ASSERT_EQ(fault, FrameFault::kNone);
  EXPECT_EQ(inner.size(), 1000u);
  EXPECT_EQ(inner.data(), frame.data() + 42);

  // Ethernet padding behind the datagram is tolerated.
  std::vector<std::byte> padded(frame.begin(), frame.end());
  padded.resize(padded.size() + 6);
  inner = Unwrapped(b, padded, &fault);
  EXPECT_EQ(fault, FrameFault::kNone);
  EXPECT_EQ(inner.size(), 1000u);
}

TEST(LinkEncapsulation, UdpIpv4Refusals) {
  LinkEncapsulation a = MakeEncap(Encapsulation::kUdpIpv4, 1500);
  LinkEncapsulation b = PeerOf(a);
  std::vector<std::byte> buf(a.max_frame());
  std::span<std::byte> good = a.WriteHeaders(buf, 300);
  auto check = [&](auto mutate, FrameFault expected) {
    std::vector<std::byte> f(good.begin(), good.end());
    mutate(f);
    FrameFault fault;
    Unwrapped(b, f, &fault);
    EXPECT_EQ(fault, expected) << FrameFaultName(fault);
  };
  auto refix_ip = [](std::vector<std::byte>& f) {
    StoreBe16(f.data() + 24, 0);
    StoreBe16(f.data() + 24, InternetChecksum(std::span<const std::byte>(f.data() + 14, 20)));
  };
  check([](auto& f) { f[14 + 8] ^= std::byte{1}; }, FrameFault::kBadIpHeader);  // ttl, no refix
  check([&](auto& f) { f[14] = std::byte{0x65}; refix_ip(f); }, FrameFault::kBadIpHeader);
  check([&](auto& f) { StoreBe16(f.data() + 20, 0x2000); refix_ip(f); }, FrameFault::kBadIpHeader);
  check([&](auto& f) { StoreBe16(f.data() + 20, 0x0001); refix_ip(f); }, FrameFault::kBadIpHeader);
  check([&](auto& f) { StoreBe16(f.data() + 16, 2000); refix_ip(f); }, FrameFault::kBadIpHeader);
  check([&](auto& f) { f[23] = std::byte{6}; refix_ip(f); }, FrameFault::kNotForUs);  // TCP
  check([&](auto& f) { StoreBe32(f.data() + 30, 0x0a000009); refix_ip(f); }, FrameFault::kNotForUs);
  check([](auto& f) { StoreBe16(f.data() + 36, 53); }, FrameFault::kNotForUs);
  check([](auto& f) { StoreBe16(f.data() + 38, 100); }, FrameFault::kBadUdpHeader);
  check([](auto& f) { StoreBe16(f.data() + 40, 0x1234); }, FrameFault::kBadUdpHeader);
  check([](auto& f) { f.resize(30); }, FrameFault::kTruncated);

  // A correct non-zero UDP checksum is verified and accepted.
  std::vector<std::byte> f(good.begin(), good.end());
  const std::byte* ip = f.data() + 14;
  uint32_t sum = 0;
  for (int i = 0; i < 8; i += 2) sum += LoadBe16(ip + 12 + i);
  sum += 17 + 308;
  uint16_t udp_sum = InternetChecksum(std::span<const std::byte>(f.data() + 34, 308), sum);
  StoreBe16(f.data() + 40, udp_sum == 0 ? 0xffff : udp_sum);
  FrameFault fault;
  Unwrapped(b, f, &fault);
  EXPECT_EQ(fault, FrameFault::kNone);
  f[34 + 8 + 5] ^= std::byte{0x40};
  Unwrapped(b, f, &fault);
  EXPECT_EQ(fault, FrameFault::kBadUdpHeader);
}

}  // namespace
}  // namespace replink::link
