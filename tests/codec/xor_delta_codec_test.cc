// XorDeltaCodec against a byte-at-a-time reference encoder of the documented grammar: the fast
// (SSE2 + bitmask) encoder must produce exactly the reference bytes, and give up exactly when the
// reference output would not fit.
#include "codec/xor_delta_codec.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "tests/codec/page_generators.h"

namespace replink::codec {
namespace {

using testing::Page;
using testing::Rng;

void PutVarint(std::vector<std::byte>& out, std::size_t v) {
  if (v < 0x80) {
    out.push_back(std::byte(v));
  } else {
    out.push_back(std::byte(0x80 | (v & 0x7F)));
    out.push_back(std::byte(v >> 7));
  }
}

// The grammar from xor_delta_codec.h, written for clarity instead of speed. No size limit.
std::vector<std::byte> ReferenceEncode(const Page& page, const Page& base) {
  auto differs = [&](std::size_t i) { return i < kPageSize && page.data()[i] != base.data()[i]; };
  std::vector<std::byte> out;
  std::size_t pos = 0;
  std::size_t i = 0;
  while (i < kPageSize) {
    if (!differs(i)) {
      ++i;
      continue;
    }
    const std::size_t start = i;
    // The literal ends at the first position starting kMinZeroRunToSplit unchanged bytes.
    std::size_t end = start + 1;
    for (;; ++end) {
      bool gap = true;
      for (std::size_t k = 0; k < kMinZeroRunToSplit; ++k) gap = gap && !differs(end + k);
      if (gap || end >= kPageSize) break;
    }
    end = std::min(end, kPageSize);
    PutVarint(out, start - pos);
    PutVarint(out, end - start);
    for (std::size_t k = start; k < end; ++k) out.push_back(page.data()[k] ^ base.data()[k]);
    pos = i = end;
  }
  PutVarint(out, kPageSize - pos);  // tail run
  return out;
}

struct Encoded {
  Result<uint32_t> length;
  std::vector<std::byte> bytes;
};

// Encodes into an exact-size heap buffer followed by a canary, so any overrun is caught twice
// (ASan and the canary).
Encoded Encode(const Page& page, const Page& base, std::size_t out_size = kPageSize) {
  CodecWorkspace ws;
  std::vector<std::byte> buffer(out_size + 16, std::byte{0xEE});
  auto length =
      XorDeltaCodec::Encode(page.span(), base.data(), std::span(buffer.data(), out_size), ws);
  for (std::size_t i = out_size; i < buffer.size(); ++i) EXPECT_EQ(buffer[i], std::byte{0xEE}) << i;
  Encoded e{std::move(length), {}};
  if (e.length.ok()) e.bytes.assign(buffer.begin(), buffer.begin() + *e.length);
  return e;
}

void ExpectMatchesReference(const Page& page, const Page& base, std::size_t out_size = kPageSize) {
  const std::vector<std::byte> ref = ReferenceEncode(page, base);
  const Encoded got = Encode(page, base, out_size);
  const std::size_t limit = std::min(out_size, kPageSize - 1);
  if (ref.size() > limit) {
    ASSERT_FALSE(got.length.ok()) << "reference needs " << ref.size() << " > " << limit;
    EXPECT_EQ(got.length.error().code, Errc::kNoGain);
    return;
  }
  ASSERT_TRUE(got.length.ok()) << got.length.error().Describe() << " ref " << ref.size();
  ASSERT_EQ(got.bytes, ref);
  Page decoded;
  ASSERT_TRUE(XorDeltaCodec::Decode(got.bytes, base.data(), decoded.span()).ok());
  ASSERT_EQ(decoded, page);
}

TEST(XorDeltaCodec, UnchangedPageIsJustTheTailRun) {
  Rng rng(1);
  const Page base = testing::RandomPage(rng);
  const Encoded e = Encode(base, base);
  ASSERT_TRUE(e.length.ok());
  const std::vector<std::byte> tail_4096 = {std::byte{0x80}, std::byte{0x20}};
  EXPECT_EQ(e.bytes, tail_4096);
  Page out = testing::RandomPage(rng);
  ASSERT_TRUE(XorDeltaCodec::Decode(e.bytes, base.data(), out.span()).ok());
  EXPECT_EQ(out, base);
}

TEST(XorDeltaCodec, KnownEncodingOfTwoChanges) {
  Page base;
  Page page;
  page[5] = std::byte{0x11};    // zero_run 5, literal 1
  page[200] = std::byte{0x22};  // zero_run 194 (two-byte varint), literal 3 (gap of 2 stays inside)
  page[202] = std::byte{0x33};
  const Encoded e = Encode(page, base);
  ASSERT_TRUE(e.length.ok());
  // Tail run: 4096 - 203 = 3893 = 0x35 + (0x1E << 7).
  const std::vector<std::byte> expected = {std::byte{5},    std::byte{1},    std::byte{0x11},  //
                                           std::byte{0xC2}, std::byte{0x01}, std::byte{3},
                                           std::byte{0x22}, std::byte{0},  //
                                           std::byte{0x33}, std::byte{0xB5}, std::byte{0x1E}};
  EXPECT_EQ(e.bytes, expected);
}

TEST(XorDeltaCodec, ChangesAtPageEdges) {
  Page base;
  Page page;
  page[0] = std::byte{1};
  page[kPageSize - 1] = std::byte{2};
  ExpectMatchesReference(page, base);
  page[kPageSize - 3] = std::byte{3};  // gap of 1 before the last byte
  ExpectMatchesReference(page, base);
}

TEST(XorDeltaCodec, MatchesReferenceOnRandomSparseAndDenseChanges) {
  for (uint64_t seed = 0; seed < 400; ++seed) {
    SCOPED_TRACE(seed);
    Rng rng(seed);
    const Page base = seed % 3 == 0 ? testing::TextPage(rng) : testing::StructPage(rng);
    const Page sparse = testing::SparseChange(base, rng, 1 + rng() % 64, 1 + rng() % 24);
    ExpectMatchesReference(sparse, base);
    const Page dense = testing::DenseChange(base, rng, static_cast<double>(rng() % 1000) / 1000.0);
    ExpectMatchesReference(dense, base);
  }
}

TEST(XorDeltaCodec, WorstCaseAlternatingBytesGivesNoGain) {
  Rng rng(7);
  const Page base = testing::RandomPage(rng);
  const Encoded e = Encode(testing::AlternatingChange(base), base);
  ASSERT_FALSE(e.length.ok());
  EXPECT_EQ(e.length.error().code, Errc::kNoGain);
}

TEST(XorDeltaCodec, IncompressibleChangeGivesNoGain) {
  Rng rng(8);
  const Page base = testing::RandomPage(rng);
  const Encoded e = Encode(testing::RandomPage(rng), base);
  ASSERT_FALSE(e.length.ok());
  EXPECT_EQ(e.length.error().code, Errc::kNoGain);
}

// Grows a delta one changed byte at a time (always a byte not changed yet, so the reference size
// creeps up by a byte or two) until it crosses the bound, checking the encoder at every size near
// it: covers 4094, 4095 (the last size that fits) and 4096 and beyond.
TEST(XorDeltaCodec, BoundIsExactAroundPageSize) {
  std::size_t seen_fit_at_limit = 0;
  std::size_t seen_over = 0;
  for (uint64_t seed = 0; seed < 4; ++seed) {
    SCOPED_TRACE(seed);
    Rng rng(seed);
    const Page base = testing::RandomPage(rng);
    Page page = testing::DenseChange(base, rng, 0.6);
    std::vector<std::size_t> unchanged;
    for (std::size_t i = 0; i < kPageSize; ++i)
      if (page.data()[i] == base.data()[i]) unchanged.push_back(i);
    std::shuffle(unchanged.begin(), unchanged.end(), rng);
    for (std::size_t i : unchanged) {
      page[i] = base.data()[i] ^ std::byte{0x40};
      const std::size_t size = ReferenceEncode(page, base).size();
      if (size < kPageSize - 16) continue;
      if (size == kPageSize - 1) ++seen_fit_at_limit;
      if (size >= kPageSize) ++seen_over;
      ExpectMatchesReference(page, base);
    }
  }
  EXPECT_GT(seen_fit_at_limit, 0u) << "no case landed exactly on the bound; adjust the walk";
  EXPECT_GT(seen_over, 0u);
}

TEST(XorDeltaCodec, SmallOutputSpanIsNeverOverrun) {
  for (uint64_t seed = 0; seed < 200; ++seed) {
    SCOPED_TRACE(seed);
    Rng rng(seed);
    const Page base = testing::StructPage(rng);
    const Page page = testing::SparseChange(base, rng, 1 + rng() % 200, 1 + rng() % 16);
    ExpectMatchesReference(page, base, rng() % 1200);
  }
}

TEST(XorDeltaCodec, DecodesInPlace) {
  Rng rng(11);
  const Page base = testing::StructPage(rng);
  const Page page = testing::SparseChange(base, rng, 20, 8);
  const Encoded e = Encode(page, base);
  ASSERT_TRUE(e.length.ok());
  Page inplace = base;
  ASSERT_TRUE(XorDeltaCodec::Decode(e.bytes, inplace.data(), inplace.span()).ok());
  EXPECT_EQ(inplace, page);
}

// Any payload that follows the grammar decodes to the base with its literals XOR-ed in, not only
// the encoder's canonical split: tiny gaps, empty zero runs, zero literal bytes, many short
// literals in the last bytes of the page (where the decoder's 16-byte fast path must not run past
// the page or the payload).
TEST(XorDeltaCodec, DecodesArbitraryValidPayloads) {
  int decoded = 0;
  for (uint64_t seed = 0; seed < 400; ++seed) {
    SCOPED_TRACE(seed);
    Rng rng(seed);
    const Page base = testing::StructPage(rng);
    Page expected = base;
    std::vector<std::byte> payload;
    const bool tiny = seed % 2 == 0;
    std::size_t pos = seed % 4 < 2 ? kPageSize - 1 - rng() % 64 : 0;  // often start near the end
    PutVarint(payload, pos);
    PutVarint(payload, 1);
    payload.push_back(std::byte{0x5A});
    expected[pos] ^= std::byte{0x5A};
    ++pos;
    while (pos < kPageSize && rng() % 64 != 0) {
      const std::size_t remaining = kPageSize - pos;
      const std::size_t zero_run = rng() % std::min<std::size_t>(remaining, tiny ? 3 : 300);
      const std::size_t literal_len =
          1 + rng() % std::min<std::size_t>(remaining - zero_run, tiny ? 3 : 40);
      PutVarint(payload, zero_run);
      PutVarint(payload, literal_len);
      for (std::size_t k = 0; k < literal_len; ++k) {
        const std::byte b = testing::RandomByte(rng);
        payload.push_back(b);
        expected[pos + zero_run + k] ^= b;
      }
      pos += zero_run + literal_len;
    }
    PutVarint(payload, kPageSize - pos);
    if (payload.size() >= kPageSize) continue;
    auto exact = testing::ExactCopy(payload);
    const std::span<const std::byte> view(exact.get(), payload.size());
    Page out;
    ASSERT_TRUE(XorDeltaCodec::Decode(view, base.data(), out.span()).ok());
    ASSERT_EQ(out, expected);
    Page inplace = base;
    ASSERT_TRUE(XorDeltaCodec::Decode(view, inplace.data(), inplace.span()).ok());
    ASSERT_EQ(inplace, expected);
    ++decoded;
  }
  EXPECT_GT(decoded, 300);
}

TEST(XorDeltaCodec, RejectsOverlappingBaseAndOut) {
  std::vector<std::byte> two_pages(2 * kPageSize);
  const std::vector<std::byte> payload = {std::byte{0}, std::byte{1}, std::byte{1}};
  auto r =
      XorDeltaCodec::Decode(payload, two_pages.data() + 100, PageSpan(two_pages.data(), kPageSize));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kInvalidArgument);
}

}  // namespace
}  // namespace replink::codec
