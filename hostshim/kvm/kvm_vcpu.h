// KvmVcpu: one vCPU fd, its shared kvm_run area and (with the dirty ring) its ring of dirty gfns.
// KVM_RUN itself, the kick that interrupts it from another thread, and the full state save/restore
// (vcpu_state_blob.h holds the format).
#pragma once

#include <linux/kvm.h>
#include <pthread.h>

#include <cstdint>
#include <span>

#include "capture/unique_fd.h"
#include "errors/result.h"

namespace replink::kvm {

class KvmVm;

class KvmVcpu {
 public:
  ~KvmVcpu();
  KvmVcpu(const KvmVcpu&) = delete;
  KvmVcpu& operator=(const KvmVcpu&) = delete;

  uint32_t index() const { return index_; }
  int fd() const { return fd_.get(); }
  kvm_run* run() const { return run_; }
  kvm_dirty_gfn* dirty_ring() const { return ring_; }
  uint32_t& dirty_ring_fetch() { return ring_fetch_; }

  // One KVM_RUN. An interrupted run (kick, immediate_exit) is not an error: run()->exit_reason is
  // then KVM_EXIT_INTR.
  Result<void> Run();
  // After an exit, lets KVM finish the exiting instruction without entering the guest, so that the
  // registers are consistent for a snapshot (on kvm_pvm RIP is already past an OUT at the exit).
  Result<void> Settle();
  // Makes a KVM_RUN in progress (or the next one) return from another thread. Call only for a vCPU
  // whose thread called BindThread().
  void Kick();
  void BindThread();

  // Sets the host's supported CPUID (a fresh vCPU; a restore sets the saved one instead).
  Result<void> SetCpuid(std::span<const kvm_cpuid_entry2> entries);

 private:
  friend class KvmVm;
  KvmVcpu(uint32_t index, UniqueFd fd, kvm_run* run, std::size_t run_bytes, kvm_dirty_gfn* ring,
          std::size_t ring_bytes);

  uint32_t index_;
  UniqueFd fd_;
  kvm_run* run_;
  std::size_t run_bytes_;
  kvm_dirty_gfn* ring_;
  std::size_t ring_bytes_;
  uint32_t ring_fetch_ = 0;
  pthread_t thread_{};
  bool thread_bound_ = false;
};

}  // namespace replink::kvm
