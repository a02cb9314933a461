// KvmBackend: the GuestBackend for a hand-written guest (guests/) on /dev/kvm. One vCPU runs on its own
// thread; every block write and every output message is an I/O event: the vCPU thread copies the
// request, lets KVM finish the OUT (KvmVcpu::Settle) and parks until the capture loop resumes it, so
// the epoch holds the guest exactly at its I/O. The I/O itself waits in the backend until ReleaseIo:
// the write goes to the disk image through io_uring and its completion into the guest's device page;
// the message goes to the output sink. Host writes into guest memory (completions, block reads) are
// tracked here, beside KVM's dirty log, because KVM does not see them.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "hostshim/guest_backend.h"
#include "hostshim/kvm/device_state_blob.h"
#include "hostshim/kvm/guest_abi.h"
#include "hostshim/kvm/kvm_vcpu.h"
#include "hostshim/kvm/kvm_vm.h"
#include "hostshim/kvm/uring_disk.h"

namespace replink::kvm {

struct KvmGuestSpec {
  std::string name = "kvm-guest";
  uint64_t memory_bytes = 64u << 20;
  DirtyLogMode dirty_log = DirtyLogMode::kAuto;
  uint32_t dirty_ring_entries = 65536;
  std::string disk_path;               // empty: an anonymous memfd disk
  uint64_t disk_sectors = 1u << 17;    // 64 MiB; 0 with an existing disk file: its size
  int output_fd = 1;                   // released output messages are written here (-1: nowhere)
  int console_fd = 2;                  // console lines (-1: nowhere)
  bool keep_output = false;            // also keep released output in memory (released_output())
};

class KvmBackend final : public GuestBackend {
 public:
  // A fresh guest: the flat binary at 1 MiB, boot params at RG_BOOT_PARAMS_GPA.
  static Result<std::unique_ptr<KvmBackend>> Boot(const KvmGuestSpec& spec, std::span<const std::byte> image,
                                                  rg_boot_params params);
  // A guest resumed from a snapshot (a committed replica): memory, the vCPU blob and the device blob.
  // I/O the guest was waiting for is completed first: block writes (already on the disk with their
  // epoch) are acknowledged, held output messages are emitted again.
  static Result<std::unique_ptr<KvmBackend>> Restore(const KvmGuestSpec& spec, std::span<const std::byte> memory,
                                                     std::span<const std::byte> vcpu_blob,
                                                     std::span<const std::byte> device_blob);
  ~KvmBackend() override;

  const char* name() const override { return "kvm"; }
  GuestInfo Describe() const override;
  Result<void> StartDirtyTracking() override;
  Result<std::optional<IoEvent>> WaitIoEvent(uint64_t timeout_ns) override;
  Result<void> Pause() override;
  Result<void> Resume() override;
  Result<void> CollectDirty(DirtyBitmap& dirty) override;
  Result<void> CopyPages(std::span<const uint64_t> gfns, std::span<std::byte* const> dsts,
                         std::vector<uint64_t>* deferred) override;
  Result<std::size_t> ReadVcpuState(uint32_t index, std::span<std::byte> out) override;
  Result<std::size_t> ReadDeviceState(uint32_t id, std::span<std::byte> out) override;
  Result<void> ReleaseIo(const IoEvent& event) override;
  Result<void> ReadDisk(uint16_t disk, uint64_t sector, std::span<std::byte> out) override;

  // After handing out `events` I/O events the guest never runs again: it stays at its last I/O, so its
  // memory is exactly the last epoch's (replink-shim --epochs N; tests compare it with the replica).
  void StopAtEvent(uint64_t events);
  // The guest reached RG_PORT_EXIT (status) — it will not issue more I/O.
  bool finished() const;
  uint32_t exit_status() const;
  const std::byte* memory() const { return vm_->memory(); }
  uint64_t memory_bytes() const { return vm_->memory_bytes(); }
  int memory_fd() const { return vm_->memory_fd(); }
  DirtyLogMode dirty_log() const { return vm_->dirty_log(); }
  uint64_t released_ios() const;
  std::string released_output() const;
  std::string console_output() const;
  const std::string& disk_path() const { return disk_->path(); }

 private:
  KvmBackend(KvmGuestSpec spec, std::unique_ptr<KvmVm> vm, std::unique_ptr<KvmVcpu> vcpu,
             std::unique_ptr<UringDisk> disk);
  static Result<std::unique_ptr<KvmBackend>> Create(const KvmGuestSpec& spec, uint64_t memory_bytes);
  void StartVcpuThread();
  void VcpuThread();
  void HandleExit(std::unique_lock<std::mutex>& lock);
  void HandleBlockRequest(std::unique_lock<std::mutex>& lock);
  void HandleOutputRequest();
  void WaitForCompletion(std::unique_lock<std::mutex>& lock, uint32_t us);
  void Fault(Error error);
  void MarkHostDirty(uint64_t gpa, uint64_t bytes);
  rg_device_page* device_page() const { return reinterpret_cast<rg_device_page*>(vm_->memory() + RG_DEVICE_PAGE_GPA); }
  void CompleteBlock(uint64_t request_no, uint32_t status);
  void ApplyQueuedCompletions();
  bool MayRun() const { return !pending_ && !finished_ && events_handed_ < event_limit_; }
  void CompleteOutput(uint64_t message_no);
  Result<void> EmitOutput(std::span<const std::byte> bytes);
  Result<void> ParkVcpu(std::unique_lock<std::mutex>& lock);

  KvmGuestSpec spec_;
  std::unique_ptr<KvmVm> vm_;
  std::unique_ptr<KvmVcpu> vcpu_;
  std::unique_ptr<UringDisk> disk_;
  std::thread thread_;

  // Everything below is shared between the vCPU thread and the caller's thread, under mu_.
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool run_allowed_ = false;   // the vCPU may enter the guest
  bool parked_ = true;         // the vCPU thread is outside KVM_RUN, waiting
  bool quit_ = false;
  bool paused_ = false;        // Pause() was called and Resume() not yet
  bool finished_ = false;
  uint32_t exit_status_ = 0;
  std::optional<Error> fault_;     // the guest or KVM failed; reported by WaitIoEvent
  std::optional<IoEvent> pending_; // issued by the guest, not yet taken by WaitIoEvent
  uint64_t next_event_id_ = 1;
  uint64_t completions_ = 0;       // bumped at every completion: wakes a guest in RG_PORT_WAIT
  uint64_t completions_at_entry_ = 0;  // completions_ when the vCPU last entered the guest
  bool guest_waiting_ = false;         // the vCPU sits in RG_PORT_WAIT
  // Completions of released I/O, written into guest memory by the vCPU thread just before it enters
  // the guest: the guest cannot see them earlier anyway, and a guest that stays stopped keeps exactly
  // the memory of its last epoch.
  struct QueuedCompletion {
    bool block;
    uint64_t number;
    uint32_t status;
  };
  std::vector<QueuedCompletion> queued_completions_;
  uint64_t events_handed_ = 0;
  uint64_t event_limit_ = UINT64_MAX;
  DirtyBitmap host_dirty_;         // pages written by the host (and ring-full harvests)
  bool first_collect_ = true;
  std::deque<HeldBlockWrite> held_writes_;
  std::deque<HeldOutput> held_outputs_;
  uint64_t released_ios_ = 0;
  std::string released_output_;
  std::string console_line_;
  std::string console_all_;
  uint64_t block_errors_ = 0;
};

}  // namespace replink::kvm
