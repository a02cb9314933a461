#include "codec/page_codec.h"

#include <lz4.h>

#include <array>
#include <utility>

#include "codec/lz4_codec.h"
#include "codec/raw_codec.h"
#include "codec/xor_delta_codec.h"
#include "codec/zero_codec.h"

namespace replink::codec {
namespace {

// Indexed by the CodecId value; every entry is implemented.
constexpr std::array<CodecOps, kCodecCount> kCodecTable{{
    {CodecId::kRaw, "raw", false, &RawCodec::Encode, &RawCodec::Decode},
    {CodecId::kZero, "zero", false, &ZeroCodec::Encode, &ZeroCodec::Decode},
    {CodecId::kXorDelta, "xor-delta", true, &XorDeltaCodec::Encode, &XorDeltaCodec::Decode},
    {CodecId::kLz4, "lz4", false, &Lz4Codec::Encode, &Lz4Codec::Decode},
}};

constexpr bool TableMatchesIds() {
  for (std::size_t i = 0; i < kCodecTable.size(); ++i)
    if (static_cast<std::size_t>(kCodecTable[i].id) != i) return false;
  return true;
}
static_assert(TableMatchesIds(), "kCodecTable must be indexed by CodecId");

}  // namespace

bool IsValidCodecId(uint8_t raw) { return raw < kCodecTable.size(); }

const char* CodecName(CodecId id) {
  const CodecOps* ops = FindCodec(id);
  return ops != nullptr ? ops->name : "invalid";
}

const CodecOps* FindCodec(uint8_t raw) { return IsValidCodecId(raw) ? &kCodecTable[raw] : nullptr; }

const CodecOps* FindCodec(CodecId id) { return FindCodec(static_cast<uint8_t>(id)); }

CodecWorkspace::CodecWorkspace() : lz4_state_(LZ4_createStream()) {}

CodecWorkspace::~CodecWorkspace() {
  if (lz4_state_ != nullptr) LZ4_freeStream(static_cast<LZ4_stream_t*>(lz4_state_));
}

CodecWorkspace::CodecWorkspace(CodecWorkspace&& other) noexcept
    : lz4_state_(std::exchange(other.lz4_state_, nullptr)) {}

CodecWorkspace& CodecWorkspace::operator=(CodecWorkspace&& other) noexcept {
  if (this != &other) {
    if (lz4_state_ != nullptr) LZ4_freeStream(static_cast<LZ4_stream_t*>(lz4_state_));
    lz4_state_ = std::exchange(other.lz4_state_, nullptr);
  }
  return *this;
}

}  // namespace replink::codec
