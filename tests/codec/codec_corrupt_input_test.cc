// Decoding untrusted payloads: malformed input is rejected with kCorrupt, never read or written out
// of bounds. Payloads live in exact-size heap buffers so that AddressSanitizer builds
// (build-codec-asan) turn any overread into a failure.
#include <gtest/gtest.h>

#include <initializer_list>
#include <vector>

#include "codec/page_codec.h"
#include "codec/page_decoder.h"
#include "tests/codec/page_generators.h"

namespace replink::codec {
namespace {

using testing::Page;
using testing::Rng;

Result<void> DecodeExact(CodecId codec, std::span<const std::byte> payload, const Page* base,
                         Page& out) {
  auto copy = testing::ExactCopy(payload);
  return DecodePage(codec, std::span(copy.get(), payload.size()), base ? base->data() : nullptr,
                    out.span());
}

std::vector<std::byte> Bytes(std::initializer_list<int> values) {
  std::vector<std::byte> out;
  for (int v : values) out.push_back(static_cast<std::byte>(v));
  return out;
}

void ExpectCorrupt(CodecId codec, const std::vector<std::byte>& payload, const Page* base) {
  Page out;
  auto r = DecodeExact(codec, payload, base, out);
  ASSERT_FALSE(r.ok()) << CodecName(codec) << " accepted a bad payload of " << payload.size();
  EXPECT_EQ(r.error().code, Errc::kCorrupt) << r.error().Describe();
  EXPECT_FALSE(r.error().message.empty());
}

std::vector<std::byte> EncodeOrDie(CodecId codec, const Page& page, const Page* base) {
  CodecWorkspace ws;
  std::vector<std::byte> out(kPageSize);
  auto length = FindCodec(codec)->encode(page.span(), base ? base->data() : nullptr, out, ws);
  EXPECT_TRUE(length.ok());
  out.resize(length.ok() ? *length : 0);
  return out;
}

TEST(CodecCorruptInput, UnknownCodecIds) {
  Page out;
  for (unsigned id = kCodecCount; id < 256; ++id) {
    auto r = DecodeExact(static_cast<CodecId>(id), Bytes({1, 2, 3}), nullptr, out);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::kCorrupt);
  }
}

TEST(CodecCorruptInput, RawAndZeroLengthsAreExact) {
  ExpectCorrupt(CodecId::kRaw, {}, nullptr);
  ExpectCorrupt(CodecId::kRaw, std::vector<std::byte>(kPageSize - 1), nullptr);
  ExpectCorrupt(CodecId::kRaw, std::vector<std::byte>(kPageSize + 1), nullptr);
  ExpectCorrupt(CodecId::kZero, Bytes({0}), nullptr);
  ExpectCorrupt(CodecId::kZero, std::vector<std::byte>(kPageSize), nullptr);
}

TEST(CodecCorruptInput, XorDeltaHandCraftedViolations) {
  const Page base;
  // Truncated varints.
  ExpectCorrupt(CodecId::kXorDelta, Bytes({0x80}), &base);
  ExpectCorrupt(CodecId::kXorDelta, Bytes({5, 0x81}), &base);
  ExpectCorrupt(CodecId::kXorDelta, Bytes({0, 1, 9, 0x80}), &base);
  // Overlong varints: a third byte, a non-minimal second byte.
  ExpectCorrupt(CodecId::kXorDelta, Bytes({0x80, 0x80, 0x01, 1, 7}), &base);
  ExpectCorrupt(CodecId::kXorDelta, Bytes({0x85, 0x00, 1, 7}), &base);
  ExpectCorrupt(CodecId::kXorDelta, Bytes({0, 0x81, 0x80, 0x01}), &base);
  // Empty literal.
  ExpectCorrupt(CodecId::kXorDelta, Bytes({3, 0}), &base);
  // Runs past the page: zero run to the end leaves no room for a literal; a literal past the end.
  ExpectCorrupt(CodecId::kXorDelta, Bytes({0x80, 0x20, 1, 7}), &base);     // zero_run 4096
  ExpectCorrupt(CodecId::kXorDelta, Bytes({0xFF, 0x1F, 2, 7, 7}), &base);  // 4095 + 2
  ExpectCorrupt(CodecId::kXorDelta, Bytes({0xFF, 0x7F, 1, 7}), &base);     // 16383
  ExpectCorrupt(CodecId::kXorDelta, Bytes({0, 0x81, 0x20, 1}), &base);     // literal 4097
  // Second token past the end after a valid first one.
  ExpectCorrupt(CodecId::kXorDelta, Bytes({0, 1, 9, 0xFF, 0x1F, 1, 9}), &base);  // 1 + 4095 + 1
  // Literal longer than the bytes left in the payload.
  ExpectCorrupt(CodecId::kXorDelta, Bytes({0, 4, 1, 2, 3}), &base);
  // The runs must cover exactly the page: empty, missing, short and long tail runs.
  ExpectCorrupt(CodecId::kXorDelta, {}, &base);
  ExpectCorrupt(CodecId::kXorDelta, Bytes({0, 1, 9}), &base);
  ExpectCorrupt(CodecId::kXorDelta, Bytes({0, 1, 9, 0x80, 0x1F}), &base);  // 1 + 3968
  ExpectCorrupt(CodecId::kXorDelta, Bytes({0, 1, 9, 0x80, 0x20}), &base);  // 1 + 4096
  ExpectCorrupt(CodecId::kXorDelta, Bytes({0xFF, 0x1F}), &base);           // 4095
  // Payload at or over the bound.
  ExpectCorrupt(CodecId::kXorDelta, std::vector<std::byte>(kPageSize), &base);
  // The last byte of the page is reachable, one past it is not; "unchanged" is a bare tail run.
  Page out;
  EXPECT_TRUE(DecodeExact(CodecId::kXorDelta, Bytes({0xFF, 0x1F, 1, 7, 0}), &base, out).ok());
  EXPECT_EQ(out[kPageSize - 1], std::byte{7});
  EXPECT_TRUE(DecodeExact(CodecId::kXorDelta, Bytes({0, 1, 9, 0xFF, 0x1F}), &base, out).ok());
  EXPECT_EQ(out[0], std::byte{9});
  EXPECT_TRUE(DecodeExact(CodecId::kXorDelta, Bytes({0x80, 0x20}), &base, out).ok());
}

TEST(CodecCorruptInput, DeltaWithoutBaseIsAStateError) {
  Page out;
  auto r = DecodeExact(CodecId::kXorDelta, Bytes({0, 1, 7}), nullptr, out);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kState);
}

TEST(CodecCorruptInput, LzFourGarbageAndWrongSizes) {
  ExpectCorrupt(CodecId::kLz4, {}, nullptr);
  ExpectCorrupt(CodecId::kLz4, std::vector<std::byte>(kPageSize), nullptr);
  // A valid block of the wrong decoded size: 100 literal bytes.
  std::vector<std::byte> short_block = Bytes({0xF0, 100 - 15});
  short_block.resize(short_block.size() + 100, std::byte{'x'});
  ExpectCorrupt(CodecId::kLz4, short_block, nullptr);
  // A match offset pointing before the start of the output.
  ExpectCorrupt(CodecId::kLz4, Bytes({0x1F, 'a', 0x10, 0x00, 0xFF, 0xFF, 0x0F, 0x00}), nullptr);
}

// Every strict prefix of a valid payload is rejected (the xor-delta tail run exists for this).
TEST(CodecCorruptInput, TruncationsAreRejected) {
  for (uint64_t seed = 0; seed < 20; ++seed) {
    SCOPED_TRACE(seed);
    Rng rng(seed);
    const Page base = testing::StructPage(rng);
    const Page changed = testing::SparseChange(base, rng, 1 + rng() % 30, 1 + rng() % 12);
    const std::vector<std::byte> delta = EncodeOrDie(CodecId::kXorDelta, changed, &base);
    const std::vector<std::byte> lz4 = EncodeOrDie(CodecId::kLz4, testing::TextPage(rng), nullptr);
    for (std::size_t n = 0; n < delta.size(); ++n)
      ExpectCorrupt(CodecId::kXorDelta, {delta.begin(), delta.begin() + n}, &base);
    for (std::size_t n = 0; n < lz4.size(); ++n)
      ExpectCorrupt(CodecId::kLz4, {lz4.begin(), lz4.begin() + n}, nullptr);
  }
}

// Random bit flips and random garbage: any outcome but a crash or an out-of-bounds access is fine,
// and anything rejected is rejected as corrupt. Some flips must be caught, or the test is blind.
TEST(CodecCorruptInput, RandomBitFlipsAndGarbage) {
  std::size_t rejected[kCodecCount] = {};
  for (uint64_t seed = 0; seed < 60; ++seed) {
    Rng rng(seed);
    const Page base = testing::StructPage(rng);
    const Page changed = testing::SparseChange(base, rng, 1 + rng() % 60, 1 + rng() % 12);
    const std::vector<std::byte> valid[] = {
        EncodeOrDie(CodecId::kXorDelta, changed, &base),
        EncodeOrDie(CodecId::kLz4, testing::TextPage(rng), nullptr)};
    const CodecId codecs[] = {CodecId::kXorDelta, CodecId::kLz4};
    for (int k = 0; k < 2; ++k) {
      for (int trial = 0; trial < 200; ++trial) {
        std::vector<std::byte> payload = valid[k];
        const int flips = 1 + static_cast<int>(rng() % 4);
        for (int f = 0; f < flips && !payload.empty(); ++f)
          payload[rng() % payload.size()] ^= static_cast<std::byte>(1u << (rng() % 8));
        Page out;
        auto r = DecodeExact(codecs[k], payload, &base, out);
        if (!r.ok()) {
          ASSERT_EQ(r.error().code, Errc::kCorrupt) << r.error().Describe();
          ++rejected[static_cast<std::size_t>(codecs[k])];
        }
      }
      for (int trial = 0; trial < 50; ++trial) {
        std::vector<std::byte> garbage(rng() % 600);
        for (auto& b : garbage) b = testing::RandomByte(rng);
        Page out;
        auto r = DecodeExact(codecs[k], garbage, &base, out);
        if (!r.ok()) {
          ASSERT_EQ(r.error().code, Errc::kCorrupt) << r.error().Describe();
        }
      }
    }
  }
  EXPECT_GT(rejected[static_cast<std::size_t>(CodecId::kXorDelta)], 0u);
  EXPECT_GT(rejected[static_cast<std::size_t>(CodecId::kLz4)], 0u);
}

// A corrupt delta decoded in place must leave the receiver's copy exactly as it was.
TEST(CodecCorruptInput, InPlaceDeltaLeavesBaseIntactOnError) {
  Rng rng(3);
  const Page original = testing::StructPage(rng);
  const Page changed = testing::SparseChange(original, rng, 10, 4);
  std::vector<std::byte> delta = EncodeOrDie(CodecId::kXorDelta, changed, &original);
  delta.push_back(std::byte{0x80});  // a truncated varint after valid tokens
  Page copy = original;
  auto r = DecodePage(CodecId::kXorDelta, delta, copy.data(), copy.span());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(copy, original);
}

TEST(CodecCorruptInput, PageDecoderCountsRejections) {
  Rng rng(4);
  const Page base = testing::StructPage(rng);
  const Page changed = testing::SparseChange(base, rng, 3, 4);
  const std::vector<std::byte> delta = EncodeOrDie(CodecId::kXorDelta, changed, &base);
  PageDecoder decoder;
  Page out;
  const PageDecoder::LocalCopy local{base.data(), 7};

  EXPECT_EQ(decoder.Decode(1, 200, 0, delta, local, out.span()).error().code, Errc::kCorrupt);
  EXPECT_EQ(decoder.Decode(1, 2, 7, Bytes({0x80}), local, out.span()).error().code, Errc::kCorrupt);
  EXPECT_EQ(decoder.Decode(1, 2, 6, delta, local, out.span()).error().code, Errc::kState);
  EXPECT_EQ(decoder.Decode(1, 2, 7, delta, std::nullopt, out.span()).error().code, Errc::kState);
  EXPECT_EQ(decoder.counters().rejected_corrupt, 2u);
  EXPECT_EQ(decoder.counters().rejected_base, 2u);

  ASSERT_TRUE(decoder.Decode(1, 2, 7, delta, local, out.span()).ok());
  EXPECT_EQ(out, changed);
  EXPECT_EQ(decoder.counters().pages[static_cast<std::size_t>(CodecId::kXorDelta)], 1u);
  // The error names the page.
  auto err = decoder.Decode(0xabc, 2, 7, Bytes({0x80}), local, out.span());
  EXPECT_NE(err.error().message.find("0xabc"), std::string::npos) << err.error().message;
}

TEST(CodecCorruptInput, CheckDeltaBase) {
  EXPECT_TRUE(CheckDeltaBase(1, 5, 5).ok());
  EXPECT_EQ(CheckDeltaBase(1, 5, 6).error().code, Errc::kState);
  EXPECT_EQ(CheckDeltaBase(1, 6, 5).error().code, Errc::kState);
  EXPECT_EQ(CheckDeltaBase(1, 5, std::nullopt).error().code, Errc::kState);
}

}  // namespace
}  // namespace replink::codec
