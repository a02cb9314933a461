#include "capture/epoch_record.h"

namespace replink {

const char* RecordTypeName(RecordType type) {
  switch (type) {
    case RecordType::kEpochBegin: return "epoch-begin";
    case RecordType::kPage: return "page";
    case RecordType::kZeroPage: return "zero-page";
    case RecordType::kVcpuState: return "vcpu-state";
    case RecordType::kDeviceState: return "device-state";
    case RecordType::kDiskWrite: return "disk-write";
    case RecordType::kEpochEnd: return "epoch-end";
  }
  return "unknown";
}

const char* EpochTriggerName(EpochTrigger trigger) {
  switch (trigger) {
    case EpochTrigger::kDiskWrite: return "disk-write";
    case EpochTrigger::kNetSend: return "net-send";
    case EpochTrigger::kTimer: return "timer";
    case EpochTrigger::kExplicit: return "explicit";
  }
  return "unknown";
}

bool IsValidRecordType(uint8_t raw) {
  return raw >= static_cast<uint8_t>(RecordType::kEpochBegin) &&
         raw <= static_cast<uint8_t>(RecordType::kEpochEnd);
}

bool IsValidEpochTrigger(uint8_t raw) {
  return raw >= static_cast<uint8_t>(EpochTrigger::kDiskWrite) &&
         raw <= static_cast<uint8_t>(EpochTrigger::kExplicit);
}

}  // namespace replink
