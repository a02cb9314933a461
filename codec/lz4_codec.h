// Lz4Codec: one LZ4 block per page (liblz4). The block must decompress to exactly kPageSize bytes.
// Compression reuses the workspace's stream state (reset, not re-initialised, per page), which avoids
// clearing 16 KiB of hash table for every 4 KiB page; every block is still self-contained.
#pragma once

#include "codec/page_codec.h"

namespace replink::codec {

struct Lz4Codec {
  static Result<uint32_t> Encode(ConstPageSpan page, const std::byte* base, std::span<std::byte> out,
                                 CodecWorkspace& workspace);
  static Result<void> Decode(std::span<const std::byte> payload, const std::byte* base, PageSpan out);
};

}  // namespace replink::codec
