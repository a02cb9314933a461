#include "codec/page_encoder.h"

#include <cstring>
#include <optional>
#include <utility>

namespace replink::codec {

PageEncoder::PageEncoder(DeltaCache cache) : cache_(std::move(cache)) {}

const CodecCounters& PageEncoder::counters(CodecId codec) const {
  // CodecPlan admits only valid ids, so an invalid one can only come from a cast; map it to raw.
  const auto i = static_cast<std::size_t>(codec);
  return counters_[i < counters_.size() ? i : static_cast<std::size_t>(CodecId::kRaw)];
}

Result<EncodedPage> PageEncoder::Encode(uint64_t gfn, ConstPageSpan page, uint64_t epoch,
                                        const CodecPlan& plan, std::span<std::byte> out) {
  if (out.size() < kPageSize)
    return MakeError(Errc::kInvalidArgument, "encode gfn {:#x}: out holds {} bytes, need {}", gfn,
                     out.size(), kPageSize);

  // The best payload so far lives either in `out` or in spare_; each attempt writes into the other.
  std::optional<EncodedPage> best;
  bool best_in_spare = false;
  const std::span<std::byte> spare(spare_.get(), kPageSize);
  for (CodecId id : plan.codecs()) {
    if (id == CodecId::kRaw) break;  // raw is the fallback below
    const CodecOps* ops = FindCodec(id);
    if (ops == nullptr) continue;  // unreachable: CodecPlan holds valid ids only
    const std::byte* base = nullptr;
    uint64_t base_version = 0;
    if (ops->needs_base) {
      auto entry = cache_.Lookup(gfn);
      if (!entry) continue;
      base = entry->page;
      base_version = entry->version;
    }
    // Only a payload smaller than the best so far is of use: a tighter span lets codecs give up
    // sooner (xor-delta stops as soon as it runs out of room).
    const bool into_spare = best && !best_in_spare;
    // best->length > good_enough >= 0, so room >= 0.
    const std::size_t room = best ? best->length - 1 : kPageSize;
    auto target = (into_spare ? spare : out).first(room);
    auto length = ops->encode(page, base, target, workspace_);
    if (!length.ok()) {
      if (length.error().code != Errc::kNoGain)
        return WithContext(std::move(length).error(), fmt::format("encode gfn {:#x}", gfn));
      ++counters_[static_cast<std::size_t>(id)].no_gain;
      continue;
    }
    if (best) ++counters_[static_cast<std::size_t>(best->codec)].outdone;
    best = EncodedPage{id, *length, base_version};
    best_in_spare = into_spare;
    if (best->length <= plan.good_enough()) break;
  }
  EncodedPage encoded;
  if (best) {
    encoded = *best;
    if (best_in_spare) std::memcpy(out.data(), spare.data(), encoded.length);
  } else {
    auto length = FindCodec(CodecId::kRaw)->encode(page, nullptr, out, workspace_);
    if (!length.ok())
      return WithContext(std::move(length).error(), fmt::format("encode gfn {:#x}", gfn));
    encoded = EncodedPage{CodecId::kRaw, *length, 0};
  }

  // Only after encoding: a delta reads its base from the slot this overwrites.
  auto stored = cache_.Store(gfn, page, epoch);
  if (!stored.ok()) return std::move(stored).error();

  CodecCounters& c = counters_[static_cast<std::size_t>(encoded.codec)];
  ++c.pages;
  c.bytes_in += kPageSize;
  c.bytes_out += encoded.length;
  return encoded;
}

}  // namespace replink::codec
