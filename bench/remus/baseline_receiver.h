// The baseline's receiving side: reads epochs from a connected TCP socket, validates every field
// before using it (the stream is untrusted), reads the pages straight into replink's own
// EpochStager arena with readv, commits each epoch with replink's ReplicaStore (the same replica
// image and commit the replink secondary uses), and acknowledges it. The replica side thus costs
// the same for the baseline and for replink; what differs is the transport.
#pragma once

#include <cstdint>
#include <string>

#include "errors/result.h"
#include "replica/replica_image_layout.h"
#include "replica/replica_store.h"

namespace replink::bench::remus {

struct ReceiverCounters {
  uint64_t epochs = 0;
  uint64_t pages = 0;
  uint64_t bytes = 0;
  uint64_t rejected = 0;  // malformed messages (the connection is dropped after one)
};

struct ReceiverOptions {
  replica::ReplicaGeometry geometry;
  std::string directory;  // the replica image goes here
  replica::Durability durability = replica::Durability::kPageCache;
};

// Serves one connection until the peer closes it. A malformed message ends the connection with an
// error (and counts); a clean EOF between messages is success.
Result<ReceiverCounters> ServeConnection(int fd, const ReceiverOptions& options);

}  // namespace replink::bench::remus
