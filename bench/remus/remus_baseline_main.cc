// replink-remus-baseline: the conventional way to do what replink does, for the benchmark to compare
// against. The same synthetic guest the replink shim runs (same workload options and seed) is
// captured at every I/O event and each epoch is sent raw over a kernel TCP socket on loopback (as
// Remus / Kemari-over-TCP do): --transport tcp (blocking writev + an ack thread) or uring
// (io_uring). A forked receiver process stages every epoch into replink's own EpochStager and
// commits it with replink's ReplicaStore (page-cache durability, as the appliance pair's
// secondary), then acknowledges. Prints one JSON line; asserts nothing about speed.
//
//   replink-remus-baseline --transport tcp --mode pipelined --epochs 2000 --dirty-pages 256 --content sparse
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>

#include "bench/remus/baseline_receiver.h"
#include "bench/remus/baseline_sender.h"
#include "bench/remus/baseline_socket_io.h"
#include "hostshim/synthetic/synthetic_backend.h"

namespace replink::bench::remus {
namespace {

struct Options {
  std::string transport = "tcp";
  std::string mode = "pipelined";
  uint32_t inflight = 64;
  uint64_t epochs = 1000;
  double max_seconds = 60;
  uint64_t guest_mib = 32;
  uint64_t dirty_pages = 64;
  std::string content = "mixed";
  std::string locality = "hotset";
  double rate = 0;
  uint64_t seed = 1;
  std::string dir = "/tmp";
};

int Fail(const std::string& what) {
  std::fprintf(stderr, "replink-remus-baseline: %s\n", what.c_str());
  return 1;
}

void NoDelay(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

replica::ReplicaGeometry GeometryFor(const SyntheticGuestSpec& spec, const GuestInfo& info) {
  replica::ReplicaGeometry g;
  g.vm_id = 1;
  g.guest_pages = info.guest_pages;
  g.vcpu_slots = info.vcpu_count;
  g.device_slots = info.device_blobs;
  g.max_blob_bytes = 16 * 1024;
  g.disk_sectors = {spec.disk_sectors};
  return g;
}

// The receiver process: open the replica, say ready (an ack for epoch 0), serve, report.
int RunReceiver(int listener, const replica::ReplicaGeometry& geometry, const std::string& dir) {
  ReceiverOptions ro{geometry, dir, replica::Durability::kPageCache};
  int fd = ::accept(listener, nullptr, nullptr);
  ::close(listener);
  if (fd < 0) return Fail("receiver: accept failed");
  NoDelay(fd);
  // Create the image before saying ready, so that is not charged to the first epoch.
  Ack ready{kAckMagic, static_cast<uint32_t>(AckStatus::kCommitted), 0};
  auto served = [&]() -> Result<ReceiverCounters> {
    // ServeConnection opens the store itself; create the image first so that open is cheap.
    {
      replica::ReplicaStoreConfig c;
      c.directory = dir;
      c.geometry = geometry;
      c.durability = ro.durability;
      REPLINK_ASSIGN_OR_RETURN(replica::ReplicaStore store, replica::ReplicaStore::Open(c));
      REPLINK_TRY(store.Close());
    }
    REPLINK_TRY(WriteExact(fd, {reinterpret_cast<const std::byte*>(&ready), sizeof(ready)}));
    return ServeConnection(fd, ro);
  }();
  ::close(fd);
  std::filesystem::remove_all(dir);
  if (!served.ok()) return Fail("receiver: " + served.error().Describe());
  std::fprintf(stderr, "replink-remus-baseline: receiver committed %llu epochs, %llu pages, %llu rejected\n",
               static_cast<unsigned long long>(served->epochs), static_cast<unsigned long long>(served->pages),
               static_cast<unsigned long long>(served->rejected));
  return 0;
}

double PercentileUs(const std::vector<uint64_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  std::size_t i = std::min(sorted.size() - 1, static_cast<std::size_t>(q * static_cast<double>(sorted.size())));
  return static_cast<double>(sorted[i]) / 1000.0;
}

int Main(int argc, char** argv) {
  Options o;
  CLI::App app{"Remus-style kernel-TCP baseline for the replink benchmark"};
  app.add_option("--transport", o.transport, "tcp | uring")->check(CLI::IsMember({"tcp", "uring"}));
  app.add_option("--mode", o.mode, "strict | pipelined")->check(CLI::IsMember({"strict", "pipelined"}));
  app.add_option("--inflight", o.inflight, "Pipelined: max epochs not yet acknowledged")->check(CLI::Range(1u, 4096u));
  app.add_option("--epochs", o.epochs, "Epochs to send")->check(CLI::Range(uint64_t{1}, uint64_t{1} << 40));
  app.add_option("--max-seconds", o.max_seconds, "Stop capturing after this long");
  app.add_option("--guest-mib", o.guest_mib, "Synthetic guest memory")->check(CLI::Range(1ull, 4096ull));
  app.add_option("--dirty-pages", o.dirty_pages, "Pages dirtied per epoch");
  app.add_option("--content", o.content, "incompressible | sparse | zero | text | mixed");
  app.add_option("--locality", o.locality, "random | sequential | hotset");
  app.add_option("--rate", o.rate, "I/O events per second (0 = as fast as acks allow)");
  app.add_option("--seed", o.seed, "Workload seed");
  app.add_option("--dir", o.dir, "Parent directory of the receiver's replica image");
  CLI11_PARSE(app, argc, argv);

  SyntheticGuestSpec spec;
  spec.name = "baseline";
  spec.guest_pages = o.guest_mib * 256;
  auto locality = ParseLocality(o.locality);
  auto content = ParseContentModel(o.content);
  if (!locality.ok()) return Fail(locality.error().Describe());
  if (!content.ok()) return Fail(content.error().Describe());
  spec.workload.locality = *locality;
  spec.workload.content = *content;
  spec.workload.dirty_pages_per_epoch = o.dirty_pages;
  spec.workload.epoch_rate = o.rate;
  spec.workload.seed = o.seed;
  GuestInfo info{spec.name, spec.guest_pages, spec.vcpu_count, 1, spec.disk_sectors, 0};
  replica::ReplicaGeometry geometry = GeometryFor(spec, info);

  int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (listener < 0 || ::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(listener, 1) != 0 || ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    return Fail("cannot listen on 127.0.0.1");
  std::string replica_dir = fmt::format("{}/replink-baseline-{}", o.dir, ::getpid());
  pid_t child = ::fork();
  if (child < 0) return Fail("fork failed");
  if (child == 0) {
    ::alarm(static_cast<unsigned>(o.max_seconds) + 120);  // never outlive a lost sender
    std::_Exit(RunReceiver(listener, geometry, replica_dir));
  }
  ::close(listener);
  auto reap = [&](bool kill_first) {
    if (kill_first) ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  };

  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    reap(true);
    return Fail("cannot connect to the receiver");
  }
  NoDelay(fd);
  Ack ready;
  if (auto r = ReadExact(fd, {reinterpret_cast<std::byte*>(&ready), sizeof(ready)}); !r.ok() || ready.epoch != 0) {
    reap(true);
    return Fail("receiver never became ready");
  }
  auto backend = SyntheticBackend::Create(spec);
  if (!backend.ok()) {
    reap(true);
    return Fail(backend.error().Describe());
  }
  GuestInfo described = backend->Describe();
  auto transport = o.transport == "tcp" ? MakeTcpTransport(fd, described) : MakeUringTransport(fd, described);
  if (!transport.ok()) {
    reap(true);
    return Fail(transport.error().Describe());
  }
  SenderOptions so{o.mode == "strict", o.inflight, o.epochs, o.max_seconds};
  auto result = RunSender(*backend, **transport, so);
  transport->reset();  // closes the socket: the receiver sees the end
  int receiver_status = reap(!result.ok());
  if (!result.ok()) return Fail(result.error().Describe());
  if (receiver_status != 0) return Fail(fmt::format("receiver exited with {}", receiver_status));

  std::vector<uint64_t> lat = result->commit_ns;
  std::sort(lat.begin(), lat.end());
  double secs = result->seconds;
  double page_bytes = static_cast<double>(result->pages) * kPageSize;
  fmt::print(
      "{{\"tool\":\"remus-baseline\",\"transport\":\"{}\",\"mode\":\"{}\",\"content\":\"{}\",\"dirty_pages\":{},"
      "\"rate\":{},\"epochs\":{},\"pages\":{},\"wire_bytes\":{},\"seconds\":{:.4f},\"pages_per_s\":{:.0f},"
      "\"payload_gbps\":{:.3f},\"wire_bytes_per_page\":{:.1f},\"commit_p50_us\":{:.1f},\"commit_p99_us\":{:.1f},"
      "\"commit_p999_us\":{:.1f},\"commit_max_us\":{:.1f},\"pause_mean_us\":{:.1f},\"pause_max_us\":{:.1f}}}\n",
      o.transport, o.mode, o.content, o.dirty_pages, o.rate, result->epochs, result->pages, result->wire_bytes, secs,
      secs > 0 ? static_cast<double>(result->pages) / secs : 0, secs > 0 ? page_bytes * 8 / secs / 1e9 : 0,
      result->pages ? static_cast<double>(result->wire_bytes) / static_cast<double>(result->pages) : 0,
      PercentileUs(lat, 0.50), PercentileUs(lat, 0.99), PercentileUs(lat, 0.999),
      lat.empty() ? 0 : static_cast<double>(lat.back()) / 1000.0,
      result->epochs ? static_cast<double>(result->pause_ns_total) / static_cast<double>(result->epochs) / 1000.0 : 0,
      static_cast<double>(result->pause_ns_max) / 1000.0);
  return 0;
}

}  // namespace
}  // namespace replink::bench::remus

int main(int argc, char** argv) { return replink::bench::remus::Main(argc, argv); }
