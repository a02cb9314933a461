// ReplicaImage: read-only access to a replica for a restore by the local shim after failover. The
// directory is untrusted input at this point (it survived a crash or a restart): the header is
// validated, and a replica whose writer did not Close() it cleanly is refused until a ReplicaStore
// has opened it (which recovers) and closed it.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "errors/result.h"
#include "replica/posix_file.h"
#include "replica/replica_image_format.h"
#include "replica/replica_image_layout.h"
#include "replica/replica_image_view.h"

namespace replink::replica {

class ReplicaImage {
 public:
  static Result<ReplicaImage> Open(const std::string& directory);

  uint64_t committed_epoch() const { return header_.committed_epoch; }
  uint64_t image_id() const { return header_.image_id; }
  const ReplicaGeometry& geometry() const { return geometry_; }

  Result<PageRef> Page(uint64_t gfn) const { return view().Page(gfn); }
  Result<BlobRef> Blob(RecordType type, uint32_t index) const { return view().Blob(type, index); }
  // All guest memory, gfn-indexed, kPageSize bytes per page.
  std::span<const std::byte> guest_memory() const {
    return {view().page_data(), geometry_.guest_pages * kPageSize};
  }
  // For a shim that maps guest memory itself: the image fd and where guest memory starts in it.
  int memory_fd() const { return fd_.get(); }
  uint64_t page_data_offset() const { return layout_.page_data_offset; }
  std::string DiskPath(uint32_t disk) const;

 private:
  ReplicaImage() = default;
  ReplicaImageView view() const { return {map_.data(), &geometry_, layout_}; }

  std::string directory_;
  ImageHeader header_{};
  ReplicaGeometry geometry_;
  ImageLayout layout_;
  UniqueFd journal_lock_;  // shared lock: no ReplicaStore may write while we read
  UniqueFd fd_;
  FileMapping map_;
};

}  // namespace replink::replica
