// Turns a committed replica (replica/ReplicaImage) of a Xen PVH/HVM guest into a save image `xl restore`
// accepts: the xl header with the guest's domain configuration, a libxl v2 stream wrapping a libxc v3
// stream with every populated page, the TSC info, the HVM context and the HVM params the Xen shim
// captured (hostshim/xen/xen_state_blobs.h). Format: migration_stream.h, docs/PROTOCOL.md.
//
// The replica is untrusted input here (it crossed the wire and a crash): every blob is validated before
// it is used, and a replica that lacks what a restore needs is refused with the reason.
#pragma once

#include <cstdint>
#include <string>

#include "errors/result.h"
#include "replica/replica_image.h"

namespace replink::xen {

struct StreamWriterOptions {
  std::string xl_config;  // xl.cfg text of the guest, embedded in the header ("" = pass one to xl restore)
};

struct StreamSummary {
  uint64_t pages = 0;
  uint64_t page_records = 0;
  uint64_t bytes = 0;
  uint64_t committed_epoch = 0;
  uint32_t xen_major = 0;
  uint32_t xen_minor = 0;
};

// Writes the whole image to fd (a file or a pipe into xl restore).
Result<StreamSummary> WriteXlRestoreStream(const replica::ReplicaImage& image, const StreamWriterOptions& options,
                                           int fd);

}  // namespace replink::xen
