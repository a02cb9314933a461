#include "replica/replica_image.h"

#include <fcntl.h>
#include <sys/file.h>

#include <array>

#include "replica/epoch_journal.h"
#include "replica/replica_directory.h"

namespace replink::replica {

Result<ReplicaImage> ReplicaImage::Open(const std::string& directory) {
  ReplicaImage image;
  image.directory_ = directory;
  const std::string journal_path = JournalPathIn(directory);
  const std::string image_path = MemoryImagePathIn(directory);

  Result<UniqueFd> journal = OpenFile(journal_path, O_RDONLY);
  if (journal.ok()) {
    if (::flock(journal->get(), LOCK_SH | LOCK_NB) != 0) {
      if (errno == EWOULDBLOCK)
        return MakeError(Errc::kState, "{}: in use by a ReplicaStore", directory);
      return SysError("flock {}", journal_path);
    }
    image.journal_lock_ = std::move(journal).value();
  } else if (journal.error().sys_errno != ENOENT) {
    return std::move(journal).error();
  }

  REPLINK_ASSIGN_OR_RETURN(image.fd_, OpenFile(image_path, O_RDONLY));
  REPLINK_ASSIGN_OR_RETURN(uint64_t size, FileSize(image.fd_.get(), image_path));
  std::array<std::byte, sizeof(ImageHeader)> raw{};
  if (size >= raw.size()) REPLINK_TRY(ReadFullyAt(image.fd_.get(), raw, 0, image_path));
  REPLINK_ASSIGN_OR_RETURN(image.header_, ParseImageHeader(raw, size, image_path));
  const ImageHeader& h = image.header_;
  if (h.applying_epoch != 0 || (h.flags & kImageFlagUnsynced) != 0)
    return MakeError(Errc::kState,
                     "{}: not closed cleanly (applying epoch {}, flags {:#x}); open it with a "
                     "ReplicaStore to recover first",
                     directory, h.applying_epoch, h.flags);
  if (image.journal_lock_.valid()) {
    // A chain reaching the committed epoch may still have to redo writes lost to a power cut.
    REPLINK_ASSIGN_OR_RETURN(JournalScan scan, ScanJournal(image.journal_lock_.get(), journal_path));
    if (!scan.chain.empty() && scan.chain.front().header.image_id == h.image_id &&
        scan.chain.back().header.epoch >= h.committed_epoch)
      return MakeError(Errc::kState,
                       "{}: journal up to epoch {} pending (image at epoch {}); open it with a "
                       "ReplicaStore to recover first",
                       directory, scan.chain.back().header.epoch, h.committed_epoch);
  }
  image.geometry_ = GeometryOf(h);
  image.layout_ = LayoutOf(h);
  for (uint32_t i = 0; i < image.geometry_.disk_sectors.size(); ++i) {
    std::string path = image.DiskPath(i);
    REPLINK_ASSIGN_OR_RETURN(UniqueFd disk, OpenFile(path, O_RDONLY));
    REPLINK_ASSIGN_OR_RETURN(uint64_t disk_size, FileSize(disk.get(), path));
    if (disk_size < image.geometry_.disk_sectors[i] * kSectorSize)
      return MakeError(Errc::kCorrupt, "{} is {} bytes, the image says {} sectors", path, disk_size,
                       image.geometry_.disk_sectors[i]);
  }
  REPLINK_ASSIGN_OR_RETURN(image.map_, FileMapping::Map(image.fd_.get(), h.file_bytes, false, image_path));
  return image;
}

std::string ReplicaImage::DiskPath(uint32_t disk) const { return DiskPathIn(directory_, disk); }

}  // namespace replink::replica
