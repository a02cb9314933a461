// replink-xen: the Xen side's operator tools.
//   write-stream  turn a committed replica into a save image for `xl restore` (the secondary's failover)
//   serve-disk    serve a disk image to a guest as its block backend, without protection (a restored
//                 guest on the secondary, whose peer is gone)
//   probe         time the capture primitives on a running guest (log-dirty, pause, CLEAN, map, contexts)
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "hostshim/xen/make_xen_backend.h"
#include "hostshim/xen/migration_stream_writer.h"
#include "hostshim/xen/xen_blkback.h"
#include "hostshim/xen/xen_hypervisor_libxc.h"
#include "replica/replica_image.h"

namespace {

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop.store(true); }

int Fail(const replink::Error& e) {
  fmt::print(stderr, "replink-xen: {}\n", e.Describe());
  return 1;
}

int WriteStream(const std::string& replica_dir, const std::string& config_path, const std::string& out_path) {
  using namespace replink;
  auto image = replica::ReplicaImage::Open(replica_dir);
  if (!image.ok()) return Fail(image.error());
  xen::StreamWriterOptions options;
  if (!config_path.empty()) {
    std::ifstream in(config_path);
    if (!in) return Fail(MakeError(Errc::kInvalidArgument, "cannot read {}", config_path));
    std::stringstream text;
    text << in.rdbuf();
    options.xl_config = text.str();
  }
  int fd = out_path == "-" ? STDOUT_FILENO : open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Fail(SysError("open {}", out_path));
  auto summary = xen::WriteXlRestoreStream(*image, options, fd);
  if (fd != STDOUT_FILENO) close(fd);
  if (!summary.ok()) return Fail(summary.error());
  fmt::print(stderr, "replink-xen: stream of epoch {}: {} pages in {} PAGE_DATA records, {} bytes (Xen {}.{})\n",
             summary->committed_epoch, summary->pages, summary->page_records, summary->bytes, summary->xen_major,
             summary->xen_minor);
  return 0;
}

int ServeDisk(const std::string& domain, const std::string& image) {
  using namespace replink;
  auto domid = xen::ResolveXenDomain(domain);
  if (!domid.ok()) return Fail(domid.error());
  xen::XenBlockBackendOptions o;
  o.domid = *domid;
  o.image = image;
  auto disk = xen::XenBlockBackend::Create(o);
  if (!disk.ok()) return Fail(disk.error());
  fmt::print("replink-xen: serving {} to dom{} as xvda (unprotected)\n", image, *domid);
  std::fflush(stdout);
  while (!g_stop.load()) {
    auto ev = (*disk)->WaitIoEvent(200'000'000);
    if (!ev.ok()) return Fail(ev.error());
    if (*ev) {
      auto released = (*disk)->ReleaseIo(**ev);
      if (!released.ok()) return Fail(released.error());
    }
  }
  const auto& s = (*disk)->stats();
  fmt::print("replink-xen: served dom{}: {} connects, {} reads, {} writes\n", *domid, s.connects, s.reads, s.writes);
  return 0;
}

int Probe(const std::string& domain, uint32_t rounds, const std::string& checkpoint) {
  using namespace replink;
  xen::XenShimOptions o;
  o.domain = domain;
  o.checkpoint = checkpoint;
  o.timer_ms = 0;
  auto guest = xen::OpenXenProtectedGuest(o);
  if (!guest.ok()) return Fail(guest.error());
  GuestBackend& b = (*guest)->backend();
  GuestInfo info = b.Describe();
  auto t0 = std::chrono::steady_clock::now();
  if (auto r = b.StartDirtyTracking(); !r.ok()) return Fail(r.error());
  auto ms = [](auto a, auto z) { return std::chrono::duration<double, std::milli>(z - a).count(); };
  fmt::print("replink-xen: dom{} '{}': {} gpfns, {} vCPUs; log-dirty on + populated scan {:.1f} ms\n",
             (*guest)->domid(), info.name, info.guest_pages, info.vcpu_count, ms(t0, std::chrono::steady_clock::now()));
  DirtyBitmap dirty(info.guest_pages);
  std::vector<std::byte> pages(256 * kPageSize), blob(1 << 20);
  std::vector<std::byte*> dsts(256);
  for (uint32_t i = 0; i < 256; ++i) dsts[i] = pages.data() + i * kPageSize;
  for (uint32_t round = 0; round < rounds; ++round) {
    auto a = std::chrono::steady_clock::now();
    if (auto r = b.Pause(); !r.ok()) return Fail(r.error());
    auto paused = std::chrono::steady_clock::now();
    if (auto r = b.CollectDirty(dirty); !r.ok()) return Fail(r.error());
    std::vector<uint64_t> gfns, deferred;
    dirty.ForEach([&](uint64_t g) { gfns.push_back(g); });
    for (std::size_t off = 0; off < gfns.size(); off += 256) {
      std::size_t n = std::min<std::size_t>(256, gfns.size() - off);
      if (auto r = b.CopyPages({gfns.data() + off, n}, {dsts.data(), n}, &deferred); !r.ok()) return Fail(r.error());
    }
    std::size_t state = 0;
    for (uint32_t v = 0; v < info.vcpu_count; ++v) {
      auto n = b.ReadVcpuState(v, blob);
      if (!n.ok()) return Fail(n.error());
      state += *n;
    }
    for (uint32_t d = 0; d < info.device_blobs; ++d) {
      auto n = b.ReadDeviceState(d, blob);
      if (!n.ok()) return Fail(n.error());
      state += *n;
    }
    auto copied = std::chrono::steady_clock::now();
    if (auto r = b.Resume(); !r.ok()) return Fail(r.error());
    auto z = std::chrono::steady_clock::now();
    fmt::print("replink-xen: round {}: {} dirty frames ({} deferred), {} state bytes; stop {:.1f} ms, "
               "collect+copy {:.1f} ms, resume {:.1f} ms\n",
               round, gfns.size(), deferred.size(), state, ms(a, paused), ms(paused, copied), ms(copied, z));
    std::fflush(stdout);
  }
  fmt::print("replink-xen: {}\n", (*guest)->Summary());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"replink-xen: Xen failover and diagnostics tools"};
  app.require_subcommand(1);
  std::string replica_dir, config, out = "-", domain, image, checkpoint = "pause";
  uint32_t rounds = 3;
  auto* ws = app.add_subcommand("write-stream", "Write an xl save image from a committed replica");
  ws->add_option("--replica", replica_dir, "Replica directory (memory.img, disk0.img, epoch.journal)")->required();
  ws->add_option("--config", config, "xl.cfg of the guest to embed (else give one to xl restore)");
  ws->add_option("--out", out, "Output file, or - for stdout");
  auto* sd = app.add_subcommand("serve-disk", "Serve a disk image to a guest without protection");
  sd->add_option("--domain", domain, "Domain name or id")->required();
  sd->add_option("--image", image, "Raw disk image")->required();
  auto* pr = app.add_subcommand("probe", "Time capture rounds on a running guest");
  pr->add_option("--domain", domain, "Domain name or id")->required();
  pr->add_option("--rounds", rounds, "Capture rounds");
  pr->add_option("--checkpoint", checkpoint, "pause | suspend");
  CLI11_PARSE(app, argc, argv);
  signal(SIGINT, OnSignal);
  signal(SIGTERM, OnSignal);
  signal(SIGPIPE, SIG_IGN);
  if (ws->parsed()) return WriteStream(replica_dir, config, out);
  if (sd->parsed()) return ServeDisk(domain, image);
  return Probe(domain, rounds, checkpoint);
}
