// FrameWriter + FrameReader + RecordCursor: what is written is read back, fragments fit the MTU, and
// every header rule is enforced.
#include <cstring>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "capture/capture_ring_abi.h"
#include "link/frame_reader.h"
#include "link/frame_writer.h"
#include "link/wire_access.h"
#include "link_test_support.h"

namespace replink::link {
namespace {

using testing::FrameBytes;
using testing::MakeEncap;
using testing::PeerOf;

FrameStamp Stamp() { return FrameStamp{0x1234, std::nullopt, false}; }

std::vector<RecordView> Records(const FrameView& frame) {
  std::vector<RecordView> out;
  RecordCursor cursor(frame);
  RecordView r;
  while (cursor.Next(&r)) out.push_back(r);
  EXPECT_EQ(cursor.fault(), FrameFault::kNone);
  return out;
}

TEST(FrameWriter, SmallRecordsRoundTrip) {
  LinkEncapsulation encap = MakeEncap(Encapsulation::kRawEthernet, 1500);
  LinkEncapsulation peer = PeerOf(encap);
  FrameBytes buf(encap.max_frame());
  FrameWriter w(encap);
  w.BeginData(buf, 7, 42);
  ASSERT_TRUE(w.AddEpochBegin(EpochTrigger::kDiskWrite, capture_abi::kBeginCatchUp));
  ASSERT_TRUE(w.AddZeroPage(0x1000));
  std::vector<std::byte> lz(200, std::byte{0x5a});
  std::size_t off = 0;
  ASSERT_EQ(w.AddPage({0x2000, 3, 0, lz}, off), AppendResult::kComplete);
  std::vector<std::byte> delta(100, std::byte{1});
  off = 0;
  ASSERT_EQ(w.AddPage({0x3000, 2, 41, delta}, off), AppendResult::kComplete);
  std::vector<std::byte> vcpu(300, std::byte{2});
  off = 0;
  ASSERT_EQ(w.AddBlob(RecordType::kVcpuState, 1, vcpu, off), AppendResult::kComplete);
  std::vector<std::byte> disk(512, std::byte{3});
  off = 0;
  ASSERT_EQ(w.AddDiskWrite(2, 777, disk, off), AppendResult::kComplete);
  ASSERT_TRUE(w.AddEpochEnd(5, 0xfeedULL));
  EXPECT_EQ(w.record_count(), 7u);
  AckFields ack{100, 0b101, 64, std::nullopt};
  std::span<std::byte> frame = w.FinishData(9, FrameStamp{0x1234, ack, true});
  EXPECT_LE(frame.size(), encap.max_frame());

  FrameReader reader;
  auto parsed = reader.ParseEthernet(peer, frame);
  ASSERT_TRUE(parsed.ok()) << parsed.error().Describe();
  const LinkHeader& h = parsed->header;
  EXPECT_EQ(parsed->type(), FrameType::kData);
  EXPECT_EQ(h.stream_id, 7u);
  EXPECT_EQ(h.epoch, 42u);
  EXPECT_EQ(h.seq, 9u);
  EXPECT_EQ(h.session_id, 0x1234u);
  EXPECT_EQ(h.flags, kFlagAckValid | kFlagAckRequest);
  ASSERT_TRUE(AckFromHeader(h).has_value());
  EXPECT_EQ(*AckFromHeader(h), ack);

  auto recs = Records(*parsed);
  ASSERT_EQ(recs.size(), 7u);
  EXPECT_EQ(recs[0].type, RecordType::kEpochBegin);
  EXPECT_EQ(recs[0].epoch, 42u);
  EXPECT_EQ(recs[0].trigger, EpochTrigger::kDiskWrite);
  EXPECT_EQ(recs[0].begin_flags, capture_abi::kBeginCatchUp);
  EXPECT_EQ(recs[1].type, RecordType::kZeroPage);
  EXPECT_EQ(recs[1].gfn, 0x1000u);
  EXPECT_EQ(recs[2].type, RecordType::kPage);
  EXPECT_EQ(recs[2].codec, 3u);
  EXPECT_TRUE(recs[2].whole());
  EXPECT_TRUE(std::equal(lz.begin(), lz.end(), recs[2].fragment.begin(), recs[2].fragment.end()));
  EXPECT_EQ(recs[3].base_version, 41u);
  EXPECT_EQ(recs[4].type, RecordType::kVcpuState);
  EXPECT_EQ(recs[4].index, 1u);
  EXPECT_EQ(recs[5].type, RecordType::kDiskWrite);
  EXPECT_EQ(recs[5].index, 2u);
  EXPECT_EQ(recs[5].sector, 777u);
  EXPECT_EQ(recs[6].type, RecordType::kEpochEnd);
  EXPECT_EQ(recs[6].record_count, 5u);
  EXPECT_EQ(recs[6].checksum, 0xfeedULL);
}

TEST(FrameWriter, RawPageFragmentsAcross1500ByteFrames) {
  LinkEncapsulation encap = MakeEncap(Encapsulation::kRawEthernet, 1500);
  std::mt19937_64 rng(1);
  testing::TestEpoch e;
  e.epoch = 3;
  testing::TestItem page;
  page.gfn = 99;
  page.data = testing::RandomBytes(kPageSize, rng);
  e.items.push_back(page);
  uint64_t seq = 0;
  auto frames = testing::PackEpoch(encap, 1, e, [&](FrameWriter& w) {
    return w.FinishData(seq++, Stamp());
  });
  // 4096 bytes at <= 1500 - 96 - 32 per fragment: 4 frames.
  ASSERT_EQ(frames.size(), 4u);
  FrameReader reader;
  LinkEncapsulation peer = PeerOf(encap);
  std::vector<std::byte> joined;
  for (const FrameBytes& f : frames) {
    EXPECT_LE(f.size(), 14u + 1500u);
    auto parsed = reader.ParseEthernet(peer, f);
    ASSERT_TRUE(parsed.ok()) << parsed.error().Describe();
    for (const RecordView& r : Records(*parsed)) {
      if (r.type != RecordType::kPage) continue;
      EXPECT_EQ(r.total_length, kPageSize);
      EXPECT_EQ(r.fragment_offset, joined.size());
      joined.insert(joined.end(), r.fragment.begin(), r.fragment.end());
    }
  }
  EXPECT_EQ(joined, page.data);
}

TEST(FrameWriter, TwoRawPagesFitOneJumboFrame) {
  LinkEncapsulation encap = MakeEncap(Encapsulation::kRawEthernet, 9000);
  std::mt19937_64 rng(2);
  FrameBytes buf(encap.max_frame());
  FrameWriter w(encap);
  w.BeginData(buf, 1, 1);
  auto a = testing::RandomBytes(kPageSize, rng);
  auto b = testing::RandomBytes(kPageSize, rng);
  std::size_t off = 0;
  ASSERT_EQ(w.AddPage({1, 0, 0, a}, off), AppendResult::kComplete);
  off = 0;
  ASSERT_EQ(w.AddPage({2, 0, 0, b}, off), AppendResult::kComplete);
  // A third page only starts here as a fragment, then the frame is full.
  off = 0;
  auto c = testing::RandomBytes(kPageSize, rng);
  EXPECT_EQ(w.AddPage({3, 0, 0, c}, off), AppendResult::kPartial);
  EXPECT_GT(off, 0u);
  EXPECT_EQ(w.room(), 0u);
  EXPECT_EQ(w.AddPage({3, 0, 0, c}, off), AppendResult::kNoRoom);
}

TEST(FrameWriter, MinimumFragmentAvoidsSlivers) {
  LinkEncapsulation encap = MakeEncap(Encapsulation::kRawEthernet, 1500);
  FrameBytes buf(encap.max_frame());
  FrameWriter w(encap, 512);
  w.BeginData(buf, 1, 1);
  std::vector<std::byte> filler(1500 - 96 - 8 - 16 - 8 - 24 - 100);
  std::size_t off = 0;
  ASSERT_EQ(w.AddBlob(RecordType::kDeviceState, 0, filler, off), AppendResult::kComplete);
  std::vector<std::byte> page(kPageSize);
  off = 0;
  EXPECT_EQ(w.AddPage({1, 0, 0, page}, off), AppendResult::kNoRoom);  // 100 bytes < 512
  EXPECT_EQ(off, 0u);
  // A small item that fits whole still goes in.
  std::vector<std::byte> tiny(50);
  off = 0;
  EXPECT_EQ(w.AddPage({2, 3, 0, tiny}, off), AppendResult::kComplete);
}

TEST(FrameWriter, RejectsItemsBeyondProtocolBounds) {
  LinkEncapsulation encap = MakeEncap();
  FrameBytes buf(encap.max_frame());
  FrameWriter w(encap);
  w.BeginData(buf, 1, 1);
  std::size_t off = 0;
  std::vector<std::byte> big(kPageSize + 1);
  EXPECT_EQ(w.AddPage({1, 0, 0, big}, off), AppendResult::kRejected);
  std::vector<std::byte> odd(513);
  EXPECT_EQ(w.AddDiskWrite(0, 0, odd, off), AppendResult::kRejected);
  EXPECT_EQ(w.AddDiskWrite(0, 0, {}, off), AppendResult::kRejected);
  EXPECT_EQ(w.AddBlob(RecordType::kPage, 0, odd, off), AppendResult::kRejected);
  std::vector<std::byte> huge(kMaxBlobLength + 1);
  EXPECT_EQ(w.AddBlob(RecordType::kVcpuState, 0, huge, off), AppendResult::kRejected);
  EXPECT_EQ(w.payload_size(), 0u);
}

TEST(FrameWriter, RestampRefreshesAckAndKeepsFrameValid) {
  LinkEncapsulation encap = MakeEncap(Encapsulation::kUdpIpv4, 1500);
  LinkEncapsulation peer = PeerOf(encap);
  FrameBytes buf(encap.max_frame());
  FrameWriter w(encap);
  w.BeginData(buf, 3, 10);
  ASSERT_TRUE(w.AddZeroPage(5));
  std::span<std::byte> frame = w.FinishData(77, Stamp());
  FrameReader reader;
  ASSERT_TRUE(reader.ParseEthernet(peer, frame).ok());
  RestampFrame(encap, frame, FrameStamp{0x1234, AckFields{5, 1, 9, std::nullopt}, false});
  auto parsed = reader.ParseEthernet(peer, frame);
  ASSERT_TRUE(parsed.ok()) << parsed.error().Describe();
  EXPECT_EQ(parsed->header.seq, 77u);
  EXPECT_EQ(parsed->header.ack_next, 5u);
  EXPECT_EQ(parsed->header.credits, 9u);
  EXPECT_EQ(parsed->header.flags, kFlagAckValid);
}

// ---- header rules ----

class FrameRules : public ::testing::Test {
 protected:
  FrameRules() : encap_(MakeEncap(Encapsulation::kRawEthernet, 1500)) {}

  // A sealed DATA frame's link part (no Ethernet header).
  FrameBytes DataFrame() {
    FrameBytes buf(encap_.max_frame());
    FrameWriter w(encap_);
    w.BeginData(buf, 1, 5);
    EXPECT_TRUE(w.AddEpochBegin(EpochTrigger::kTimer));
    EXPECT_TRUE(w.AddZeroPage(1));
    auto f = w.FinishData(1, Stamp());
    return FrameBytes(f.begin() + 14, f.end());
  }
  // Re-seals after a mutation so the CRC passes and deeper checks are reached.
  static void Reseal(FrameBytes& f) {
    StoreWire(std::span(f), kFrameCrcOffset, uint32_t{0});
    StoreWire(std::span(f), kFrameCrcOffset, ComputeFrameCrc(f));
  }
  FrameFault Check(const FrameBytes& f) {
    FrameView v;
    return reader_.Inspect(f, &v);
  }
  template <typename T>
  void Put(FrameBytes& f, std::size_t offset, T value) {
    StoreWire(std::span(f), offset, value);
  }

  LinkEncapsulation encap_;
  FrameReader reader_;
};

TEST_F(FrameRules, ValidFramePasses) { EXPECT_EQ(Check(DataFrame()), FrameFault::kNone); }

TEST_F(FrameRules, HeaderFaults) {
  FrameBytes f = DataFrame();
  EXPECT_EQ(Check(FrameBytes(f.begin(), f.begin() + 50)), FrameFault::kTruncated);

  f = DataFrame();
  Put<uint32_t>(f, 0, 0x12345678);
  EXPECT_EQ(Check(f), FrameFault::kBadMagic);

  f = DataFrame();
  Put<uint8_t>(f, 4, 2);
  Reseal(f);
  EXPECT_EQ(Check(f), FrameFault::kBadVersion);

  f = DataFrame();
  f[200 % f.size()] ^= std::byte{0x10};
  EXPECT_EQ(Check(f), FrameFault::kBadChecksum);

  f = DataFrame();
  Put<uint8_t>(f, 5, 9);
  Reseal(f);
  EXPECT_EQ(Check(f), FrameFault::kUnknownType);

  f = DataFrame();
  Put<uint32_t>(f, 12, 3);
  Reseal(f);
  EXPECT_EQ(Check(f), FrameFault::kBadLength);

  f = DataFrame();
  f.resize(f.size() + 4);  // trailing bytes are not tolerated
  Reseal(f);
  EXPECT_EQ(Check(f), FrameFault::kBadLength);

  f = DataFrame();
  Put<uint16_t>(f, 6, kFlagCommitValid);
  Reseal(f);
  EXPECT_EQ(Check(f), FrameFault::kReservedNotZero);

  f = DataFrame();
  Put<uint16_t>(f, 6, kFlagEncrypted);
  Reseal(f);
  EXPECT_EQ(Check(f), FrameFault::kUnsupported);

  f = DataFrame();
  Put<uint32_t>(f, 60, 1);  // key id
  Reseal(f);
  EXPECT_EQ(Check(f), FrameFault::kReservedNotZero);

  f = DataFrame();
  f[80 + 15] = std::byte{1};  // auth tag
  Reseal(f);
  EXPECT_EQ(Check(f), FrameFault::kReservedNotZero);

  f = DataFrame();
  Put<uint64_t>(f, 32, 5);  // ack_next without kFlagAckValid
  Reseal(f);
  EXPECT_EQ(Check(f), FrameFault::kReservedNotZero);

  f = DataFrame();
  f.resize(kLinkHeaderSize);  // DATA without records
  Put<uint32_t>(f, 12, 0);
  Reseal(f);
  EXPECT_EQ(Check(f), FrameFault::kBadLength);
}

TEST_F(FrameRules, RecordFaults) {
  // The records start at 96: EPOCH_BEGIN (8 + 16), then ZERO_PAGE (8 + 8).
  auto mutate = [&](auto fn) {
    FrameBytes f = DataFrame();
    fn(f);
    Reseal(f);
    return Check(f);
  };
  EXPECT_EQ(mutate([&](FrameBytes& f) { Put<uint8_t>(f, 96, 0); }), FrameFault::kUnknownRecord);
  EXPECT_EQ(mutate([&](FrameBytes& f) { Put<uint8_t>(f, 96, 8); }), FrameFault::kUnknownRecord);
  EXPECT_EQ(mutate([&](FrameBytes& f) { Put<uint8_t>(f, 97, 1); }), FrameFault::kReservedNotZero);
  EXPECT_EQ(mutate([&](FrameBytes& f) { Put<uint32_t>(f, 100, 17); }), FrameFault::kMalformedRecord);
  EXPECT_EQ(mutate([&](FrameBytes& f) { Put<uint32_t>(f, 100, 0xffffffff); }),
            FrameFault::kMalformedRecord);
  EXPECT_EQ(mutate([&](FrameBytes& f) { Put<uint64_t>(f, 104, 6); }), FrameFault::kMalformedRecord);
  EXPECT_EQ(mutate([&](FrameBytes& f) { Put<uint8_t>(f, 112, 9); }), FrameFault::kMalformedRecord);
  EXPECT_EQ(mutate([&](FrameBytes& f) { Put<uint8_t>(f, 113, 1); }), FrameFault::kReservedNotZero);
  EXPECT_EQ(mutate([&](FrameBytes& f) { Put<uint16_t>(f, 114, 0x8000); }), FrameFault::kReservedNotZero);
  EXPECT_EQ(mutate([&](FrameBytes& f) { Put<uint16_t>(f, 114, 1); }), FrameFault::kNone);  // catch-up
  // Zero page body of 9 bytes: the record then overruns the payload.
  EXPECT_EQ(mutate([&](FrameBytes& f) { Put<uint32_t>(f, 124, 9); }), FrameFault::kMalformedRecord);
  // A record header cut short at the end of the payload.
  EXPECT_EQ(mutate([&](FrameBytes& f) {
              f.resize(f.size() + 3);
              Put<uint32_t>(f, 12, static_cast<uint32_t>(f.size() - kLinkHeaderSize));
            }),
            FrameFault::kMalformedRecord);
}

TEST_F(FrameRules, FragmentBoundsAndCodecMask) {
  FrameBytes buf(encap_.max_frame());
  FrameWriter w(encap_);
  w.BeginData(buf, 1, 5);
  std::vector<std::byte> data(1000, std::byte{7});
  std::size_t off = 0;
  ASSERT_EQ(w.AddPage({1, 3, 0, data}, off), AppendResult::kComplete);
  auto sealed = w.FinishData(1, Stamp());
  FrameBytes good(sealed.begin() + 14, sealed.end());
  // Page body at 96 + 8: gfn 8, base 8, total u16 @ +16, offset u16 @ +18, codec @ +20.
  constexpr std::size_t kBody = 96 + 8;
  auto mutate = [&](auto fn) {
    FrameBytes f = good;
    fn(f);
    Reseal(f);
    return Check(f);
  };
  EXPECT_EQ(Check(good), FrameFault::kNone);
  EXPECT_EQ(mutate([&](FrameBytes& f) { Put<uint16_t>(f, kBody + 16, 999); }),
            FrameFault::kMalformedRecord);  // fragment longer than the item
  EXPECT_EQ(mutate([&](FrameBytes& f) { Put<uint16_t>(f, kBody + 16, 5000); }),
            FrameFault::kMalformedRecord);  // item beyond a page
  EXPECT_EQ(mutate([&](FrameBytes& f) {
              Put<uint16_t>(f, kBody + 16, 4000);
              Put<uint16_t>(f, kBody + 18, 3500);
            }),
            FrameFault::kMalformedRecord);  // offset + length beyond total
  EXPECT_EQ(mutate([&](FrameBytes& f) { Put<uint8_t>(f, kBody + 20, 200); }), FrameFault::kUnsupported);
  reader_.set_codec_mask(0x1);  // peer negotiated raw only
  EXPECT_EQ(Check(good), FrameFault::kUnsupported);
}

TEST_F(FrameRules, ParseCountsFaultsAndNamesThem) {
  FrameBytes f = DataFrame();
  f[150 % f.size()] ^= std::byte{1};
  auto r = reader_.Parse(f);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kCorrupt);
  EXPECT_NE(r.error().message.find("bad-checksum"), std::string::npos) << r.error().message;
  EXPECT_EQ(reader_.last_fault(), FrameFault::kBadChecksum);
  EXPECT_EQ(reader_.faults()[FrameFault::kBadChecksum], 1u);
  EXPECT_EQ(reader_.faults().Total(), 1u);
  EXPECT_TRUE(reader_.Parse(DataFrame()).ok());
  EXPECT_EQ(reader_.accepted(), 1u);
}

TEST_F(FrameRules, ControlFrames) {
  FrameBytes buf(encap_.max_frame());
  LinkHeader h{};
  h.type = static_cast<uint8_t>(FrameType::kAck);
  h.flags = kFlagAckValid | kFlagCommitValid;
  h.epoch = 17;
  h.ack_next = 4;
  h.credits = 10;
  h.stream_id = 2;
  auto frame = BuildControlFrame(encap_, buf, h, {});
  FrameBytes link(frame.begin() + 14, frame.end());
  FrameView v;
  ASSERT_EQ(reader_.Inspect(link, &v), FrameFault::kNone);
  auto ack = AckFromHeader(v.header);
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ(ack->committed_epoch, std::optional<uint64_t>(17));

  h.flags = kFlagCommitValid;  // ACK without ack fields
  frame = BuildControlFrame(encap_, buf, h, {});
  EXPECT_NE(reader_.Inspect(FrameBytes(frame.begin() + 14, frame.end()), &v), FrameFault::kNone);

  AckFields probe{12, 0b10, 30, 9};
  frame = BuildAckFrame(encap_, buf, 5, 0x77, probe, true);
  ASSERT_EQ(reader_.Inspect(FrameBytes(frame.begin() + 14, frame.end()), &v), FrameFault::kNone);
  EXPECT_EQ(v.header.flags, kFlagAckValid | kFlagAckRequest | kFlagCommitValid);
  EXPECT_EQ(v.header.stream_id, 5u);
  EXPECT_EQ(v.header.session_id, 0x77u);
  EXPECT_EQ(AckFromHeader(v.header), std::optional<AckFields>(probe));
  frame = BuildAckFrame(encap_, buf, 5, 0x77, AckFields{12, 0, 30, std::nullopt});
  ASSERT_EQ(reader_.Inspect(FrameBytes(frame.begin() + 14, frame.end()), &v), FrameFault::kNone);
  EXPECT_EQ(v.header.flags, kFlagAckValid);
  EXPECT_EQ(v.header.epoch, 0u);

  LinkHeader hb{};
  hb.type = static_cast<uint8_t>(FrameType::kHeartbeat);
  HeartbeatPayload p{1, 2, 3, 4};
  frame = BuildControlFrame(encap_, buf, hb, std::as_bytes(std::span(&p, 1)));
  EXPECT_EQ(reader_.Inspect(FrameBytes(frame.begin() + 14, frame.end()), &v), FrameFault::kNone);
  frame = BuildControlFrame(encap_, buf, hb, std::as_bytes(std::span(&p, 1)).first(31));
  EXPECT_EQ(reader_.Inspect(FrameBytes(frame.begin() + 14, frame.end()), &v),
            FrameFault::kBadControlPayload);

  LinkHeader reset{};
  reset.type = static_cast<uint8_t>(FrameType::kReset);
  ResetPayload rp{99, 0};
  frame = BuildControlFrame(encap_, buf, reset, std::as_bytes(std::span(&rp, 1)));
  EXPECT_EQ(reader_.Inspect(FrameBytes(frame.begin() + 14, frame.end()), &v),
            FrameFault::kBadControlPayload);
}

TEST(RecordCursor, StopsAtTheFirstBadRecordOfAnUncheckedPayload) {
  std::vector<std::byte> payload(40);
  RecordHeader rh{static_cast<uint8_t>(RecordType::kZeroPage), 0, 0, 8};
  StoreWire(std::span(payload), 0, rh);
  StoreWire(std::span(payload), 8, ZeroPageBody{5});
  rh.body_length = 1000;  // second record claims more than there is
  StoreWire(std::span(payload), 16, rh);
  RecordCursor cursor(payload, 0);
  RecordView r;
  ASSERT_TRUE(cursor.Next(&r));
  EXPECT_EQ(r.gfn, 5u);
  EXPECT_FALSE(cursor.Next(&r));
  EXPECT_EQ(cursor.fault(), FrameFault::kMalformedRecord);
  EXPECT_FALSE(cursor.Next(&r));
}

}  // namespace
}  // namespace replink::link
