// Shared by the replica tests: deterministic random epochs, staging them with fragments in random
// order, and a byte-for-byte reference model of a replica to compare the real one against.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "capture/epoch_record.h"
#include "errors/result.h"
#include "replica/epoch_stager.h"
#include "replica/replica_image.h"
#include "replica/replica_store.h"

namespace replink::replica::testing {

// A fresh directory under /tmp, removed with everything in it.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// 64 pages, 2 vCPU + 2 device slots of up to 3000 bytes, disks of 64 and 24 sectors.
ReplicaGeometry SmallGeometry(uint32_t vm_id = 3);

struct PageItem {
  uint64_t gfn = 0;
  bool zero = false;               // ZERO_PAGE record
  std::vector<std::byte> bytes;    // kPageSize bytes unless zero
};
struct BlobItem {
  RecordType type = RecordType::kVcpuState;
  uint32_t index = 0;
  std::vector<std::byte> bytes;
};
struct DiskItem {
  uint32_t disk = 0;
  uint64_t sector = 0;
  std::vector<std::byte> bytes;
};

struct EpochContent {
  uint64_t epoch = 0;
  EpochTrigger trigger = EpochTrigger::kTimer;
  std::vector<PageItem> pages;
  std::vector<BlobItem> blobs;
  std::vector<DiskItem> disks;

  uint32_t record_count() const;
  uint64_t checksum() const;  // EpochChecksum, as the shim would compute it
};

struct GenerateOptions {
  uint32_t min_pages = 2;
  uint32_t max_pages = 16;
  double zero_page_fraction = 0.2;
  bool blobs = true;
  bool disk_writes = true;
};

// Deterministic: the same seed, epoch and geometry always give the same content.
EpochContent GenerateEpoch(uint64_t seed, uint64_t epoch, const ReplicaGeometry& geometry,
                           const GenerateOptions& options = {});

// One call into the stager: a page, zero page, or one fragment of a blob or disk write.
struct StagingCall {
  enum class Kind { kPage, kReservePage, kZeroPage, kBlob, kDisk };
  Kind kind = Kind::kPage;
  std::size_t item = 0;  // index into the EpochContent list of that kind
  RecordType type = RecordType::kPage;
  uint32_t index = 0;    // blob index or disk id
  uint64_t key = 0;      // gfn or sector
  uint32_t total = 0;
  uint32_t offset = 0;
  std::vector<std::byte> bytes;
};

// The calls that deliver `content`: blobs and disk writes cut into 1..4 fragments, everything
// shuffled (fragments of one item included), pages sometimes via ReservePage.
std::vector<StagingCall> PlanStaging(const EpochContent& content, uint64_t shuffle_seed);
Result<void> Perform(EpochStager& stager, const StagingCall& call);
// Begin + every call + End.
Result<StagedEpoch> StageAll(EpochStager& stager, const EpochContent& content,
                             const std::vector<StagingCall>& calls);
Result<StagedEpoch> StageEpoch(EpochStager& stager, const EpochContent& content, uint64_t shuffle_seed);

// What the replica must hold after a sequence of epochs.
class ReferenceReplica {
 public:
  explicit ReferenceReplica(const ReplicaGeometry& geometry);
  void Apply(const EpochContent& content);
  uint64_t epoch() const { return epoch_; }

  // "" when identical (committed epoch included), else the first difference.
  std::string DiffAgainst(const ReplicaImage& image, const std::string& dir) const;
  std::string DiffAgainst(const ReplicaStore& store, const std::string& dir) const;
  // Content only (pages, versions, blobs, disks), whatever epoch the replica claims.
  std::string ContentDiffAgainst(const ReplicaStore& store, const std::string& dir) const;

 private:
  template <typename Replica>
  std::string Diff(const Replica& replica, const std::string& dir) const;

  ReplicaGeometry geometry_;
  uint64_t epoch_ = 0;
  std::vector<std::byte> memory_;
  std::vector<uint64_t> versions_;
  struct Blob {
    std::vector<std::byte> bytes;
    uint64_t version = 0;
  };
  std::vector<Blob> blobs_;  // by slot
  std::vector<std::vector<std::byte>> disks_;
};

// Model after epochs 1..epoch of GenerateEpoch(seed, ...).
ReferenceReplica ModelAt(uint64_t seed, uint64_t epoch, const ReplicaGeometry& geometry,
                         const GenerateOptions& options = {});

StagerConfig StagerConfigFor(const ReplicaGeometry& geometry, uint64_t arena_bytes = 256 * 1024);

}  // namespace replink::replica::testing
