#include "errors/result.h"

namespace replink {

const char* ErrcName(Errc code) {
  switch (code) {
    case Errc::kInvalidArgument: return "invalid argument";
    case Errc::kCorrupt: return "corrupt";
    case Errc::kNoSpace: return "no space";
    case Errc::kNoGain: return "no gain";
    case Errc::kVersionMismatch: return "version mismatch";
    case Errc::kUnsupported: return "unsupported";
    case Errc::kIo: return "i/o error";
    case Errc::kTimeout: return "timeout";
    case Errc::kClosed: return "closed";
    case Errc::kState: return "bad state";
  }
  return "unknown error";
}

std::string Error::Describe() const {
  if (sys_errno != 0)
    return fmt::format("{}: {} ({})", ErrcName(code), message, std::strerror(sys_errno));
  return fmt::format("{}: {}", ErrcName(code), message);
}

}  // namespace replink
