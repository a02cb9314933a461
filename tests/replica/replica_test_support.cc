#include "tests/replica/replica_test_support.h"

#include <stdlib.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <numeric>

#include "capture/epoch_checksum.h"
#include "replica/replica_directory.h"

namespace replink::replica::testing {

TempDir::TempDir() {
  std::string pattern = "/tmp/replink-replica-test-XXXXXX";
  char* made = ::mkdtemp(pattern.data());
  path_ = made != nullptr ? std::string(made) : std::string();
}

TempDir::~TempDir() {
  std::error_code ignored;
  if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
}

ReplicaGeometry SmallGeometry(uint32_t vm_id) {
  ReplicaGeometry g;
  g.vm_id = vm_id;
  g.guest_pages = 64;
  g.vcpu_slots = 2;
  g.device_slots = 2;
  g.max_blob_bytes = 3000;
  g.disk_sectors = {64, 24};
  return g;
}

StagerConfig StagerConfigFor(const ReplicaGeometry& geometry, uint64_t arena_bytes) {
  return StagerConfig{geometry, arena_bytes, /*prefault_arena=*/false};
}

uint32_t EpochContent::record_count() const {
  return static_cast<uint32_t>(pages.size() + blobs.size() + disks.size());
}

uint64_t EpochContent::checksum() const {
  EpochChecksum sum;
  for (const PageItem& p : pages) {
    if (p.zero)
      sum.AddZeroPage(p.gfn);
    else
      sum.AddPage(p.gfn, p.bytes);
  }
  for (const BlobItem& b : blobs) sum.AddBlob(b.type, b.index, b.bytes);
  for (const DiskItem& d : disks) sum.AddDiskWrite(d.disk, d.sector, d.bytes);
  return sum.value();
}

namespace {

std::vector<std::byte> RandomBytes(std::mt19937_64& rng, std::size_t n) {
  std::vector<std::byte> bytes(n);
  for (std::size_t i = 0; i < n; i += 8) {
    uint64_t word = rng();
    std::memcpy(bytes.data() + i, &word, std::min<std::size_t>(8, n - i));
  }
  return bytes;
}

bool Chance(std::mt19937_64& rng, double p) {
  return std::uniform_real_distribution<double>(0, 1)(rng) < p;
}

}  // namespace

EpochContent GenerateEpoch(uint64_t seed, uint64_t epoch, const ReplicaGeometry& g,
                           const GenerateOptions& options) {
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ULL ^ (epoch * 0xBF58476D1CE4E5B9ULL + 0x1234567));
  EpochContent content;
  content.epoch = epoch;
  content.trigger = static_cast<EpochTrigger>(1 + rng() % 4);

  uint64_t span = options.max_pages - options.min_pages + 1;
  uint64_t count = std::min<uint64_t>(options.min_pages + rng() % span, g.guest_pages);
  std::vector<uint64_t> gfns(g.guest_pages);
  std::iota(gfns.begin(), gfns.end(), 0);
  for (uint64_t i = 0; i < count; ++i) {
    std::swap(gfns[i], gfns[i + rng() % (gfns.size() - i)]);
    PageItem page;
    page.gfn = gfns[i];
    page.zero = Chance(rng, options.zero_page_fraction);
    if (!page.zero)
      page.bytes = Chance(rng, 0.05) ? std::vector<std::byte>(kPageSize) : RandomBytes(rng, kPageSize);
    content.pages.push_back(std::move(page));
  }
  if (options.blobs) {
    for (uint32_t i = 0; i < g.vcpu_slots; ++i) {
      if (Chance(rng, 0.6))
        content.blobs.push_back({RecordType::kVcpuState, i, RandomBytes(rng, 1 + rng() % g.max_blob_bytes)});
    }
    for (uint32_t i = 0; i < g.device_slots; ++i) {
      if (Chance(rng, 0.4))
        content.blobs.push_back({RecordType::kDeviceState, i, RandomBytes(rng, 1 + rng() % g.max_blob_bytes)});
    }
  }
  if (options.disk_writes && !g.disk_sectors.empty()) {
    uint64_t writes = rng() % 4;
    for (uint64_t w = 0; w < writes; ++w) {
      auto disk = static_cast<uint32_t>(rng() % g.disk_sectors.size());
      uint64_t size = g.disk_sectors[disk];
      uint64_t sectors = 1 + rng() % std::min<uint64_t>(8, size);
      uint64_t start = rng() % (size - sectors + 1);
      bool overlaps = std::any_of(content.disks.begin(), content.disks.end(), [&](const DiskItem& d) {
        return d.disk == disk && start < d.sector + d.bytes.size() / kSectorSize && d.sector < start + sectors;
      });
      if (!overlaps) content.disks.push_back({disk, start, RandomBytes(rng, sectors * kSectorSize)});
    }
  }
  return content;
}

namespace {

// Cuts [0, total) into 1..4 fragments at random points.
std::vector<std::pair<uint32_t, uint32_t>> Fragments(std::mt19937_64& rng, uint32_t total) {
  uint32_t pieces = 1 + static_cast<uint32_t>(rng() % 4);
  std::vector<uint32_t> cuts = {0, total};
  for (uint32_t i = 1; i < pieces && total > 1; ++i) cuts.push_back(1 + static_cast<uint32_t>(rng() % (total - 1)));
  std::sort(cuts.begin(), cuts.end());
  cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
  std::vector<std::pair<uint32_t, uint32_t>> out;
  for (std::size_t i = 0; i + 1 < cuts.size(); ++i) out.emplace_back(cuts[i], cuts[i + 1] - cuts[i]);
  return out;
}

}  // namespace

std::vector<StagingCall> PlanStaging(const EpochContent& content, uint64_t shuffle_seed) {
  std::mt19937_64 rng(shuffle_seed);
  std::vector<StagingCall> calls;
  for (std::size_t i = 0; i < content.pages.size(); ++i) {
    const PageItem& p = content.pages[i];
    StagingCall call;
    call.item = i;
    call.key = p.gfn;
    if (p.zero) {
      call.kind = StagingCall::Kind::kZeroPage;
      call.type = RecordType::kZeroPage;
    } else {
      call.kind = Chance(rng, 0.5) ? StagingCall::Kind::kReservePage : StagingCall::Kind::kPage;
      call.bytes = p.bytes;
    }
    calls.push_back(std::move(call));
  }
  auto add_fragments = [&](StagingCall::Kind kind, std::size_t item, RecordType type, uint32_t index,
                           uint64_t key, const std::vector<std::byte>& bytes) {
    auto total = static_cast<uint32_t>(bytes.size());
    for (auto [offset, length] : Fragments(rng, total)) {
      StagingCall call;
      call.kind = kind;
      call.item = item;
      call.type = type;
      call.index = index;
      call.key = key;
      call.total = total;
      call.offset = offset;
      call.bytes.assign(bytes.begin() + offset, bytes.begin() + offset + length);
      calls.push_back(std::move(call));
    }
  };
  for (std::size_t i = 0; i < content.blobs.size(); ++i) {
    const BlobItem& b = content.blobs[i];
    add_fragments(StagingCall::Kind::kBlob, i, b.type, b.index, 0, b.bytes);
  }
  for (std::size_t i = 0; i < content.disks.size(); ++i) {
    const DiskItem& d = content.disks[i];
    add_fragments(StagingCall::Kind::kDisk, i, RecordType::kDiskWrite, d.disk, d.sector, d.bytes);
  }
  std::shuffle(calls.begin(), calls.end(), rng);
  return calls;
}

Result<void> Perform(EpochStager& stager, const StagingCall& call) {
  switch (call.kind) {
    case StagingCall::Kind::kPage:
      return stager.StagePage(call.key, call.bytes);
    case StagingCall::Kind::kReservePage: {
      REPLINK_ASSIGN_OR_RETURN(auto slot, stager.ReservePage(call.key));
      std::memcpy(slot.data(), call.bytes.data(), std::min(call.bytes.size(), slot.size()));
      return Ok();
    }
    case StagingCall::Kind::kZeroPage:
      return stager.StageZeroPage(call.key);
    case StagingCall::Kind::kBlob:
      return stager.StageBlobFragment(call.type, call.index, call.total, call.offset, call.bytes);
    case StagingCall::Kind::kDisk:
      return stager.StageDiskWriteFragment(call.index, call.key, call.total, call.offset, call.bytes);
  }
  return MakeError(Errc::kInvalidArgument, "unknown staging call");
}

Result<StagedEpoch> StageAll(EpochStager& stager, const EpochContent& content,
                             const std::vector<StagingCall>& calls) {
  REPLINK_TRY(stager.Begin(content.epoch, content.trigger));
  for (const StagingCall& call : calls) REPLINK_TRY(Perform(stager, call));
  return stager.End(content.record_count(), content.checksum());
}

Result<StagedEpoch> StageEpoch(EpochStager& stager, const EpochContent& content, uint64_t shuffle_seed) {
  return StageAll(stager, content, PlanStaging(content, shuffle_seed));
}

ReferenceReplica::ReferenceReplica(const ReplicaGeometry& geometry)
    : geometry_(geometry),
      memory_(geometry.guest_pages * kPageSize),
      versions_(geometry.guest_pages),
      blobs_(geometry.blob_slots()) {
  for (uint64_t sectors : geometry.disk_sectors) disks_.emplace_back(sectors * kSectorSize);
}

void ReferenceReplica::Apply(const EpochContent& content) {
  for (const PageItem& p : content.pages) {
    std::byte* dst = memory_.data() + p.gfn * kPageSize;
    if (p.zero)
      std::memset(dst, 0, kPageSize);
    else
      std::memcpy(dst, p.bytes.data(), kPageSize);
    versions_[p.gfn] = content.epoch;
  }
  for (const BlobItem& b : content.blobs) {
    uint32_t slot = *BlobSlotOf(geometry_, b.type, b.index);
    blobs_[slot] = Blob{b.bytes, content.epoch};
  }
  for (const DiskItem& d : content.disks)
    std::memcpy(disks_[d.disk].data() + d.sector * kSectorSize, d.bytes.data(), d.bytes.size());
  epoch_ = content.epoch;
}

namespace {

std::vector<std::byte> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> bytes(raw.size());
  std::memcpy(bytes.data(), raw.data(), raw.size());
  return bytes;
}

}  // namespace

template <typename Replica>
std::string ReferenceReplica::Diff(const Replica& replica, const std::string& dir) const {
  for (uint64_t gfn = 0; gfn < geometry_.guest_pages; ++gfn) {
    Result<PageRef> page = replica.Page(gfn);
    if (!page.ok()) return fmt::format("gfn {}: {}", gfn, page.error().Describe());
    if (page->version != versions_[gfn])
      return fmt::format("gfn {}: version {}, model {}", gfn, page->version, versions_[gfn]);
    if (std::memcmp(page->data, memory_.data() + gfn * kPageSize, kPageSize) != 0)
      return fmt::format("gfn {}: content differs (version {})", gfn, page->version);
  }
  for (uint32_t slot = 0; slot < geometry_.blob_slots(); ++slot) {
    RecordType type = slot < geometry_.vcpu_slots ? RecordType::kVcpuState : RecordType::kDeviceState;
    uint32_t index = slot < geometry_.vcpu_slots ? slot : slot - geometry_.vcpu_slots;
    Result<BlobRef> blob = replica.Blob(type, index);
    if (!blob.ok()) return fmt::format("blob slot {}: {}", slot, blob.error().Describe());
    const Blob& want = blobs_[slot];
    if (blob->version != want.version || blob->bytes.size() != want.bytes.size() ||
        !std::equal(blob->bytes.begin(), blob->bytes.end(), want.bytes.begin()))
      return fmt::format("blob slot {}: {} bytes version {}, model {} bytes version {}", slot,
                         blob->bytes.size(), blob->version, want.bytes.size(), want.version);
  }
  for (uint32_t disk = 0; disk < disks_.size(); ++disk) {
    std::vector<std::byte> bytes = ReadWholeFile(DiskPathIn(dir, disk));
    if (bytes.size() < disks_[disk].size())
      return fmt::format("disk {}: {} bytes, model {}", disk, bytes.size(), disks_[disk].size());
    for (std::size_t i = 0; i < disks_[disk].size(); ++i) {
      if (bytes[i] != disks_[disk][i])
        return fmt::format("disk {}: byte {} (sector {}) differs", disk, i, i / kSectorSize);
    }
  }
  return {};
}

namespace {

struct StoreReader {
  const ReplicaStore& store;
  Result<PageRef> Page(uint64_t gfn) const { return store.CommittedPage(gfn); }
  Result<BlobRef> Blob(RecordType type, uint32_t index) const { return store.CommittedBlob(type, index); }
};

}  // namespace

std::string ReferenceReplica::DiffAgainst(const ReplicaImage& image, const std::string& dir) const {
  if (image.committed_epoch() != epoch_)
    return fmt::format("committed epoch {}, model at {}", image.committed_epoch(), epoch_);
  return Diff(image, dir);
}

std::string ReferenceReplica::DiffAgainst(const ReplicaStore& store, const std::string& dir) const {
  if (store.committed_epoch() != epoch_)
    return fmt::format("committed epoch {}, model at {}", store.committed_epoch(), epoch_);
  return Diff(StoreReader{store}, dir);
}

std::string ReferenceReplica::ContentDiffAgainst(const ReplicaStore& store, const std::string& dir) const {
  return Diff(StoreReader{store}, dir);
}

ReferenceReplica ModelAt(uint64_t seed, uint64_t epoch, const ReplicaGeometry& geometry,
                         const GenerateOptions& options) {
  ReferenceReplica model(geometry);
  for (uint64_t e = 1; e <= epoch; ++e) model.Apply(GenerateEpoch(seed, e, geometry, options));
  return model;
}

}  // namespace replink::replica::testing
