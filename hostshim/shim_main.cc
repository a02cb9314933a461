// replink-shim: protects one VM. Creates its capture region, registers with the local dataplane and
// runs the capture loop over the chosen backend.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>

#include <fmt/format.h>

#include "hostshim/capture_loop.h"
#include "hostshim/kvm/kvm_shim.h"
#if REPLINK_HAVE_XEN
#include "hostshim/xen/make_xen_backend.h"
#endif
#include "hostshim/shim_registration.h"
#include "hostshim/synthetic/synthetic_backend.h"

namespace {

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop.store(true); }

struct ShimOptions {
  std::string backend = "synthetic";
  std::string socket_path = "/run/replink/shim.sock";
  uint64_t vm_id = 1;
  std::string vm_name = "vm1";
  uint64_t guest_mib = 128;
  uint32_t vcpus = 1;
  uint64_t epochs = 0;
  std::string mode = "pipelined";
  uint32_t slots = 16384;
  uint32_t inflight = 64;
  bool share_memory = false;
  uint32_t stats_interval_ms = 1000;
  std::string locality = "hotset";
  std::string content = "mixed";
  uint64_t dirty_pages = 64;
  double rate = 0;
  uint64_t seed = 1;
  std::string dump_memory;
  std::string dump_disk;
};

// Writes `bytes` to `path` (for tests: the guest's state at the end of the run).
replink::Result<void> DumpToFile(const std::string& path, std::span<const std::byte> bytes) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return replink::SysError("open {}", path);
  std::size_t n = std::fwrite(bytes.data(), 1, bytes.size(), f);
  bool ok = n == bytes.size() && std::fclose(f) == 0;
  if (!ok) return replink::SysError("write {}", path);
  return replink::Ok();
}

int Fail(const replink::Error& e) {
  fmt::print(stderr, "replink-shim: {}\n", e.Describe());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace replink;
  ShimOptions o;
  CLI::App app{"replink-shim: capture a protected VM's epochs into a capture ring"};
  app.add_option("--backend", o.backend, "Guest backend")->check(CLI::IsMember({"synthetic", "kvm", "xen"}));
  app.add_option("--socket", o.socket_path, "Dataplane registration socket");
  app.add_option("--vm-id", o.vm_id, "Protected VM id (unique per appliance pair)")->check(CLI::Range(1ull, 1ull << 32));
  app.add_option("--vm-name", o.vm_name, "Protected VM name");
  app.add_option("--guest-mib", o.guest_mib, "Synthetic guest memory in MiB")->check(CLI::Range(1ull, 65536ull));
  app.add_option("--vcpus", o.vcpus, "Synthetic guest vCPUs")->check(CLI::Range(1u, 64u));
  app.add_option("--epochs", o.epochs, "Stop after this many committed epochs (0 = run until signalled)");
  app.add_option("--mode", o.mode, "strict: guest stopped until commit; pipelined: only the I/O waits")
      ->check(CLI::IsMember({"strict", "pipelined"}));
  app.add_option("--slots", o.slots, "Capture arena size in 4 KiB slots")->check(CLI::Range(64u, 1u << 22));
  app.add_option("--inflight", o.inflight, "Pipelined: max epochs captured but not committed")
      ->check(CLI::Range(1u, 512u));
  app.add_flag("--share-guest-memory", o.share_memory, "Offer guest memory read-only to a verifying consumer");
  app.add_option("--stats-interval-ms", o.stats_interval_ms, "Progress line interval (0 = none)");
  app.add_option("--locality", o.locality, "random | sequential | hotset");
  app.add_option("--content", o.content, "incompressible | sparse | zero | text | mixed");
  app.add_option("--dirty-pages", o.dirty_pages, "Pages dirtied per epoch")->check(CLI::Range(0ull, 1ull << 24));
  app.add_option("--rate", o.rate, "I/O events per second (0 = as fast as commits allow)")->check(CLI::Range(0.0, 1e6));
  app.add_option("--seed", o.seed, "Workload seed");
  app.add_option("--dump-memory", o.dump_memory, "At the end, write guest memory to this file (tests)");
  app.add_option("--dump-disk", o.dump_disk, "At the end, write the guest's disk to this file (tests)");
  kvm::KvmShimOptions kvm_options;
  kvm::AddKvmShimOptions(app, kvm_options);
#if REPLINK_HAVE_XEN
  xen::XenShimOptions xen_options;
  xen::AddXenShimOptions(app, xen_options);
#endif
  CLI11_PARSE(app, argc, argv);

  signal(SIGINT, OnSignal);
  signal(SIGTERM, OnSignal);
  signal(SIGPIPE, SIG_IGN);

  // The backend: a hand-written guest on /dev/kvm, or the synthetic workload.
  std::unique_ptr<GuestBackend> backend;
  int memory_fd = -1;
  std::function<uint64_t()> released_ios;
  std::function<bool()> finished = [] { return false; };
  std::function<std::span<const std::byte>()> guest_memory;
  if (o.backend == "xen") {
#if REPLINK_HAVE_XEN
    auto guest = xen::OpenXenProtectedGuest(xen_options);
    if (!guest.ok()) return Fail(guest.error());
    xen::XenProtectedGuest* g = guest->get();
    fmt::print("replink-shim: vm {} '{}' is Xen domain {}\n", o.vm_id, o.vm_name, g->domid());
    std::fflush(stdout);
    released_ios = [g] { return g->released(); };
    guest_memory = [] { return std::span<const std::byte>(); };
    backend = std::move(guest).value();
#else
    return Fail(MakeError(Errc::kUnsupported, "built without libxen-dev"));
#endif
  } else if (o.backend == "kvm") {
    auto guest = kvm::CreateKvmShimGuest(kvm_options, o.vm_name, o.guest_mib, o.seed);
    if (!guest.ok()) return Fail(guest.error());
    fmt::print("replink-shim: vm {} '{}' {}\n", o.vm_id, o.vm_name, guest->description);
    std::fflush(stdout);
    kvm::KvmBackend* k = guest->backend.get();
    memory_fd = k->memory_fd();
    released_ios = [k] { return k->released_ios(); };
    finished = [k] { return k->finished(); };
    // With --epochs the guest stays at its last I/O, so the dump is the last epoch's memory.
    guest_memory = [k] {
      (void)k->Pause();
      return std::span<const std::byte>(k->memory(), k->memory_bytes());
    };
    backend = std::move(guest->backend);
    if (kvm_options.unprotected) {
      // After a failover the resumed guest has no peer yet: say so, loudly, once.
      fmt::print("replink-shim: vm {} runs UNPROTECTED: every I/O is released at once, nothing is "
                 "replicated (re-protection towards a new peer is not implemented yet)\n", o.vm_id);
      std::fflush(stdout);
      auto run = kvm::RunUnprotected(*k, [] { return g_stop.load(); });
      fmt::print("replink-shim: unprotected run ended: {} I/Os released, guest {}\n", k->released_ios(),
                 k->finished() ? fmt::format("exited with status {}", k->exit_status()) : "stopped");
      if (!run.ok()) return Fail(run.error());
      return k->finished() && k->exit_status() != 0 ? 3 : 0;
    }
    if (o.epochs != 0) k->StopAtEvent(o.epochs);  // the guest ends exactly at its last epoch
  } else {
  SyntheticGuestSpec spec;
  spec.name = o.vm_name;
  spec.guest_pages = o.guest_mib * 256;
  spec.vcpu_count = o.vcpus;
  auto locality = ParseLocality(o.locality);
  if (!locality.ok()) return Fail(locality.error());
  auto content = ParseContentModel(o.content);
  if (!content.ok()) return Fail(content.error());
  spec.workload.locality = *locality;
  spec.workload.content = *content;
  spec.workload.dirty_pages_per_epoch = o.dirty_pages;
  spec.workload.epoch_rate = o.rate;
  spec.workload.seed = o.seed;
  auto synthetic = SyntheticBackend::Create(spec);
  if (!synthetic.ok()) return Fail(synthetic.error());
  auto* sb = new SyntheticBackend(std::move(synthetic).value());
  backend.reset(sb);
  memory_fd = sb->memory().fd();
  released_ios = [sb] { return sb->released_ios(); };
  guest_memory = [sb] { return std::span<const std::byte>(sb->memory().bytes()); };
  }
  GuestInfo info = backend->Describe();

  CaptureRingParams params;
  params.vm_id = o.vm_id;
  params.vm_name = o.vm_name;
  params.guest_pages = info.guest_pages;
  params.vcpu_count = info.vcpu_count;
  params.disk_count = info.disk_count;
  params.disk_sectors = info.disk_sectors;
  params.device_count = info.device_blobs;
  params.slot_count = o.slots;
  auto ring = CaptureRingWriter::Create(params);
  if (!ring.ok()) return Fail(ring.error());
  auto conn = ConnectToDataplane(o.socket_path, *ring, o.share_memory ? memory_fd : -1, 10000);
  if (!conn.ok()) return Fail(conn.error());
  fmt::print("replink-shim: vm {} '{}' registered ({} MiB guest, {} capture slots, {} backing, mode {})\n",
             o.vm_id, o.vm_name, info.guest_pages / 256, o.slots,
             ring->region().backing() == SharedRegion::Backing::kHugetlb ? "hugetlb" : "4k-page", o.mode);
  std::fflush(stdout);

  CaptureLoopOptions lo;
  lo.mode = o.mode == "strict" ? SyncMode::kStrict : SyncMode::kPipelined;
  lo.max_inflight_epochs = o.inflight;
  CaptureLoop loop(*backend, *ring, lo);
  auto start = std::chrono::steady_clock::now();
  auto last_print = start;
  uint64_t last_epochs = 0, last_pages = 0;
  loop.on_epoch = [&](const CaptureStats& s) {
    if (o.stats_interval_ms == 0) return;
    auto now = std::chrono::steady_clock::now();
    double dt = std::chrono::duration<double>(now - last_print).count();
    if (dt * 1000 < o.stats_interval_ms) return;
    fmt::print("replink-shim: {:>8.0f} epochs/s {:>10.0f} pages/s  committed {}  mean pause {:.1f} us\n",
               double(s.epochs - last_epochs) / dt, double(s.pages - last_pages) / dt, s.committed,
               s.epochs ? double(s.pause_ns_total) / double(s.epochs) / 1000.0 : 0.0);
    std::fflush(stdout);
    last_print = now;
    last_epochs = s.epochs;
    last_pages = s.pages;
  };
  auto result = loop.Run(o.epochs, [&] { return g_stop.load() || finished(); });
  const CaptureStats& s = loop.stats();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fmt::print("replink-shim: done: {} epochs ({} committed, {} failed), {} pages, {} disk bytes in {:.2f} s; "
             "pause mean {:.1f} us max {:.1f} us; {} I/Os released\n",
             s.epochs, s.committed, s.failed, s.pages, s.disk_write_bytes, secs,
             s.epochs ? double(s.pause_ns_total) / double(s.epochs) / 1000.0 : 0.0, double(s.pause_ns_max) / 1000.0,
             released_ios());
  if (!result.ok()) return Fail(result.error());
  // The guest stopped after its last epoch, so these are exactly its state at that epoch.
  if (!o.dump_memory.empty()) {
    auto dumped = DumpToFile(o.dump_memory, guest_memory().first(info.guest_pages * kPageSize));
    if (!dumped.ok()) return Fail(dumped.error());
  }
  if (!o.dump_disk.empty()) {
    std::vector<std::byte> disk(info.disk_sectors * kSectorSize);
    auto read = backend->ReadDisk(0, 0, disk);
    if (!read.ok()) return Fail(read.error());
    auto dumped = DumpToFile(o.dump_disk, disk);
    if (!dumped.ok()) return Fail(dumped.error());
  }
  return s.failed == 0 ? 0 : 2;
}
