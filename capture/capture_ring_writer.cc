#include "capture/capture_ring_writer.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <ctime>

#include "capture/region_layout.h"

namespace replink {
namespace {

using namespace capture_abi;

// Descriptors are published (tail store) at least this often inside an epoch so the dataplane can
// start forwarding a large epoch before it ends.
constexpr uint64_t kPublishBatch = 32;

uint64_t NowNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000'000ULL + uint64_t(ts.tv_nsec);
}

std::atomic_ref<uint64_t> Index(IndexLine& line) { return std::atomic_ref<uint64_t>(line.value); }

}  // namespace

CaptureRingWriter::CaptureRingWriter(SharedRegion region)
    : region_(std::move(region)), shim_doorbell_(nullptr) {}

Result<CaptureRingWriter> CaptureRingWriter::Create(const CaptureRingParams& p) {
  if (p.guest_pages == 0) return MakeError(Errc::kInvalidArgument, "guest_pages must be > 0");
  if (p.vcpu_count == 0) return MakeError(Errc::kInvalidArgument, "vcpu_count must be > 0");
  REPLINK_ASSIGN_OR_RETURN(RegionGeometry g, ComputeGeometry(p.sq_entries, p.cq_entries, p.slot_count));
  REPLINK_ASSIGN_OR_RETURN(SharedRegion region,
                           SharedRegion::Create(fmt::format("replink-capture-vm{}", p.vm_id),
                                                g.region_bytes, p.prefer_hugetlb));
  CaptureRingWriter w(std::move(region));
  auto* h = w.header();
  std::memset(static_cast<void*>(h), 0, sizeof(RegionHeader));
  RegionIdentity& id = h->identity;
  id.magic = kRegionMagic;
  id.abi_major = kAbiMajor;
  id.abi_minor = kAbiMinor;
  id.header_bytes = kHeaderBytes;
  id.region_bytes = w.region_.size();
  id.vm_id = p.vm_id;
  std::strncpy(id.vm_name, p.vm_name.c_str(), sizeof(id.vm_name) - 1);
  id.guest_pages = p.guest_pages;
  id.vcpu_count = p.vcpu_count;
  id.disk_count = p.disk_count;
  id.disk_sectors = p.disk_sectors;
  id.sq_entries = g.sq_entries;
  id.cq_entries = g.cq_entries;
  id.sq_offset = g.sq_offset;
  id.cq_offset = g.cq_offset;
  id.slots_offset = g.slots_offset;
  id.slot_bytes = kSlotBytes;
  id.slot_count = g.slot_count;
  id.features = kFeatureDoorbellEventfd;
  id.shim_pid = static_cast<uint32_t>(getpid());
  id.first_epoch = p.first_epoch;
  id.device_count = p.device_count;

  w.shim_doorbell_ = Doorbell(&h->shim_doorbell);
  w.sq_ = reinterpret_cast<CaptureDescriptor*>(w.region_.data() + g.sq_offset);
  w.cq_ = reinterpret_cast<CaptureCompletion*>(w.region_.data() + g.cq_offset);
  w.sq_mask_ = g.sq_entries - 1;
  w.cq_mask_ = g.cq_entries - 1;
  w.slot_count_ = g.slot_count;
  w.next_epoch_ = p.first_epoch;
  return w;
}

std::byte* CaptureRingWriter::SlotAt(uint64_t cursor) const {
  return region_.data() + header()->identity.slots_offset + (cursor % slot_count_) * kSlotBytes;
}

uint64_t CaptureRingWriter::free_slots() const {
  uint64_t released = Index(header()->slots_released).load(std::memory_order_acquire);
  uint64_t in_use = slots_allocated_ - std::min(released, slots_allocated_);
  return in_use >= slot_count_ ? 0 : slot_count_ - in_use;
}

StreamState CaptureRingWriter::stream_state() const {
  return static_cast<StreamState>(
      std::atomic_ref<uint32_t>(header()->failure.state).load(std::memory_order_acquire));
}

std::string CaptureRingWriter::failure_message() const {
  if (stream_state() != StreamState::kFailed) return {};
  const FailureLine& f = header()->failure;
  return std::string(f.message, strnlen(f.message, sizeof(f.message)));
}

Result<void> CaptureRingWriter::CheckAlive() const {
  if (stream_state() == StreamState::kFailed)
    return MakeError(Errc::kClosed, "dataplane failed the stream of vm {}: {}",
                     header()->identity.vm_id, failure_message());
  return Ok();
}

void CaptureRingWriter::Publish() {
  if (sq_published_ == sq_tail_) return;
  Index(header()->sq_tail).store(sq_tail_, std::memory_order_release);
  sq_published_ = sq_tail_;
  Index(header()->slots_allocated).store(slots_allocated_, std::memory_order_relaxed);
  // Wake a dataplane that announced it sleeps (it polls otherwise, so this is rare and cheap).
  if (dp_eventfd_ >= 0 && Doorbell(&header()->dp_doorbell).SleeperPresent()) {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = write(dp_eventfd_, &one, sizeof(one));
  }
}

Result<void> CaptureRingWriter::WaitForSlots(uint32_t count, uint64_t timeout_ns) {
  if (count > slot_count_)
    return MakeError(Errc::kInvalidArgument, "record needs {} slots, arena has {}", count, slot_count_);
  if (free_slots() >= count) return Ok();
  Publish();  // the dataplane can only release what it has seen
  uint64_t deadline = NowNs() + timeout_ns;
  while (free_slots() < count) {
    REPLINK_TRY(CheckAlive());
    uint64_t now = NowNs();
    if (now >= deadline)
      return MakeError(Errc::kTimeout, "vm {}: no free capture slot for {} ms (need {}, arena {})",
                       header()->identity.vm_id, timeout_ns / 1'000'000, count, slot_count_);
    shim_doorbell_.Wait([&] { return free_slots() >= count || stream_state() == StreamState::kFailed; },
                        std::min<uint64_t>(deadline - now, 50'000'000));
  }
  return Ok();
}

Result<void> CaptureRingWriter::WaitForRingSpace(uint64_t timeout_ns) {
  auto has_space = [&] {
    uint64_t head = Index(header()->sq_head).load(std::memory_order_acquire);
    return sq_tail_ - head <= sq_mask_;
  };
  if (has_space()) return Ok();
  Publish();
  uint64_t deadline = NowNs() + timeout_ns;
  while (!has_space()) {
    REPLINK_TRY(CheckAlive());
    uint64_t now = NowNs();
    if (now >= deadline)
      return MakeError(Errc::kTimeout, "vm {}: submission ring full for {} ms",
                       header()->identity.vm_id, timeout_ns / 1'000'000);
    shim_doorbell_.Wait([&] { return has_space() || stream_state() == StreamState::kFailed; },
                        std::min<uint64_t>(deadline - now, 50'000'000));
  }
  return Ok();
}

Result<void> CaptureRingWriter::Push(const CaptureDescriptor& desc, uint64_t timeout_ns) {
  REPLINK_TRY(WaitForRingSpace(timeout_ns));
  sq_[sq_tail_ & sq_mask_] = desc;
  ++sq_tail_;
  if (sq_tail_ - sq_published_ >= kPublishBatch) Publish();
  return Ok();
}

Result<void> CaptureRingWriter::RequireEpoch() const {
  if (!in_epoch_) return MakeError(Errc::kState, "record outside an epoch");
  if (slots_reserved_ != 0) return MakeError(Errc::kState, "reserved page slots were not committed");
  return Ok();
}

Result<void> CaptureRingWriter::BeginEpoch(uint64_t epoch, EpochTrigger trigger, uint64_t timestamp_ns,
                                           bool catch_up) {
  REPLINK_TRY(CheckAlive());
  if (in_epoch_) return MakeError(Errc::kState, "epoch {} still open", epoch_);
  if (epoch != next_epoch_)
    return MakeError(Errc::kInvalidArgument, "epoch {} out of sequence (expected {})", epoch, next_epoch_);
  CaptureDescriptor d{};
  d.type = static_cast<uint8_t>(RecordType::kEpochBegin);
  d.flags = static_cast<uint8_t>(trigger);
  d.index = catch_up ? kBeginCatchUp : 0;
  d.epoch = epoch;
  d.key = timestamp_ns;
  REPLINK_TRY(Push(d, 1'000'000'000));
  in_epoch_ = true;
  epoch_ = epoch;
  epoch_records_ = 0;
  epoch_first_slot_ = slots_allocated_;
  checksum_.Reset();
  return Ok();
}

Result<void> CaptureRingWriter::ReservePageSlots(uint32_t count, uint64_t timeout_ns) {
  REPLINK_TRY(RequireEpoch());
  REPLINK_TRY(WaitForSlots(count, timeout_ns));
  slots_reserved_ = count;
  return Ok();
}

Result<std::span<std::byte, kPageSize>> CaptureRingWriter::ReservePageSlot(uint64_t timeout_ns) {
  REPLINK_TRY(ReservePageSlots(1, timeout_ns));
  return std::span<std::byte, kPageSize>(ReservedSlot(0), kPageSize);
}

Result<void> CaptureRingWriter::CommitReservedPages(std::span<const uint64_t> gfns) {
  if (gfns.size() > slots_reserved_)
    return MakeError(Errc::kState, "committing {} pages with {} slots reserved", gfns.size(), slots_reserved_);
  slots_reserved_ = 0;
  for (uint64_t gfn : gfns) {
    if (gfn >= header()->identity.guest_pages)
      return MakeError(Errc::kInvalidArgument, "gfn {} beyond guest ({} pages)", gfn,
                       header()->identity.guest_pages);
    CaptureDescriptor d{};
    d.type = static_cast<uint8_t>(RecordType::kPage);
    d.length = kPageSize;
    d.epoch = epoch_;
    d.key = gfn;
    d.slot = static_cast<uint32_t>(slots_allocated_ % slot_count_);
    d.slot_span = 1;
    checksum_.AddPage(gfn, {SlotAt(slots_allocated_), kPageSize});
    ++slots_allocated_;
    ++epoch_records_;
    REPLINK_TRY(Push(d, 1'000'000'000));
  }
  return Ok();
}

Result<void> CaptureRingWriter::PushZeroPage(uint64_t gfn, uint64_t timeout_ns) {
  REPLINK_TRY(RequireEpoch());
  if (gfn >= header()->identity.guest_pages)
    return MakeError(Errc::kInvalidArgument, "gfn {} beyond guest", gfn);
  CaptureDescriptor d{};
  d.type = static_cast<uint8_t>(RecordType::kZeroPage);
  d.epoch = epoch_;
  d.key = gfn;
  checksum_.AddZeroPage(gfn);
  ++epoch_records_;
  return Push(d, timeout_ns);
}

Result<void> CaptureRingWriter::CopyIntoSlots(std::span<const std::byte> bytes, uint64_t timeout_ns,
                                              uint32_t* first, uint32_t* span) {
  auto slots = static_cast<uint32_t>((bytes.size() + kSlotBytes - 1) / kSlotBytes);
  REPLINK_TRY(WaitForSlots(slots, timeout_ns));
  *first = static_cast<uint32_t>(slots_allocated_ % slot_count_);
  *span = slots;
  for (uint32_t i = 0; i < slots; ++i) {
    std::size_t off = std::size_t{i} * kSlotBytes;
    std::size_t n = std::min<std::size_t>(kSlotBytes, bytes.size() - off);
    std::memcpy(SlotAt(slots_allocated_ + i), bytes.data() + off, n);
  }
  slots_allocated_ += slots;
  return Ok();
}

Result<void> CaptureRingWriter::PushBlob(RecordType type, uint16_t index, std::span<const std::byte> bytes,
                                         uint64_t timeout_ns) {
  REPLINK_TRY(RequireEpoch());
  if (type != RecordType::kVcpuState && type != RecordType::kDeviceState)
    return MakeError(Errc::kInvalidArgument, "{} is not a blob record", RecordTypeName(type));
  if (bytes.empty()) return MakeError(Errc::kInvalidArgument, "empty {} blob", RecordTypeName(type));
  if (type == RecordType::kVcpuState && index >= header()->identity.vcpu_count)
    return MakeError(Errc::kInvalidArgument, "vcpu {} beyond vcpu_count", index);
  if (type == RecordType::kDeviceState && index >= header()->identity.device_count)
    return MakeError(Errc::kInvalidArgument, "device {} beyond device_count", index);
  CaptureDescriptor d{};
  d.type = static_cast<uint8_t>(type);
  d.index = index;
  d.length = static_cast<uint32_t>(bytes.size());
  d.epoch = epoch_;
  REPLINK_TRY(CopyIntoSlots(bytes, timeout_ns, &d.slot, &d.slot_span));
  checksum_.AddBlob(type, index, bytes);
  ++epoch_records_;
  return Push(d, timeout_ns);
}

Result<void> CaptureRingWriter::PushDiskWrite(uint16_t disk, uint64_t sector, std::span<const std::byte> data,
                                              uint64_t timeout_ns) {
  REPLINK_TRY(RequireEpoch());
  const RegionIdentity& id = header()->identity;
  if (disk >= id.disk_count) return MakeError(Errc::kInvalidArgument, "disk {} beyond disk_count", disk);
  if (data.empty() || data.size() % kSectorSize != 0)
    return MakeError(Errc::kInvalidArgument, "disk write of {} bytes is not whole sectors", data.size());
  if (sector > id.disk_sectors || data.size() / kSectorSize > id.disk_sectors - sector)
    return MakeError(Errc::kInvalidArgument, "disk write at sector {} (+{}) beyond disk", sector,
                     data.size() / kSectorSize);
  CaptureDescriptor d{};
  d.type = static_cast<uint8_t>(RecordType::kDiskWrite);
  d.index = disk;
  d.length = static_cast<uint32_t>(data.size());
  d.epoch = epoch_;
  d.key = sector;
  REPLINK_TRY(CopyIntoSlots(data, timeout_ns, &d.slot, &d.slot_span));
  checksum_.AddDiskWrite(disk, sector, data);
  ++epoch_records_;
  return Push(d, timeout_ns);
}

Result<uint64_t> CaptureRingWriter::EndEpoch(uint64_t timeout_ns) {
  REPLINK_TRY(RequireEpoch());
  CaptureDescriptor d{};
  d.type = static_cast<uint8_t>(RecordType::kEpochEnd);
  d.length = epoch_records_;
  d.epoch = epoch_;
  d.key = checksum_.value();
  d.slot_span = static_cast<uint32_t>(slots_allocated_ - epoch_first_slot_);
  REPLINK_TRY(Push(d, timeout_ns));
  Publish();
  in_epoch_ = false;
  next_epoch_ = epoch_ + 1;
  return d.key;
}

std::size_t CaptureRingWriter::PollCompletions(std::span<CaptureCompletion> out) {
  uint64_t tail = Index(header()->cq_tail).load(std::memory_order_acquire);
  // The dataplane is trusted less than the kernel but more than a guest: still never read more than
  // the ring holds even if its tail is nonsense.
  uint64_t available = std::min<uint64_t>(tail - cq_head_, cq_mask_ + 1);
  std::size_t n = std::min<std::size_t>(available, out.size());
  for (std::size_t i = 0; i < n; ++i) out[i] = cq_[(cq_head_ + i) & cq_mask_];
  cq_head_ += n;
  if (n > 0) Index(header()->cq_head).store(cq_head_, std::memory_order_release);
  return n;
}

bool CaptureRingWriter::WaitForCompletion(uint64_t timeout_ns) {
  Publish();
  return shim_doorbell_.Wait(
      [&] {
        return Index(header()->cq_tail).load(std::memory_order_acquire) != cq_head_ ||
               stream_state() == StreamState::kFailed;
      },
      timeout_ns);
}

}  // namespace replink
