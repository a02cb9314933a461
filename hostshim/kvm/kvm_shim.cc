#include "hostshim/kvm/kvm_shim.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>

#include "hostshim/kvm/guest_boot.h"
#include "hostshim/kvm/kvm_restore.h"

#ifndef REPLINK_GUEST_DIR
#define REPLINK_GUEST_DIR ""
#endif
#ifndef REPLINK_GUEST_INSTALL_DIR
#define REPLINK_GUEST_INSTALL_DIR ""
#endif

namespace replink::kvm {

void AddKvmShimOptions(CLI::App& app, KvmShimOptions& o) {
  app.add_option("--guest", o.guest, "kvm: guest to boot: ledger | churn | path to a flat binary");
  app.add_option("--guest-args", o.guest_args, "kvm: the guest's numeric arguments, in order (guests/*_format.h)")
      ->delimiter(',');
  app.add_option("--restore", o.restore_dir, "kvm: resume the guest from this committed replica directory");
  app.add_option("--disk", o.disk, "kvm: disk image (default: anonymous; with --restore: the replica's disk0.img)");
  app.add_option("--disk-mib", o.disk_mib, "kvm: size of a new disk in MiB")->check(CLI::Range(1ull, 1ull << 20));
  app.add_option("--output", o.output, "kvm: where released output messages go ('-' = stdout)");
  app.add_option("--dirty-log", o.dirty_log, "kvm: auto | ring | bitmap")->check(CLI::IsMember({"auto", "ring", "bitmap"}));
  app.add_flag("--unprotected", o.unprotected, "kvm: run without a dataplane, releasing every I/O at once");
}

std::string ResolveGuestImage(const std::string& guest) {
  if (guest.find('/') != std::string::npos) return guest;
  for (std::string dir : {std::string(REPLINK_GUEST_DIR), std::string(REPLINK_GUEST_INSTALL_DIR)}) {
    std::string path = dir + "/" + guest + ".bin";
    if (!dir.empty() && std::filesystem::exists(path)) return path;
  }
  return guest + ".bin";
}

Result<KvmShimGuest> CreateKvmShimGuest(const KvmShimOptions& o, const std::string& vm_name, uint64_t guest_mib,
                                        uint64_t seed) {
  KvmGuestSpec spec;
  spec.name = vm_name;
  spec.memory_bytes = guest_mib << 20;
  spec.disk_path = o.disk;
  spec.disk_sectors = o.disk_mib * 2048;
  REPLINK_ASSIGN_OR_RETURN(spec.dirty_log, ParseDirtyLogMode(o.dirty_log));
  if (o.output != "-") {
    int fd = open(o.output.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return SysError("open output {}", o.output);
    spec.output_fd = fd;  // lives as long as the process
  }
  KvmShimGuest g;
  if (!o.restore_dir.empty()) {
    REPLINK_ASSIGN_OR_RETURN(RestoredGuest r, RestoreFromReplica(o.restore_dir, spec));
    g.description = fmt::format("restored from {} at epoch {} (rip {:#x}), disk {}", o.restore_dir, r.epoch, r.rip,
                                r.backend->disk_path());
    g.backend = std::move(r.backend);
    return g;
  }
  if (o.guest_args.size() > 12) return MakeError(Errc::kInvalidArgument, "at most 12 guest arguments");
  std::string path = ResolveGuestImage(o.guest);
  REPLINK_ASSIGN_OR_RETURN(std::vector<std::byte> image, LoadGuestImage(path));
  rg_boot_params params{};
  params.seed = seed;
  for (std::size_t i = 0; i < o.guest_args.size(); ++i) params.args[i] = o.guest_args[i];
  REPLINK_ASSIGN_OR_RETURN(g.backend, KvmBackend::Boot(spec, image, params));
  g.description = fmt::format("booted {} ({} MiB, dirty log {}, disk {})", path, guest_mib,
                              DirtyLogModeName(g.backend->dirty_log()), g.backend->disk_path());
  return g;
}

Result<void> RunUnprotected(KvmBackend& backend, const std::function<bool()>& stop) {
  while (!(stop && stop()) && !backend.finished()) {
    REPLINK_ASSIGN_OR_RETURN(std::optional<IoEvent> event, backend.WaitIoEvent(100'000'000));
    if (!event) continue;
    REPLINK_TRY(backend.ReleaseIo(*event));
  }
  return Ok();
}

}  // namespace replink::kvm
