// replink-corpus-bench: bytes on the wire per dirty page and encoder pages per CPU-second for
// replink's codec chain against LZ4 alone and zstd -1 alone, on page deltas read from real programs'
// memory at two moments (codec_bench_datasets.h's ProcessPairs: /proc/PID/mem, program stopped while
// read). Each --workload NAME=ARGV (ARGV split on spaces) adds one corpus; "python" is the codec
// bench's CPython workload. A refused page counts 4096 bytes (it goes raw). Prints one JSON line
// per (corpus, codec), the "all" corpus being their union.
//
//   replink-corpus-bench --workload python --workload 'sqlite=sqlite3 :memory: .read /tmp/w.sql'
#include <time.h>

#include <CLI/CLI.hpp>
#include <lz4.h>
#include <zstd.h>

#include <cstring>
#include <functional>
#include <optional>
#include <sstream>

#include "bench/codec_bench_datasets.h"
#include "codec/codec_policy.h"
#include "codec/page_encoder.h"

namespace replink::codec::bench {
namespace {

volatile uint64_t g_sink = 0;

double CpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct Coder {
  std::string name;
  std::function<uint32_t(std::size_t i, std::span<std::byte> out)> encode;  // bytes on the wire
  std::function<void()> before_pass;
};

void Report(const PagePairs& set, const Coder& c, double seconds) {
  std::vector<std::byte> out(kPageSize);
  if (c.before_pass) c.before_pass();
  double bytes = 0;
  for (std::size_t i = 0; i < set.size(); ++i) bytes += c.encode(i, out);
  double used = 0;
  std::size_t passes = 0;
  do {
    if (c.before_pass) c.before_pass();
    double t0 = CpuSeconds();
    for (std::size_t i = 0; i < set.size(); ++i) g_sink = g_sink + c.encode(i, out);
    used += CpuSeconds() - t0;
    ++passes;
  } while (used < seconds);
  double n = static_cast<double>(set.size());
  fmt::print("{{\"tool\":\"corpus\",\"corpus\":\"{}\",\"codec\":\"{}\",\"pages\":{},\"bytes_per_page\":{:.1f},"
             "\"wire_ratio\":{:.4f},\"encode_pages_per_cpu_s\":{:.0f},\"note\":\"{}\"}}\n",
             set.name, c.name, set.size(), bytes / n, bytes / n / kPageSize, n * passes / used, set.note);
  std::fflush(stdout);
}

void RunCorpus(const PagePairs& set, double seconds) {
  if (set.size() == 0) {
    fmt::print("{{\"tool\":\"corpus\",\"corpus\":\"{}\",\"codec\":\"none\",\"pages\":0,\"note\":\"{}\"}}\n",
               set.name, set.note);
    return;
  }
  auto cache = DeltaCache::CreateWithPages(set.size());
  if (!cache.ok()) {
    fmt::print(stderr, "FATAL: {}\n", cache.error().Describe());
    std::exit(1);
  }
  PageEncoder encoder(std::move(cache).value());
  const CodecPlan plan = PlanForSetting(CodecSetting::kDelta, /*page_cached=*/true);
  uint64_t epoch = 1;
  std::vector<std::byte> scratch(kPageSize);
  // The peer holds every base (the previous moment): restore that before each pass, untimed.
  Coder chain{"replink-chain",
              [&](std::size_t i, std::span<std::byte> out) -> uint32_t {
                auto r = encoder.Encode(i, set.page(i), epoch + 1, plan, out);
                return r.ok() ? r->length : static_cast<uint32_t>(kPageSize);
              },
              [&] {
                epoch += 2;
                for (std::size_t i = 0; i < set.size(); ++i)
                  (void)encoder.Encode(i, ConstPageSpan(set.base(i), kPageSize), epoch, CodecPlan{CodecId::kRaw},
                                       scratch);
              }};
  Coder lz4{"lz4", [&](std::size_t i, std::span<std::byte> out) -> uint32_t {
              int n = LZ4_compress_default(reinterpret_cast<const char*>(set.page(i).data()),
                                           reinterpret_cast<char*>(out.data()), kPageSize, kPageSize - 1);
              return n > 0 ? static_cast<uint32_t>(n) : static_cast<uint32_t>(kPageSize);
            }};
  ZSTD_CCtx* z = ZSTD_createCCtx();
  Coder zstd{"zstd-1", [&](std::size_t i, std::span<std::byte> out) -> uint32_t {
               std::size_t n = ZSTD_compressCCtx(z, out.data(), kPageSize - 1, set.page(i).data(), kPageSize, -1);
               return ZSTD_isError(n) ? static_cast<uint32_t>(kPageSize) : static_cast<uint32_t>(n);
             }};
  Coder raw{"raw", [&](std::size_t i, std::span<std::byte> out) -> uint32_t {
              std::memcpy(out.data(), set.page(i).data(), kPageSize);
              return kPageSize;
            }};
  for (const Coder* c : {&chain, &lz4, &zstd, &raw}) Report(set, *c, seconds);
  ZSTD_freeCCtx(z);
}

std::vector<std::string> Split(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

}  // namespace
}  // namespace replink::codec::bench

int main(int argc, char** argv) {
  using namespace replink::codec::bench;
  std::vector<std::string> workloads;
  double seconds = 0.3;
  int warmup_ms = 1000, gap_ms = 50;
  std::size_t max_pairs = 4096;
  CLI::App app{"Real page-delta corpus: replink codec chain vs LZ4 vs zstd -1"};
  app.add_option("--workload", workloads, "NAME=ARGV (split on spaces) or 'python'")->required();
  app.add_option("--seconds", seconds, "Minimum CPU time per measurement");
  app.add_option("--warmup-ms", warmup_ms, "Time a program runs before its first read");
  app.add_option("--gap-ms", gap_ms, "Time between the two reads");
  app.add_option("--max-pairs", max_pairs, "Changed pages kept per program");
  CLI11_PARSE(app, argc, argv);
  PagePairs all{"all", "union of the corpora", {}, {}};
  for (const std::string& w : workloads) {
    std::string name = w, cmd;
    if (auto eq = w.find('='); eq != std::string::npos) {
      name = w.substr(0, eq);
      cmd = w.substr(eq + 1);
    }
    std::vector<std::string> argv_w = cmd.empty() && name == "python" ? DefaultWorkload() : Split(cmd);
    if (argv_w.empty()) {
      fmt::print(stderr, "--workload {}: no command\n", w);
      return 2;
    }
    PagePairs set = ProcessPairs(name, argv_w, std::chrono::milliseconds(warmup_ms),
                                 std::chrono::milliseconds(gap_ms), max_pairs);
    RunCorpus(set, seconds);
    for (std::size_t i = 0; i < set.size(); ++i)
      all.Add({set.base(i), replink::kPageSize}, set.page(i));
  }
  if (workloads.size() > 1) RunCorpus(all, seconds);
  return 0;
}
