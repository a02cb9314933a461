// Read access to a mapped memory image, shared by the writer (ReplicaStore) and the read-only opener
// (ReplicaImage). Blob directory entries come from the file and are validated on every access.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "capture/epoch_record.h"
#include "errors/result.h"
#include "replica/replica_image_layout.h"
#include "replica/staged_epoch.h"

namespace replink::replica {

struct BlobRef {
  std::span<const std::byte> bytes;  // empty if the blob was never written
  uint64_t version = 0;              // epoch that last wrote it
};

class ReplicaImageView {
 public:
  ReplicaImageView() = default;
  ReplicaImageView(const std::byte* image, const ReplicaGeometry* geometry, ImageLayout layout)
      : image_(image), geometry_(geometry), layout_(layout) {}

  Result<PageRef> Page(uint64_t gfn) const;
  Result<BlobRef> Blob(RecordType type, uint32_t index) const;
  const std::byte* page_data() const { return image_ + layout_.page_data_offset; }

 private:
  const std::byte* image_ = nullptr;
  const ReplicaGeometry* geometry_ = nullptr;
  ImageLayout layout_;
};

}  // namespace replink::replica
