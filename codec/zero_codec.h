// ZeroCodec: a page that is all zero travels as its codec id alone (empty payload). Freshly
// ballooned, freed or never-touched guest memory is common, so the check runs first in every plan
// but "none" and must be cheap: it stops at the first non-zero 64-byte block.
#pragma once

#include "codec/page_codec.h"

namespace replink::codec {

struct ZeroCodec {
  static Result<uint32_t> Encode(ConstPageSpan page, const std::byte* base,
                                 std::span<std::byte> out, CodecWorkspace& workspace);
  static Result<void> Decode(std::span<const std::byte> payload, const std::byte* base,
                             PageSpan out);
};

bool IsZeroPage(ConstPageSpan page);

}  // namespace replink::codec
