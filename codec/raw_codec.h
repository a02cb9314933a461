// RawCodec: the page verbatim. Always succeeds when `out` holds kPageSize bytes; it is the fallback
// every plan ends with, so its payload (exactly kPageSize bytes) defines the bound for all codecs.
#pragma once

#include "codec/page_codec.h"

namespace replink::codec {

struct RawCodec {
  static Result<uint32_t> Encode(ConstPageSpan page, const std::byte* base,
                                 std::span<std::byte> out, CodecWorkspace& workspace);
  static Result<void> Decode(std::span<const std::byte> payload, const std::byte* base,
                             PageSpan out);
};

}  // namespace replink::codec
