#include "codec/xor_delta_codec.h"

#include <emmintrin.h>  // SSE2: part of the x86-64 baseline

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <cstring>

namespace replink::codec {
namespace {

constexpr std::size_t kMaskWords = kPageSize / 64;
using DiffMask = std::array<uint64_t, kMaskWords>;  // bit i set: byte i differs from the base
constexpr uint32_t kVarintLimit = (1u << 14) - 1;   // largest value two varint bytes can hold
static_assert(kPageSize <= kVarintLimit, "runs must fit in kMaxVarintBytes");

// Four 16-byte compares per 64-byte block; the common all-equal block costs one combined test.
void BuildDiffMask(const std::byte* page, const std::byte* base, DiffMask& mask) {
  const auto* p = reinterpret_cast<const __m128i*>(page);
  const auto* b = reinterpret_cast<const __m128i*>(base);
  for (std::size_t w = 0; w < kMaskWords; ++w, p += 4, b += 4) {
    const __m128i e0 = _mm_cmpeq_epi8(_mm_loadu_si128(p), _mm_loadu_si128(b));
    const __m128i e1 = _mm_cmpeq_epi8(_mm_loadu_si128(p + 1), _mm_loadu_si128(b + 1));
    const __m128i e2 = _mm_cmpeq_epi8(_mm_loadu_si128(p + 2), _mm_loadu_si128(b + 2));
    const __m128i e3 = _mm_cmpeq_epi8(_mm_loadu_si128(p + 3), _mm_loadu_si128(b + 3));
    const __m128i all = _mm_and_si128(_mm_and_si128(e0, e1), _mm_and_si128(e2, e3));
    if (_mm_movemask_epi8(all) == 0xFFFF) {
      mask[w] = 0;
      continue;
    }
    const uint64_t equal =
        static_cast<uint64_t>(static_cast<uint32_t>(_mm_movemask_epi8(e0))) |
        static_cast<uint64_t>(static_cast<uint32_t>(_mm_movemask_epi8(e1))) << 16 |
        static_cast<uint64_t>(static_cast<uint32_t>(_mm_movemask_epi8(e2))) << 32 |
        static_cast<uint64_t>(static_cast<uint32_t>(_mm_movemask_epi8(e3))) << 48;
    mask[w] = ~equal;
  }
}

// First differing byte at or after `from`, or kPageSize.
std::size_t NextDiff(const DiffMask& mask, std::size_t from) {
  std::size_t w = from / 64;
  if (w >= kMaskWords) return kPageSize;
  uint64_t bits = mask[w] & (~uint64_t{0} << (from % 64));
  while (bits == 0) {
    if (++w == kMaskWords) return kPageSize;
    bits = mask[w];
  }
  return w * 64 + static_cast<std::size_t>(std::countr_zero(bits));
}

// Bit i set: bytes i .. i+kMinZeroRunToSplit-1 all equal the base (bytes past the page count as
// equal, so the page end always qualifies).
uint64_t GapStarts(const DiffMask& mask, std::size_t w) {
  const uint64_t cur = mask[w];
  const uint64_t next = w + 1 < kMaskWords ? mask[w + 1] : 0;
  uint64_t covered = cur;
  for (std::size_t k = 1; k < kMinZeroRunToSplit; ++k) covered |= (cur >> k) | (next << (64 - k));
  return ~covered;
}

// End of the literal that starts at the differing byte `from`: the first gap start after it.
std::size_t LiteralEnd(const DiffMask& mask, std::size_t from) {
  std::size_t w = from / 64;
  uint64_t bits = GapStarts(mask, w) & (~uint64_t{0} << (from % 64));
  while (bits == 0) {
    if (++w == kMaskWords) return kPageSize;
    bits = GapStarts(mask, w);
  }
  return std::min(kPageSize, w * 64 + static_cast<std::size_t>(std::countr_zero(bits)));
}

std::size_t VarintSize(uint32_t value) { return value < 0x80 ? 1 : 2; }

std::byte* PutVarint(std::byte* out, uint32_t value) {
  if (value < 0x80) {
    *out++ = std::byte(value);
  } else {
    *out++ = std::byte(0x80 | (value & 0x7F));
    *out++ = std::byte(value >> 7);
  }
  return out;
}

// dst[i] = a[i] ^ b[i]. Both ranges are inside their pages and `dst` has room (checked by callers).
void XorBytes(std::byte* dst, const std::byte* a, const std::byte* b, std::size_t n) {
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m128i x = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i)),
                                    _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i)));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), x);
  }
  for (; i < n; ++i) dst[i] = a[i] ^ b[i];
}

// XOR of a short literal (<= 16 bytes) as one 16-byte operation instead of a loop whose length
// changes every call (a branch mispredict per token on dense deltas). Writes 16 bytes at dst: the
// caller makes sure they are inside its buffer and that the bytes past the literal are rewritten or
// ignored later.
void XorShortLiteral(std::byte* dst, const std::byte* a, const std::byte* b) {
  const __m128i x = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a)),
                                  _mm_loadu_si128(reinterpret_cast<const __m128i*>(b)));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), x);
}

// dst[0..n) ^= lit[0..n) for n <= 16 in one 16-byte operation: bytes from n on are XOR-ed with
// zero, i.e. rewritten unchanged. Reads and writes 16 bytes at dst and reads 16 at lit: the caller
// checks that both lie inside their buffers.
void XorIntoShort(std::byte* dst, const std::byte* lit, std::size_t n) {
  const __m128i index = _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m128i keep = _mm_cmpgt_epi8(_mm_set1_epi8(static_cast<char>(n)), index);
  const __m128i x = _mm_and_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(lit)), keep);
  auto* d = reinterpret_cast<__m128i*>(dst);
  _mm_storeu_si128(d, _mm_xor_si128(_mm_loadu_si128(d), x));
}

// A cursor over untrusted payload bytes.
struct Reader {
  const std::byte* data;
  std::size_t size;
  std::size_t at = 0;

  bool done() const { return at == size; }

  // Reads one varint; false if truncated, longer than kMaxVarintBytes or not minimal.
  bool Varint(uint32_t& value) {
    if (at >= size) return false;
    const auto b0 = std::to_integer<uint32_t>(data[at++]);
    if ((b0 & 0x80) == 0) {
      value = b0;
      return true;
    }
    if (at >= size) return false;
    const auto b1 = std::to_integer<uint32_t>(data[at++]);
    if (b1 == 0 || (b1 & 0x80) != 0) return false;  // non-minimal or a third byte
    value = (b0 & 0x7F) | (b1 << 7);
    return true;
  }
};

// One pass over the payload that checks every rule without writing anything.
Result<void> Validate(std::span<const std::byte> payload) {
  Reader in{payload.data(), payload.size()};
  std::size_t pos = 0;
  for (;;) {
    const std::size_t token_at = in.at;
    uint32_t zero_run = 0;
    if (!in.Varint(zero_run))
      return MakeError(Errc::kCorrupt, "xor-delta payload: truncated or overlong varint at byte {}",
                       token_at);
    if (in.done()) {  // that was the tail run
      if (pos + zero_run != kPageSize)
        return MakeError(Errc::kCorrupt,
                         "xor-delta payload covers {} bytes, expected {} (truncated or overlong)",
                         pos + zero_run, kPageSize);
      return Ok();
    }
    uint32_t literal_len = 0;
    if (!in.Varint(literal_len))
      return MakeError(Errc::kCorrupt,
                       "xor-delta payload: truncated or overlong varint in token at byte {}",
                       token_at);
    if (literal_len == 0)
      return MakeError(Errc::kCorrupt, "xor-delta payload: empty literal in token at byte {}",
                       token_at);
    if (zero_run > kPageSize - pos || literal_len > kPageSize - pos - zero_run)
      return MakeError(
          Errc::kCorrupt,
          "xor-delta payload: token at byte {} runs past the page (offset {} + {} + {})", token_at,
          pos, zero_run, literal_len);
    if (literal_len > in.size - in.at)
      return MakeError(Errc::kCorrupt,
                       "xor-delta payload: literal of {} bytes at byte {} but only {} left",
                       literal_len, in.at, in.size - in.at);
    in.at += literal_len;
    pos += zero_run + literal_len;
  }
}

}  // namespace

Result<uint32_t> XorDeltaCodec::Encode(ConstPageSpan page, const std::byte* base,
                                       std::span<std::byte> out, CodecWorkspace& /*workspace*/) {
  if (base == nullptr) return MakeError(Errc::kInvalidArgument, "xor-delta: no base page");
  DiffMask mask;
  BuildDiffMask(page.data(), base, mask);
  const std::size_t limit = std::min(out.size(), kPageSize - 1);

  std::byte* const begin = out.data();
  std::byte* const out_end = begin + out.size();
  std::byte* op = begin;
  std::size_t pos = 0;  // bytes of the page accounted for so far
  auto room = [&] { return limit - static_cast<std::size_t>(op - begin); };
  for (;;) {
    const std::size_t diff = NextDiff(mask, pos);
    if (diff == kPageSize) break;
    const std::size_t end = LiteralEnd(mask, diff);
    const auto zero_run = static_cast<uint32_t>(diff - pos);
    const auto literal_len = static_cast<uint32_t>(end - diff);
    const std::size_t need = VarintSize(zero_run) + VarintSize(literal_len) + literal_len;
    if (need > room()) return NoGain("xor-delta");
    op = PutVarint(op, zero_run);
    op = PutVarint(op, literal_len);
    if (literal_len <= 16 && diff + 16 <= kPageSize && out_end - op >= 16)
      XorShortLiteral(op, page.data() + diff, base + diff);
    else
      XorBytes(op, page.data() + diff, base + diff, literal_len);
    op += literal_len;
    pos = end;
  }
  const auto tail_run = static_cast<uint32_t>(kPageSize - pos);
  if (VarintSize(tail_run) > room()) return NoGain("xor-delta");
  op = PutVarint(op, tail_run);
  return static_cast<uint32_t>(op - begin);
}

Result<void> XorDeltaCodec::Decode(std::span<const std::byte> payload, const std::byte* base,
                                   PageSpan out) {
  if (base == nullptr)
    return MakeError(Errc::kInvalidArgument, "xor-delta: no base page to decode against");
  if (base != out.data()) {
    // Partial overlap would make the copy below read bytes it has already changed.
    const auto b = reinterpret_cast<std::uintptr_t>(base);
    const auto o = reinterpret_cast<std::uintptr_t>(out.data());
    if (b < o + kPageSize && o < b + kPageSize)
      return MakeError(Errc::kInvalidArgument, "xor-delta: base and out overlap");
  }
  if (payload.size() >= kPageSize)
    return MakeError(Errc::kCorrupt, "xor-delta payload is {} bytes, expected at most {}",
                     payload.size(), kPageSize - 1);
  REPLINK_TRY(Validate(payload));

  if (base != out.data()) std::memcpy(out.data(), base, kPageSize);
  Reader in{payload.data(), payload.size()};
  std::size_t pos = 0;
  for (;;) {
    uint32_t zero_run = 0;
    uint32_t literal_len = 0;
    in.Varint(zero_run);   // cannot fail: validated above
    if (in.done()) break;  // the tail run
    in.Varint(literal_len);
    pos += zero_run;
    if (literal_len <= 16 && pos + 16 <= kPageSize && in.size - in.at >= 16)
      XorIntoShort(out.data() + pos, in.data + in.at, literal_len);
    else
      XorBytes(out.data() + pos, out.data() + pos, in.data + in.at, literal_len);
    in.at += literal_len;
    pos += literal_len;
  }
  return Ok();
}

}  // namespace replink::codec
