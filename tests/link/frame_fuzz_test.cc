// Fuzz-style tests: random bytes and mutated valid frames go through every parser. Nothing may crash
// or read out of bounds (run under ASan/UBSan too); every flipped bit must be caught by the CRC; what
// is accepted after a re-sealed mutation must still walk within its payload.
#include <algorithm>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "link/epoch_record_assembler.h"
#include "link/frame_reader.h"
#include "link/frame_writer.h"
#include "link/hello_exchange.h"
#include "link/wire_access.h"
#include "link_test_support.h"

namespace replink::link {
namespace {

using testing::FrameBytes;
using testing::MakeEncap;
using testing::PeerOf;

void Reseal(FrameBytes& link_frame) {
  if (link_frame.size() < kLinkHeaderSize) return;
  StoreWire(std::span(link_frame), kFrameCrcOffset, uint32_t{0});
  StoreWire(std::span(link_frame), kFrameCrcOffset, ComputeFrameCrc(link_frame));
}

// Walks an accepted frame the way the dataplane would, checking every view stays inside the payload.
void Consume(const FrameView& view, EpochRecordAssembler& assembler) {
  if (view.type() == FrameType::kHello || view.type() == FrameType::kHelloAck) {
    (void)DecodeHello(view.payload);
    return;
  }
  if (view.type() != FrameType::kData) return;
  RecordCursor cursor(view);
  RecordView r;
  int records = 0;
  while (cursor.Next(&r)) {
    ++records;
    if (!r.fragment.empty()) {
      ASSERT_GE(r.fragment.data(), view.payload.data());
      ASSERT_LE(r.fragment.data() + r.fragment.size(), view.payload.data() + view.payload.size());
    }
    RecordView whole;
    auto fed = assembler.Feed(r, &whole);
    if (!fed.ok()) assembler.Reset();
  }
  EXPECT_EQ(cursor.fault(), FrameFault::kNone);  // accepted frames walk to the end
  EXPECT_GT(records, 0);
}

std::vector<FrameBytes> ValidLinkFrames(uint32_t mtu, uint64_t seed) {
  LinkEncapsulation encap = MakeEncap(Encapsulation::kRawEthernet, mtu);
  std::mt19937_64 rng(seed);
  std::vector<FrameBytes> out;
  for (uint64_t epoch = 1; epoch <= 6; ++epoch) {
    auto e = testing::RandomEpoch(epoch, rng, 12);
    uint64_t seq = 0;
    auto frames = testing::PackEpoch(encap, 4, e, [&](FrameWriter& w) {
      return w.FinishData(seq++, FrameStamp{7, AckFields{seq, rng(), 16, std::nullopt}, false});
    });
    for (auto& f : frames) out.emplace_back(f.begin() + 14, f.end());
  }
  // And one of each control frame.
  FrameBytes buf(encap.max_frame());
  HelloInfo hello;
  hello.instance_id = 5;
  hello.name = "fuzz";
  hello.streams = {{1, StreamRole::kPrimary}, {2, StreamRole::kSecondary}};
  std::vector<std::byte> payload;
  EXPECT_TRUE(EncodeHello(hello, payload).ok());
  LinkHeader h{};
  h.type = static_cast<uint8_t>(FrameType::kHello);
  auto f = BuildControlFrame(encap, buf, h, payload);
  out.emplace_back(f.begin() + 14, f.end());
  HeartbeatPayload hb{5, 6, 7, 8};
  h.type = static_cast<uint8_t>(FrameType::kHeartbeat);
  f = BuildControlFrame(encap, buf, h, std::as_bytes(std::span(&hb, 1)));
  out.emplace_back(f.begin() + 14, f.end());
  return out;
}

TEST(FrameFuzz, RandomBytesAreRefused) {
  std::mt19937_64 rng(1234);
  FrameReader reader;
  LinkEncapsulation raw = MakeEncap(Encapsulation::kRawEthernet, 9000);
  LinkEncapsulation udp = MakeEncap(Encapsulation::kUdpIpv4, 9000);
  for (int i = 0; i < 20000; ++i) {
    std::size_t n = rng() % 3 == 0 ? rng() % 200 : rng() % 9300;
    FrameBytes bytes = testing::RandomBytes(n, rng);
    EXPECT_FALSE(reader.Parse(bytes).ok());
    EXPECT_FALSE(reader.ParseEthernet(raw, bytes).ok());
    EXPECT_FALSE(reader.ParseEthernet(udp, bytes).ok());
  }
  EXPECT_EQ(reader.accepted(), 0u);
  EXPECT_EQ(reader.faults().Total(), 60000u);
}

TEST(FrameFuzz, RandomBytesBehindAValidHeaderNeverCrash) {
  std::mt19937_64 rng(99);
  FrameReader reader;
  EpochRecordAssembler assembler(1, 64 * 1024);
  int accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    std::size_t payload = rng() % 2 ? rng() % 64 : rng() % 2000;
    FrameBytes f = testing::RandomBytes(kLinkHeaderSize + payload, rng);
    LinkHeader h{};
    h.magic = kLinkMagic;
    h.version = kLinkHeaderVersion;
    h.type = static_cast<uint8_t>(1 + rng() % 6);
    h.payload_length = static_cast<uint32_t>(payload);
    h.epoch = rng() % 3;
    StoreWire(std::span(f), 0, h);
    // Sprinkle plausible record headers so the record checks are exercised, not only the first.
    for (std::size_t at = kLinkHeaderSize; at + 8 <= f.size(); at += 8 + rng() % 64) {
      RecordHeader rh{static_cast<uint8_t>(rng() % 9), 0, 0, static_cast<uint32_t>(rng() % 80)};
      if (rng() % 4) StoreWire(std::span(f), at, rh);
    }
    Reseal(f);
    auto parsed = reader.Parse(f);
    if (parsed.ok()) {
      ++accepted;
      Consume(*parsed, assembler);
    }
  }
  EXPECT_GE(reader.faults()[FrameFault::kMalformedRecord] + reader.faults()[FrameFault::kUnknownRecord],
            1u);
  RecordProperty("accepted", accepted);
}

TEST(FrameFuzz, EveryBitFlipOfAValidFrameIsCaught) {
  FrameReader reader;
  for (uint32_t mtu : {1500u, 9000u}) {
    std::mt19937_64 rng(mtu);
    for (const FrameBytes& good : ValidLinkFrames(mtu, mtu)) {
      ASSERT_TRUE(reader.Parse(good).ok());
      for (int k = 0; k < 40; ++k) {
        FrameBytes f = good;
        int flips = 1 + static_cast<int>(rng() % 3);
        for (int j = 0; j < flips; ++j) {
          std::size_t bit = rng() % (f.size() * 8);
          f[bit / 8] ^= static_cast<std::byte>(1u << (bit % 8));
        }
        if (f == good) continue;  // two flips of the same bit
        auto r = reader.Parse(f);
        ASSERT_FALSE(r.ok());
        FrameFault fault = reader.last_fault();
        EXPECT_TRUE(fault == FrameFault::kBadChecksum || fault == FrameFault::kBadMagic ||
                    fault == FrameFault::kBadVersion)
            << FrameFaultName(fault);
      }
    }
  }
}

TEST(FrameFuzz, ResealedMutationsAreCheckedFieldByField) {
  FrameReader reader;
  EpochRecordAssembler assembler(4, 64 * 1024);
  std::mt19937_64 rng(555);
  int accepted = 0;
  int refused = 0;
  for (uint32_t mtu : {1500u, 9000u}) {
    std::vector<FrameBytes> frames = ValidLinkFrames(mtu, mtu + 1);
    for (int i = 0; i < 20000; ++i) {
      FrameBytes f = frames[rng() % frames.size()];
      switch (rng() % 5) {
        case 0:  // random bytes overwritten (header fields included)
          for (int j = 0; j < 1 + static_cast<int>(rng() % 4); ++j)
            f[rng() % f.size()] = static_cast<std::byte>(rng());
          break;
        case 1:  // a random 32-bit field somewhere in the records
          if (f.size() >= kLinkHeaderSize + 4) {
            std::size_t at = kLinkHeaderSize + rng() % (f.size() - kLinkHeaderSize - 3);
            StoreWire(std::span(f), at, static_cast<uint32_t>(rng()));
          }
          break;
        case 2:  // truncated, length fixed up to match
          f.resize(kLinkHeaderSize + rng() % (f.size() - kLinkHeaderSize + 1));
          StoreWire(std::span(f), 12, static_cast<uint32_t>(f.size() - kLinkHeaderSize));
          break;
        case 3:  // extended with junk, length fixed up
          for (int j = 0; j < 1 + static_cast<int>(rng() % 40); ++j)
            f.push_back(static_cast<std::byte>(rng()));
          StoreWire(std::span(f), 12, static_cast<uint32_t>(f.size() - kLinkHeaderSize));
          break;
        default:  // body_length of the first record
          if (f.size() >= kLinkHeaderSize + 8)
            StoreWire(std::span(f), kLinkHeaderSize + 4, static_cast<uint32_t>(rng() % 10000));
          break;
      }
      Reseal(f);
      auto parsed = reader.Parse(f);
      if (parsed.ok()) {
        ++accepted;
        Consume(*parsed, assembler);
      } else {
        ++refused;
      }
    }
  }
  EXPECT_GT(refused, 0);
  EXPECT_GT(accepted, 0);  // some mutations stay valid (payload bytes): the walk above checked them
}

TEST(FrameFuzz, RandomHelloPayloadsDecodeOrFailCleanly) {
  std::mt19937_64 rng(3);
  for (int i = 0; i < 20000; ++i) {
    std::vector<std::byte> p = testing::RandomBytes(rng() % 300, rng);
    if (p.size() >= sizeof(HelloPayload) && rng() % 2) {
      auto h = LoadWire<HelloPayload>(p);
      h.stream_count = static_cast<uint32_t>((p.size() - sizeof(HelloPayload)) / 8);
      StoreWire(std::span(p), 0, h);
    }
    auto r = DecodeHello(p);
    if (r.ok()) {
      EXPECT_LE(r->streams.size(), kMaxHelloStreams);
    }
  }
}

}  // namespace
}  // namespace replink::link
