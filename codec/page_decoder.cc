#include "codec/page_decoder.h"

#include <utility>

namespace replink::codec {

Result<void> DecodePage(CodecId codec, std::span<const std::byte> payload, const std::byte* base,
                        PageSpan out) {
  const CodecOps* ops = FindCodec(codec);
  if (ops == nullptr)
    return MakeError(Errc::kCorrupt, "unknown page codec id {}", static_cast<unsigned>(codec));
  if (ops->needs_base && base == nullptr)
    return MakeError(Errc::kState, "{} page but no local copy to decode against", ops->name);
  return ops->decode(payload, base, out);
}

Result<void> CheckDeltaBase(uint64_t gfn, uint64_t wire_base_version,
                            std::optional<uint64_t> local_version) {
  if (!local_version)
    return MakeError(Errc::kState, "gfn {:#x}: delta against version {} but no local copy", gfn,
                     wire_base_version);
  if (*local_version != wire_base_version)
    return MakeError(Errc::kState,
                     "gfn {:#x}: delta against version {} but local copy is version {}", gfn,
                     wire_base_version, *local_version);
  return Ok();
}

Result<void> PageDecoder::Decode(uint64_t gfn, uint8_t codec, uint64_t base_version,
                                 std::span<const std::byte> payload, std::optional<LocalCopy> local,
                                 PageSpan out) {
  const CodecOps* ops = FindCodec(codec);
  if (ops == nullptr) {
    ++counters_.rejected_corrupt;
    return MakeError(Errc::kCorrupt, "gfn {:#x}: unknown page codec id {}", gfn, codec);
  }
  const std::byte* base = nullptr;
  if (ops->needs_base) {
    auto checked = CheckDeltaBase(gfn, base_version,
                                  local ? std::optional<uint64_t>(local->version) : std::nullopt);
    if (!checked.ok()) {
      ++counters_.rejected_base;
      return std::move(checked).error();
    }
    base = local->page;
  }
  auto decoded = ops->decode(payload, base, out);
  if (!decoded.ok()) {
    if (decoded.error().code == Errc::kCorrupt) ++counters_.rejected_corrupt;
    return WithContext(std::move(decoded).error(), fmt::format("gfn {:#x}", gfn));
  }
  ++counters_.pages[codec];
  return Ok();
}

}  // namespace replink::codec
