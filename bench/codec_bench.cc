// replink-codec-bench: per-codec encode/decode speed and size on typical page populations.
//
//   replink-codec-bench [--quick] [--json] [--pairs N] [--seconds S] [--no-process]
//
// For every data set (pairs of base = the peer's copy, page = the new content) and codec it reports
// encode pages/s, decode pages/s (over the pages that codec accepted), mean payload bytes per page
// (a refused page counts as kPageSize: it goes raw) and the share of pages the codec accepted.
// "encoder" is the whole PageEncoder with the busy-link plan (zero, xor-delta, lz4, raw) and a warm
// DeltaCache; "lz4-lib" and "zstd-1" call the libraries directly as references. Every decode is
// checked byte for byte once; a mismatch exits with status 1. Single-threaded: numbers are per
// core.
#include <fmt/format.h>
#include <lz4.h>
#include <unistd.h>
#include <zstd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bench/codec_bench_datasets.h"
#include "codec/page_codec.h"
#include "codec/page_decoder.h"
#include "codec/page_encoder.h"

namespace replink::codec::bench {
namespace {

struct Options {
  bool quick = false;
  bool json = false;
  bool process = true;
  std::size_t pairs = 4096;
  double seconds = 0.5;  // minimum measuring time per row and direction
};

struct Row {
  std::string dataset;
  std::string codec;
  std::size_t pages = 0;
  double encode_pages_per_s = 0;
  double decode_pages_per_s = 0;
  double mean_bytes = 0;
  double accepted = 0;  // share of pages the codec encoded (the rest would go raw)
  std::string mix;      // encoder row: which codec each page ended up with
};

// Keeps results observable so the compiler cannot drop the work being timed.
volatile uint64_t g_sink = 0;

// CPU time of this thread: on a shared machine other processes then slow the clock far less than
// wall time would (caches and memory bandwidth remain shared).
double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Runs `pass` (one pass over `per_pass` pages) until it has used `seconds` of CPU; returns pages
// per CPU-second. `untimed` runs before every pass, outside the measurement.
double PagesPerSecond(std::size_t per_pass, double seconds, const std::function<void()>& pass,
                      const std::function<void()>& untimed = {}) {
  if (per_pass == 0) return 0;
  std::size_t passes = 0;
  double used = 0;
  do {
    if (untimed) untimed();
    const double start = ThreadCpuSeconds();
    pass();
    used += ThreadCpuSeconds() - start;
    ++passes;
  } while (used < seconds);
  return static_cast<double>(per_pass * passes) / used;
}

// A codec under test: encode returns the payload length or nullopt (no gain); decode must rebuild.
struct Candidate {
  std::string name;
  std::function<std::optional<uint32_t>(std::size_t i, std::span<std::byte> out)> encode;
  std::function<bool(std::size_t i, std::span<const std::byte> payload, PageSpan out)> decode;
  std::function<void()> before_encode_pass;  // untimed set-up, e.g. restoring a cache
};

Row Measure(const PagePairs& set, const Candidate& c, const Options& opt) {
  Row row{set.name, c.name, set.size()};
  // One checked pass: sizes, acceptance, payloads kept for the decode timing.
  std::vector<std::byte> payloads(set.size() * kPageSize);
  std::vector<uint32_t> lengths(set.size(), 0);
  std::vector<std::size_t> accepted;
  double total_bytes = 0;
  if (c.before_encode_pass) c.before_encode_pass();
  for (std::size_t i = 0; i < set.size(); ++i) {
    auto out = std::span(payloads.data() + i * kPageSize, kPageSize);
    auto length = c.encode(i, out);
    total_bytes += length ? *length : kPageSize;
    if (!length) continue;
    lengths[i] = *length;
    accepted.push_back(i);
  }
  row.mean_bytes = set.size() ? total_bytes / static_cast<double>(set.size()) : 0;
  row.accepted =
      set.size() ? static_cast<double>(accepted.size()) / static_cast<double>(set.size()) : 0;

  std::vector<std::byte> scratch(kPageSize);
  row.encode_pages_per_s = PagesPerSecond(
      set.size(), opt.seconds,
      [&] {
        for (std::size_t i = 0; i < set.size(); ++i) {
          auto length = c.encode(i, scratch);
          g_sink = g_sink + (length ? *length : 0);
        }
      },
      c.before_encode_pass);

  std::vector<std::byte> decoded(kPageSize);
  const PageSpan out(decoded.data(), kPageSize);
  for (std::size_t i : accepted) {
    const bool ok = c.decode(i, std::span(payloads.data() + i * kPageSize, lengths[i]), out);
    if (!ok || std::memcmp(decoded.data(), set.page(i).data(), kPageSize) != 0) {
      fmt::print(stderr, "FATAL: {} on {}: page {} does not round-trip\n", c.name, set.name, i);
      std::exit(1);
    }
  }
  row.decode_pages_per_s = PagesPerSecond(accepted.size(), opt.seconds, [&] {
    for (std::size_t i : accepted) {
      c.decode(i, std::span(payloads.data() + i * kPageSize, lengths[i]), out);
      g_sink = g_sink + std::to_integer<uint64_t>(decoded[i % kPageSize]);
    }
  });
  return row;
}

std::vector<Candidate> TableCandidates(const PagePairs& set, CodecWorkspace& ws) {
  std::vector<Candidate> out;
  for (CodecId id : {CodecId::kZero, CodecId::kXorDelta, CodecId::kLz4, CodecId::kRaw}) {
    const CodecOps* ops = FindCodec(id);
    out.push_back(Candidate{
        ops->name,
        [&set, &ws, ops](std::size_t i, std::span<std::byte> o) -> std::optional<uint32_t> {
          auto r = ops->encode(set.page(i), set.base(i), o, ws);
          if (!r.ok()) return std::nullopt;
          return *r;
        },
        [&set, ops](std::size_t i, std::span<const std::byte> payload, PageSpan o) {
          return ops->decode(payload, set.base(i), o).ok();
        }});
  }
  return out;
}

Candidate LibraryLz4(const PagePairs& set) {
  return Candidate{"lz4-lib",
                   [&set](std::size_t i, std::span<std::byte> o) -> std::optional<uint32_t> {
                     const int n = LZ4_compress_default(
                         reinterpret_cast<const char*>(set.page(i).data()),
                         reinterpret_cast<char*>(o.data()), kPageSize, kPageSize - 1);
                     if (n <= 0) return std::nullopt;
                     return static_cast<uint32_t>(n);
                   },
                   [](std::size_t, std::span<const std::byte> payload, PageSpan o) {
                     return LZ4_decompress_safe(reinterpret_cast<const char*>(payload.data()),
                                                reinterpret_cast<char*>(o.data()),
                                                static_cast<int>(payload.size()),
                                                kPageSize) == static_cast<int>(kPageSize);
                   }};
}

struct ZstdContexts {
  ZSTD_CCtx* c = ZSTD_createCCtx();
  ZSTD_DCtx* d = ZSTD_createDCtx();
  ~ZstdContexts() {
    ZSTD_freeCCtx(c);
    ZSTD_freeDCtx(d);
  }
};

Candidate LibraryZstd(const PagePairs& set, ZstdContexts& z) {
  return Candidate{"zstd-1",
                   [&set, &z](std::size_t i, std::span<std::byte> o) -> std::optional<uint32_t> {
                     const std::size_t n = ZSTD_compressCCtx(z.c, o.data(), kPageSize - 1,
                                                             set.page(i).data(), kPageSize, -1);
                     if (ZSTD_isError(n)) return std::nullopt;
                     return static_cast<uint32_t>(n);
                   },
                   [&z](std::size_t, std::span<const std::byte> payload, PageSpan o) {
                     return ZSTD_decompressDCtx(z.d, o.data(), kPageSize, payload.data(),
                                                payload.size()) == kPageSize;
                   }};
}

// The whole sender path: the busy-link plan, cache lookups and stores included. Before every pass
// (untimed) the cache is reset to hold every base, as if the peer had them from the last epoch.
Row MeasureEncoder(const PagePairs& set, const Options& opt) {
  auto cache = DeltaCache::CreateWithPages(set.size());
  if (!cache.ok()) {
    fmt::print(stderr, "FATAL: {}\n", cache.error().Describe());
    std::exit(1);
  }
  PageEncoder encoder(std::move(cache).value());
  const CodecPlan plan = PlanForSetting(CodecSetting::kDelta, /*page_cached=*/true);
  uint64_t epoch = 1;
  std::vector<std::byte> scratch(kPageSize);
  std::vector<CodecId> first_pass;  // codec of each page in Measure's checked first pass
  first_pass.reserve(set.size());
  Candidate c{"encoder",
              [&](std::size_t i, std::span<std::byte> o) -> std::optional<uint32_t> {
                auto r = encoder.Encode(i, set.page(i), epoch, plan, o);
                if (!r.ok()) {
                  fmt::print(stderr, "FATAL: encoder: {}\n", r.error().Describe());
                  std::exit(1);
                }
                if (first_pass.size() < set.size()) first_pass.push_back(r->codec);
                return r->length;
              },
              [&](std::size_t i, std::span<const std::byte> payload, PageSpan o) {
                return DecodePage(first_pass[i], payload, set.base(i), o).ok();
              },
              [&] {
                for (std::size_t i = 0; i < set.size(); ++i)
                  (void)encoder.Encode(i, ConstPageSpan(set.base(i), kPageSize), epoch,
                                       CodecPlan{CodecId::kRaw}, scratch);
                epoch += 2;
              }};
  Row row = Measure(set, c, opt);
  std::array<std::size_t, kCodecCount> mix{};
  for (CodecId id : first_pass) ++mix[static_cast<std::size_t>(id)];
  for (std::size_t k = 0; k < kCodecCount; ++k) {
    const double share = 100.0 * static_cast<double>(mix[k]) / static_cast<double>(set.size());
    row.mix +=
        fmt::format("{}{} {:.0f}%", row.mix.empty() ? "" : ", ", CodecName(CodecId(k)), share);
  }
  return row;
}

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (static_cast<unsigned char>(ch) < 0x20) {
      out += fmt::format("\\u{:04x}", static_cast<unsigned>(ch));
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

std::string CpuModel() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line))
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown";
}

void PrintTable(const std::vector<PagePairs>& sets, const std::vector<Row>& rows,
                const Options& opt, const std::string& date) {
  fmt::print(
      "replink-codec-bench {} {} | cpu: {} | online cpus: {} | min {:.2f} s per measurement\n",
      date, opt.quick ? "(quick)" : "", CpuModel(), sysconf(_SC_NPROCESSORS_ONLN), opt.seconds);
  for (const PagePairs& s : sets)
    fmt::print("  {:<15} {:>6} pairs: {}\n", s.name, s.size(), s.note);
  fmt::print("\n{:<15} {:<10} {:>13} {:>13} {:>11} {:>9}  {}\n", "dataset", "codec", "enc pages/s",
             "dec pages/s", "bytes/page", "accepted", "encoder mix");
  for (const Row& r : rows)
    fmt::print("{:<15} {:<10} {:>13.0f} {:>13.0f} {:>11.1f} {:>8.1f}%  {}\n", r.dataset, r.codec,
               r.encode_pages_per_s, r.decode_pages_per_s, r.mean_bytes, 100 * r.accepted, r.mix);
}

void PrintJson(const std::vector<PagePairs>& sets, const std::vector<Row>& rows, const Options& opt,
               const std::string& date) {
  fmt::print("{{\n  \"tool\": \"replink-codec-bench\",\n  \"date\": {},\n  \"quick\": {},\n",
             JsonString(date), opt.quick);
  fmt::print("  \"cpu\": {},\n  \"online_cpus\": {},\n  \"min_seconds\": {},\n",
             JsonString(CpuModel()), sysconf(_SC_NPROCESSORS_ONLN), opt.seconds);
  fmt::print("  \"datasets\": [\n");
  for (std::size_t i = 0; i < sets.size(); ++i)
    fmt::print("    {{\"name\": {}, \"pairs\": {}, \"note\": {}}}{}\n", JsonString(sets[i].name),
               sets[i].size(), JsonString(sets[i].note), i + 1 < sets.size() ? "," : "");
  fmt::print("  ],\n  \"rows\": [\n");
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    fmt::print(
        "    {{\"dataset\": {}, \"codec\": {}, \"pages\": {}, \"encode_pages_per_s\": {:.1f}, "
        "\"decode_pages_per_s\": {:.1f}, \"mean_bytes\": {:.2f}, \"accepted\": {:.4f}, "
        "\"mix\": {}}}{}\n",
        JsonString(r.dataset), JsonString(r.codec), r.pages, r.encode_pages_per_s,
        r.decode_pages_per_s, r.mean_bytes, r.accepted, JsonString(r.mix),
        i + 1 < rows.size() ? "," : "");
  }
  fmt::print("  ]\n}}\n");
}

int Usage(const char* argv0, int status) {
  fmt::print(status ? stderr : stdout,
             "usage: {} [--quick] [--json] [--pairs N] [--seconds S] [--no-process]\n"
             "  --quick       small sets, short measurements (< 5 s); for the build's smoke test\n"
             "  --json        machine-readable output on stdout\n"
             "  --pairs N     synthetic page pairs per data set (default 4096)\n"
             "  --seconds S   minimum time per measurement (default 0.5)\n"
             "  --no-process  skip the real-process data set (python3 workload)\n",
             argv0);
  return status;
}

int Run(int argc, char** argv) {
  Options opt;
  std::optional<std::size_t> pairs;
  std::optional<double> seconds;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--quick") {
      opt.quick = true;
    } else if (a == "--json") {
      opt.json = true;
    } else if (a == "--no-process") {
      opt.process = false;
    } else if (a == "--pairs" && i + 1 < argc) {
      pairs = std::strtoull(argv[++i], nullptr, 10);
    } else if (a == "--seconds" && i + 1 < argc) {
      seconds = std::strtod(argv[++i], nullptr);
    } else if (a == "--help" || a == "-h") {
      return Usage(argv[0], 0);
    } else {
      fmt::print(stderr, "unknown argument: {}\n", a);
      return Usage(argv[0], 2);
    }
  }
  if (opt.quick) {
    opt.pairs = 256;
    opt.seconds = 0.01;
  }
  if (pairs) opt.pairs = *pairs;
  if (seconds) opt.seconds = *seconds;
  if (opt.pairs == 0 || !(opt.seconds >= 0)) return Usage(argv[0], 2);

  std::vector<PagePairs> sets;
  sets.push_back(IncompressiblePairs(opt.pairs, 1));
  sets.push_back(SparseDeltaPairs(opt.pairs, 2));
  sets.push_back(ZeroPairs(opt.pairs, 3));
  sets.push_back(TextPairs(opt.pairs, 4));
  if (opt.process) {
    using std::chrono::milliseconds;
    // The gap stands for the time between two checkpoints of a page: seconds for a slow epoch,
    // tens of milliseconds for Remus-style checkpointing.
    if (opt.quick) {
      sets.push_back(
          ProcessPairs("process", DefaultWorkload(), milliseconds(300), milliseconds(500), 512));
    } else {
      sets.push_back(ProcessPairs("process", DefaultWorkload(), milliseconds(1500),
                                  milliseconds(2000), 16384));
      sets.push_back(ProcessPairs("process-50ms", DefaultWorkload(), milliseconds(1500),
                                  milliseconds(50), 16384));
    }
  }

  std::vector<Row> rows;
  CodecWorkspace ws;
  ZstdContexts zstd;
  for (const PagePairs& set : sets) {
    if (set.size() == 0) continue;
    for (const Candidate& c : TableCandidates(set, ws)) rows.push_back(Measure(set, c, opt));
    rows.push_back(MeasureEncoder(set, opt));
    rows.push_back(Measure(set, LibraryLz4(set), opt));
    rows.push_back(Measure(set, LibraryZstd(set, zstd), opt));
  }

  char date[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
  if (opt.json)
    PrintJson(sets, rows, opt, date);
  else
    PrintTable(sets, rows, opt, date);
  return 0;
}

}  // namespace
}  // namespace replink::codec::bench

int main(int argc, char** argv) { return replink::codec::bench::Run(argc, argv); }
