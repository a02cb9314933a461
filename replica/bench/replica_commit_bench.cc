// Measures what an epoch costs on the secondary: staging (memcpy into the arena + EPOCH_END checks)
// and ReplicaStore::Commit, for 1, 64 and 1024 dirty pages, with and without a 4 KiB disk write, in
// both durability modes. Prints percentiles; asserts nothing (timing belongs here, not in tests).
//
//   replica_commit_bench [directory-parent (default /tmp)] [seconds per case (default 1.5)]
#include <stdlib.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "capture/epoch_checksum.h"
#include "replica/epoch_stager.h"
#include "replica/replica_store.h"

namespace replink::replica {
namespace {

using Clock = std::chrono::steady_clock;

constexpr uint64_t kGuestPages = 16384;  // 64 MiB guest
constexpr uint32_t kVcpuBlobBytes = 1024;

struct Case {
  Durability durability;
  uint32_t pages;
  bool disk_write;
};

struct Samples {
  std::vector<double> stage_us;
  std::vector<double> commit_us;
  std::array<double, kCommitStepCount> step_us{};  // summed time from the previous step to this one
  uint64_t checkpoints = 0;
};

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

ReplicaGeometry BenchGeometry() {
  ReplicaGeometry g;
  g.vm_id = 7;
  g.guest_pages = kGuestPages;
  g.vcpu_slots = 2;
  g.device_slots = 1;
  g.max_blob_bytes = 16 * 1024;
  g.disk_sectors = {1 << 16};  // 32 MiB
  return g;
}

// Stages one epoch of `pages` random distinct pages (+ a vCPU blob, + optionally a 4 KiB disk write).
Result<StagedEpoch> StageEpoch(EpochStager& stager, std::mt19937_64& rng, uint32_t pages, bool disk_write,
                               std::vector<std::byte>& scratch) {
  uint64_t epoch = stager.expected_epoch();
  REPLINK_TRY(stager.Begin(epoch, EpochTrigger::kDiskWrite));
  EpochChecksum sum;
  std::uniform_int_distribution<uint64_t> gfn_dist(0, kGuestPages - 1);
  std::vector<uint64_t> gfns;
  std::vector<bool> picked(kGuestPages);
  while (gfns.size() < pages) {
    uint64_t gfn = gfn_dist(rng);
    if (!picked[gfn]) gfns.push_back(gfn);
    picked[gfn] = true;
  }
  for (uint64_t gfn : gfns) {
    std::span<std::byte> page(scratch.data() + (gfn % 64) * kPageSize, kPageSize);
    page[0] = static_cast<std::byte>(epoch);  // content changes every epoch
    REPLINK_TRY(stager.StagePage(gfn, page));
    sum.AddPage(gfn, page);
  }
  std::span<const std::byte> blob(scratch.data(), kVcpuBlobBytes);
  REPLINK_TRY(stager.StageBlobFragment(RecordType::kVcpuState, 0, kVcpuBlobBytes, 0, blob));
  sum.AddBlob(RecordType::kVcpuState, 0, blob);
  if (disk_write) {
    uint64_t sector = (rng() % 8000) * 8;
    std::span<const std::byte> data(scratch.data() + kPageSize, 4096);
    REPLINK_TRY(stager.StageDiskWriteFragment(0, sector, 4096, 0, data));
    sum.AddDiskWrite(0, sector, data);
  }
  return stager.End(sum.records(), sum.value());
}

Result<Samples> RunCase(const std::string& parent, const Case& c, double seconds) {
  std::string dir = parent + "/replink-commit-bench-" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  ReplicaStoreConfig config;
  config.directory = dir;
  config.geometry = BenchGeometry();
  config.durability = c.durability;
  // The commit-step hook doubles as a cheap timer: where does a commit spend its time? (With a hook
  // installed the journal entry is written in two pwritev calls instead of one.)
  Samples samples;
  bool measuring = false;
  Clock::time_point last_step;
  config.crash_hook_for_testing = [&](CommitStep step) {
    auto now = Clock::now();
    if (measuring)
      samples.step_us[static_cast<std::size_t>(step)] +=
          std::chrono::duration<double, std::micro>(now - last_step).count();
    last_step = now;
  };
  REPLINK_ASSIGN_OR_RETURN(ReplicaStore store, ReplicaStore::Open(config));
  StagerConfig stager_config{config.geometry, 8u << 20, true};
  REPLINK_ASSIGN_OR_RETURN(EpochStager stager, EpochStager::Create(stager_config, store.committed_epoch()));
  std::mt19937_64 rng(42);
  std::vector<std::byte> scratch(64 * kPageSize);
  for (std::size_t i = 0; i < scratch.size(); ++i) scratch[i] = static_cast<std::byte>(rng());

  // Warm-up: write every guest page once so the measured epochs see an allocated, resident image
  // (steady state), not first-touch block allocation.
  for (uint64_t first = 0; first < kGuestPages; first += 1024) {
    REPLINK_TRY(stager.Begin(stager.expected_epoch(), EpochTrigger::kTimer));
    EpochChecksum sum;
    for (uint64_t gfn = first; gfn < first + 1024; ++gfn) {
      std::span<const std::byte> page(scratch.data() + (gfn % 64) * kPageSize, kPageSize);
      REPLINK_TRY(stager.StagePage(gfn, page));
      sum.AddPage(gfn, page);
    }
    REPLINK_ASSIGN_OR_RETURN(StagedEpoch warm, stager.End(sum.records(), sum.value()));
    REPLINK_TRY(store.Commit(warm));
    stager.MarkCommitted();
  }

  uint64_t checkpoints_before = store.counters().checkpoints;
  auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < deadline && samples.commit_us.size() < 20000) {
    auto t0 = Clock::now();
    REPLINK_ASSIGN_OR_RETURN(StagedEpoch staged, StageEpoch(stager, rng, c.pages, c.disk_write, scratch));
    auto t1 = Clock::now();
    measuring = true;
    last_step = t1;
    REPLINK_TRY(store.Commit(staged));
    measuring = false;
    auto t2 = Clock::now();
    stager.MarkCommitted();
    samples.stage_us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    samples.commit_us.push_back(std::chrono::duration<double, std::micro>(t2 - t1).count());
  }
  samples.checkpoints = store.counters().checkpoints - checkpoints_before;
  REPLINK_TRY(store.Close());
  std::filesystem::remove_all(dir);
  return samples;
}

int Main(int argc, char** argv) {
  std::string parent = argc > 1 ? argv[1] : "/tmp";
  double seconds = argc > 2 ? std::atof(argv[2]) : 1.5;
  std::printf("replica commit cost, guest %llu pages, +1 KiB vCPU blob per epoch, dir %s\n",
              static_cast<unsigned long long>(kGuestPages), parent.c_str());
  std::printf("%-10s %6s %5s %7s | %9s %9s | %9s %9s %9s %9s %9s | %10s\n", "mode", "pages", "disk", "epochs",
              "stage p50", "stage p99", "commit p50", "p90", "p99", "max", "mean", "pages/s");
  std::vector<std::pair<std::string, Samples>> breakdowns;
  for (Durability durability : {Durability::kPageCache, Durability::kDsync}) {
    for (uint32_t pages : {1u, 64u, 1024u}) {
      for (bool disk : {false, true}) {
        Result<Samples> s = RunCase(parent, Case{durability, pages, disk}, seconds);
        if (!s.ok()) {
          std::fprintf(stderr, "case failed: %s\n", s.error().Describe().c_str());
          return 1;
        }
        const std::vector<double>& commit = s->commit_us;
        double mean = 0;
        for (double v : commit) mean += v;
        mean /= static_cast<double>(commit.size());
        double p50 = Percentile(commit, 0.5);
        std::printf("%-10s %6u %5s %7zu | %7.1fus %7.1fus | %8.1fus %7.1fus %7.1fus %7.0fus %7.1fus | %10.0f\n",
                    DurabilityName(durability), pages, disk ? "4K" : "-", commit.size(),
                    Percentile(s->stage_us, 0.5), Percentile(s->stage_us, 0.99), p50,
                    Percentile(commit, 0.9), Percentile(commit, 0.99), Percentile(commit, 1.0), mean,
                    pages / (p50 / 1e6));
        breakdowns.emplace_back(fmt::format("{} {}p{}", DurabilityName(durability), pages, disk ? "+4K" : ""),
                                std::move(s).value());
      }
    }
  }
  std::printf("\nmean time per commit spent reaching each step (us), and checkpoints taken\n%-22s", "case");
  for (int step = 0; step < kCommitStepCount; ++step) {
    if (step == static_cast<int>(CommitStep::kJournalTorn)) continue;  // split write, folded into written
    std::printf(" %9.9s", CommitStepName(static_cast<CommitStep>(step)) + (step < 4 ? 8 : 0));
  }
  std::printf(" %6s\n", "ckpts");
  for (const auto& [name, s] : breakdowns) {
    std::printf("%-22s", name.c_str());
    auto n = static_cast<double>(s.commit_us.size());
    for (int step = 0; step < kCommitStepCount; ++step) {
      double us = s.step_us[static_cast<std::size_t>(step)];
      if (step == static_cast<int>(CommitStep::kJournalTorn)) continue;
      if (step == static_cast<int>(CommitStep::kJournalWritten))
        us += s.step_us[static_cast<std::size_t>(CommitStep::kJournalTorn)];
      std::printf(" %9.1f", us / n);
    }
    std::printf(" %6llu\n", static_cast<unsigned long long>(s.checkpoints));
  }
  return 0;
}

}  // namespace
}  // namespace replink::replica

int main(int argc, char** argv) { return replink::replica::Main(argc, argv); }
