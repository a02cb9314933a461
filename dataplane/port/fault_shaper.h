// FaultShaper: applies FaultDecider's verdicts to a stream of mbufs for one direction of one
// queue, and holds the frames it delays or reorders. FaultInjectingPort owns one per rx queue and
// per tx queue; each shaper is used by a single lcore.
//
// Every admitted frame gets exactly one outcome, so
//   frames == passed + dropped + duplicated + reordered + corrupted + delayed.
// A fault that cannot be applied (no mbuf for a copy, frame too short, queue full) passes the
// frame intact and bumps the matching *_failed / *_skipped / *_overflow counter as well.
//
// Reorder: the held frame is released right after the next frame that leaves intact (passed or
// duplicated), so it arrives late by exactly one position -- or after `reorder_hold` ticks when
// no such frame comes (counted in reorder_expired; those do not arrive late). Receivers can
// therefore check: late arrivals == reordered - reorder_expired (when delay is off).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <span>

#include "dataplane/config/appliance_config.h"
#include "dataplane/port/fault_decider.h"

struct rte_mbuf;
struct rte_mempool;

namespace replink::port {

// A snapshot of one shaper's (or a sum of shapers') counters.
struct FaultCounters {
  uint64_t frames = 0;
  uint64_t passed = 0;
  uint64_t dropped = 0;
  uint64_t duplicated = 0;
  uint64_t reordered = 0;
  uint64_t corrupted = 0;
  uint64_t delayed = 0;
  uint64_t duplicate_failed = 0;
  uint64_t corrupt_skipped = 0;
  uint64_t delay_overflow = 0;
  uint64_t reorder_expired = 0;

  FaultCounters& operator+=(const FaultCounters& other);
};

class FaultShaper {
 public:
  static constexpr uint32_t kOutputCapacity = 1024;  // powers of two
  static constexpr uint32_t kDelayCapacity = 4096;
  // Admit needs room for the frame, a duplicate and a released reordered frame.
  static constexpr uint32_t kRoomPerAdmit = 3;

  // `pool` provides copies (duplicates; private copies of shared frames before corrupting).
  // Times are in ticks of a clock running at `ticks_per_second`.
  FaultShaper(const config::FaultInjectionConfig& config, uint64_t stream, rte_mempool* pool,
              uint64_t ticks_per_second, uint64_t reorder_hold_us);
  ~FaultShaper();
  FaultShaper(const FaultShaper&) = delete;
  FaultShaper& operator=(const FaultShaper&) = delete;

  bool CanAdmit() const { return OutputFree() >= kRoomPerAdmit; }
  uint32_t AdmitRoom() const { return OutputFree() / kRoomPerAdmit; }
  // Takes ownership of `frame`. Precondition: CanAdmit().
  void Admit(rte_mbuf* frame, uint64_t now);
  // Moves delayed frames whose time has come (and an over-held reordered frame) to the output.
  void ReleaseDue(uint64_t now);

  uint32_t ready() const { return output_tail_ - output_head_; }
  // Copies up to out.size() ready frames without removing them; Consume(n) removes n.
  uint32_t Peek(std::span<rte_mbuf*> out) const;
  void Consume(uint32_t count);

  FaultCounters counters() const;

 private:
  // Single writer (the owning lcore), any reader: relaxed load+store, no locked instruction.
  struct Counter {
    std::atomic<uint64_t> value{0};
    void Add(uint64_t n = 1) {
      value.store(value.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    uint64_t Get() const { return value.load(std::memory_order_relaxed); }
  };
  struct Delayed {
    rte_mbuf* frame;
    uint64_t due;
  };

  uint32_t OutputFree() const { return kOutputCapacity - ready(); }
  void Emit(rte_mbuf* frame);
  void EmitIntact(rte_mbuf* frame);  // Emit + release a held reordered frame behind it
  void Corrupt(rte_mbuf* frame);
  // `frame` itself when no one else can see its data, else a private copy (nullptr: no mbuf).
  rte_mbuf* MakeWritable(rte_mbuf* frame);

  FaultDecider decider_;
  rte_mempool* pool_;
  uint64_t delay_ticks_;
  uint64_t reorder_hold_ticks_;

  std::array<rte_mbuf*, kOutputCapacity> output_{};
  uint32_t output_head_ = 0;  // free-running indices, masked on access
  uint32_t output_tail_ = 0;
  std::array<Delayed, kDelayCapacity> delayed_{};
  uint32_t delayed_head_ = 0;
  uint32_t delayed_tail_ = 0;
  rte_mbuf* held_ = nullptr;
  uint64_t held_since_ = 0;

  Counter frames_, passed_, dropped_, duplicated_, reordered_, corrupted_, delayed_count_;
  Counter duplicate_failed_, corrupt_skipped_, delay_overflow_, reorder_expired_;
};

}  // namespace replink::port
