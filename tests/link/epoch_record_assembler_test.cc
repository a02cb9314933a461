#include "link/epoch_record_assembler.h"

#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "link_test_support.h"

namespace replink::link {
namespace {

using testing::FrameBytes;
using testing::MakeEncap;
using testing::PeerOf;

// Feeds every record of `frames` (in order) and collects the complete records.
Result<std::vector<RecordView>> Assemble(EpochRecordAssembler& assembler,
                                         const std::vector<FrameBytes>& frames,
                                         const LinkEncapsulation& peer,
                                         std::vector<std::vector<std::byte>>* data) {
  FrameReader reader;
  std::vector<RecordView> out;
  for (const FrameBytes& f : frames) {
    REPLINK_ASSIGN_OR_RETURN(FrameView view, reader.ParseEthernet(peer, f));
    RecordCursor cursor(view);
    RecordView r;
    while (cursor.Next(&r)) {
      RecordView whole;
      REPLINK_ASSIGN_OR_RETURN(bool done, assembler.Feed(r, &whole));
      if (!done) continue;
      out.push_back(whole);
      data->emplace_back(whole.fragment.begin(), whole.fragment.end());
    }
  }
  return out;
}

TEST(EpochRecordAssembler, ReassemblesEveryItemOfRandomEpochsAtBothMtus) {
  for (uint32_t mtu : {1500u, 9000u}) {
    LinkEncapsulation encap = MakeEncap(Encapsulation::kRawEthernet, mtu);
    LinkEncapsulation peer = PeerOf(encap);
    std::mt19937_64 rng(mtu);
    EpochRecordAssembler assembler(1);
    for (uint64_t epoch = 1; epoch <= 20; ++epoch) {
      testing::TestEpoch e = testing::RandomEpoch(epoch, rng, 1 + rng() % 40);
      uint64_t seq = 0;
      auto frames = testing::PackEpoch(encap, 1, e, [&](FrameWriter& w) {
        return w.FinishData(seq++, FrameStamp{});
      });
      std::vector<std::vector<std::byte>> data;
      auto records = Assemble(assembler, frames, peer, &data);
      ASSERT_TRUE(records.ok()) << records.error().Describe();
      ASSERT_EQ(records->size(), e.items.size() + 2);
      EXPECT_EQ(records->front().type, RecordType::kEpochBegin);
      EXPECT_EQ(records->back().type, RecordType::kEpochEnd);
      EXPECT_EQ(records->back().checksum, e.checksum);
      for (std::size_t i = 0; i < e.items.size(); ++i) {
        const RecordView& r = (*records)[i + 1];
        const testing::TestItem& it = e.items[i];
        ASSERT_EQ(r.type, it.type) << "epoch " << epoch << " item " << i;
        EXPECT_EQ(data[i + 1], it.data);
        EXPECT_EQ(r.total_length, it.data.size());
        if (it.type == RecordType::kPage) {
          EXPECT_EQ(r.gfn, it.gfn);
          EXPECT_EQ(r.codec, it.codec);
          EXPECT_EQ(r.base_version, it.base_version);
        }
        if (it.type == RecordType::kDiskWrite) {
          EXPECT_EQ(r.sector, it.sector);
        }
        if (it.type != RecordType::kPage && it.type != RecordType::kZeroPage) {
          EXPECT_EQ(r.index, it.index);
        }
      }
      EXPECT_FALSE(assembler.in_epoch());
    }
    EXPECT_GT(assembler.counters().reassembled, 0u);
  }
}

RecordView Begin(uint64_t epoch) {
  RecordView r;
  r.type = RecordType::kEpochBegin;
  r.epoch = epoch;
  return r;
}
RecordView End(uint64_t epoch, uint32_t count) {
  RecordView r;
  r.type = RecordType::kEpochEnd;
  r.epoch = epoch;
  r.record_count = count;
  return r;
}
RecordView Fragment(uint64_t gfn, uint32_t total, uint32_t offset, std::span<const std::byte> bytes) {
  RecordView r;
  r.type = RecordType::kPage;
  r.gfn = gfn;
  r.total_length = total;
  r.fragment_offset = offset;
  r.fragment = bytes;
  return r;
}

TEST(EpochRecordAssembler, EnforcesEpochStructure) {
  EpochRecordAssembler a(9);
  RecordView out;
  std::vector<std::byte> bytes(100);
  EXPECT_FALSE(a.Feed(Fragment(1, 100, 0, bytes), &out).ok());  // outside an epoch
  EXPECT_FALSE(a.Feed(End(1, 0), &out).ok());
  ASSERT_TRUE(a.Feed(Begin(5), &out).ok());
  EXPECT_FALSE(a.Feed(Begin(6), &out).ok());  // nested
  ASSERT_TRUE(a.Feed(Fragment(1, 100, 0, bytes), &out).ok());
  auto wrong_count = a.Feed(End(5, 2), &out);
  ASSERT_FALSE(wrong_count.ok());
  EXPECT_NE(wrong_count.error().message.find("stream 9 epoch 5"), std::string::npos);
  ASSERT_TRUE(a.Feed(End(5, 1), &out).ok());
  EXPECT_FALSE(a.Feed(Begin(5), &out).ok());  // epochs increase
  ASSERT_TRUE(a.Feed(Begin(7), &out).ok());
  EXPECT_FALSE(a.Feed(End(8, 0), &out).ok());  // another epoch's end
  a.Reset();
  EXPECT_TRUE(a.Feed(Begin(1), &out).ok());  // after RESET any epoch may start
  EXPECT_GT(a.counters().errors, 0u);
}

TEST(EpochRecordAssembler, EnforcesFragmentOrderAndIdentity) {
  std::vector<std::byte> bytes(4096);
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::byte>(i * 7);
  auto part = [&](std::size_t off, std::size_t len) { return std::span<const std::byte>(bytes).subspan(off, len); };
  RecordView out;
  {
    EpochRecordAssembler a(1);
    ASSERT_TRUE(a.Feed(Begin(1), &out).ok());
    EXPECT_FALSE(a.Feed(Fragment(1, 4096, 1000, part(1000, 1000)), &out).ok());  // no start
  }
  {
    EpochRecordAssembler a(1);
    ASSERT_TRUE(a.Feed(Begin(1), &out).ok());
    ASSERT_EQ(a.Feed(Fragment(1, 4096, 0, part(0, 1000)), &out).value(), false);
    EXPECT_FALSE(a.Feed(Fragment(1, 4096, 2000, part(2000, 1000)), &out).ok());  // gap
  }
  {
    EpochRecordAssembler a(1);
    ASSERT_TRUE(a.Feed(Begin(1), &out).ok());
    ASSERT_EQ(a.Feed(Fragment(1, 4096, 0, part(0, 1000)), &out).value(), false);
    EXPECT_FALSE(a.Feed(Fragment(2, 4096, 1000, part(1000, 1000)), &out).ok());  // other gfn
  }
  {
    EpochRecordAssembler a(1);
    ASSERT_TRUE(a.Feed(Begin(1), &out).ok());
    ASSERT_EQ(a.Feed(Fragment(1, 4096, 0, part(0, 1000)), &out).value(), false);
    RecordView zero;
    zero.type = RecordType::kZeroPage;
    EXPECT_FALSE(a.Feed(zero, &out).ok());  // interleaved
  }
  {
    EpochRecordAssembler a(1);
    ASSERT_TRUE(a.Feed(Begin(1), &out).ok());
    ASSERT_EQ(a.Feed(Fragment(1, 4096, 0, part(0, 1000)), &out).value(), false);
    EXPECT_FALSE(a.Feed(End(1, 0), &out).ok());  // epoch ends mid-item
  }
  {
    EpochRecordAssembler a(1, 2048);  // a small reassembly room
    ASSERT_TRUE(a.Feed(Begin(1), &out).ok());
    EXPECT_FALSE(a.Feed(Fragment(1, 4096, 0, part(0, 1000)), &out).ok());
  }
  {
    EpochRecordAssembler a(1);
    ASSERT_TRUE(a.Feed(Begin(1), &out).ok());
    ASSERT_EQ(a.Feed(Fragment(1, 4096, 0, part(0, 4000)), &out).value(), false);
    // A record not from the reader that claims more than the item: refused, not copied.
    RecordView over = Fragment(1, 4096, 4000, part(0, 200));
    EXPECT_FALSE(a.Feed(over, &out).ok());
  }
  {
    EpochRecordAssembler a(1);
    ASSERT_TRUE(a.Feed(Begin(1), &out).ok());
    ASSERT_EQ(a.Feed(Fragment(1, 4096, 0, part(0, 1000)), &out).value(), false);
    ASSERT_EQ(a.Feed(Fragment(1, 4096, 1000, part(1000, 3000)), &out).value(), false);
    ASSERT_EQ(a.Feed(Fragment(1, 4096, 4000, part(4000, 96)), &out).value(), true);
    EXPECT_TRUE(out.whole());
    EXPECT_TRUE(std::equal(out.fragment.begin(), out.fragment.end(), bytes.begin(), bytes.end()));
    ASSERT_TRUE(a.Feed(End(1, 1), &out).ok());
  }
}

}  // namespace
}  // namespace replink::link
