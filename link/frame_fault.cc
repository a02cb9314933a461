#include "link/frame_fault.h"

namespace replink::link {

const char* FrameFaultName(FrameFault fault) {
  switch (fault) {
    case FrameFault::kNone: return "none";
    case FrameFault::kTruncated: return "truncated";
    case FrameFault::kNotForUs: return "not-for-us";
    case FrameFault::kBadIpHeader: return "bad-ip-header";
    case FrameFault::kBadUdpHeader: return "bad-udp-header";
    case FrameFault::kBadMagic: return "bad-magic";
    case FrameFault::kBadVersion: return "bad-version";
    case FrameFault::kBadChecksum: return "bad-checksum";
    case FrameFault::kUnknownType: return "unknown-type";
    case FrameFault::kBadLength: return "bad-length";
    case FrameFault::kReservedNotZero: return "reserved-not-zero";
    case FrameFault::kUnsupported: return "unsupported";
    case FrameFault::kMalformedRecord: return "malformed-record";
    case FrameFault::kUnknownRecord: return "unknown-record";
    case FrameFault::kBadControlPayload: return "bad-control-payload";
    case FrameFault::kStaleSession: return "stale-session";
    case FrameFault::kUnknownStream: return "unknown-stream";
    case FrameFault::kOutOfWindow: return "out-of-window";
    case FrameFault::kDuplicate: return "duplicate";
    case FrameFault::kCount: break;
  }
  return "invalid";
}

uint64_t FaultCounters::Total() const {
  uint64_t total = 0;
  for (std::size_t i = 1; i < kFrameFaultCount; ++i) total += by_fault[i];
  return total;
}

}  // namespace replink::link
