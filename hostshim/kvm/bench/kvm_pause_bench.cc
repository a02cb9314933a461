// replink-kvm-pause-bench: how long the guest is stopped per sync, strict vs pipelined, per dirty-set
// size. Runs the `churn` guest (each round dirties N pages and sends one output message = one epoch)
// under the capture loop, with a consumer thread that reads every record of the ring and completes
// each epoch as soon as it has read it (no codec, no network: the pause shown is the shim's own cost
// plus the ring hand-off; a real peer adds its link round trip and commit to strict mode only).
// Prints a table (with the mean time of the shim's steps: collect = dirty log read and re-arm, copy =
// pages into the ring, vcpu = the vCPU state blob); asserts nothing. Exits 77 without /dev/kvm.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "capture/capture_ring_reader.h"
#include "hostshim/capture_loop.h"
#include "hostshim/kvm/guest_boot.h"
#include "hostshim/kvm/kvm_backend.h"
#include "hostshim/kvm/kvm_shim.h"

namespace {

using namespace replink;
using namespace replink::kvm;

uint64_t NowNs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

// Forwards to the KVM backend and times the steps of a sync, for the breakdown columns.
class TimedBackend final : public GuestBackend {
 public:
  explicit TimedBackend(GuestBackend& inner) : inner_(inner) {}
  const char* name() const override { return inner_.name(); }
  GuestInfo Describe() const override { return inner_.Describe(); }
  Result<void> StartDirtyTracking() override { return inner_.StartDirtyTracking(); }
  Result<std::optional<IoEvent>> WaitIoEvent(uint64_t t) override { return inner_.WaitIoEvent(t); }
  Result<void> Pause() override { return inner_.Pause(); }
  Result<void> Resume() override { return inner_.Resume(); }
  Result<void> CollectDirty(DirtyBitmap& d) override { return Timed(collect_ns, [&] { return inner_.CollectDirty(d); }); }
  Result<void> CopyPages(std::span<const uint64_t> g, std::span<std::byte* const> d, std::vector<uint64_t>* x) override {
    return Timed(copy_ns, [&] { return inner_.CopyPages(g, d, x); });
  }
  Result<std::size_t> ReadVcpuState(uint32_t i, std::span<std::byte> o) override {
    uint64_t t = NowNs();
    auto r = inner_.ReadVcpuState(i, o);
    state_ns += NowNs() - t;
    return r;
  }
  Result<std::size_t> ReadDeviceState(uint32_t i, std::span<std::byte> o) override { return inner_.ReadDeviceState(i, o); }
  Result<void> ReleaseIo(const IoEvent& e) override { return inner_.ReleaseIo(e); }
  Result<void> ReadDisk(uint16_t d, uint64_t s, std::span<std::byte> o) override { return inner_.ReadDisk(d, s, o); }
  uint64_t collect_ns = 0, copy_ns = 0, state_ns = 0;

 private:
  template <typename F>
  Result<void> Timed(uint64_t& acc, F f) {
    uint64_t t = NowNs();
    auto r = f();
    acc += NowNs() - t;
    return r;
  }
  GuestBackend& inner_;
};

struct Row {
  std::string mode;
  uint64_t dirty = 0;
  double pages_per_epoch = 0;
  double mean_us = 0, p50_us = 0, p99_us = 0, max_us = 0, epochs_per_s = 0;
  double collect_us = 0, copy_us = 0, state_us = 0;  // per measured epoch
};

double Percentile(std::vector<uint64_t> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return double(v[std::min(v.size() - 1, static_cast<std::size_t>(p * double(v.size())))]) / 1000.0;
}

Result<Row> Measure(const std::vector<std::byte>& image, SyncMode mode, uint64_t dirty, uint64_t epochs,
                    DirtyLogMode log) {
  KvmGuestSpec spec;
  spec.memory_bytes = 64u << 20;
  spec.disk_sectors = 2048;
  spec.dirty_log = log;
  spec.output_fd = spec.console_fd = -1;
  rg_boot_params p{};
  p.args[0] = std::max<uint64_t>(2 * dirty, 256);  // working set
  p.args[1] = dirty;                               // pages per round = per epoch
  REPLINK_ASSIGN_OR_RETURN(std::unique_ptr<KvmBackend> guest, KvmBackend::Boot(spec, image, p));
  GuestInfo info = guest->Describe();
  CaptureRingParams rp;
  rp.vm_id = 1;
  rp.vm_name = "bench";
  rp.guest_pages = info.guest_pages;
  rp.vcpu_count = 1;
  rp.disk_count = 1;
  rp.disk_sectors = info.disk_sectors;
  rp.device_count = info.device_blobs;
  rp.slot_count = 32768;
  rp.prefer_hugetlb = false;
  REPLINK_ASSIGN_OR_RETURN(CaptureRingWriter ring, CaptureRingWriter::Create(rp));
  REPLINK_ASSIGN_OR_RETURN(SharedRegion region, SharedRegion::Attach(dup(ring.region().fd())));
  REPLINK_ASSIGN_OR_RETURN(CaptureRingReader reader, CaptureRingReader::Attach(std::move(region)));
  std::atomic<bool> stop{false};
  std::string consumer_error;
  std::thread consumer([&] {
    std::vector<CaptureRecord> batch(256);
    std::vector<std::byte> content(1u << 20);
    volatile uint64_t sink = 0;
    while (!stop.load()) {
      auto n = reader.Poll(batch);
      if (!n.ok()) {
        consumer_error = n.error().Describe();
        return;
      }
      for (std::size_t i = 0; i < *n; ++i) {
        const CaptureRecord& r = batch[i];
        if (r.type == RecordType::kPage) sink = sink + uint64_t(reader.Slot(r.slot_cursor)[8]);
        if (r.type == RecordType::kVcpuState || r.type == RecordType::kDeviceState || r.type == RecordType::kDiskWrite)
          reader.CopyContent(r, {content.data(), r.length});
        if (r.type == RecordType::kEpochEnd) (void)reader.Complete(r.epoch, capture_abi::CompletionStatus::kCommitted);
      }
      if (*n > 0) reader.ReleaseSlotsThrough(reader.slots_consumed());
      else std::this_thread::yield();
    }
  });
  CaptureLoopOptions o;
  o.mode = mode;
  TimedBackend timed(*guest);
  CaptureLoop loop(timed, ring, o);
  std::vector<uint64_t> pauses;
  uint64_t last_total = 0, pages_at_warm = 0;
  std::chrono::steady_clock::time_point warm;
  loop.on_epoch = [&](const CaptureStats& s) {
    uint64_t pause = s.pause_ns_total - last_total;
    last_total = s.pause_ns_total;
    if (s.epochs <= 2) {  // the first epoch copies all memory; the second still sees first touches
      warm = std::chrono::steady_clock::now();
      pages_at_warm = s.pages;
      timed.collect_ns = timed.copy_ns = timed.state_ns = 0;
      return;
    }
    pauses.push_back(pause);
  };
  auto run = loop.Run(epochs + 2, nullptr);
  stop.store(true);
  consumer.join();
  REPLINK_TRY(run);
  if (!consumer_error.empty()) return MakeError(Errc::kCorrupt, "consumer: {}", consumer_error);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - warm).count();
  Row row;
  row.mode = mode == SyncMode::kStrict ? "strict" : "pipelined";
  row.dirty = dirty;
  row.pages_per_epoch = double(loop.stats().pages - pages_at_warm) / double(pauses.size());
  uint64_t sum = 0;
  for (uint64_t v : pauses) sum += v;
  row.mean_us = double(sum) / double(pauses.size()) / 1000.0;
  row.p50_us = Percentile(pauses, 0.5);
  row.p99_us = Percentile(pauses, 0.99);
  row.max_us = Percentile(pauses, 1.0);
  row.epochs_per_s = double(pauses.size()) / secs;
  row.collect_us = double(timed.collect_ns) / double(pauses.size()) / 1000.0;
  row.copy_us = double(timed.copy_ns) / double(pauses.size()) / 1000.0;
  row.state_us = double(timed.state_ns) / double(pauses.size()) / 1000.0;
  return row;
}

}  // namespace

int main(int argc, char** argv) {
  std::string why;
  if (!KvmAvailable(&why)) {
    fmt::print(stderr, "SKIP: {}\n", why);
    return 77;
  }
  bool quick = false;
  std::string log_name = "auto";
  uint64_t epochs = 300;
  std::vector<uint64_t> sizes = {1, 16, 64, 256, 1024, 4096};
  std::string guest = "churn";
  CLI::App app{"replink-kvm-pause-bench: guest pause per sync, strict vs pipelined, per dirty-set size"};
  app.add_flag("--quick", quick, "A few epochs of two sizes (keeps the program tested)");
  app.add_option("--dirty-log", log_name, "auto | ring | bitmap");
  app.add_option("--epochs", epochs, "Measured epochs per row");
  app.add_option("--sizes", sizes, "Pages dirtied per epoch")->delimiter(',');
  app.add_option("--guest", guest, "The churn guest binary");
  CLI11_PARSE(app, argc, argv);
  if (quick) {
    epochs = 10;
    sizes = {16, 256};
  }
  auto log = ParseDirtyLogMode(log_name);
  if (!log.ok()) return fmt::print(stderr, "{}\n", log.error().Describe()), 2;
  auto image = LoadGuestImage(ResolveGuestImage(guest));
  if (!image.ok()) return fmt::print(stderr, "{}\n", image.error().Describe()), 2;
  fmt::print("guest pause per sync (churn, 64 MiB guest, dirty log {}, {} epochs per row)\n", log_name, epochs);
  fmt::print("{:>10} {:>6} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}\n", "mode", "dirty", "pages/ep",
             "mean us", "p50 us", "p99 us", "max us", "collect", "copy", "vcpu", "epochs/s");
  for (uint64_t dirty : sizes) {
    for (SyncMode mode : {SyncMode::kStrict, SyncMode::kPipelined}) {
      uint64_t n = dirty >= 4096 ? std::max<uint64_t>(epochs / 4, 5) : epochs;
      auto row = Measure(*image, mode, dirty, n, *log);
      if (!row.ok()) return fmt::print(stderr, "{}\n", row.error().Describe()), 1;
      fmt::print("{:>10} {:>6} {:>8.1f} {:>9.1f} {:>9.1f} {:>9.1f} {:>9.1f} {:>9.1f} {:>9.1f} {:>9.1f} {:>9.0f}\n",
                 row->mode, row->dirty, row->pages_per_epoch, row->mean_us, row->p50_us, row->p99_us, row->max_us,
                 row->collect_us, row->copy_us, row->state_us, row->epochs_per_s);
    }
  }
  return 0;
}
