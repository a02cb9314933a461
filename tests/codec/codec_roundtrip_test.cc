// Property tests over the codec table: every codec round-trips byte-exact, respects the bound, and
// never writes past the output span it is given.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "codec/page_codec.h"
#include "codec/page_decoder.h"
#include "codec/zero_codec.h"
#include "tests/codec/page_generators.h"

namespace replink::codec {
namespace {

using testing::Page;
using testing::Rng;

struct Case {
  std::string name;
  Page base;
  Page page;
};

// (base, page) pairs of many shapes; `seed` picks the content.
std::vector<Case> MakeCases(uint64_t seed) {
  Rng rng(seed);
  std::vector<Case> cases;
  const Page random = testing::RandomPage(rng);
  const Page text = testing::TextPage(rng);
  const Page structs = testing::StructPage(rng);
  cases.push_back({"zero", testing::ZeroPage(), testing::ZeroPage()});
  cases.push_back({"zero-after-random", random, testing::ZeroPage()});
  cases.push_back({"random", random, testing::RandomPage(rng)});
  cases.push_back({"text", text, testing::TextPage(rng)});
  cases.push_back({"struct", structs, testing::StructPage(rng)});
  cases.push_back({"unchanged", structs, structs});
  cases.push_back({"sparse-words", random, testing::SparseChange(random, rng, 1 + rng() % 8, 8)});
  cases.push_back({"sparse-text", text, testing::SparseChange(text, rng, 1 + rng() % 40, 16)});
  cases.push_back({"dense", structs, testing::DenseChange(structs, rng, 0.3)});
  cases.push_back({"alternating", random, testing::AlternatingChange(random)});
  Page single_byte_at_end;
  single_byte_at_end[kPageSize - 1] = std::byte{1};
  cases.push_back({"last-byte", testing::ZeroPage(), single_byte_at_end});
  return cases;
}

Result<uint32_t> EncodeWith(const CodecOps& ops, const Case& c, std::span<std::byte> out) {
  CodecWorkspace ws;
  return ops.encode(c.page.span(), ops.needs_base ? c.base.data() : nullptr, out, ws);
}

TEST(CodecTable, IdsNamesAndLookup) {
  for (unsigned raw = 0; raw < 256; ++raw) {
    const CodecOps* ops = FindCodec(static_cast<uint8_t>(raw));
    EXPECT_EQ(ops != nullptr, raw < kCodecCount) << raw;
    EXPECT_EQ(IsValidCodecId(static_cast<uint8_t>(raw)), raw < kCodecCount);
    if (ops != nullptr) {
      EXPECT_EQ(static_cast<unsigned>(ops->id), raw);
    }
  }
  EXPECT_STREQ(CodecName(CodecId::kRaw), "raw");
  EXPECT_STREQ(CodecName(CodecId::kZero), "zero");
  EXPECT_STREQ(CodecName(CodecId::kXorDelta), "xor-delta");
  EXPECT_STREQ(CodecName(CodecId::kLz4), "lz4");
  EXPECT_STREQ(CodecName(static_cast<CodecId>(9)), "invalid");
  EXPECT_TRUE(FindCodec(CodecId::kXorDelta)->needs_base);
  EXPECT_FALSE(FindCodec(CodecId::kLz4)->needs_base);
}

TEST(CodecTable, EveryCodecRoundTripsAndRespectsTheBound) {
  int successes[kCodecCount] = {};
  for (uint64_t seed = 0; seed < 60; ++seed) {
    for (const Case& c : MakeCases(seed)) {
      for (std::size_t id = 0; id < kCodecCount; ++id) {
        const CodecOps& ops = *FindCodec(static_cast<uint8_t>(id));
        SCOPED_TRACE(std::string(ops.name) + " on " + c.name + " seed " + std::to_string(seed));
        std::vector<std::byte> out(kPageSize);
        auto length = EncodeWith(ops, c, out);
        if (!length.ok()) {
          ASSERT_EQ(length.error().code, Errc::kNoGain) << length.error().Describe();
          ASSERT_NE(ops.id, CodecId::kRaw) << "raw must always succeed";
          continue;
        }
        ++successes[id];
        if (ops.id == CodecId::kRaw) {
          ASSERT_EQ(*length, kPageSize);
        } else {
          ASSERT_LT(*length, kPageSize);
        }
        auto payload = testing::ExactCopy(std::span(out.data(), *length));
        Rng garbage(seed);
        Page decoded = testing::RandomPage(garbage);  // must be fully overwritten
        ASSERT_TRUE(DecodePage(ops.id, std::span(payload.get(), *length),
                               ops.needs_base ? c.base.data() : nullptr, decoded.span())
                        .ok());
        ASSERT_EQ(decoded, c.page);
      }
    }
  }
  for (std::size_t id = 0; id < kCodecCount; ++id) EXPECT_GT(successes[id], 0) << id;
}

TEST(CodecTable, ExpectedCodecsSucceedOnTheirPages) {
  Rng rng(42);
  const Page random = testing::RandomPage(rng);
  const Page text = testing::TextPage(rng);
  CodecWorkspace ws;
  std::vector<std::byte> out(kPageSize);
  auto encode = [&](CodecId id, const Page& page, const Page* base) {
    return FindCodec(id)->encode(page.span(), base ? base->data() : nullptr, out, ws);
  };
  // Zero succeeds exactly on all-zero pages; even one set bit anywhere makes it refuse.
  EXPECT_TRUE(encode(CodecId::kZero, testing::ZeroPage(), nullptr).ok());
  for (std::size_t i = 0; i < kPageSize; i += 509) {
    Page one_bit;
    one_bit[i] = std::byte{0x80};
    EXPECT_EQ(encode(CodecId::kZero, one_bit, nullptr).error().code, Errc::kNoGain) << i;
  }
  EXPECT_TRUE(IsZeroPage(testing::ZeroPage().span()));
  // LZ4 shrinks text and refuses random data.
  auto lz4_text = encode(CodecId::kLz4, text, nullptr);
  ASSERT_TRUE(lz4_text.ok());
  EXPECT_LT(*lz4_text, kPageSize / 2);
  EXPECT_EQ(encode(CodecId::kLz4, random, nullptr).error().code, Errc::kNoGain);
  // A few changed words make a tiny delta.
  const Page sparse = testing::SparseChange(random, rng, 4, 8);
  auto delta = encode(CodecId::kXorDelta, sparse, &random);
  ASSERT_TRUE(delta.ok());
  EXPECT_LE(*delta, 4u * (8 + 2 + 2));
}

// Every encoder, any output span size: either it fits (and is intact) or kNoGain, and the bytes
// after the span are never touched.
TEST(CodecTable, EncodersNeverWritePastTheOutputSpan) {
  for (uint64_t seed = 0; seed < 40; ++seed) {
    Rng rng(seed * 7919);
    for (const Case& c : MakeCases(seed)) {
      for (std::size_t id = 0; id < kCodecCount; ++id) {
        const CodecOps& ops = *FindCodec(static_cast<uint8_t>(id));
        SCOPED_TRACE(std::string(ops.name) + " on " + c.name + " seed " + std::to_string(seed));
        const std::size_t out_size = rng() % (kPageSize + 1);
        std::vector<std::byte> buffer(out_size + 64, std::byte{0xA5});
        auto length = EncodeWith(ops, c, std::span(buffer.data(), out_size));
        for (std::size_t i = out_size; i < buffer.size(); ++i)
          ASSERT_EQ(buffer[i], std::byte{0xA5});
        if (!length.ok()) {
          ASSERT_EQ(length.error().code, Errc::kNoGain);
          continue;
        }
        ASSERT_LE(*length, out_size);
        Page decoded;
        ASSERT_TRUE(DecodePage(ops.id, std::span(buffer.data(), *length),
                               ops.needs_base ? c.base.data() : nullptr, decoded.span())
                        .ok());
        ASSERT_EQ(decoded, c.page);
      }
    }
  }
}

TEST(CodecTable, WorkspaceIsReusableAcrossPagesAndMoves) {
  // The LZ4 state is reset per page: blocks must not reference earlier pages.
  Rng rng(5);
  CodecWorkspace ws;
  std::vector<std::byte> out(kPageSize);
  for (int i = 0; i < 200; ++i) {
    if (i == 100) {
      CodecWorkspace moved(std::move(ws));
      ws = std::move(moved);
    }
    const Page page = testing::TextPage(rng);
    auto length = FindCodec(CodecId::kLz4)->encode(page.span(), nullptr, out, ws);
    ASSERT_TRUE(length.ok());
    auto payload = testing::ExactCopy(std::span(out.data(), *length));
    Page decoded;
    ASSERT_TRUE(
        DecodePage(CodecId::kLz4, std::span(payload.get(), *length), nullptr, decoded.span()).ok());
    ASSERT_EQ(decoded, page);
  }
  // A moved-from workspace still encodes (stateless fallback), in the same format.
  CodecWorkspace moved_to(std::move(ws));
  const Page page = testing::TextPage(rng);
  auto length = FindCodec(CodecId::kLz4)
                    ->encode(page.span(), nullptr, out, ws);  // NOLINT(bugprone-use-after-move)
  ASSERT_TRUE(length.ok());
  Page decoded;
  ASSERT_TRUE(
      DecodePage(CodecId::kLz4, std::span(out.data(), *length), nullptr, decoded.span()).ok());
  EXPECT_EQ(decoded, page);
}

}  // namespace
}  // namespace replink::codec
