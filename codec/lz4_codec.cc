#include "codec/lz4_codec.h"

#include <lz4.h>

#include <algorithm>

namespace replink::codec {

Result<uint32_t> Lz4Codec::Encode(ConstPageSpan page, const std::byte* /*base*/,
                                  std::span<std::byte> out, CodecWorkspace& workspace) {
  // LZ4 never writes more than `capacity` bytes and returns 0 when the block does not fit.
  const int capacity = static_cast<int>(std::min(out.size(), kPageSize - 1));
  const auto* src = reinterpret_cast<const char*>(page.data());
  auto* dst = reinterpret_cast<char*>(out.data());
  int written = 0;
  if (void* state = workspace.lz4_state(); state != nullptr) {
    written = LZ4_compress_fast_extState(state, src, dst, static_cast<int>(kPageSize), capacity,
                                         /*acceleration=*/1);
  } else {
    // A workspace without state (allocation failed, or moved from): state on the stack instead.
    written = LZ4_compress_default(src, dst, static_cast<int>(kPageSize), capacity);
  }
  if (written <= 0) return NoGain("lz4");
  return static_cast<uint32_t>(written);
}

Result<void> Lz4Codec::Decode(std::span<const std::byte> payload, const std::byte* /*base*/,
                              PageSpan out) {
  if (payload.empty() || payload.size() >= kPageSize)
    return MakeError(Errc::kCorrupt, "lz4 page payload is {} bytes, expected 1..{}", payload.size(),
                     kPageSize - 1);
  // decompress_safe reads only payload and writes only out, whatever the bytes say.
  const int produced = LZ4_decompress_safe(
      reinterpret_cast<const char*>(payload.data()), reinterpret_cast<char*>(out.data()),
      static_cast<int>(payload.size()), static_cast<int>(kPageSize));
  if (produced < 0)
    return MakeError(Errc::kCorrupt, "lz4 page payload ({} bytes) is not a valid block",
                     payload.size());
  if (static_cast<std::size_t>(produced) != kPageSize)
    return MakeError(Errc::kCorrupt, "lz4 page payload decodes to {} bytes, expected {}", produced,
                     kPageSize);
  return Ok();
}

}  // namespace replink::codec
