// GuestBoot: puts a freestanding guest (guests/) into a fresh VM: identity-mapped 2 MiB pages with the
// user bit, a GDT with DPL3 segments and a TSS, the flat binary at RG_IMAGE_GPA, the boot parameters,
// and a vCPU already in 64-bit mode at CPL3 with IOPL 3 (see guest_abi.h for why CPL3).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "errors/result.h"
#include "hostshim/kvm/guest_abi.h"

namespace replink::kvm {

class KvmVm;
class KvmVcpu;

// Reads a flat guest binary (at most RG_IMAGE_MAX_BYTES).
Result<std::vector<std::byte>> LoadGuestImage(const std::string& path);

// Writes page tables, GDT/TSS, boot params and the image into guest memory.
Result<void> WriteBootMemory(KvmVm& vm, std::span<const std::byte> image, const rg_boot_params& params);

// Sets CPUID, segment/control registers and the entry registers of a fresh vCPU.
Result<void> SetBootRegisters(KvmVm& vm, KvmVcpu& vcpu);

}  // namespace replink::kvm
