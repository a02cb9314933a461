#include "codec/codec_policy.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace replink::codec {
namespace {

using enum CodecId;

TEST(CodecSetting, ParsesTheOperatorNames) {
  for (CodecSetting s :
       {CodecSetting::kAuto, CodecSetting::kNone, CodecSetting::kLz4, CodecSetting::kDelta}) {
    auto parsed = ParseCodecSetting(CodecSettingName(s));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, s);
  }
  EXPECT_EQ(*ParseCodecSetting("delta"), CodecSetting::kDelta);
  for (const char* bad : {"", "LZ4", "zstd", "raw", "auto "}) {
    auto parsed = ParseCodecSetting(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.error().code, Errc::kInvalidArgument);
    EXPECT_NE(parsed.error().message.find("auto, none, lz4 or delta"), std::string::npos);
  }
}

TEST(CodecPlan, KeepsOrderDropsDuplicatesAndInvalidIds) {
  CodecPlan plan{kZero, kLz4, kZero, kRaw};
  EXPECT_EQ(plan, (CodecPlan{kZero, kLz4, kRaw}));
  EXPECT_FALSE(plan.Add(kLz4));
  EXPECT_FALSE(plan.Add(static_cast<CodecId>(17)));
  EXPECT_TRUE(plan.Add(kXorDelta));
  ASSERT_EQ(plan.codecs().size(), 4u);
  EXPECT_EQ(plan.codecs()[3], kXorDelta);
  EXPECT_TRUE(CodecPlan{}.empty());
}

CodecContext Ctx(CodecSetting setting, bool cached, float utilisation) {
  return CodecContext{cached, utilisation, setting};
}

TEST(FixedPolicy, FollowsTheOperatorSetting) {
  const FixedPolicy policy;
  for (float u : {0.0f, 0.3f, 1.0f}) {
    for (bool cached : {false, true}) {
      EXPECT_EQ(policy.Plan(Ctx(CodecSetting::kNone, cached, u)), (CodecPlan{kRaw}));
      EXPECT_EQ(policy.Plan(Ctx(CodecSetting::kLz4, cached, u)), (CodecPlan{kZero, kLz4, kRaw}));
    }
    EXPECT_EQ(policy.Plan(Ctx(CodecSetting::kDelta, true, u)),
              (CodecPlan{kZero, kXorDelta, kLz4, kRaw}));
    EXPECT_EQ(policy.Plan(Ctx(CodecSetting::kDelta, false, u)), (CodecPlan{kZero, kLz4, kRaw}));
    EXPECT_EQ(policy.Plan(Ctx(CodecSetting::kAuto, true, u)),
              (CodecPlan{kZero, kXorDelta, kLz4, kRaw}));
  }
}

TEST(AdaptivePolicy, CompressesOnlyWhenTheLinkIsBusy) {
  const AdaptivePolicy policy(0.6f);
  EXPECT_EQ(policy.Plan(Ctx(CodecSetting::kAuto, true, 0.0f)), (CodecPlan{kZero, kRaw}));
  EXPECT_EQ(policy.Plan(Ctx(CodecSetting::kAuto, true, 0.59f)), (CodecPlan{kZero, kRaw}));
  EXPECT_EQ(policy.Plan(Ctx(CodecSetting::kAuto, true, 0.6f)),
            (CodecPlan{kZero, kXorDelta, kLz4, kRaw}));
  EXPECT_EQ(policy.Plan(Ctx(CodecSetting::kAuto, false, 0.95f)), (CodecPlan{kZero, kLz4, kRaw}));
  // Unknown utilisation counts as busy.
  EXPECT_EQ(policy.Plan(Ctx(CodecSetting::kAuto, false, std::numeric_limits<float>::quiet_NaN())),
            (CodecPlan{kZero, kLz4, kRaw}));
}

TEST(AdaptivePolicy, OperatorSettingOverridesAdaptation) {
  const AdaptivePolicy policy;
  EXPECT_EQ(policy.Plan(Ctx(CodecSetting::kNone, true, 1.0f)), (CodecPlan{kRaw}));
  EXPECT_EQ(policy.Plan(Ctx(CodecSetting::kLz4, true, 0.0f)), (CodecPlan{kZero, kLz4, kRaw}));
  EXPECT_EQ(policy.Plan(Ctx(CodecSetting::kDelta, true, 0.0f)),
            (CodecPlan{kZero, kXorDelta, kLz4, kRaw}));
}

TEST(AdaptivePolicy, ThresholdIsClamped) {
  EXPECT_EQ(AdaptivePolicy(-1.0f).busy_threshold(), 0.0f);
  EXPECT_EQ(AdaptivePolicy(7.0f).busy_threshold(), 1.0f);
  EXPECT_EQ(AdaptivePolicy(std::nanf("")).busy_threshold(), AdaptivePolicy::kDefaultBusyThreshold);
  // Threshold 0: always busy. Threshold 1: busy only at full utilisation.
  EXPECT_EQ(AdaptivePolicy(0.0f).Plan(Ctx(CodecSetting::kAuto, false, 0.0f)),
            (CodecPlan{kZero, kLz4, kRaw}));
  EXPECT_EQ(AdaptivePolicy(1.0f).Plan(Ctx(CodecSetting::kAuto, false, 0.99f)),
            (CodecPlan{kZero, kRaw}));
}

}  // namespace
}  // namespace replink::codec
