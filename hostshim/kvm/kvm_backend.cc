#include "hostshim/kvm/kvm_backend.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>

#include "hostshim/kvm/guest_boot.h"
#include "hostshim/kvm/vcpu_state_blob.h"

namespace replink::kvm {
namespace {

// The guest polls these words while the host writes them from another thread.
void StoreGuestWord(void* where, uint64_t value) {
  std::atomic_ref<uint64_t>(*static_cast<uint64_t*>(where)).store(value, std::memory_order_release);
}

Result<void> WriteAll(int fd, std::span<const std::byte> bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return SysError("write of {} output bytes", bytes.size() - done);
    done += static_cast<std::size_t>(n);
  }
  return Ok();
}

}  // namespace

KvmBackend::KvmBackend(KvmGuestSpec spec, std::unique_ptr<KvmVm> vm, std::unique_ptr<KvmVcpu> vcpu,
                       std::unique_ptr<UringDisk> disk)
    : spec_(std::move(spec)), vm_(std::move(vm)), vcpu_(std::move(vcpu)), disk_(std::move(disk)),
      host_dirty_(vm_->pages()) {}

KvmBackend::~KvmBackend() {
  {
    std::lock_guard lock(mu_);
    quit_ = true;
    run_allowed_ = false;
    if (!parked_) vcpu_->Kick();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Result<std::unique_ptr<KvmBackend>> KvmBackend::Create(const KvmGuestSpec& spec, uint64_t memory_bytes) {
  KvmVmSpec vs;
  vs.memory_bytes = memory_bytes;
  vs.dirty_log = spec.dirty_log;
  vs.dirty_ring_entries = spec.dirty_ring_entries;
  REPLINK_ASSIGN_OR_RETURN(std::unique_ptr<KvmVm> vm, KvmVm::Create(vs));
  REPLINK_ASSIGN_OR_RETURN(std::unique_ptr<KvmVcpu> vcpu, vm->CreateVcpu(0));
  REPLINK_ASSIGN_OR_RETURN(std::unique_ptr<UringDisk> disk, UringDisk::Open(spec.disk_path, spec.disk_sectors));
  return std::unique_ptr<KvmBackend>(new KvmBackend(spec, std::move(vm), std::move(vcpu), std::move(disk)));
}

Result<std::unique_ptr<KvmBackend>> KvmBackend::Boot(const KvmGuestSpec& spec, std::span<const std::byte> image,
                                                     rg_boot_params params) {
  REPLINK_ASSIGN_OR_RETURN(std::unique_ptr<KvmBackend> b, Create(spec, spec.memory_bytes));
  params.magic = RG_BOOT_MAGIC;
  params.guest_bytes = b->vm_->memory_bytes();
  params.disk_sectors = b->disk_->sectors();
  REPLINK_TRY(WriteBootMemory(*b->vm_, image, params));
  REPLINK_TRY(SetBootRegisters(*b->vm_, *b->vcpu_));
  b->StartVcpuThread();
  return b;
}

Result<std::unique_ptr<KvmBackend>> KvmBackend::Restore(const KvmGuestSpec& spec, std::span<const std::byte> memory,
                                                        std::span<const std::byte> vcpu_blob,
                                                        std::span<const std::byte> device_blob) {
  if (memory.empty() || memory.size() % (2u << 20) != 0)
    return MakeError(Errc::kInvalidArgument, "restore: guest memory of {} bytes is not a multiple of 2 MiB", memory.size());
  REPLINK_ASSIGN_OR_RETURN(DeviceState devices, ParseDeviceState(device_blob));
  REPLINK_ASSIGN_OR_RETURN(std::unique_ptr<KvmBackend> b, Create(spec, memory.size()));
  std::memcpy(b->vm_->memory(), memory.data(), memory.size());
  REPLINK_TRY(RestoreVcpuState(*b->vcpu_, vcpu_blob));
  // Writes held at the snapshot are on the disk already (each travelled in its epoch): acknowledge
  // them. Messages held at the snapshot may or may not have left the old host: send them (again).
  for (const HeldBlockWrite& w : devices.writes) b->CompleteBlock(w.request_no, RG_STATUS_OK);
  for (const HeldOutput& o : devices.outputs) {
    REPLINK_TRY(b->EmitOutput(o.bytes));
    b->CompleteOutput(o.message_no);
  }
  b->StartVcpuThread();
  return b;
}

void KvmBackend::StartVcpuThread() {
  thread_ = std::thread([this] { VcpuThread(); });
}

GuestInfo KvmBackend::Describe() const {
  GuestInfo info;
  info.name = spec_.name;
  info.guest_pages = vm_->pages();
  info.vcpu_count = 1;
  info.disk_count = 1;
  info.disk_sectors = disk_->sectors();
  info.device_blobs = 1;
  return info;
}

// ---- the vCPU thread ----

void KvmBackend::VcpuThread() {
  vcpu_->BindThread();
  std::unique_lock lock(mu_);
  while (!quit_) {
    if (!run_allowed_ || finished_ || fault_) {
      parked_ = true;
      cv_.notify_all();
      cv_.wait(lock);
      continue;
    }
    parked_ = false;
    ApplyQueuedCompletions();
    completions_at_entry_ = completions_;
    std::atomic_ref<uint8_t>(vcpu_->run()->immediate_exit).store(0);
    lock.unlock();
    Result<void> r = vcpu_->Run();
    lock.lock();
    if (!r.ok()) {
      Fault(std::move(r).error());
      continue;
    }
    HandleExit(lock);
  }
  parked_ = true;
  cv_.notify_all();
}

void KvmBackend::Fault(Error error) {
  if (!fault_) fault_ = WithContext(std::move(error), fmt::format("vm {} (kvm)", spec_.name));
  cv_.notify_all();
}

void KvmBackend::HandleExit(std::unique_lock<std::mutex>& lock) {
  kvm_run* run = vcpu_->run();
  switch (run->exit_reason) {
    case KVM_EXIT_INTR:
      return;  // kicked: the loop parks if we were asked to
    case KVM_EXIT_DIRTY_RING_FULL: {
      KvmVcpu* v = vcpu_.get();
      Result<void> r = vm_->CollectDirty({&v, 1}, host_dirty_);
      if (!r.ok()) Fault(std::move(r).error());
      return;
    }
    case KVM_EXIT_IO:
      break;
    default: {
      kvm_regs regs{};
      ioctl(vcpu_->fd(), KVM_GET_REGS, &regs);
      Fault(MakeError(Errc::kState, "guest stopped with KVM exit reason {} at rip {:#x} rsp {:#x}", run->exit_reason,
                      regs.rip, regs.rsp));
      return;
    }
  }
  if (run->io.direction != KVM_EXIT_IO_OUT || run->io.count != 1) {
    Fault(MakeError(Errc::kState, "guest used port {:#x} for input or a string instruction", run->io.port));
    return;
  }
  uint32_t value = 0;
  std::memcpy(&value, reinterpret_cast<const char*>(run) + run->io.data_offset, std::min<uint32_t>(run->io.size, 4));
  uint16_t port = run->io.port;
  // Finish the OUT before anything can snapshot this vCPU (kvm_pvm exits with RIP already past it).
  Result<void> settled = vcpu_->Settle();
  if (!settled.ok()) return Fault(std::move(settled).error());
  switch (port) {
    case RG_PORT_CONSOLE: {
      char c = static_cast<char>(value & 0xff);
      console_line_.push_back(c);
      if (c == '\n' || console_line_.size() >= 256) {
        console_all_ += console_line_;
        if (console_all_.size() > (1u << 20)) console_all_.erase(0, console_all_.size() / 2);
        if (spec_.console_fd >= 0)
          (void)WriteAll(spec_.console_fd, std::as_bytes(std::span(console_line_.data(), console_line_.size())));
        console_line_.clear();
      }
      return;
    }
    case RG_PORT_BLOCK:
      return HandleBlockRequest(lock);
    case RG_PORT_OUTPUT:
      return HandleOutputRequest();
    case RG_PORT_WAIT:
      return WaitForCompletion(lock, value);
    case RG_PORT_EXIT:
      finished_ = true;
      exit_status_ = value;
      cv_.notify_all();
      return;
    default:
      Fault(MakeError(Errc::kState, "guest wrote {:#x} to unknown port {:#x}", value, port));
  }
}

void KvmBackend::HandleBlockRequest(std::unique_lock<std::mutex>& lock) {
  rg_block_request req;
  std::memcpy(&req, &device_page()->block, sizeof req);  // one copy: the guest may change it under us
  uint64_t bytes = req.bytes;
  bool range_ok = bytes % RG_BLOCK_SECTOR_BYTES == 0 && bytes <= RG_BLOCK_MAX_BYTES &&
                  req.sector <= disk_->sectors() && bytes / RG_BLOCK_SECTOR_BYTES <= disk_->sectors() - req.sector &&
                  req.buffer_gpa <= vm_->memory_bytes() && bytes <= vm_->memory_bytes() - req.buffer_gpa;
  if (req.op == RG_BLOCK_FLUSH) {
    // Every write the guest saw complete is already in the image (ReleaseIo waits for io_uring).
    CompleteBlock(req.request_no, RG_STATUS_OK);
    return;
  }
  if (!range_ok || bytes == 0 || (req.op != RG_BLOCK_READ && req.op != RG_BLOCK_WRITE)) {
    ++block_errors_;
    CompleteBlock(req.request_no, RG_STATUS_ERROR);
    return;
  }
  std::span<std::byte> buffer(vm_->memory() + req.buffer_gpa, bytes);
  if (req.op == RG_BLOCK_READ) {
    // Reads have no outside effect: served at once, like a local cache hit.
    lock.unlock();
    Result<void> r = disk_->Read(req.sector, buffer);
    lock.lock();
    MarkHostDirty(req.buffer_gpa, bytes);
    CompleteBlock(req.request_no, r.ok() ? RG_STATUS_OK : RG_STATUS_ERROR);
    if (!r.ok()) ++block_errors_;
    return;
  }
  HeldBlockWrite& w = held_writes_.emplace_back();
  w.id = next_event_id_++;
  w.request_no = req.request_no;
  w.sector = req.sector;
  w.data.assign(buffer.begin(), buffer.end());
  IoEvent ev;
  ev.trigger = EpochTrigger::kDiskWrite;
  ev.id = w.id;
  ev.has_disk_write = true;
  ev.disk = 0;
  ev.sector = w.sector;
  ev.disk_data = w.data;
  pending_ = ev;
  run_allowed_ = false;  // the guest stops at its I/O until the capture loop resumes it
  cv_.notify_all();
}

void KvmBackend::HandleOutputRequest() {
  rg_output_request req;
  std::memcpy(&req, &device_page()->output, sizeof req);
  if (req.bytes == 0 || req.bytes > RG_OUTPUT_MAX_BYTES || req.buffer_gpa > vm_->memory_bytes() ||
      req.bytes > vm_->memory_bytes() - req.buffer_gpa) {
    Fault(MakeError(Errc::kState, "guest output message {} of {} bytes at {:#x} is outside its memory",
                    req.message_no, req.bytes, req.buffer_gpa));
    return;
  }
  HeldOutput& o = held_outputs_.emplace_back();
  o.id = next_event_id_++;
  o.message_no = req.message_no;
  o.bytes.assign(vm_->memory() + req.buffer_gpa, vm_->memory() + req.buffer_gpa + req.bytes);
  IoEvent ev;
  ev.trigger = EpochTrigger::kNetSend;
  ev.id = o.id;
  pending_ = ev;
  run_allowed_ = false;
  cv_.notify_all();
}

void KvmBackend::WaitForCompletion(std::unique_lock<std::mutex>& lock, uint32_t us) {
  // A completion posted while the guest ran may have come after it looked: let it look again.
  guest_waiting_ = true;
  cv_.notify_all();  // a WaitIoEvent may now hand control back to the loop (see there)
  cv_.wait_for(lock, std::chrono::microseconds(us),
               [&] { return completions_ != completions_at_entry_ || !run_allowed_ || quit_; });
  guest_waiting_ = false;
}

void KvmBackend::MarkHostDirty(uint64_t gpa, uint64_t bytes) {
  for (uint64_t g = gpa / kPageSize; g * kPageSize < gpa + bytes && g < host_dirty_.pages(); ++g) host_dirty_.Set(g);
}

void KvmBackend::CompleteBlock(uint64_t request_no, uint32_t status) {
  rg_device_page* dev = device_page();
  std::atomic_ref<uint32_t>(dev->block.status).store(status, std::memory_order_relaxed);
  StoreGuestWord(&dev->block_completed, request_no);
  MarkHostDirty(RG_DEVICE_PAGE_GPA, sizeof *dev);
  ++completions_;
  cv_.notify_all();
}

void KvmBackend::ApplyQueuedCompletions() {
  for (const QueuedCompletion& c : queued_completions_) {
    if (c.block)
      CompleteBlock(c.number, c.status);
    else
      CompleteOutput(c.number);
  }
  queued_completions_.clear();
}

void KvmBackend::StopAtEvent(uint64_t events) {
  std::lock_guard lock(mu_);
  event_limit_ = events;
}

void KvmBackend::CompleteOutput(uint64_t message_no) {
  StoreGuestWord(&device_page()->output_completed, message_no);
  MarkHostDirty(RG_DEVICE_PAGE_GPA, sizeof(rg_device_page));
  ++completions_;
  cv_.notify_all();
}

Result<void> KvmBackend::EmitOutput(std::span<const std::byte> bytes) {
  if (spec_.keep_output) released_output_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  if (spec_.output_fd >= 0) return WriteAll(spec_.output_fd, bytes);
  return Ok();
}

// ---- GuestBackend, called by the capture loop's thread ----

Result<void> KvmBackend::StartDirtyTracking() {
  std::lock_guard lock(mu_);
  first_collect_ = true;
  return Ok();
}

Result<std::optional<IoEvent>> KvmBackend::WaitIoEvent(uint64_t timeout_ns) {
  std::unique_lock lock(mu_);
  if (paused_) return MakeError(Errc::kState, "vm {}: WaitIoEvent while paused", spec_.name);
  if (MayRun()) run_allowed_ = true;
  cv_.notify_all();
  // A guest parked in RG_PORT_WAIT while we hold its I/O is waiting for a commit that only the
  // caller can see (the completion ring): return within kBlockedPoll so the loop can release it,
  // instead of sleeping through the whole timeout.
  constexpr auto kBlockedPoll = std::chrono::microseconds(50);
  auto blocked = [&] { return guest_waiting_ && (!held_writes_.empty() || !held_outputs_.empty()); };
  auto ready = [&] { return pending_ || fault_ || finished_ || events_handed_ >= event_limit_; };
  cv_.wait_for(lock, std::chrono::nanoseconds(timeout_ns), [&] { return ready() || blocked(); });
  if (!ready() && blocked()) cv_.wait_for(lock, kBlockedPoll, ready);
  if (fault_) return *fault_;
  if (pending_) {
    IoEvent ev = *pending_;
    pending_.reset();
    ++events_handed_;
    return std::optional<IoEvent>(ev);
  }
  if (finished_ || events_handed_ >= event_limit_) {  // nothing will come: do not let the caller spin
    lock.unlock();
    std::this_thread::sleep_for(std::min(std::chrono::nanoseconds(timeout_ns), std::chrono::nanoseconds(10'000'000)));
  }
  return std::optional<IoEvent>();
}

Result<void> KvmBackend::ParkVcpu(std::unique_lock<std::mutex>& lock) {
  run_allowed_ = false;
  if (!parked_) vcpu_->Kick();
  cv_.notify_all();
  if (!cv_.wait_for(lock, std::chrono::seconds(10), [&] { return parked_; }))
    return MakeError(Errc::kTimeout, "vm {}: vCPU did not stop within 10 s", spec_.name);
  return Ok();
}

Result<void> KvmBackend::Pause() {
  std::unique_lock lock(mu_);
  paused_ = true;
  return ParkVcpu(lock);
}

Result<void> KvmBackend::Resume() {
  std::lock_guard lock(mu_);
  paused_ = false;
  if (MayRun()) run_allowed_ = true;
  cv_.notify_all();
  return Ok();
}

Result<void> KvmBackend::CollectDirty(DirtyBitmap& dirty) {
  std::unique_lock lock(mu_);
  if (!paused_ || !parked_) return MakeError(Errc::kState, "vm {}: CollectDirty while running", spec_.name);
  if (dirty.pages() != vm_->pages()) dirty.Resize(vm_->pages());
  // Completions released since the guest last ran become part of this epoch: the device blob lists
  // only I/O not yet released, so memory must already show the released ones.
  ApplyQueuedCompletions();
  dirty.Clear();
  KvmVcpu* v = vcpu_.get();
  REPLINK_TRY(vm_->CollectDirty({&v, 1}, dirty));
  for (std::size_t i = 0; i < dirty.words().size(); ++i) dirty.words()[i] |= host_dirty_.words()[i];
  host_dirty_.Clear();
  if (first_collect_) {
    dirty.SetAll();  // the peer has nothing yet; the log above was read only to re-arm it
    first_collect_ = false;
  }
  return Ok();
}

Result<void> KvmBackend::CopyPages(std::span<const uint64_t> gfns, std::span<std::byte* const> dsts,
                                   std::vector<uint64_t>*) {
  for (std::size_t i = 0; i < gfns.size(); ++i) {
    if (gfns[i] >= vm_->pages()) return MakeError(Errc::kInvalidArgument, "gfn {} beyond guest memory", gfns[i]);
    std::memcpy(dsts[i], vm_->memory() + gfns[i] * kPageSize, kPageSize);
  }
  return Ok();
}

Result<std::size_t> KvmBackend::ReadVcpuState(uint32_t index, std::span<std::byte> out) {
  std::lock_guard lock(mu_);
  if (index != 0) return MakeError(Errc::kInvalidArgument, "vm {}: no vCPU {}", spec_.name, index);
  if (!parked_) return MakeError(Errc::kState, "vm {}: ReadVcpuState while the vCPU runs", spec_.name);
  return SaveVcpuState(*vcpu_, vm_->system(), out);
}

Result<std::size_t> KvmBackend::ReadDeviceState(uint32_t id, std::span<std::byte> out) {
  std::lock_guard lock(mu_);
  if (id != 0) return MakeError(Errc::kInvalidArgument, "vm {}: no device blob {}", spec_.name, id);
  return SaveDeviceState(held_writes_, held_outputs_, out);
}

Result<void> KvmBackend::ReleaseIo(const IoEvent& event) {
  std::unique_lock lock(mu_);
  for (auto it = held_writes_.begin(); it != held_writes_.end(); ++it) {
    if (it->id != event.id) continue;
    HeldBlockWrite w = std::move(*it);
    held_writes_.erase(it);
    lock.unlock();
    Result<void> r = disk_->Write(w.sector, w.data);
    lock.lock();
    queued_completions_.push_back({true, w.request_no, r.ok() ? uint32_t{RG_STATUS_OK} : uint32_t{RG_STATUS_ERROR}});
    ++completions_;
    cv_.notify_all();
    ++released_ios_;
    return r;
  }
  for (auto it = held_outputs_.begin(); it != held_outputs_.end(); ++it) {
    if (it->id != event.id) continue;
    HeldOutput o = std::move(*it);
    held_outputs_.erase(it);
    Result<void> r = EmitOutput(o.bytes);
    queued_completions_.push_back({false, o.message_no, RG_STATUS_OK});
    ++completions_;
    cv_.notify_all();
    ++released_ios_;
    return r;
  }
  return MakeError(Errc::kInvalidArgument, "vm {}: no held I/O with id {}", spec_.name, event.id);
}

Result<void> KvmBackend::ReadDisk(uint16_t disk, uint64_t sector, std::span<std::byte> out) {
  if (disk != 0) return MakeError(Errc::kInvalidArgument, "vm {}: no disk {}", spec_.name, disk);
  return disk_->Read(sector, out);
}

bool KvmBackend::finished() const {
  std::lock_guard lock(mu_);
  return finished_;
}

uint32_t KvmBackend::exit_status() const {
  std::lock_guard lock(mu_);
  return exit_status_;
}

uint64_t KvmBackend::released_ios() const {
  std::lock_guard lock(mu_);
  return released_ios_;
}

std::string KvmBackend::released_output() const {
  std::lock_guard lock(mu_);
  return released_output_;
}

std::string KvmBackend::console_output() const {
  std::lock_guard lock(mu_);
  return console_all_ + console_line_;
}

}  // namespace replink::kvm
