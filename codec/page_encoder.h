// PageEncoder: the sender's side of the page codecs.
//
// For each page it tries the codecs of a plan (from a CodecPolicy) in order, stopping at the first
// payload of at most plan.good_enough() bytes and otherwise sending the smallest (raw if none
// fits), and records the page in its DeltaCache as the peer's copy at version = epoch, so the next
// delta of that page is against exactly what the peer will hold. Hence a contract with the caller:
// every page this encoder returns reaches the peer in order, or the link is reset and
// ResetPeerState() called.
//
// Single-threaded (one per protected VM stream, on one dataplane lcore); counters are plain
// integers.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>

#include "codec/codec_policy.h"
#include "codec/delta_cache.h"
#include "codec/page_codec.h"

namespace replink::codec {

struct CodecCounters {
  uint64_t pages = 0;      // pages sent with this codec
  uint64_t bytes_in = 0;   // page bytes those pages hold (pages * kPageSize)
  uint64_t bytes_out = 0;  // payload bytes produced for them
  uint64_t no_gain = 0;    // attempts with no payload smaller than raw and any earlier candidate
  uint64_t outdone = 0;    // payloads made but beaten by a later codec of the plan
};

class PageEncoder {
 public:
  explicit PageEncoder(DeltaCache cache);

  // The policy's input for one page.
  CodecContext ContextFor(uint64_t gfn, float link_utilisation, CodecSetting setting) const {
    return CodecContext{cache_.Contains(gfn), link_utilisation, setting};
  }

  // Encodes `page` (guest frame `gfn`, captured in `epoch`) into `out`, which must hold kPageSize
  // bytes so the raw fallback always fits. kXorDelta is skipped when the page is not cached.
  // Errors: kInvalidArgument for a short `out` or an epoch older than the cached version of the
  // page.
  Result<EncodedPage> Encode(uint64_t gfn, ConstPageSpan page, uint64_t epoch,
                             const CodecPlan& plan, std::span<std::byte> out);

  // The peer's state is unknown (link reset, peer restart): forget every base.
  void ResetPeerState() { cache_.Clear(); }
  // Installs another cache (e.g. of a new size, set at run time) and returns the old one. The new
  // cache's content is the peer state from now on; an empty one is always safe.
  DeltaCache ReplaceCache(DeltaCache cache) {
    std::swap(cache_, cache);
    return cache;
  }

  const CodecCounters& counters(CodecId codec) const;
  const DeltaCache& cache() const { return cache_; }

 private:
  DeltaCache cache_;
  CodecWorkspace workspace_;
  // Holds one candidate payload while the next codec writes into the caller's buffer, or back.
  std::unique_ptr<std::byte[]> spare_{new std::byte[kPageSize]};
  std::array<CodecCounters, kCodecCount> counters_{};
};

}  // namespace replink::codec
