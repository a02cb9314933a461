// replink-ledger-check: verifies the ledger guest's state in a committed replica, as found at failover:
// the sum of balances is invariant and the disk log replays to the balances in memory. Prints the
// last applied transaction so the failover harness can compare it with the receipts the outside saw.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "guests/ledger_format.h"
#include "replica/replica_image.h"

int main(int argc, char** argv) {
  using namespace replink;
  std::string dir;
  CLI::App app{"replink-ledger-check: ledger invariant and log replay on a replica"};
  app.add_option("--replica", dir, "Replica directory (closed cleanly, e.g. promoted)")->required();
  CLI11_PARSE(app, argc, argv);
  auto image = replica::ReplicaImage::Open(dir);
  if (!image.ok()) {
    fmt::print("ledger-check: FAIL {}\n", image.error().Describe());
    return 1;
  }
  auto memory = image->guest_memory();
  if (memory.size() < LEDGER_STATE_GPA + sizeof(ledger_state)) {
    fmt::print("ledger-check: FAIL guest too small\n");
    return 1;
  }
  const auto* s = reinterpret_cast<const ledger_state*>(memory.data() + LEDGER_STATE_GPA);
  if (s->magic != LEDGER_STATE_MAGIC || s->accounts < 2 || s->accounts > LEDGER_MAX_ACCOUNTS ||
      LEDGER_STATE_GPA + sizeof(ledger_state) + s->accounts * sizeof(int64_t) > memory.size()) {
    fmt::print("ledger-check: FAIL no ledger state in the replica (magic {:#x})\n", s->magic);
    return 1;
  }
  int64_t total = 0;
  for (uint64_t i = 0; i < s->accounts; ++i) total += s->balance[i];
  int64_t expected = static_cast<int64_t>(s->accounts * s->initial);
  // The disk log: record seq at byte 32 * (seq - 1).
  int fd = open(image->DiskPath(0).c_str(), O_RDONLY | O_CLOEXEC);
  struct stat st {};
  if (fd < 0 || fstat(fd, &st) != 0) {
    fmt::print("ledger-check: FAIL cannot open {}\n", image->DiskPath(0));
    return 1;
  }
  std::vector<std::byte> disk(static_cast<std::size_t>(st.st_size));
  ssize_t got = pread(fd, disk.data(), disk.size(), 0);
  close(fd);
  std::vector<int64_t> replayed(s->accounts, static_cast<int64_t>(s->initial));
  std::string replay_error;
  for (uint64_t seq = 1; seq <= s->applied_seq && replay_error.empty(); ++seq) {
    ledger_record r;
    if (got < 0 || seq * sizeof r > static_cast<uint64_t>(got)) {
      replay_error = fmt::format("log ends before record {}", seq);
      break;
    }
    std::memcpy(&r, disk.data() + (seq - 1) * sizeof r, sizeof r);
    if (r.magic != LEDGER_RECORD_MAGIC || r.seq != seq || r.from >= s->accounts || r.to >= s->accounts ||
        r.check != ledger_record_check(r.seq, r.from, r.to, r.amount)) {
      replay_error = fmt::format("log record {} is not valid", seq);
      break;
    }
    replayed[r.from] -= r.amount;
    replayed[r.to] += r.amount;
  }
  uint64_t mismatched = 0;
  for (uint64_t i = 0; i < s->accounts && replay_error.empty(); ++i) mismatched += replayed[i] != s->balance[i];
  bool ok = total == expected && replay_error.empty() && mismatched == 0;
  fmt::print("ledger-check: {} epoch {} applied_seq {} logged_seq {} total {} (expected {}){}{}\n",
             ok ? "OK" : "FAIL", image->committed_epoch(), s->applied_seq, s->logged_seq, total, expected,
             replay_error.empty() ? "" : "; " + replay_error,
             mismatched ? fmt::format("; {} accounts differ from the replayed log", mismatched) : "");
  return ok ? 0 : 2;
}
