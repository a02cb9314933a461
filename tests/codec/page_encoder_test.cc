// PageEncoder end to end: a sender encodes a changing guest memory epoch by epoch, a receiver that
// keeps only its own latest copies decodes it, and both must agree byte for byte.
#include "codec/page_encoder.h"

#include <gtest/gtest.h>

#include <map>
#include <vector>

#include "codec/page_decoder.h"
#include "tests/codec/page_generators.h"

namespace replink::codec {
namespace {

using testing::Page;
using testing::Rng;
using enum CodecId;

PageEncoder MakeEncoder(std::size_t cache_pages) {
  auto cache = DeltaCache::CreateWithPages(cache_pages);
  EXPECT_TRUE(cache.ok());
  return PageEncoder(std::move(cache).value());
}

// The receiver: latest copy and version per gfn, updated only by successfully decoded pages.
struct Receiver {
  struct Copy {
    Page page;
    uint64_t version = 0;
  };
  std::map<uint64_t, Copy> copies;
  PageDecoder decoder;

  Result<void> Apply(uint64_t gfn, uint64_t epoch, const EncodedPage& encoded,
                     std::span<const std::byte> payload) {
    std::optional<PageDecoder::LocalCopy> local;
    auto it = copies.find(gfn);
    if (it != copies.end())
      local = PageDecoder::LocalCopy{it->second.page.data(), it->second.version};
    Page out;
    REPLINK_TRY(decoder.Decode(gfn, static_cast<uint8_t>(encoded.codec), encoded.base_version,
                               payload, local, out.span()));
    copies[gfn] = Copy{std::move(out), epoch};
    return Ok();
  }
};

struct Sent {
  EncodedPage encoded;
  std::vector<std::byte> payload;
};

Sent EncodeOrDie(PageEncoder& encoder, uint64_t gfn, const Page& page, uint64_t epoch,
                 const CodecPlan& plan) {
  std::vector<std::byte> out(kPageSize);
  auto encoded = encoder.Encode(gfn, page.span(), epoch, plan, out);
  EXPECT_TRUE(encoded.ok()) << encoded.error().Describe();
  if (!encoded.ok()) return {};
  out.resize(encoded->length);
  return Sent{*encoded, std::move(out)};
}

TEST(PageEncoder, SenderAndReceiverStayInSyncOverManyEpochs) {
  for (uint64_t seed = 0; seed < 6; ++seed) {
    SCOPED_TRACE(seed);
    Rng rng(seed);
    const std::size_t guest_pages = 96;
    PageEncoder encoder = MakeEncoder(seed % 2 ? 32 : 128);  // odd seeds: cache smaller than guest
    const AdaptivePolicy policy;
    Receiver receiver;
    std::vector<Page> guest(guest_pages);
    for (std::size_t i = 0; i < guest_pages; ++i) {
      switch (i % 4) {
        case 0: guest[i] = testing::ZeroPage(); break;
        case 1: guest[i] = testing::TextPage(rng); break;
        case 2: guest[i] = testing::StructPage(rng); break;
        default: guest[i] = testing::RandomPage(rng); break;
      }
    }
    for (uint64_t epoch = 1; epoch <= 30; ++epoch) {
      if (epoch == 15) encoder.ResetPeerState();  // a link reset midway
      const auto setting = static_cast<CodecSetting>(rng() % 4);
      const float utilisation = static_cast<float>(rng() % 100) / 100.0f;
      const std::size_t dirty = 1 + rng() % guest_pages;
      for (std::size_t d = 0; d < dirty; ++d) {
        const std::size_t i = rng() % guest_pages;
        const uint64_t gfn = 0x1000 + i;
        if (epoch > 1) {
          switch (rng() % 5) {
            case 0: guest[i] = testing::ZeroPage(); break;
            case 1: guest[i] = testing::DenseChange(guest[i], rng, 0.2); break;
            case 2: guest[i] = testing::RandomPage(rng); break;
            default: guest[i] = testing::SparseChange(guest[i], rng, 1 + rng() % 10, 8); break;
          }
        }
        const CodecPlan plan = policy.Plan(encoder.ContextFor(gfn, utilisation, setting));
        const Sent sent = EncodeOrDie(encoder, gfn, guest[i], epoch, plan);
        auto applied = receiver.Apply(gfn, epoch, sent.encoded, sent.payload);
        ASSERT_TRUE(applied.ok()) << applied.error().Describe();
        ASSERT_EQ(receiver.copies[gfn].page, guest[i]);
      }
    }
    EXPECT_GT(encoder.counters(kXorDelta).pages, 0u);
    EXPECT_GT(encoder.counters(kZero).pages, 0u);
    EXPECT_GT(encoder.counters(kLz4).pages, 0u);
    EXPECT_GT(encoder.counters(kRaw).pages, 0u);
    EXPECT_EQ(
        receiver.decoder.counters().rejected_base + receiver.decoder.counters().rejected_corrupt,
        0u);
  }
}

TEST(PageEncoder, FallsBackToRawWhenNothingHelps) {
  Rng rng(1);
  PageEncoder encoder = MakeEncoder(8);
  const Page random = testing::RandomPage(rng);
  const CodecPlan everything{kZero, kXorDelta, kLz4};  // no explicit raw: still the fallback
  Sent first = EncodeOrDie(encoder, 5, random, 1, everything);
  EXPECT_EQ(first.encoded.codec, kRaw);
  EXPECT_EQ(first.encoded.length, kPageSize);
  EXPECT_TRUE(std::equal(first.payload.begin(), first.payload.end(), random.data()));
  // Cached now, but a fresh random page does not delta well either.
  Sent second = EncodeOrDie(encoder, 5, testing::RandomPage(rng), 2, everything);
  EXPECT_EQ(second.encoded.codec, kRaw);
  EXPECT_EQ(encoder.counters(kRaw).pages, 2u);
  EXPECT_EQ(encoder.counters(kLz4).no_gain, 2u);
  EXPECT_EQ(encoder.counters(kXorDelta).no_gain, 1u);  // the first time it was not cached
  EXPECT_EQ(encoder.counters(kZero).no_gain, 2u);
  EXPECT_EQ(encoder.cache().stats().misses, 1u);
  EXPECT_EQ(encoder.cache().stats().hits, 1u);
}

TEST(PageEncoder, FollowsThePlanOrder) {
  Rng rng(2);
  PageEncoder encoder = MakeEncoder(8);
  const Page text = testing::TextPage(rng);
  EncodeOrDie(encoder, 1, text, 1, CodecPlan{kRaw});
  const Page edited = testing::SparseChange(text, rng, 2, 4);
  // First fit (everything is good enough): the plan order alone decides.
  CodecPlan lz4_then_delta{kLz4, kXorDelta};
  lz4_then_delta.set_good_enough(kPageSize);
  CodecPlan delta_then_lz4{kXorDelta, kLz4};
  delta_then_lz4.set_good_enough(kPageSize);
  Sent lz4_first = EncodeOrDie(encoder, 1, edited, 2, lz4_then_delta);
  EXPECT_EQ(lz4_first.encoded.codec, kLz4);
  Sent delta_first =
      EncodeOrDie(encoder, 1, testing::SparseChange(edited, rng, 2, 4), 3, delta_then_lz4);
  EXPECT_EQ(delta_first.encoded.codec, kXorDelta);
  EXPECT_EQ(delta_first.encoded.base_version, 2u);  // against what epoch 2 sent
  EXPECT_LT(delta_first.encoded.length, 32u);
  // "none": raw even for a zero page.
  EXPECT_EQ(EncodeOrDie(encoder, 2, testing::ZeroPage(), 3, CodecPlan{kRaw}).encoded.codec, kRaw);
  EXPECT_EQ(EncodeOrDie(encoder, 2, testing::ZeroPage(), 4, CodecPlan{kZero}).encoded.codec, kZero);
}

// A delta that barely beats raw (the page was rewritten) loses to LZ4; a first payload within
// good_enough is sent without trying the rest of the plan.
TEST(PageEncoder, SendsTheSmallestUnlessTheFirstIsGoodEnough) {
  Rng rng(6);
  PageEncoder encoder = MakeEncoder(8);
  Receiver receiver;
  const Page text_v1 = testing::TextPage(rng);
  const Page text_v2 = testing::TextPage(rng);  // same kind of content, rewritten
  Sent s1 = EncodeOrDie(encoder, 1, text_v1, 1, CodecPlan{kRaw});
  ASSERT_TRUE(receiver.Apply(1, 1, s1.encoded, s1.payload).ok());

  Sent s2 = EncodeOrDie(encoder, 1, text_v2, 2, CodecPlan{kXorDelta, kLz4});
  EXPECT_EQ(s2.encoded.codec, kLz4);  // written to the spare buffer, then copied out
  ASSERT_TRUE(receiver.Apply(1, 2, s2.encoded, s2.payload).ok());
  EXPECT_EQ(receiver.copies[1].page, text_v2);
  EXPECT_EQ(encoder.counters(kXorDelta).outdone + encoder.counters(kXorDelta).no_gain, 1u);

  // The other order: LZ4 (about half a page) is not good enough, the delta of a few hundred
  // changed bytes is smaller and wins from the spare buffer.
  const Page text_v3 = testing::SparseChange(text_v2, rng, 40, 8);
  Sent s3 = EncodeOrDie(encoder, 1, text_v3, 3, CodecPlan{kLz4, kXorDelta});
  EXPECT_EQ(s3.encoded.codec, kXorDelta);
  EXPECT_EQ(s3.encoded.base_version, 2u);
  EXPECT_EQ(encoder.counters(kLz4).outdone, 1u);
  ASSERT_TRUE(receiver.Apply(1, 3, s3.encoded, s3.payload).ok());
  EXPECT_EQ(receiver.copies[1].page, text_v3);

  // Three compressors: the best moves between the buffers more than once.
  const Page text_v4 = testing::SparseChange(text_v3, rng, 3, 4);
  CodecPlan all{kLz4, kZero, kXorDelta};
  Sent s4 = EncodeOrDie(encoder, 1, text_v4, 4, all);
  EXPECT_EQ(s4.encoded.codec, kXorDelta);
  ASSERT_TRUE(receiver.Apply(1, 4, s4.encoded, s4.payload).ok());
  EXPECT_EQ(receiver.copies[1].page, text_v4);

  // First fit: a plan that accepts anything sends the nearly raw delta.
  CodecPlan first_fit{kXorDelta, kLz4};
  first_fit.set_good_enough(kPageSize);
  auto delta_fits = [&](const Page& page, const Page& base) {
    CodecWorkspace ws;
    std::vector<std::byte> out(kPageSize);
    return FindCodec(kXorDelta)->encode(page.span(), base.data(), out, ws).ok();
  };
  Page text_v5 = testing::TextPage(rng);
  while (!delta_fits(text_v5, text_v4)) text_v5 = testing::TextPage(rng);
  Sent s5 = EncodeOrDie(encoder, 1, text_v5, 5, first_fit);
  EXPECT_EQ(s5.encoded.codec, kXorDelta);
  EXPECT_GT(s5.encoded.length, kPageSize / 2);
  ASSERT_TRUE(receiver.Apply(1, 5, s5.encoded, s5.payload).ok());
  EXPECT_EQ(receiver.copies[1].page, text_v5);
}

TEST(PageEncoder, CountsBytes) {
  Rng rng(3);
  PageEncoder encoder = MakeEncoder(8);
  const Page text = testing::TextPage(rng);
  const Sent a = EncodeOrDie(encoder, 1, text, 1, CodecPlan{kLz4});
  const Sent b = EncodeOrDie(encoder, 2, testing::TextPage(rng), 1, CodecPlan{kLz4});
  const CodecCounters& c = encoder.counters(kLz4);
  EXPECT_EQ(c.pages, 2u);
  EXPECT_EQ(c.bytes_in, 2 * kPageSize);
  EXPECT_EQ(c.bytes_out, a.encoded.length + b.encoded.length);
}

TEST(PageEncoder, RejectsShortOutputAndOldEpochs) {
  Rng rng(4);
  PageEncoder encoder = MakeEncoder(8);
  const Page page = testing::TextPage(rng);
  std::vector<std::byte> small(kPageSize - 1);
  auto short_out = encoder.Encode(1, page.span(), 1, CodecPlan{kLz4}, small);
  ASSERT_FALSE(short_out.ok());
  EXPECT_EQ(short_out.error().code, Errc::kInvalidArgument);

  EncodeOrDie(encoder, 1, page, 10, CodecPlan{kLz4});
  std::vector<std::byte> out(kPageSize);
  auto old = encoder.Encode(1, page.span(), 9, CodecPlan{kXorDelta}, out);
  ASSERT_FALSE(old.ok());
  EXPECT_EQ(old.error().code, Errc::kInvalidArgument);
  EXPECT_EQ(encoder.counters(kXorDelta).pages, 0u);
}

// After a reset the sender forgets every base; a receiver that kept old copies would otherwise be
// sent deltas it could not check.
TEST(PageEncoder, ResetForgetsBasesAndReceiverRejectsStaleBase) {
  Rng rng(5);
  PageEncoder encoder = MakeEncoder(8);
  const Page v1 = testing::StructPage(rng);
  const Page v2 = testing::SparseChange(v1, rng, 3, 4);
  const CodecPlan plan{kZero, kXorDelta, kLz4};
  Receiver receiver;
  Sent s1 = EncodeOrDie(encoder, 7, v1, 1, plan);
  ASSERT_TRUE(receiver.Apply(7, 1, s1.encoded, s1.payload).ok());

  encoder.ResetPeerState();
  EXPECT_FALSE(encoder.ContextFor(7, 1.0f, CodecSetting::kAuto).page_cached);
  Sent s2 = EncodeOrDie(encoder, 7, v2, 2, plan);
  EXPECT_NE(s2.encoded.codec, kXorDelta);
  ASSERT_TRUE(receiver.Apply(7, 2, s2.encoded, s2.payload).ok());

  // A delta against version 2 applied to a receiver whose copy is version 1 must be refused.
  const Page v3 = testing::SparseChange(v2, rng, 3, 4);
  Sent s3 = EncodeOrDie(encoder, 7, v3, 3, plan);
  ASSERT_EQ(s3.encoded.codec, kXorDelta);
  Receiver stale;
  ASSERT_TRUE(stale.Apply(7, 1, s1.encoded, s1.payload).ok());
  auto refused = stale.Apply(7, 3, s3.encoded, s3.payload);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, Errc::kState);
  EXPECT_EQ(stale.copies[7].page, v1);
  ASSERT_TRUE(receiver.Apply(7, 3, s3.encoded, s3.payload).ok());
  EXPECT_EQ(receiver.copies[7].page, v3);
}

}  // namespace
}  // namespace replink::codec
