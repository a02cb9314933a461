#include "bench/remus/baseline_receiver.h"

#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <vector>

#include "bench/remus/baseline_socket_io.h"
#include "bench/remus/baseline_wire.h"
#include "capture/epoch_checksum.h"
#include "replica/epoch_stager.h"

namespace replink::bench::remus {
namespace {

using replica::EpochStager;
using replica::ReplicaStore;
using replica::StagedEpoch;

Error Malformed(uint64_t epoch, const std::string& what) {
  return MakeError(Errc::kCorrupt, "baseline receiver: epoch {}: {}", epoch, what);
}

Result<void> CheckHeader(const EpochHeader& h, uint64_t expected, const replica::ReplicaGeometry& g) {
  if (h.magic != kEpochMagic || h.version != kWireVersion) return Malformed(h.epoch, "bad magic or version");
  if (h.epoch != expected) return Malformed(h.epoch, fmt::format("expected epoch {}", expected));
  if (h.page_count > g.guest_pages) return Malformed(h.epoch, fmt::format("{} pages", h.page_count));
  if (h.blob_count > kMaxBlobsPerEpoch) return Malformed(h.epoch, fmt::format("{} blobs", h.blob_count));
  if (h.reserved != 0 || (h.flags & ~kFlagHasDiskWrite) != 0) return Malformed(h.epoch, "reserved bits set");
  bool has_disk = (h.flags & kFlagHasDiskWrite) != 0;
  if (!has_disk && h.disk_bytes != 0) return Malformed(h.epoch, "disk bytes without a disk write");
  if (has_disk) {
    if (h.disk_bytes == 0 || h.disk_bytes > kMaxDiskBytes || h.disk_bytes % 512 != 0)
      return Malformed(h.epoch, fmt::format("disk write of {} bytes", h.disk_bytes));
    if (h.disk >= g.disk_sectors.size() || h.disk_sector > g.disk_sectors[h.disk] ||
        g.disk_sectors[h.disk] - h.disk_sector < h.disk_bytes / 512)
      return Malformed(h.epoch, fmt::format("disk {} sector {} outside the disk", h.disk, h.disk_sector));
  }
  return Ok();
}

class Receiver {
 public:
  Receiver(int fd, ReplicaStore store, EpochStager stager, const replica::ReplicaGeometry& g)
      : fd_(fd), store_(std::move(store)), stager_(std::move(stager)), geometry_(g), gfns_(g.guest_pages),
        blob_(kMaxBlobBytes), disk_(kMaxDiskBytes) {
    iov_.reserve(IOV_MAX);
  }

  // false at a clean EOF before a header.
  Result<bool> ReceiveOne() {
    EpochHeader h;
    REPLINK_ASSIGN_OR_RETURN(bool got, ReadExactOrEof(fd_, {reinterpret_cast<std::byte*>(&h), sizeof(h)}));
    if (!got) return false;
    uint64_t expected = store_.committed_epoch() + 1;
    if (auto ok = CheckHeader(h, expected, geometry_); !ok.ok()) return Reject(ok.error());
    REPLINK_TRY(ReadExact(fd_, {reinterpret_cast<std::byte*>(gfns_.data()), h.page_count * sizeof(uint64_t)}));
    for (uint32_t i = 0; i < h.page_count; ++i)
      if (gfns_[i] >= geometry_.guest_pages) return Reject(Malformed(h.epoch, fmt::format("gfn {}", gfns_[i])));

    REPLINK_TRY(stager_.Begin(h.epoch, h.disk_bytes ? EpochTrigger::kDiskWrite : EpochTrigger::kNetSend));
    EpochChecksum sum;
    // Pages go straight from the socket into the arena, IOV_MAX slots per readv.
    for (uint32_t first = 0; first < h.page_count;) {
      uint32_t n = std::min<uint32_t>(h.page_count - first, IOV_MAX);
      iov_.clear();
      slots_.clear();
      for (uint32_t i = first; i < first + n; ++i) {
        auto slot = stager_.ReservePage(gfns_[i]);
        if (!slot.ok()) return Reject(slot.error());
        iov_.push_back(iovec{slot->data(), kPageSize});
        slots_.push_back(slot->data());
      }
      REPLINK_TRY(ReadVecExact(fd_, iov_));  // advances iov_
      for (uint32_t i = 0; i < n; ++i) sum.AddPage(gfns_[first + i], {slots_[i], kPageSize});
      first += n;
    }
    for (uint32_t b = 0; b < h.blob_count; ++b) {
      BlobHeader bh;
      REPLINK_TRY(ReadExact(fd_, {reinterpret_cast<std::byte*>(&bh), sizeof(bh)}));
      auto type = static_cast<RecordType>(bh.type);
      if ((type != RecordType::kVcpuState && type != RecordType::kDeviceState) || bh.length == 0 ||
          bh.length > kMaxBlobBytes)
        return Reject(Malformed(h.epoch, fmt::format("blob type {} length {}", bh.type, bh.length)));
      std::span<std::byte> bytes(blob_.data(), bh.length);
      REPLINK_TRY(ReadExact(fd_, bytes));
      if (auto r = stager_.StageBlobFragment(type, bh.index, bh.length, 0, bytes); !r.ok()) return Reject(r.error());
      sum.AddBlob(type, bh.index, bytes);
    }
    if (h.disk_bytes != 0) {
      std::span<std::byte> bytes(disk_.data(), h.disk_bytes);
      REPLINK_TRY(ReadExact(fd_, bytes));
      if (auto r = stager_.StageDiskWriteFragment(h.disk, h.disk_sector, h.disk_bytes, 0, bytes); !r.ok())
        return Reject(r.error());
      sum.AddDiskWrite(h.disk, h.disk_sector, bytes);
    }
    auto staged = stager_.End(sum.records(), sum.value());
    if (!staged.ok()) return Reject(staged.error());
    REPLINK_TRY(store_.Commit(*staged));
    stager_.MarkCommitted();
    Ack ack{kAckMagic, static_cast<uint32_t>(AckStatus::kCommitted), h.epoch};
    REPLINK_TRY(WriteExact(fd_, {reinterpret_cast<const std::byte*>(&ack), sizeof(ack)}));
    ++counters_.epochs;
    counters_.pages += h.page_count;
    counters_.bytes += sizeof(h) + h.page_count * (8 + kPageSize) + h.disk_bytes;
    return true;
  }

  Result<void> Close() { return store_.Close(); }
  const ReceiverCounters& counters() const { return counters_; }

 private:
  Error Reject(Error e) {
    ++counters_.rejected;
    stager_.Discard();
    return e;
  }

  int fd_;
  ReplicaStore store_;
  EpochStager stager_;
  replica::ReplicaGeometry geometry_;
  std::vector<uint64_t> gfns_;
  std::vector<std::byte> blob_;
  std::vector<std::byte> disk_;
  std::vector<iovec> iov_;
  std::vector<const std::byte*> slots_;
  ReceiverCounters counters_;
};

}  // namespace

Result<ReceiverCounters> ServeConnection(int fd, const ReceiverOptions& options) {
  replica::ReplicaStoreConfig config;
  config.directory = options.directory;
  config.geometry = options.geometry;
  config.durability = options.durability;
  REPLINK_ASSIGN_OR_RETURN(ReplicaStore store, ReplicaStore::Open(config));
  // Room for the largest epoch: the first one carries every page.
  uint64_t arena = options.geometry.guest_pages * (kPageSize + 64) + (8u << 20);
  replica::StagerConfig stager_config{options.geometry, arena, true};
  REPLINK_ASSIGN_OR_RETURN(EpochStager stager, EpochStager::Create(stager_config, store.committed_epoch()));
  Receiver receiver(fd, std::move(store), std::move(stager), options.geometry);
  while (true) {
    auto more = receiver.ReceiveOne();
    if (!more.ok()) {
      (void)receiver.Close();
      return std::move(more).error();
    }
    if (!*more) break;
  }
  REPLINK_TRY(receiver.Close());
  return receiver.counters();
}

}  // namespace replink::bench::remus
