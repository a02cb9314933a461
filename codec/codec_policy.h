// Which codecs to try for a page: policy, kept apart from the encoding mechanism (PageEncoder).
//
// A policy looks at a small context (is the page in the delta cache, how busy the link is, what the
// operator asked for) and returns an ordered plan. The encoder tries the plan's codecs in order and
// sends the first result that fits, raw if none does. Policies are cheap and allocation-free: they
// are asked once per page.
//
// The operator setting always wins; "auto" lets the policy decide:
//   none   raw only (no CPU spent on encoding; for debugging or a very fast link)
//   lz4    zero, lz4, raw
//   delta  zero, xor-delta (if cached), lz4, raw
//   auto   FixedPolicy: as delta. AdaptivePolicy: zero, raw while the link is idle; as delta when
//          the link is busy (compression only pays when bandwidth, not CPU, is the bottleneck).
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string_view>

#include "codec/page_codec.h"

namespace replink::codec {

// The operator's choice. Names (CLI and config): "auto", "none", "lz4", "delta".
enum class CodecSetting : uint8_t { kAuto, kNone, kLz4, kDelta };

Result<CodecSetting> ParseCodecSetting(std::string_view name);
const char* CodecSettingName(CodecSetting setting);

struct CodecContext {
  bool page_cached = false;  // the sender's DeltaCache holds a base for this page
  // 0..1: the share of the link's capacity in use, as the sender sees it.
  float link_utilisation = 1.0f;
  CodecSetting setting = CodecSetting::kAuto;
};

// An ordered list of codecs to try, without duplicates; at most one entry per codec.
//
// The encoder sends the first payload of at most good_enough() bytes. A larger one is kept while
// the rest of the plan is tried, and the smallest payload wins: a delta that barely beats raw (a
// page rewritten with new content) then loses to LZ4, while a small delta never pays for an LZ4
// attempt.
class CodecPlan {
 public:
  static constexpr uint32_t kDefaultGoodEnough = kPageSize / 4;

  CodecPlan() = default;
  CodecPlan(std::initializer_list<CodecId> codecs);

  // Appends `codec` unless it is already planned or invalid. Returns whether it was added.
  bool Add(CodecId codec);
  std::span<const CodecId> codecs() const { return {codecs_.data(), size_}; }
  bool empty() const { return size_ == 0; }

  uint32_t good_enough() const { return good_enough_; }
  // kPageSize or more: take the first payload that fits (plain "first success" order).
  void set_good_enough(uint32_t bytes) { good_enough_ = bytes; }

  friend bool operator==(const CodecPlan& a, const CodecPlan& b);

 private:
  std::array<CodecId, kCodecCount> codecs_{};
  uint8_t size_ = 0;
  uint32_t good_enough_ = kDefaultGoodEnough;
};

class CodecPolicy {
 public:
  virtual ~CodecPolicy() = default;
  virtual CodecPlan Plan(const CodecContext& context) const = 0;
};

// The plan for a forced setting; `auto` is treated as `delta` (try everything that may help).
CodecPlan PlanForSetting(CodecSetting setting, bool page_cached);

// Ignores the link: every page gets the plan of its setting.
class FixedPolicy final : public CodecPolicy {
 public:
  CodecPlan Plan(const CodecContext& context) const override;
};

// Under "auto", compresses only when the link is the bottleneck. The caller is expected to smooth
// link_utilisation (e.g. an EWMA over milliseconds) so that plans do not flap page by page.
class AdaptivePolicy final : public CodecPolicy {
 public:
  static constexpr float kDefaultBusyThreshold = 0.5f;

  // busy_threshold: utilisation at or above which the link counts as busy; clamped to 0..1.
  explicit AdaptivePolicy(float busy_threshold = kDefaultBusyThreshold);
  CodecPlan Plan(const CodecContext& context) const override;
  float busy_threshold() const { return busy_threshold_; }

 private:
  float busy_threshold_;
};

}  // namespace replink::codec
