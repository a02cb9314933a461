// The receiver's side of the page codecs. The receiver keeps no cache of its own: a delta is
// decoded against its latest copy of the page (staged or committed), and it must first check that
// this copy is the version the sender encoded against (CheckDeltaBase). See docs/PROTOCOL.md "Page
// codecs".
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>

#include "codec/page_codec.h"

namespace replink::codec {

// Decodes one untrusted payload. `codec` may hold any byte read off the wire. `base` is the
// receiver's latest copy of the page or nullptr if it has none; only kXorDelta uses it (and may be
// given out.data() to decode in place). Errors: kCorrupt for an unknown codec or a malformed
// payload, kState for a delta without a base, kInvalidArgument for overlapping buffers.
Result<void> DecodePage(CodecId codec, std::span<const std::byte> payload, const std::byte* base,
                        PageSpan out);

// Whether a delta encoded against `wire_base_version` may be applied to the local copy of `gfn`,
// whose version is `local_version` (nullopt: no local copy). kState if not: sender and receiver
// disagree about the page, which only a resynchronisation (link reset) repairs.
Result<void> CheckDeltaBase(uint64_t gfn, uint64_t wire_base_version,
                            std::optional<uint64_t> local_version);

struct DecodeCounters {
  std::array<uint64_t, kCodecCount> pages{};  // decoded successfully, by codec
  uint64_t rejected_corrupt = 0;              // malformed payload or unknown codec id
  uint64_t rejected_base = 0;                 // delta whose base is missing or of another version
};

// DecodePage + CheckDeltaBase with counters, for one receiving stream (single-threaded).
class PageDecoder {
 public:
  struct LocalCopy {
    const std::byte* page;  // kPageSize bytes
    uint64_t version;       // the epoch that last wrote it
  };

  Result<void> Decode(uint64_t gfn, uint8_t codec, uint64_t base_version,
                      std::span<const std::byte> payload, std::optional<LocalCopy> local,
                      PageSpan out);
  const DecodeCounters& counters() const { return counters_; }

 private:
  DecodeCounters counters_;
};

}  // namespace replink::codec
