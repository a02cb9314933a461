#include "codec/codec_policy.h"

#include <algorithm>
#include <cmath>

namespace replink::codec {

Result<CodecSetting> ParseCodecSetting(std::string_view name) {
  if (name == "auto") return CodecSetting::kAuto;
  if (name == "none") return CodecSetting::kNone;
  if (name == "lz4") return CodecSetting::kLz4;
  if (name == "delta") return CodecSetting::kDelta;
  return MakeError(Errc::kInvalidArgument,
                   "unknown codec setting \"{}\": expected auto, none, lz4 or delta", name);
}

const char* CodecSettingName(CodecSetting setting) {
  switch (setting) {
    case CodecSetting::kAuto: return "auto";
    case CodecSetting::kNone: return "none";
    case CodecSetting::kLz4: return "lz4";
    case CodecSetting::kDelta: return "delta";
  }
  return "invalid";
}

CodecPlan::CodecPlan(std::initializer_list<CodecId> codecs) {
  for (CodecId c : codecs) Add(c);
}

bool CodecPlan::Add(CodecId codec) {
  if (!IsValidCodecId(static_cast<uint8_t>(codec))) return false;
  if (std::find(codecs_.begin(), codecs_.begin() + size_, codec) != codecs_.begin() + size_)
    return false;
  codecs_[size_++] = codec;  // cannot overflow: one entry per valid codec at most
  return true;
}

bool operator==(const CodecPlan& a, const CodecPlan& b) {
  return a.good_enough_ == b.good_enough_ && std::ranges::equal(a.codecs(), b.codecs());
}

CodecPlan PlanForSetting(CodecSetting setting, bool page_cached) {
  switch (setting) {
    case CodecSetting::kNone: return {CodecId::kRaw};
    case CodecSetting::kLz4: return {CodecId::kZero, CodecId::kLz4, CodecId::kRaw};
    case CodecSetting::kAuto:
    case CodecSetting::kDelta: break;
  }
  CodecPlan plan{CodecId::kZero};
  if (page_cached) plan.Add(CodecId::kXorDelta);
  plan.Add(CodecId::kLz4);
  plan.Add(CodecId::kRaw);
  return plan;
}

CodecPlan FixedPolicy::Plan(const CodecContext& context) const {
  return PlanForSetting(context.setting, context.page_cached);
}

AdaptivePolicy::AdaptivePolicy(float busy_threshold)
    : busy_threshold_(std::isnan(busy_threshold) ? kDefaultBusyThreshold
                                                 : std::clamp(busy_threshold, 0.0f, 1.0f)) {}

CodecPlan AdaptivePolicy::Plan(const CodecContext& context) const {
  if (context.setting != CodecSetting::kAuto)
    return PlanForSetting(context.setting, context.page_cached);
  // An unknown (NaN) utilisation counts as busy: compressing is the safe side for the link.
  const bool idle = context.link_utilisation < busy_threshold_;
  if (idle) return {CodecId::kZero, CodecId::kRaw};
  return PlanForSetting(CodecSetting::kDelta, context.page_cached);
}

}  // namespace replink::codec
