#include "bench/codec_bench_datasets.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string_view>
#include <thread>

extern char** environ;

namespace replink::codec::bench {
namespace {

using Rng = std::mt19937_64;

void FillRandom(std::span<std::byte> out, Rng& rng) {
  for (std::size_t i = 0; i < out.size(); i += 8) {
    const uint64_t v = rng();
    for (std::size_t k = 0; k < 8 && i + k < out.size(); ++k) out[i + k] = std::byte(v >> (8 * k));
  }
}

// Like a heap of small structs: zeros, small integers, pointers, some random words.
void FillStructs(std::span<std::byte> out, Rng& rng) {
  for (std::size_t i = 0; i + 8 <= out.size(); i += 8) {
    uint64_t v = 0;
    switch (rng() % 4) {
      case 0: v = 0; break;
      case 1: v = rng() % 1000; break;
      case 2: v = 0x00007f0000000000ull | (rng() & 0xFFFFFFF8ull); break;
      default: v = rng(); break;
    }
    std::memcpy(out.data() + i, &v, 8);
  }
}

void FillText(std::span<std::byte> out, Rng& rng) {
  static constexpr std::string_view kWords[] = {"the ",        "replica ",
                                                "epoch ",      "commit ",
                                                "of ",         "page ",
                                                "guest ",      "and ",
                                                "a ",          "link ",
                                                "checkpoint ", "to ",
                                                "in ",         "dirty ",
                                                "memory ",     "vcpu ",
                                                "\n",          "state, ",
                                                "is ",         "sent. ",
                                                "request ",    "GET /index.html ",
                                                "200 ",        "user=",
                                                "id=",         "2026-11-24 ",
                                                "INFO ",       "WARN "};
  std::size_t i = 0;
  while (i < out.size()) {
    std::string_view w = kWords[rng() % std::size(kWords)];
    for (char c : w) {
      if (i == out.size()) break;
      out[i++] = std::byte(c);
    }
    if (rng() % 8 == 0 && i + 4 <= out.size()) {  // numbers make text less repetitive
      const auto n = fmt::format("{} ", rng() % 100000);
      for (char c : n) {
        if (i == out.size()) break;
        out[i++] = std::byte(c);
      }
    }
  }
}

template <typename MakePair>
PagePairs Generate(std::string name, std::string note, std::size_t count, MakePair make) {
  PagePairs set{std::move(name), std::move(note), {}, {}};
  set.bases.resize(count * kPageSize);
  set.pages.resize(count * kPageSize);
  for (std::size_t i = 0; i < count; ++i)
    make(std::span(set.bases.data() + i * kPageSize, kPageSize),
         std::span(set.pages.data() + i * kPageSize, kPageSize));
  return set;
}

struct Range {
  uint64_t start;
  uint64_t end;
};

// Writable, private, anonymous (inode 0) mappings, including [heap]; not the stack or kernel pages.
std::vector<Range> WritableAnonymousMappings(pid_t pid) {
  std::vector<Range> out;
  std::ifstream maps(fmt::format("/proc/{}/maps", pid));
  std::string line;
  while (std::getline(maps, line)) {
    std::istringstream fields(line);
    std::string range, perms, offset, dev, inode, path;
    fields >> range >> perms >> offset >> dev >> inode;
    std::getline(fields >> std::ws, path);
    if (perms.size() < 4 || perms[0] != 'r' || perms[1] != 'w' || perms[3] != 'p') continue;
    if (inode != "0" || (!path.empty() && path != "[heap]")) continue;
    const auto dash = range.find('-');
    if (dash == std::string::npos) continue;
    out.push_back({std::stoull(range.substr(0, dash), nullptr, 16),
                   std::stoull(range.substr(dash + 1), nullptr, 16)});
  }
  return out;
}

// Reads every readable page of `ranges` (up to `max_bytes`); addresses[i] is the page at i.
struct Snapshot {
  std::vector<uint64_t> addresses;
  std::vector<std::byte> bytes;
};

Snapshot ReadPages(int mem_fd, const std::vector<Range>& ranges, std::size_t max_bytes) {
  Snapshot snap;
  std::byte page[kPageSize];
  for (const Range& r : ranges) {
    for (uint64_t a = r.start; a < r.end && snap.bytes.size() < max_bytes; a += kPageSize) {
      if (pread(mem_fd, page, kPageSize, static_cast<off_t>(a)) != static_cast<ssize_t>(kPageSize))
        continue;
      snap.addresses.push_back(a);
      snap.bytes.insert(snap.bytes.end(), page, page + kPageSize);
    }
  }
  return snap;
}

// Stops the program (so a snapshot is consistent) for the lifetime of this object.
class Stopped {
 public:
  explicit Stopped(pid_t pid) : pid_(pid) {
    kill(pid_, SIGSTOP);
    int status = 0;
    waitpid(pid_, &status, WUNTRACED);
  }
  ~Stopped() { kill(pid_, SIGCONT); }
  Stopped(const Stopped&) = delete;
  Stopped& operator=(const Stopped&) = delete;

 private:
  pid_t pid_;
};

}  // namespace

void PagePairs::Add(std::span<const std::byte> base, std::span<const std::byte> page) {
  bases.insert(bases.end(), base.begin(), base.end());
  pages.insert(pages.end(), page.begin(), page.end());
}

PagePairs IncompressiblePairs(std::size_t count, uint64_t seed) {
  Rng rng(seed);
  return Generate("incompressible", "random bytes, base and page independent", count,
                  [&](std::span<std::byte> base, std::span<std::byte> page) {
                    FillRandom(base, rng);
                    FillRandom(page, rng);
                  });
}

PagePairs SparseDeltaPairs(std::size_t count, uint64_t seed) {
  Rng rng(seed);
  return Generate("sparse-delta", "struct-like page, 1-8 aligned 8-byte words changed", count,
                  [&](std::span<std::byte> base, std::span<std::byte> page) {
                    FillStructs(base, rng);
                    std::memcpy(page.data(), base.data(), kPageSize);
                    const std::size_t words = 1 + rng() % 8;
                    for (std::size_t w = 0; w < words; ++w) {
                      const uint64_t v = rng();
                      std::memcpy(page.data() + (rng() % (kPageSize / 8)) * 8, &v, 8);
                    }
                  });
}

PagePairs ZeroPairs(std::size_t count, uint64_t seed) {
  Rng rng(seed);
  return Generate("zero", "page zeroed (base: struct-like content)", count,
                  [&](std::span<std::byte> base, std::span<std::byte> page) {
                    FillStructs(base, rng);
                    std::memset(page.data(), 0, kPageSize);
                  });
}

PagePairs TextPairs(std::size_t count, uint64_t seed) {
  Rng rng(seed);
  return Generate("text", "English-like text and log lines, page rewritten", count,
                  [&](std::span<std::byte> base, std::span<std::byte> page) {
                    FillText(base, rng);
                    FillText(page, rng);
                  });
}

std::vector<std::string> DefaultWorkload() {
  // Dicts of strings rewritten in place, a list of small lists appended and trimmed: allocator
  // churn plus reference-count and pointer updates, like an interpreter-heavy guest service.
  return {"python3", "-c",
          "d = {}\n"
          "keep = []\n"
          "i = 0\n"
          "while True:\n"
          "    d[i % 40000] = ('item-%d ' % i) * (1 + i % 7)\n"
          "    if i % 3 == 0:\n"
          "        keep.append([i, str(i), float(i)])\n"
          "        if len(keep) > 60000:\n"
          "            del keep[:30000]\n"
          "    i += 1\n"};
}

PagePairs ProcessPairs(std::string name, const std::vector<std::string>& argv,
                       std::chrono::milliseconds warmup, std::chrono::milliseconds gap,
                       std::size_t max_pairs) {
  PagePairs set{std::move(name), "", {}, {}};
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  if (int err = posix_spawnp(&pid, args[0], nullptr, nullptr, args.data(), environ); err != 0) {
    set.note = fmt::format("skipped: cannot start {}: {}", argv[0], std::strerror(err));
    return set;
  }
  auto finish = [&](std::string note) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    set.note = std::move(note);
    return std::move(set);
  };
  std::this_thread::sleep_for(warmup);
  if (waitpid(pid, nullptr, WNOHANG) == pid) {
    set.note = fmt::format("skipped: {} exited during warm-up", argv[0]);
    return set;
  }
  const int mem_fd = open(fmt::format("/proc/{}/mem", pid).c_str(), O_RDONLY | O_CLOEXEC);
  if (mem_fd < 0)
    return finish(fmt::format("skipped: open /proc/{}/mem: {}", pid, std::strerror(errno)));

  const std::size_t max_bytes = std::size_t{512} << 20;
  Snapshot before;
  Snapshot after;
  std::size_t mapped_pages = 0;
  {
    Stopped stopped(pid);
    const std::vector<Range> ranges = WritableAnonymousMappings(pid);
    for (const Range& r : ranges) mapped_pages += (r.end - r.start) / kPageSize;
    before = ReadPages(mem_fd, ranges, max_bytes);
  }
  std::this_thread::sleep_for(gap);
  {
    Stopped stopped(pid);
    std::vector<Range> same;  // re-read exactly the pages read before
    for (uint64_t a : before.addresses) same.push_back({a, a + kPageSize});
    after = ReadPages(mem_fd, same, max_bytes);
  }
  close(mem_fd);

  std::size_t changed = 0;
  std::size_t j = 0;
  for (std::size_t i = 0; i < before.addresses.size(); ++i) {
    while (j < after.addresses.size() && after.addresses[j] < before.addresses[i]) ++j;
    if (j == after.addresses.size() || after.addresses[j] != before.addresses[i]) continue;
    const std::byte* old_page = before.bytes.data() + i * kPageSize;
    const std::byte* new_page = after.bytes.data() + j * kPageSize;
    if (std::memcmp(old_page, new_page, kPageSize) == 0) continue;
    if (++changed > max_pairs) continue;
    set.Add(std::span(old_page, kPageSize), std::span(new_page, kPageSize));
  }
  return finish(fmt::format("{} pages mapped rw/anon, {} read, {} changed in {} ms (kept {})",
                            mapped_pages, before.addresses.size(), changed, gap.count(),
                            set.size()));
}

}  // namespace replink::codec::bench
