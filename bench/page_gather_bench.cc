// replink-page-gather-bench: the physical ceiling of capturing an epoch on one core — gathering
// scattered 4 KiB guest pages into a contiguous buffer with memcpy, as a shim copies a dirty set
// into its capture ring. Nothing in replink's pipeline can move pages faster than one core gathers
// them, so the benchmark reports replink's throughput as a share of this.
//
//   replink-page-gather-bench [--guest-mib 256] [--pages 256] [--seconds 1] [--locality random|hotset]
// Prints one JSON line. Both regions are prefaulted (first-touch faults would dominate otherwise).
#include <sys/mman.h>
#include <time.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstring>
#include <numeric>
#include <random>
#include <vector>

#include <fmt/format.h>

namespace {

constexpr std::size_t kPage = 4096;

double Now(clockid_t clock) {
  timespec ts;
  clock_gettime(clock, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

std::byte* MapPrefaulted(std::size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  return static_cast<std::byte*>(p);
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t guest_mib = 256;
  uint64_t ring_mib = 64;
  uint32_t pages = 256;
  double seconds = 1.0;
  std::string locality = "random";
  CLI::App app{"Single-core page-gather ceiling (memcpy of scattered 4 KiB pages)"};
  app.add_option("--guest-mib", guest_mib, "Source (guest) memory")->check(CLI::Range(1ull, 65536ull));
  app.add_option("--ring-mib", ring_mib, "Destination (capture ring) size")->check(CLI::Range(1ull, 65536ull));
  app.add_option("--pages", pages, "Pages per epoch (the dirty set)")->check(CLI::Range(1u, 1u << 22));
  app.add_option("--seconds", seconds, "Measuring time");
  app.add_option("--locality", locality, "random: any guest page; hotset: 5 % of the guest")
      ->check(CLI::IsMember({"random", "hotset"}));
  CLI11_PARSE(app, argc, argv);

  const std::size_t guest_pages = guest_mib * 256, ring_pages = ring_mib * 256;
  std::byte* guest = MapPrefaulted(guest_pages * kPage);
  std::byte* ring = MapPrefaulted(ring_pages * kPage);
  if (guest == nullptr || ring == nullptr) {
    fmt::print(stderr, "replink-page-gather-bench: cannot map {} + {} MiB\n", guest_mib, ring_mib);
    return 1;
  }
  std::mt19937_64 rng(7);
  for (std::size_t i = 0; i < guest_pages * kPage / 8; ++i) reinterpret_cast<uint64_t*>(guest)[i] = rng();
  const std::size_t span = locality == "hotset" ? std::max<std::size_t>(guest_pages / 20, pages) : guest_pages;
  // A sequence of epochs' dirty sets: distinct pages within an epoch, ascending (as a bitmap scan
  // yields them), drawn once up front so picking costs nothing in the loop.
  constexpr std::size_t kEpochs = 64;
  std::vector<uint64_t> gfns;
  gfns.reserve(kEpochs * pages);
  std::vector<uint64_t> all(span);
  std::iota(all.begin(), all.end(), 0);
  for (std::size_t e = 0; e < kEpochs; ++e) {
    std::shuffle(all.begin(), all.end(), rng);
    std::vector<uint64_t> set(all.begin(), all.begin() + std::min<std::size_t>(pages, span));
    std::sort(set.begin(), set.end());
    gfns.insert(gfns.end(), set.begin(), set.end());
  }
  const std::size_t per_epoch = std::min<std::size_t>(pages, span);

  uint64_t copied = 0, slot = 0;
  double wall0 = Now(CLOCK_MONOTONIC), cpu0 = Now(CLOCK_THREAD_CPUTIME_ID);
  double wall = 0;
  for (std::size_t e = 0;; e = (e + 1) % kEpochs) {
    const uint64_t* set = gfns.data() + e * per_epoch;
    for (std::size_t i = 0; i < per_epoch; ++i) {
      std::memcpy(ring + slot * kPage, guest + set[i] * kPage, kPage);
      slot = slot + 1 == ring_pages ? 0 : slot + 1;
    }
    copied += per_epoch;
    if (e % 8 == 0 && (wall = Now(CLOCK_MONOTONIC) - wall0) >= seconds) break;
  }
  double cpu = Now(CLOCK_THREAD_CPUTIME_ID) - cpu0;
  // Keep the copies observable so the compiler cannot drop them.
  volatile std::byte sink = ring[(slot ? slot - 1 : 0) * kPage];
  (void)sink;
  fmt::print(
      "{{\"tool\":\"page-gather\",\"pages_per_epoch\":{},\"guest_mib\":{},\"locality\":\"{}\",\"pages\":{},"
      "\"seconds\":{:.4f},\"cpu_seconds\":{:.4f},\"pages_per_s\":{:.0f},\"pages_per_cpu_s\":{:.0f},\"gbps\":{:.3f}}}\n",
      per_epoch, guest_mib, locality, copied, wall, cpu, copied / wall, cpu > 0 ? copied / cpu : 0,
      copied * kPage * 8 / wall / 1e9);
  munmap(guest, guest_pages * kPage);
  munmap(ring, ring_pages * kPage);
  return 0;
}
