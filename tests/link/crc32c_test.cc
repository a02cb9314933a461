#include "link/crc32c.h"

#include <cstring>
#include <random>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

namespace replink::link {
namespace {

std::span<const std::byte> Text(std::string_view s) { return std::as_bytes(std::span(s)); }

TEST(Crc32c, KnownVectors) {
  // RFC 3720 (iSCSI) B.4 and the common check value.
  EXPECT_EQ(Crc32c(Text("123456789")), 0xE3069283u);
  std::vector<std::byte> zeros(32, std::byte{0});
  EXPECT_EQ(Crc32c(zeros), 0x8A9136AAu);
  std::vector<std::byte> ones(32, std::byte{0xff});
  EXPECT_EQ(Crc32c(ones), 0x62A8AB43u);
  std::vector<std::byte> inc(32);
  for (std::size_t i = 0; i < inc.size(); ++i) inc[i] = static_cast<std::byte>(i);
  EXPECT_EQ(Crc32c(inc), 0x46DD794Eu);
  EXPECT_EQ(Crc32c({}), 0u);
}

TEST(Crc32c, PortableAndHardwareAgreeOnEveryLengthAndAlignment) {
  std::mt19937_64 rng(7);
  std::vector<std::byte> buf(9300);
  for (auto& b : buf) b = static_cast<std::byte>(rng());
  for (std::size_t offset = 0; offset < 8; ++offset) {
    for (std::size_t len : {0u, 1u, 7u, 8u, 9u, 63u, 64u, 65u, 1500u, 4096u, 9216u}) {
      auto s = std::span<const std::byte>(buf).subspan(offset, len);
      uint32_t portable = Crc32cPortable(s);
      if (Crc32cHardwareAvailable()) {
        EXPECT_EQ(Crc32cHardware(s), portable) << offset << " " << len;
      }
      EXPECT_EQ(Crc32c(s), portable);
    }
  }
}

TEST(Crc32c, ChainsLikeOneBuffer) {
  std::string_view text = "the quick brown fox jumps over the lazy dog";
  for (std::size_t cut = 0; cut <= text.size(); ++cut) {
    uint32_t head = Crc32c(Text(text.substr(0, cut)));
    EXPECT_EQ(Crc32c(Text(text.substr(cut)), head), Crc32c(Text(text)));
    EXPECT_EQ(Crc32cPortable(Text(text.substr(cut)), Crc32cPortable(Text(text.substr(0, cut)))),
              Crc32c(Text(text)));
  }
}

TEST(Crc32c, DetectsEverySingleAndDoubleBitFlipOfAFrame) {
  std::mt19937_64 rng(11);
  std::vector<std::byte> frame(1400);
  for (auto& b : frame) b = static_cast<std::byte>(rng());
  uint32_t good = Crc32c(frame);
  for (std::size_t bit = 0; bit < frame.size() * 8; bit += 13) {
    frame[bit / 8] ^= static_cast<std::byte>(1u << (bit % 8));
    EXPECT_NE(Crc32c(frame), good);
    std::size_t other = (bit * 7919 + 5) % (frame.size() * 8);
    if (other != bit) {
      frame[other / 8] ^= static_cast<std::byte>(1u << (other % 8));
      EXPECT_NE(Crc32c(frame), good);
      frame[other / 8] ^= static_cast<std::byte>(1u << (other % 8));
    }
    frame[bit / 8] ^= static_cast<std::byte>(1u << (bit % 8));
  }
}

}  // namespace
}  // namespace replink::link
