// The `--backend kvm` part of replink-shim: its options, the guest it starts (a fresh boot or a
// restore from a replica directory) and the unprotected run used after failover.
#pragma once

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "hostshim/kvm/kvm_backend.h"

namespace replink::kvm {

struct KvmShimOptions {
  std::string guest = "ledger";      // a guest name (ledger, churn) or a path to a flat binary
  std::vector<uint64_t> guest_args;  // rg_boot_params.args, see guests/*_format.h
  std::string restore_dir;           // resume from this replica instead of booting
  std::string disk;                  // disk image path (default: memfd; a restore: the replica's disk0.img)
  uint64_t disk_mib = 64;
  std::string output = "-";          // released output messages ("-": stdout)
  std::string dirty_log = "auto";
  bool unprotected = false;          // no dataplane: every I/O is released at once
};

void AddKvmShimOptions(CLI::App& app, KvmShimOptions& options);

struct KvmShimGuest {
  std::unique_ptr<KvmBackend> backend;
  std::string description;  // one line for the operator
};

// guest_mib: memory of a booted guest (a restore takes the replica's). seed: the guest's seed.
Result<KvmShimGuest> CreateKvmShimGuest(const KvmShimOptions& options, const std::string& vm_name, uint64_t guest_mib,
                                        uint64_t seed);

// Runs the guest with every I/O released as soon as it is issued, until it finishes or stop().
Result<void> RunUnprotected(KvmBackend& backend, const std::function<bool()>& stop);

// Where `--guest ledger` is looked up: the build tree's guests/, then the installed data dir.
std::string ResolveGuestImage(const std::string& guest);

}  // namespace replink::kvm
