// Lz4Codec: one self-contained LZ4 block per page (liblz4, acceleration 1), which must decompress
// to exactly kPageSize bytes. The compressor's 16 KiB state lives in the encoder's workspace rather
// than on the stack. (Measured here: resetting a stream and compressing with
// LZ4_compress_fast_continue skips re-initialising that state but was ~30 % slower on 4 KiB pages,
// so it is not used.)
#pragma once

#include "codec/page_codec.h"

namespace replink::codec {

struct Lz4Codec {
  static Result<uint32_t> Encode(ConstPageSpan page, const std::byte* base,
                                 std::span<std::byte> out, CodecWorkspace& workspace);
  static Result<void> Decode(std::span<const std::byte> payload, const std::byte* base,
                             PageSpan out);
};

}  // namespace replink::codec
