// The variable-length KVM ioctls, with the C layout. linux/kvm.h declares kvm_cpuid2, kvm_msrs,
// kvm_msr_list and kvm_xsave with __DECLARE_FLEX_ARRAY, which in C++ (Debian 12's linux-libc-dev)
// adds a member: the structs grow by 4 bytes, their arrays move, and the ioctl numbers computed from
// sizeof change — KVM answers EINVAL (measured: KVM_GET_SUPPORTED_CPUID c00cae05 in C++ vs c008ae05
// in C). So C++ code here builds these buffers by hand: an 8-byte head (4 for the MSR index list),
// then the fixed-size entries, and uses the numbers below.
#pragma once

#include <linux/kvm.h>
#include <sys/ioctl.h>

#include <cstdint>

namespace replink::kvm::abi {

struct CountHead {  // kvm_cpuid2 / kvm_msrs without their flexible array
  uint32_t count;
  uint32_t padding;
};
static_assert(sizeof(CountHead) == 8);
static_assert(sizeof(kvm_cpuid_entry2) == 40 && sizeof(kvm_msr_entry) == 16);

inline constexpr std::size_t kXsaveLegacyBytes = 4096;  // struct kvm_xsave in C

inline constexpr unsigned long kGetMsrIndexList = _IOC(_IOC_READ | _IOC_WRITE, KVMIO, 0x02, 4);
inline constexpr unsigned long kGetSupportedCpuid = _IOC(_IOC_READ | _IOC_WRITE, KVMIO, 0x05, 8);
inline constexpr unsigned long kGetMsrs = _IOC(_IOC_READ | _IOC_WRITE, KVMIO, 0x88, 8);
inline constexpr unsigned long kSetMsrs = _IOC(_IOC_WRITE, KVMIO, 0x89, 8);
inline constexpr unsigned long kSetCpuid2 = _IOC(_IOC_WRITE, KVMIO, 0x90, 8);
inline constexpr unsigned long kGetCpuid2 = _IOC(_IOC_READ | _IOC_WRITE, KVMIO, 0x91, 8);
inline constexpr unsigned long kGetXsave = _IOC(_IOC_READ, KVMIO, 0xa4, kXsaveLegacyBytes);
inline constexpr unsigned long kSetXsave = _IOC(_IOC_WRITE, KVMIO, 0xa5, kXsaveLegacyBytes);
inline constexpr unsigned long kGetXsave2 = _IOC(_IOC_READ, KVMIO, 0xcf, kXsaveLegacyBytes);

}  // namespace replink::kvm::abi
