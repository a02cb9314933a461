#include "dataplane/port/fault_decider.h"

#include <algorithm>
#include <cmath>

namespace replink::port {

const char* FaultActionName(FaultAction action) {
  switch (action) {
    case FaultAction::kPass: return "pass";
    case FaultAction::kDrop: return "drop";
    case FaultAction::kDuplicate: return "duplicate";
    case FaultAction::kReorder: return "reorder";
    case FaultAction::kCorrupt: return "corrupt";
    case FaultAction::kDelay: return "delay";
  }
  return "?";
}

FaultDecider::FaultDecider(const config::FaultInjectionConfig& config, uint64_t stream)
    : random_(config.seed ^ (0x5deece66dULL * (stream + 1))) {
  auto ppm = [](double pct) {
    return static_cast<uint32_t>(std::clamp(std::llround(pct * 10000.0), 0LL, 1000000LL));
  };
  uint32_t total = 0;
  auto cumulative = [&](double pct) {
    total = std::min<uint32_t>(total + ppm(pct), kScale);
    return total;
  };
  drop_ = cumulative(config.drop_pct);
  duplicate_ = cumulative(config.duplicate_pct);
  reorder_ = cumulative(config.reorder_pct);
  corrupt_ = cumulative(config.corrupt_pct);
  delay_ = cumulative(config.delay_pct);
}

FaultAction FaultDecider::Next() {
  if (delay_ == 0) return FaultAction::kPass;  // nothing configured: no draw needed
  auto draw = static_cast<uint32_t>(random_.Below(kScale));
  if (draw < drop_) return FaultAction::kDrop;
  if (draw < duplicate_) return FaultAction::kDuplicate;
  if (draw < reorder_) return FaultAction::kReorder;
  if (draw < corrupt_) return FaultAction::kCorrupt;
  if (draw < delay_) return FaultAction::kDelay;
  return FaultAction::kPass;
}

}  // namespace replink::port
