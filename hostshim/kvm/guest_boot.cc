#include "hostshim/kvm/guest_boot.h"

#include <linux/kvm.h>
#include <sys/ioctl.h>

#include <cstring>
#include <fstream>

#include "hostshim/kvm/kvm_vcpu.h"
#include "hostshim/kvm/kvm_vm.h"

namespace replink::kvm {
namespace {

constexpr uint64_t kPresent = 1, kWritable = 2, kUser = 4, kHuge = 0x80;
constexpr uint16_t kUserData = 0x23, kUserCode = 0x2b, kTss = 0x30;
constexpr uint64_t kTssGpa = RG_GDT_GPA + 0x800;

void Put64(KvmVm& vm, uint64_t gpa, uint64_t value) { std::memcpy(vm.memory() + gpa, &value, 8); }

kvm_segment Segment(uint16_t selector, uint8_t type, bool code) {
  kvm_segment s{};
  s.base = 0;
  s.limit = 0xffffffff;
  s.selector = selector;
  s.type = type;
  s.present = 1;
  s.dpl = 3;
  s.s = 1;
  s.g = 1;
  s.l = code ? 1 : 0;
  s.db = code ? 0 : 1;
  return s;
}

}  // namespace

Result<std::vector<std::byte>> LoadGuestImage(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return MakeError(Errc::kInvalidArgument, "cannot open guest image {}", path);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.empty() || bytes.size() > RG_IMAGE_MAX_BYTES)
    return MakeError(Errc::kInvalidArgument, "guest image {} is {} bytes (1 .. {} allowed)", path, bytes.size(),
                     RG_IMAGE_MAX_BYTES);
  std::vector<std::byte> out(bytes.size());
  std::memcpy(out.data(), bytes.data(), bytes.size());
  return out;
}

Result<void> WriteBootMemory(KvmVm& vm, std::span<const std::byte> image, const rg_boot_params& params) {
  if (vm.memory_bytes() < RG_HEAP_GPA + (2u << 20))
    return MakeError(Errc::kInvalidArgument, "guest memory of {} bytes is below the 4 MiB minimum", vm.memory_bytes());
  if (image.size() > RG_IMAGE_MAX_BYTES) return MakeError(Errc::kInvalidArgument, "guest image too large");
  // PML4 -> PDPT -> 4 page directories of 2 MiB pages: the first 4 GiB, identity mapped, user-accessible.
  const uint64_t pml4 = RG_PAGE_TABLE_GPA, pdpt = pml4 + 0x1000, pd = pdpt + 0x1000;
  std::memset(vm.memory() + pml4, 0, 6 * 0x1000);
  Put64(vm, pml4, pdpt | kPresent | kWritable | kUser);
  for (uint64_t i = 0; i < 4; ++i) {
    Put64(vm, pdpt + 8 * i, (pd + 0x1000 * i) | kPresent | kWritable | kUser);
    for (uint64_t j = 0; j < 512; ++j)
      Put64(vm, pd + 0x1000 * i + 8 * j, ((i << 30) | (j << 21)) | kPresent | kWritable | kUser | kHuge);
  }
  // GDT: null, kernel code/data (unused), user data 0x23, user code 0x2b, TSS 0x30 (16 bytes).
  std::memset(vm.memory() + RG_GDT_GPA, 0, 0x1000);
  Put64(vm, RG_GDT_GPA + 0x10, 0x00af9a000000ffffULL);
  Put64(vm, RG_GDT_GPA + 0x18, 0x00cf92000000ffffULL);
  Put64(vm, RG_GDT_GPA + 0x20, 0x00cff2000000ffffULL);
  Put64(vm, RG_GDT_GPA + 0x28, 0x00affa000000ffffULL);
  uint64_t tss_low = 0x67 | ((kTssGpa & 0xffffff) << 16) | (0x8bULL << 40) | (((kTssGpa >> 24) & 0xff) << 56);
  Put64(vm, RG_GDT_GPA + kTss, tss_low);
  Put64(vm, RG_GDT_GPA + kTss + 8, kTssGpa >> 32);
  std::memset(vm.memory() + RG_BOOT_PARAMS_GPA, 0, 0x1000);
  std::memcpy(vm.memory() + RG_BOOT_PARAMS_GPA, &params, sizeof params);
  std::memset(vm.memory() + RG_DEVICE_PAGE_GPA, 0, 0x1000);
  std::memcpy(vm.memory() + RG_IMAGE_GPA, image.data(), image.size());
  return Ok();
}

Result<void> SetBootRegisters(KvmVm& vm, KvmVcpu& vcpu) {
  REPLINK_TRY(vcpu.SetCpuid(vm.system().supported_cpuid));
  kvm_sregs sregs{};
  if (ioctl(vcpu.fd(), KVM_GET_SREGS, &sregs) < 0) return SysError("KVM_GET_SREGS");
  sregs.cs = Segment(kUserCode, 11, true);
  sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = Segment(kUserData, 3, false);
  sregs.tr = kvm_segment{};
  sregs.tr.base = kTssGpa;
  sregs.tr.limit = 0x67;
  sregs.tr.selector = kTss;
  sregs.tr.type = 11;
  sregs.tr.present = 1;
  sregs.ldt = kvm_segment{};
  sregs.ldt.unusable = 1;
  sregs.gdt.base = RG_GDT_GPA;
  sregs.gdt.limit = 0x3f;
  sregs.idt.base = 0;
  sregs.idt.limit = 0;
  sregs.cr3 = RG_PAGE_TABLE_GPA;
  sregs.cr4 = (1u << 5) | (1u << 9) | (1u << 10);  // PAE, OSFXSR, OSXMMEXCPT: SSE works at CPL3
  sregs.cr0 = (1u << 0) | (1u << 1) | (1u << 4) | (1u << 5) | (1u << 16) | (1u << 31);  // PE MP ET NE WP PG
  sregs.efer = (1u << 8) | (1u << 10);  // LME, LMA
  if (ioctl(vcpu.fd(), KVM_SET_SREGS, &sregs) < 0) return SysError("KVM_SET_SREGS (boot)");
  kvm_regs regs{};
  regs.rip = RG_IMAGE_GPA;
  regs.rsp = RG_STACK_TOP_GPA;
  regs.rflags = 0x2 | (3u << 12);  // reserved bit 1, IOPL 3
  if (ioctl(vcpu.fd(), KVM_SET_REGS, &regs) < 0) return SysError("KVM_SET_REGS (boot)");
  return Ok();
}

}  // namespace replink::kvm
