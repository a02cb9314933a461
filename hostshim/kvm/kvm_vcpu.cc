#include "hostshim/kvm/kvm_vcpu.h"

#include "hostshim/kvm/kvm_abi.h"

#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <atomic>
#include <cstring>
#include <vector>

namespace replink::kvm {
namespace {

// The kick signal only has to make KVM_RUN return with EINTR: an empty handler without SA_RESTART.
int KickSignal() {
  static const int signo = [] {
    int s = SIGRTMIN + 1;
    struct sigaction sa {};
    sa.sa_handler = [](int) {};
    sigemptyset(&sa.sa_mask);
    sigaction(s, &sa, nullptr);
    return s;
  }();
  return signo;
}

}  // namespace

KvmVcpu::KvmVcpu(uint32_t index, UniqueFd fd, kvm_run* run, std::size_t run_bytes, kvm_dirty_gfn* ring,
                 std::size_t ring_bytes)
    : index_(index), fd_(std::move(fd)), run_(run), run_bytes_(run_bytes), ring_(ring), ring_bytes_(ring_bytes) {}

KvmVcpu::~KvmVcpu() {
  if (ring_ != nullptr) munmap(ring_, ring_bytes_);
  munmap(run_, run_bytes_);
}

Result<void> KvmVcpu::Run() {
  if (ioctl(fd_.get(), KVM_RUN, 0) < 0) {
    if (errno == EINTR || errno == EAGAIN) {
      run_->exit_reason = KVM_EXIT_INTR;
      return Ok();
    }
    return SysError("KVM_RUN vCPU {}", index_);
  }
  return Ok();
}

Result<void> KvmVcpu::Settle() {
  std::atomic_ref<uint8_t>(run_->immediate_exit).store(1);
  int rc = ioctl(fd_.get(), KVM_RUN, 0);
  int saved = errno;
  std::atomic_ref<uint8_t>(run_->immediate_exit).store(0);
  if (rc == 0 || saved == EINTR) return Ok();
  errno = saved;
  return SysError("KVM_RUN (settle) vCPU {}", index_);
}

void KvmVcpu::BindThread() {
  KickSignal();
  thread_ = pthread_self();
  thread_bound_ = true;
}

void KvmVcpu::Kick() {
  // immediate_exit covers a thread about to enter KVM_RUN; the signal one already inside it.
  std::atomic_ref<uint8_t>(run_->immediate_exit).store(1);
  if (thread_bound_) pthread_kill(thread_, KickSignal());
}

Result<void> KvmVcpu::SetCpuid(std::span<const kvm_cpuid_entry2> entries) {
  std::vector<std::byte> buf(sizeof(abi::CountHead) + entries.size() * sizeof(kvm_cpuid_entry2));
  abi::CountHead head{static_cast<uint32_t>(entries.size()), 0};
  std::memcpy(buf.data(), &head, sizeof head);
  std::memcpy(buf.data() + sizeof head, entries.data(), entries.size_bytes());
  if (ioctl(fd_.get(), abi::kSetCpuid2, buf.data()) < 0) return SysError("KVM_SET_CPUID2 vCPU {}", index_);
  return Ok();
}

}  // namespace replink::kvm
