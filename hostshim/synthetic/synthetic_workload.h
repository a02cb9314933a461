// SyntheticWorkload: generated dirty-page patterns for the synthetic backend: which pages an epoch
// dirties (locality) and what they then contain (content model). Deterministic for a given seed.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <string_view>
#include <vector>

#include "errors/result.h"

namespace replink {

enum class Locality {
  kRandom,      // uniform over the guest
  kSequential,  // a cursor sweeping through memory
  kHotSet,      // 90 % of writes in a hot set (hot_fraction of memory), the rest uniform
};

enum class ContentModel {
  kIncompressible,  // fresh random bytes: the codec worst case
  kSparse,          // a few 64-bit words change: what delta encoding is for
  kZero,            // pages become zero (freed memory)
  kText,            // English-like text: compressible by LZ4, not by delta
  kMixed,           // a mix of the above, in proportions seen in real guests
};

struct WorkloadSpec {
  uint64_t dirty_pages_per_epoch = 64;
  Locality locality = Locality::kHotSet;
  double hot_fraction = 0.05;
  ContentModel content = ContentModel::kMixed;
  uint32_t sparse_words = 4;   // words changed per page in kSparse
  double epoch_rate = 0;       // I/O events per second; 0 = as fast as the pipeline allows
  uint32_t disk_write_bytes = 4096;  // per disk-write event
  uint64_t seed = 1;
};

Result<Locality> ParseLocality(std::string_view text);
Result<ContentModel> ParseContentModel(std::string_view text);

class SyntheticWorkload {
 public:
  SyntheticWorkload(WorkloadSpec spec, uint64_t guest_pages);

  // Chooses the frames the next epoch dirties (distinct, unsorted).
  void ChooseFrames(std::vector<uint64_t>* frames);
  // Rewrites one page according to the content model.
  void Mutate(std::span<std::byte> page);
  // Fills disk-write data deterministically.
  void FillDiskData(std::span<std::byte> data, uint64_t sequence);
  const WorkloadSpec& spec() const { return spec_; }

 private:
  void FillRandom(std::span<std::byte> page);
  void FillText(std::span<std::byte> page);
  void ChangeWords(std::span<std::byte> page, uint32_t words);

  WorkloadSpec spec_;
  uint64_t guest_pages_;
  uint64_t cursor_ = 0;
  std::mt19937_64 rng_;
  std::vector<uint8_t> seen_;  // marks frames already chosen this epoch
};

}  // namespace replink
