// replink-ring-verifier: accepts one shim registration and verifies its epochs end to end through
// the codec chain, without a network (see epoch_verifier.h). Prints throughput once a second and a
// summary at the end; exits non-zero on any verification failure.
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>

#include <fmt/format.h>

#include "capture/region_layout.h"
#include "capture/registration.h"
#include "dataplane/ring_verifier/epoch_verifier.h"

namespace {

volatile sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

int Fail(const replink::Error& e) {
  fmt::print(stderr, "replink-ring-verifier: {}\n", e.Describe());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace replink;
  std::string socket_path = "/run/replink/shim.sock";
  std::string codec_name = "auto";
  std::size_t cache_mib = 64;
  uint32_t interval_ms = 1000;
  int accept_timeout_s = 30;
  bool compare_each_epoch = false;
  CLI::App app{"replink-ring-verifier: decode and verify a shim's epochs without a network"};
  app.add_option("--socket", socket_path, "Registration socket to listen on");
  app.add_option("--codec", codec_name, "auto | none | lz4 | delta");
  app.add_option("--delta-cache-mib", cache_mib, "Sender delta cache size")->check(CLI::Range(1, 65536));
  app.add_option("--stats-interval-ms", interval_ms, "Progress line interval (0 = none)");
  app.add_option("--accept-timeout", accept_timeout_s, "Seconds to wait for a shim");
  app.add_flag("--compare-each-epoch", compare_each_epoch,
               "Compare committed pages with guest memory at every commit (shim in strict mode only)");
  CLI11_PARSE(app, argc, argv);
  signal(SIGINT, OnSignal);
  signal(SIGTERM, OnSignal);
  signal(SIGPIPE, SIG_IGN);

  auto setting = codec::ParseCodecSetting(codec_name);
  if (!setting.ok()) return Fail(setting.error());
  auto cache = codec::DeltaCache::Create(cache_mib);
  if (!cache.ok()) return Fail(cache.error());
  auto listener = RegistrationListener::Listen(socket_path);
  if (!listener.ok()) return Fail(listener.error());
  fmt::print("replink-ring-verifier: listening on {}\n", socket_path);
  std::fflush(stdout);

  UniqueFd conn;
  for (int i = 0; i < accept_timeout_s * 100 && !conn.valid() && !g_stop; ++i) {
    auto a = listener->Accept();
    if (!a.ok()) return Fail(a.error());
    conn = std::move(a).value();
    if (!conn.valid()) {
      pollfd p{listener->fd(), POLLIN, 0};
      poll(&p, 1, 10);
    }
  }
  if (!conn.valid()) return Fail(MakeError(Errc::kTimeout, "no shim registered within {} s", accept_timeout_s));
  auto in = ReceiveRegistration(conn.get(), 5000);
  if (!in.ok()) return Fail(in.error());
  auto region = SharedRegion::Attach(in->region.release());
  Result<CaptureRingReader> reader = region.ok() ? CaptureRingReader::Attach(std::move(region).value())
                                                 : Result<CaptureRingReader>(region.error());
  Result<void> accepted = reader.ok() ? Ok() : Result<void>(reader.error());
  (void)SendReply(conn.get(), in->request.vm_id, accepted);
  if (!reader.ok()) return Fail(reader.error());

  const std::byte* guest = nullptr;
  std::size_t guest_bytes = reader->identity().guest_pages * kPageSize;
  if (in->guest_memory.valid()) {
    struct stat st {};
    if (fstat(in->guest_memory.get(), &st) == 0 && static_cast<std::size_t>(st.st_size) >= guest_bytes) {
      void* p = mmap(nullptr, guest_bytes, PROT_READ, MAP_SHARED, in->guest_memory.get(), 0);
      if (p != MAP_FAILED) guest = static_cast<const std::byte*>(p);
    }
    if (guest == nullptr) return Fail(MakeError(Errc::kIo, "could not map the offered guest memory"));
  }
  fmt::print("replink-ring-verifier: vm {} '{}' attached: {} pages, {} slots{}\n", reader->identity().vm_id,
             VmNameOf(reader->identity()), reader->identity().guest_pages, reader->identity().slot_count,
             guest ? ", comparing against guest memory" : "");
  std::fflush(stdout);

  EpochVerifier verifier(*reader, codec::PageEncoder(std::move(cache).value()), *setting,
                         compare_each_epoch ? guest : nullptr);
  auto start = std::chrono::steady_clock::now();
  auto last = start;
  VerifierStats prev;
  bool shim_gone = false;
  Result<void> status = Ok();
  while (!g_stop) {
    status = verifier.Poll();
    if (!status.ok()) break;
    auto now = std::chrono::steady_clock::now();
    double dt = std::chrono::duration<double>(now - last).count();
    if (interval_ms != 0 && dt * 1000 >= interval_ms) {
      const VerifierStats& s = verifier.stats();
      uint64_t pages = s.pages - prev.pages;
      fmt::print("replink-ring-verifier: {:>8.0f} epochs/s {:>10.0f} pages/s {:>7.1f} bytes/page  committed {}\n",
                 double(s.epochs_committed - prev.epochs_committed) / dt, double(pages) / dt,
                 pages ? double(s.payload_bytes - prev.payload_bytes) / double(pages) : 0.0, s.epochs_committed);
      std::fflush(stdout);
      prev = s;
      last = now;
    }
    if (reader->pending_descriptors() > 0) continue;
    if (shim_gone) break;
    // Idle: announce it and sleep on the shim's eventfd or the socket (EOF = shim finished).
    reader->SetSleeping(true);
    if (reader->pending_descriptors() == 0) {
      pollfd p[2] = {{in->doorbell_eventfd.get(), POLLIN, 0}, {conn.get(), POLLIN, 0}};
      poll(p, in->doorbell_eventfd.valid() ? 2 : 1, 5);
      if (p[0].revents & POLLIN) {
        uint64_t v;
        [[maybe_unused]] ssize_t r = read(in->doorbell_eventfd.get(), &v, sizeof(v));
      }
      if (p[1].revents & (POLLIN | POLLHUP)) shim_gone = true;
    }
    reader->SetSleeping(false);
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const VerifierStats& s = verifier.stats();
  // The shim has stopped its guest after the last epoch, so the replica must now equal its memory.
  uint64_t final_mismatches = guest != nullptr ? verifier.CountReplicaMismatches(guest) : 0;
  fmt::print("replink-ring-verifier: summary: {} epochs committed, {} failed, {} pages in {:.2f} s "
             "({:.0f} epochs/s, {:.0f} pages/s), {:.1f} bytes/page on the wire ({:.1f}% of raw)\n",
             s.epochs_committed, s.epochs_failed, s.pages, secs, double(s.epochs_committed) / secs,
             double(s.pages) / secs, s.pages ? double(s.payload_bytes) / double(s.pages) : 0.0,
             s.page_bytes ? 100.0 * double(s.payload_bytes) / double(s.page_bytes) : 0.0);
  for (auto id : {codec::CodecId::kZero, codec::CodecId::kXorDelta, codec::CodecId::kLz4, codec::CodecId::kRaw}) {
    const auto& c = verifier.encoder().counters(id);
    fmt::print("replink-ring-verifier:   codec {:<9} {:>9} pages {:>8.1f} bytes/page\n", codec::CodecName(id),
               c.pages, c.pages ? double(c.bytes_out) / double(c.pages) : 0.0);
  }
  if (guest != nullptr)
    fmt::print("replink-ring-verifier: verification: {} page comparisons at commit, {} mismatches; "
               "final replica vs guest memory: {} differing pages\n",
               s.pages_compared, s.memory_mismatches, final_mismatches);
  std::fflush(stdout);
  if (!status.ok()) return Fail(status.error());
  if (s.epochs_failed != 0 || final_mismatches != 0) return 2;
  return 0;
}
