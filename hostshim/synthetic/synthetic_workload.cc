#include "hostshim/synthetic/synthetic_workload.h"

#include <algorithm>
#include <cstring>

namespace replink {
namespace {

constexpr std::string_view kWords[] = {
    "the", "replica", "epoch", "commit", "of", "and", "page", "guest", "memory", "to", "a", "disk",
    "network", "is", "in", "host", "primary", "secondary", "state", "write", "for", "that", "log",
};

}  // namespace

Result<Locality> ParseLocality(std::string_view t) {
  if (t == "random") return Locality::kRandom;
  if (t == "sequential") return Locality::kSequential;
  if (t == "hotset") return Locality::kHotSet;
  return MakeError(Errc::kInvalidArgument, "locality '{}' (allowed: random, sequential, hotset)", t);
}

Result<ContentModel> ParseContentModel(std::string_view t) {
  if (t == "incompressible") return ContentModel::kIncompressible;
  if (t == "sparse") return ContentModel::kSparse;
  if (t == "zero") return ContentModel::kZero;
  if (t == "text") return ContentModel::kText;
  if (t == "mixed") return ContentModel::kMixed;
  return MakeError(Errc::kInvalidArgument,
                   "content model '{}' (allowed: incompressible, sparse, zero, text, mixed)", t);
}

SyntheticWorkload::SyntheticWorkload(WorkloadSpec spec, uint64_t guest_pages)
    : spec_(spec), guest_pages_(guest_pages), rng_(spec.seed), seen_(guest_pages, 0) {
  spec_.dirty_pages_per_epoch = std::min(spec_.dirty_pages_per_epoch, guest_pages);
}

void SyntheticWorkload::ChooseFrames(std::vector<uint64_t>* frames) {
  frames->clear();
  uint64_t hot = std::max<uint64_t>(1, static_cast<uint64_t>(double(guest_pages_) * spec_.hot_fraction));
  hot = std::max(hot, std::min(guest_pages_, spec_.dirty_pages_per_epoch));
  while (frames->size() < spec_.dirty_pages_per_epoch) {
    uint64_t gfn = 0;
    switch (spec_.locality) {
      case Locality::kRandom: gfn = rng_() % guest_pages_; break;
      case Locality::kSequential: gfn = cursor_++ % guest_pages_; break;
      case Locality::kHotSet: gfn = (rng_() % 10 < 9) ? rng_() % hot : rng_() % guest_pages_; break;
    }
    if (seen_[gfn]) continue;
    seen_[gfn] = 1;
    frames->push_back(gfn);
  }
  for (uint64_t gfn : *frames) seen_[gfn] = 0;
}

void SyntheticWorkload::FillRandom(std::span<std::byte> page) {
  for (std::size_t i = 0; i + 8 <= page.size(); i += 8) {
    uint64_t v = rng_();
    std::memcpy(page.data() + i, &v, 8);
  }
}

void SyntheticWorkload::FillText(std::span<std::byte> page) {
  std::size_t pos = 0;
  while (pos < page.size()) {
    std::string_view w = kWords[rng_() % std::size(kWords)];
    for (char c : w) {
      if (pos >= page.size()) break;
      page[pos++] = std::byte(c);
    }
    if (pos < page.size()) page[pos++] = std::byte(rng_() % 16 == 0 ? '\n' : ' ');
  }
}

void SyntheticWorkload::ChangeWords(std::span<std::byte> page, uint32_t words) {
  for (uint32_t i = 0; i < words; ++i) {
    // XOR with a non-zero value: the word always changes, so the page really is dirty.
    uint64_t flip = rng_() | 1;
    std::size_t at = (rng_() % (page.size() / 8)) * 8;
    uint64_t word;
    std::memcpy(&word, page.data() + at, 8);
    word ^= flip;
    std::memcpy(page.data() + at, &word, 8);
  }
}

void SyntheticWorkload::Mutate(std::span<std::byte> page) {
  ContentModel model = spec_.content;
  if (model == ContentModel::kMixed) {
    // Roughly what page-level studies of real guests report: mostly small in-place changes.
    uint64_t r = rng_() % 100;
    model = r < 60 ? ContentModel::kSparse : r < 75 ? ContentModel::kText : r < 85 ? ContentModel::kZero
                                                                                   : ContentModel::kIncompressible;
  }
  switch (model) {
    case ContentModel::kIncompressible: FillRandom(page); break;
    case ContentModel::kSparse: ChangeWords(page, spec_.sparse_words); break;
    case ContentModel::kZero: std::memset(page.data(), 0, page.size()); break;
    case ContentModel::kText: FillText(page); break;
    case ContentModel::kMixed: break;
  }
}

void SyntheticWorkload::FillDiskData(std::span<std::byte> data, uint64_t sequence) {
  std::mt19937_64 r(spec_.seed ^ (sequence * 0x9e3779b97f4a7c15ULL));
  for (std::size_t i = 0; i + 8 <= data.size(); i += 8) {
    uint64_t v = r();
    std::memcpy(data.data() + i, &v, 8);
  }
  if (data.size() >= 8) std::memcpy(data.data(), &sequence, 8);
}

}  // namespace replink
