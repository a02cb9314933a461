// Registers a capture region with the local dataplane (see capture/registration_abi.h).
#pragma once

#include <string>

#include "capture/capture_ring_writer.h"
#include "capture/registration.h"

namespace replink {

struct ShimConnection {
  ShimRegistration registration;
  UniqueFd doorbell_eventfd;  // written when the dataplane sleeps
};

// Retries the connection for up to connect_timeout_ms (the dataplane may still be starting).
// guest_memory_fd >= 0 is offered read-only to verifying consumers.
Result<ShimConnection> ConnectToDataplane(const std::string& socket_path, CaptureRingWriter& ring,
                                          int guest_memory_fd, int connect_timeout_ms);

}  // namespace replink
