// XorDeltaCodec: the page XOR the peer's previous copy of it (the "base"), with runs of unchanged
// bytes skipped. Between two checkpoints a guest typically rewrites a few words of a page
// (counters, pointers, list links), so the XOR is mostly zero and the payload a few dozen bytes.
//
// Payload grammar (all integers are varints: little-endian base-128, 1 or 2 bytes, minimal, so at
// most 16383; a second byte of 0 or a third byte is rejected):
//
//   payload := { zero_run literal_len literal_byte{literal_len} }* tail_run
//
//   zero_run     bytes equal to the base, skipped (>= 0)
//   literal_len  bytes that follow, each page[i] XOR base[i] (>= 1)
//   tail_run     bytes equal to the base up to the end of the page (>= 0)
//
// The runs must add up to exactly kPageSize: no run leaves the page, and the explicit tail makes
// every strict prefix of a valid payload invalid (a truncation cannot pass for a smaller delta). An
// unchanged page is the two bytes of tail_run = 4096. The encoder ends a literal only before at
// least kMinZeroRunToSplit unchanged bytes: a shorter gap costs less inside the literal than a new
// token header (two varints). Encoding scans 64 bytes per step with SSE2 into a 4096-bit difference
// mask, then walks that mask a word at a time, so a sparse delta costs about one pass over both
// pages.
#pragma once

#include "codec/page_codec.h"

namespace replink::codec {

inline constexpr std::size_t kMinZeroRunToSplit = 3;
inline constexpr std::size_t kMaxVarintBytes = 2;

struct XorDeltaCodec {
  // `base` must point to kPageSize readable bytes (the content the peer holds for this page).
  static Result<uint32_t> Encode(ConstPageSpan page, const std::byte* base,
                                 std::span<std::byte> out, CodecWorkspace& workspace);
  // Validates the whole payload before touching `out`, so that decoding in place (base ==
  // out.data()) leaves the base intact when the payload is corrupt.
  static Result<void> Decode(std::span<const std::byte> payload, const std::byte* base,
                             PageSpan out);
};

}  // namespace replink::codec
