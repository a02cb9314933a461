// A seeded, simulated unreliable wire for one direction: drops, duplicates, corrupts, delays with
// jitter (which reorders). Time is the test's simulated clock. Corruption flips 1-3 bits inside the
// link frame behind its magic and version, so a correct receiver must refuse exactly those frames with
// kBadChecksum (CRC32C detects every error of up to 3 bits).
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace replink::link::testing {

struct ChannelConfig {
  double drop = 0.0;
  double duplicate = 0.0;
  double corrupt = 0.0;
  double reorder = 0.0;           // share of frames that get extra delay (up to reorder_delay_ns)
  uint64_t delay_ns = 20'000;
  uint64_t jitter_ns = 5'000;
  uint64_t reorder_delay_ns = 200'000;
};

struct ChannelCounters {
  uint64_t sent = 0;
  uint64_t dropped = 0;
  uint64_t duplicated = 0;
  uint64_t corrupted = 0;
  uint64_t reordered = 0;
  uint64_t delivered = 0;
};

class LossyChannel {
 public:
  LossyChannel(const ChannelConfig& config, uint64_t seed, std::size_t link_offset)
      : config_(config), rng_(seed), link_offset_(link_offset) {}

  void Send(std::span<const std::byte> frame, uint64_t now_ns) {
    ++counters_.sent;
    if (Chance(config_.drop)) {
      ++counters_.dropped;
      return;
    }
    int copies = Chance(config_.duplicate) ? 2 : 1;
    if (copies == 2) ++counters_.duplicated;
    for (int i = 0; i < copies; ++i) {
      Packet p{Arrival(now_ns), std::vector<std::byte>(frame.begin(), frame.end())};
      if (Chance(config_.corrupt)) {
        Corrupt(p.bytes);
        ++counters_.corrupted;
      }
      queue_.push_back(std::move(p));
    }
  }

  // Frames whose arrival time has come, in arrival order.
  std::vector<std::vector<std::byte>> Receive(uint64_t now_ns) {
    std::vector<std::vector<std::byte>> out;
    std::stable_sort(queue_.begin(), queue_.end(),
                     [](const Packet& a, const Packet& b) { return a.arrive_ns < b.arrive_ns; });
    std::size_t n = 0;
    while (n < queue_.size() && queue_[n].arrive_ns <= now_ns) ++n;
    for (std::size_t i = 0; i < n; ++i) out.push_back(std::move(queue_[i].bytes));
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
    counters_.delivered += n;
    return out;
  }

  bool empty() const { return queue_.empty(); }
  const ChannelCounters& counters() const { return counters_; }

 private:
  struct Packet {
    uint64_t arrive_ns;
    std::vector<std::byte> bytes;
  };

  bool Chance(double p) { return p > 0 && std::uniform_real_distribution<double>(0, 1)(rng_) < p; }

  uint64_t Arrival(uint64_t now_ns) {
    uint64_t t = now_ns + config_.delay_ns + (config_.jitter_ns ? rng_() % config_.jitter_ns : 0);
    if (Chance(config_.reorder)) {
      ++counters_.reordered;
      t += rng_() % config_.reorder_delay_ns;
    }
    return t;
  }

  void Corrupt(std::vector<std::byte>& bytes) {
    std::size_t first = link_offset_ + 5;  // behind magic and version
    if (bytes.size() <= first) return;
    int flips = 1 + static_cast<int>(rng_() % 3);
    std::vector<std::byte> before = bytes;
    for (int i = 0; i < flips; ++i) {
      std::size_t bit = (first * 8) + rng_() % ((bytes.size() - first) * 8);
      bytes[bit / 8] ^= static_cast<std::byte>(1u << (bit % 8));
    }
    if (bytes == before) bytes[first] ^= std::byte{0x01};  // flips cancelled out: flip one bit
  }

  ChannelConfig config_;
  std::mt19937_64 rng_;
  std::size_t link_offset_;
  std::vector<Packet> queue_;
  ChannelCounters counters_;
};

}  // namespace replink::link::testing
