#include "codec/raw_codec.h"

#include <cstring>

namespace replink::codec {

Result<uint32_t> RawCodec::Encode(ConstPageSpan page, const std::byte* /*base*/,
                                  std::span<std::byte> out, CodecWorkspace& /*workspace*/) {
  if (out.size() < kPageSize) return NoGain("raw");
  std::memcpy(out.data(), page.data(), kPageSize);
  return static_cast<uint32_t>(kPageSize);
}

Result<void> RawCodec::Decode(std::span<const std::byte> payload, const std::byte* /*base*/,
                              PageSpan out) {
  if (payload.size() != kPageSize)
    return MakeError(Errc::kCorrupt, "raw page payload is {} bytes, expected {}", payload.size(),
                     kPageSize);
  std::memcpy(out.data(), payload.data(), kPageSize);
  return Ok();
}

}  // namespace replink::codec
