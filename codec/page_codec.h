// Page codecs: how one 4 KiB guest page travels to the peer.
//
// A codec is a pair of functions (encode, decode) in a table indexed by CodecId, one file per
// codec, so that the sender's loop and the receiver's decoder stay free of per-codec branches. The
// CodecId is carried on the wire (one byte in the link layer's PAGE record); the payload grammars
// and the bound are documented in docs/PROTOCOL.md, section "Page codecs".
//
// The bound: an encoded payload is never longer than kPageSize. Compressing codecs must produce
// strictly fewer than kPageSize bytes; when they cannot, they return Errc::kNoGain (having written
// nothing past `out`) and the caller sends the page raw.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "capture/epoch_record.h"  // kPageSize: one definition for the whole project
#include "errors/result.h"

namespace replink::codec {

using replink::kPageSize;

using PageSpan = std::span<std::byte, kPageSize>;
using ConstPageSpan = std::span<const std::byte, kPageSize>;

// Largest payload any codec produces (raw). Compressing codecs stay below it.
inline constexpr std::size_t kMaxPayloadSize = kPageSize;

// On the wire: one byte. Values are fixed forever; new codecs take new values.
enum class CodecId : uint8_t {
  kRaw = 0,       // 4096 bytes verbatim
  kZero = 1,      // the page is all zero; empty payload
  kXorDelta = 2,  // XOR against the peer's copy of version base_version, zero-run-length coded
  kLz4 = 3,       // one LZ4 block that decompresses to exactly 4096 bytes
};
static_assert(sizeof(CodecId) == 1);
inline constexpr std::size_t kCodecCount = 4;

bool IsValidCodecId(uint8_t raw);
const char* CodecName(CodecId id);  // "raw", "zero", "xor-delta", "lz4"; "invalid" otherwise

// What the sender puts in a PAGE record next to the payload bytes.
struct EncodedPage {
  CodecId codec = CodecId::kRaw;
  uint32_t length = 0;        // payload bytes written to the caller's `out`
  uint64_t base_version = 0;  // kXorDelta only: the version (epoch) the delta is against
};

// Scratch state owned by one encoder (single-threaded), so that codecs neither allocate on the fast
// path nor keep global state. Move-only.
class CodecWorkspace {
 public:
  CodecWorkspace();
  ~CodecWorkspace();
  CodecWorkspace(CodecWorkspace&& other) noexcept;
  CodecWorkspace& operator=(CodecWorkspace&& other) noexcept;
  CodecWorkspace(const CodecWorkspace&) = delete;
  CodecWorkspace& operator=(const CodecWorkspace&) = delete;

  // LZ4 stream state (an LZ4_stream_t, kept opaque here so lz4.h stays private to the LZ4 codec).
  void* lz4_state() { return lz4_state_; }

 private:
  void* lz4_state_ = nullptr;
};

// Encodes `page` into `out` and returns the payload length. `base` is the peer's copy of the page
// for codecs that need one (needs_base) and ignored otherwise. Fails with kNoGain when the payload
// would not fit min(out.size(), bound) where bound is kPageSize for raw and kPageSize - 1 for the
// others; never writes past out.
using EncodeFn = Result<uint32_t> (*)(ConstPageSpan page, const std::byte* base,
                                      std::span<std::byte> out, CodecWorkspace& workspace);

// Decodes an untrusted payload into `out`. `base` is required when needs_base and must then be
// either exactly out.data() (decode in place) or not overlap out at all. On error, returns kCorrupt
// (or kInvalidArgument for caller mistakes) and the contents of `out` are unspecified -- except
// that an in-place delta leaves the base untouched on error.
using DecodeFn = Result<void> (*)(std::span<const std::byte> payload, const std::byte* base,
                                  PageSpan out);

struct CodecOps {
  CodecId id;
  const char* name;
  bool needs_base;  // true: the payload is meaningless without the peer's previous copy
  EncodeFn encode;
  DecodeFn decode;
};

// The kNoGain result of an encoder. The message is just the codec name: short enough for the
// string's inline buffer, so falling back to the next codec never allocates.
inline Error NoGain(const char* codec_name) { return Error{Errc::kNoGain, codec_name, 0}; }

// The codec table. nullptr for an id outside the enum (e.g. a byte read off the wire).
const CodecOps* FindCodec(CodecId id);
const CodecOps* FindCodec(uint8_t raw);

}  // namespace replink::codec
