// main() of every KVM test: without /dev/kvm there is nothing to test here; exit 77 so meson reports
// SKIP (GoogleTest's own skip would count as a pass).
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "hostshim/kvm/kvm_vm.h"

// Tests may serve a child process from the same binary (see vcpu_restore_test.cc).
int KvmTestChildMain(int argc, char** argv) __attribute__((weak));

int main(int argc, char** argv) {
  std::string why;
  if (!replink::kvm::KvmAvailable(&why)) {
    std::fprintf(stderr, "SKIP: %s (the KVM tests need /dev/kvm)\n", why.c_str());
    return 77;
  }
  if (argc > 1 && std::string(argv[1]) == "--child" && KvmTestChildMain != nullptr) return KvmTestChildMain(argc, argv);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
