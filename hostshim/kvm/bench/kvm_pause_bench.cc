// replink-kvm-pause-bench: how long the guest is stopped per sync, strict vs pipelined, per dirty-set
// size. Runs the `churn` guest (each round dirties N pages and sends one output message = one epoch)
// under the capture loop, with a consumer thread that reads every record of the ring and completes
// each epoch as soon as it has read it (no codec, no network: the pause shown is the shim's own cost
// plus the ring hand-off; a real peer adds its link round trip and commit to strict mode only).
// Prints a table; asserts nothing. Exits 77 without /dev/kvm.
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

struct Row {
  std::string mode;
  uint64_t dirty = 0;
  double pages_per_epoch = 0;
  double mean_us = 0, p50_us = 0, p99_us = 0, max_us = 0, epochs_per_s = 0;
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
  CaptureLoop loop(*guest, ring, o);
  std::vector<uint64_t> pauses;
  uint64_t last_total = 0, pages_at_warm = 0;
  std::chrono::steady_clock::time_point warm;
  loop.on_epoch = [&](const CaptureStats& s) {
    uint64_t pause = s.pause_ns_total - last_total;
    last_total = s.pause_ns_total;
    if (s.epochs <= 2) {  // the first epoch copies all memory; the second still sees first touches
      warm = std::chrono::steady_clock::now();
      pages_at_warm = s.pages;
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
  fmt::print("{:>10} {:>9} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}\n", "mode", "dirty", "pages/ep", "mean us",
             "p50 us", "p99 us", "max us", "epochs/s");
  for (uint64_t dirty : sizes) {
    for (SyncMode mode : {SyncMode::kStrict, SyncMode::kPipelined}) {
      uint64_t n = dirty >= 4096 ? std::max<uint64_t>(epochs / 4, 5) : epochs;
      auto row = Measure(*image, mode, dirty, n, *log);
      if (!row.ok()) return fmt::print(stderr, "{}\n", row.error().Describe()), 1;
      fmt::print("{:>10} {:>9} {:>10.1f} {:>10.1f} {:>10.1f} {:>10.1f} {:>10.1f} {:>10.0f}\n", row->mode, row->dirty,
                 row->pages_per_epoch, row->mean_us, row->p50_us, row->p99_us, row->max_us, row->epochs_per_s);
    }
  }
  return 0;
}
