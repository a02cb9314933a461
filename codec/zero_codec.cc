#include "codec/zero_codec.h"

#include <emmintrin.h>  // SSE2: part of the x86-64 baseline

#include <cstring>

namespace replink::codec {

bool IsZeroPage(ConstPageSpan page) {
  // 64 bytes per step, OR-ed together, one test per step: stops early on the typical non-zero page.
  const auto* p = reinterpret_cast<const __m128i*>(page.data());
  for (std::size_t i = 0; i < kPageSize / sizeof(__m128i); i += 4) {
    __m128i acc =
        _mm_or_si128(_mm_or_si128(_mm_loadu_si128(p + i), _mm_loadu_si128(p + i + 1)),
                     _mm_or_si128(_mm_loadu_si128(p + i + 2), _mm_loadu_si128(p + i + 3)));
    if (_mm_movemask_epi8(_mm_cmpeq_epi8(acc, _mm_setzero_si128())) != 0xFFFF) return false;
  }
  return true;
}

Result<uint32_t> ZeroCodec::Encode(ConstPageSpan page, const std::byte* /*base*/,
                                   std::span<std::byte> /*out*/, CodecWorkspace& /*workspace*/) {
  if (!IsZeroPage(page)) return NoGain("zero");
  return 0u;
}

Result<void> ZeroCodec::Decode(std::span<const std::byte> payload, const std::byte* /*base*/,
                               PageSpan out) {
  if (!payload.empty())
    return MakeError(Errc::kCorrupt, "zero page carries a {}-byte payload, expected none",
                     payload.size());
  std::memset(out.data(), 0, kPageSize);
  return Ok();
}

}  // namespace replink::codec
