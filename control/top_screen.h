// `replinkctl top`: a live view refreshed every interval from the dataplane's `stats`. On a terminal
// it redraws in place (alternate screen, cursor hidden, 'q' or Ctrl-C quits, the terminal restored on
// every exit path); otherwise it prints one screen after another, for logs and pipes.
#pragma once

#include <functional>
#include <string>

#include "control/protocol/control_client.h"
#include "errors/result.h"

namespace replink::control {

struct TopOptions {
  int interval_ms = 1000;
  int count = 0;          // screens to show, 0 = until quit
  int timeout_ms = 3000;  // per stats request
};

// Runs until quit, `count` screens, or a failed request (returned).
Result<void> RunTop(ControlClient& client, const TopOptions& options);

}  // namespace replink::control
