#include "tests/kvm/kvm_test_support.h"

#include <stdlib.h>

#include <cstring>
#include <filesystem>
#include <sstream>

#include "hostshim/kvm/guest_boot.h"
#include "replica/epoch_stager.h"
#include "replica/replica_store.h"

#ifndef REPLINK_GUEST_DIR
#error "REPLINK_GUEST_DIR must point at the built guests"
#endif

namespace replink::kvm::testing {

std::string GuestImagePath(const std::string& name) { return std::string(REPLINK_GUEST_DIR) + "/" + name + ".bin"; }

Result<std::unique_ptr<KvmBackend>> BootGuest(const std::string& name, KvmGuestSpec spec,
                                              const std::vector<uint64_t>& args, uint64_t seed) {
  REPLINK_ASSIGN_OR_RETURN(std::vector<std::byte> image, LoadGuestImage(GuestImagePath(name)));
  rg_boot_params p{};
  p.seed = seed;
  for (std::size_t i = 0; i < args.size() && i < 12; ++i) p.args[i] = args[i];
  return KvmBackend::Boot(spec, image, p);
}

std::unique_ptr<RingHarness> RingHarness::Create(const GuestInfo& info, uint32_t slots) {
  CaptureRingParams p;
  p.vm_id = 4;
  p.vm_name = info.name;
  p.guest_pages = info.guest_pages;
  p.vcpu_count = info.vcpu_count;
  p.disk_count = info.disk_count;
  p.disk_sectors = info.disk_sectors;
  p.device_count = info.device_blobs;
  p.slot_count = slots;
  p.sq_entries = 8192;
  p.prefer_hugetlb = false;
  auto ring = CaptureRingWriter::Create(p);
  if (!ring.ok()) return nullptr;
  auto h = std::make_unique<RingHarness>();
  h->ring = std::make_unique<CaptureRingWriter>(std::move(ring).value());
  auto region = SharedRegion::Attach(dup(h->ring->region().fd()));
  if (!region.ok()) return nullptr;
  auto reader = CaptureRingReader::Attach(std::move(region).value());
  if (!reader.ok()) return nullptr;
  h->reader = std::make_unique<CaptureRingReader>(std::move(reader).value());
  return h;
}

void RingHarness::Start(std::function<Result<bool>()> poll) {
  consumer = std::thread([this, poll = std::move(poll)] {
    while (!stop.load()) {
      Result<bool> r = poll();
      if (!r.ok()) {
        consumer_error = r.error().Describe();
        return;
      }
      if (!*r) std::this_thread::yield();
    }
  });
}

void RingHarness::Stop() {
  stop.store(true);
  if (consumer.joinable()) consumer.join();
}

// ---- RingReplicaWriter ----

struct RingReplicaWriter::Impl {
  CaptureRingReader* reader = nullptr;
  std::unique_ptr<replica::ReplicaStore> store;
  std::unique_ptr<replica::EpochStager> stager;
  std::vector<CaptureRecord> batch = std::vector<CaptureRecord>(256);
  std::vector<std::byte> content = std::vector<std::byte>(1u << 20);
};

RingReplicaWriter::RingReplicaWriter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RingReplicaWriter::~RingReplicaWriter() = default;

Result<std::unique_ptr<RingReplicaWriter>> RingReplicaWriter::Open(CaptureRingReader& reader, const std::string& dir,
                                                                   const GuestInfo& info) {
  auto impl = std::make_unique<Impl>();
  impl->reader = &reader;
  replica::ReplicaStoreConfig sc;
  sc.directory = dir;
  sc.geometry.vm_id = 4;
  sc.geometry.guest_pages = info.guest_pages;
  sc.geometry.vcpu_slots = info.vcpu_count;
  sc.geometry.device_slots = std::max<uint32_t>(info.device_blobs, 1);
  sc.geometry.max_blob_bytes = 1u << 20;
  sc.geometry.disk_sectors.assign(info.disk_count, info.disk_sectors);
  sc.durability = replica::Durability::kPageCache;  // tests: a process crash is all we model
  REPLINK_ASSIGN_OR_RETURN(replica::ReplicaStore store, replica::ReplicaStore::Open(std::move(sc)));
  impl->store = std::make_unique<replica::ReplicaStore>(std::move(store));
  replica::StagerConfig stc;
  stc.geometry = impl->store->geometry();
  stc.arena_bytes = info.guest_pages * kPageSize + (8u << 20);
  stc.prefault_arena = false;
  REPLINK_ASSIGN_OR_RETURN(replica::EpochStager stager,
                           replica::EpochStager::Create(stc, impl->store->committed_epoch()));
  impl->stager = std::make_unique<replica::EpochStager>(std::move(stager));
  return std::unique_ptr<RingReplicaWriter>(new RingReplicaWriter(std::move(impl)));
}

Result<bool> RingReplicaWriter::Poll() {
  Impl& m = *impl_;
  REPLINK_ASSIGN_OR_RETURN(std::size_t n, m.reader->Poll(m.batch));
  for (std::size_t i = 0; i < n; ++i) {
    const CaptureRecord& r = m.batch[i];
    std::span<std::byte> content(m.content.data(), r.type == RecordType::kEpochEnd ? 0 : r.length);
    switch (r.type) {
      case RecordType::kEpochBegin:
        REPLINK_TRY(m.stager->Begin(r.epoch, r.trigger));
        break;
      case RecordType::kPage:
        REPLINK_TRY(m.stager->StagePage(r.key, m.reader->Slot(r.slot_cursor)));
        break;
      case RecordType::kZeroPage:
        REPLINK_TRY(m.stager->StageZeroPage(r.key));
        break;
      case RecordType::kVcpuState:
      case RecordType::kDeviceState:
        m.reader->CopyContent(r, content);
        REPLINK_TRY(m.stager->StageBlobFragment(r.type, r.index, r.length, 0, content));
        break;
      case RecordType::kDiskWrite:
        m.reader->CopyContent(r, content);
        REPLINK_TRY(m.stager->StageDiskWriteFragment(r.index, r.key, r.length, 0, content));
        break;
      case RecordType::kEpochEnd: {
        REPLINK_ASSIGN_OR_RETURN(replica::StagedEpoch staged, m.stager->End(r.length, r.key));
        REPLINK_TRY(m.store->Commit(staged));
        m.stager->MarkCommitted();
        REPLINK_TRY(m.reader->Complete(r.epoch, capture_abi::CompletionStatus::kCommitted));
        break;
      }
    }
  }
  if (n > 0) m.reader->ReleaseSlotsThrough(m.reader->slots_consumed());
  return n > 0;
}

Result<void> RingReplicaWriter::Close() { return impl_->store->Close(); }
uint64_t RingReplicaWriter::committed_epoch() const { return impl_->store->committed_epoch(); }

// ---- guest output and ledger ----

Result<std::vector<Receipt>> ParseReceipts(const std::string& text) {
  std::vector<Receipt> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("receipt ", 0) != 0) continue;
    Receipt r;
    r.line = line;
    std::istringstream f(line.substr(8));
    if (!(f >> r.seq >> r.from >> r.to >> r.amount >> r.total))
      return MakeError(Errc::kCorrupt, "malformed receipt line '{}'", line);
    out.push_back(r);
  }
  return out;
}

Result<std::vector<int64_t>> ReplayLedgerLog(std::span<const std::byte> disk, uint64_t accounts, uint64_t initial,
                                             uint64_t through, std::vector<ledger_record>* records) {
  std::vector<int64_t> balance(accounts, static_cast<int64_t>(initial));
  for (uint64_t seq = 1; seq <= through; ++seq) {
    if (seq * sizeof(ledger_record) > disk.size()) return MakeError(Errc::kCorrupt, "log ends before record {}", seq);
    ledger_record r;
    std::memcpy(&r, disk.data() + (seq - 1) * sizeof r, sizeof r);
    if (r.magic != LEDGER_RECORD_MAGIC || r.seq != seq || r.check != ledger_record_check(r.seq, r.from, r.to, r.amount) ||
        r.from >= accounts || r.to >= accounts)
      return MakeError(Errc::kCorrupt, "log record {} is not valid (magic {:#x} seq {})", seq, r.magic, r.seq);
    balance[r.from] -= r.amount;
    balance[r.to] += r.amount;
    if (records) records->push_back(r);
  }
  return balance;
}

const ledger_state* LedgerState(const std::byte* memory) {
  return reinterpret_cast<const ledger_state*>(memory + LEDGER_STATE_GPA);
}

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "replink-kvm-test-XXXXXX").string();
  char* p = mkdtemp(tmpl.data());
  path = p ? p : "";
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!path.empty()) std::filesystem::remove_all(path, ec);
}

}  // namespace replink::kvm::testing
