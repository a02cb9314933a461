#include "dataplane/port/fault_shaper.h"

#include <algorithm>

#include <rte_mbuf.h>

#include "dataplane/port/frame_limits.h"

namespace replink::port {

FaultCounters& FaultCounters::operator+=(const FaultCounters& o) {
  frames += o.frames;
  passed += o.passed;
  dropped += o.dropped;
  duplicated += o.duplicated;
  reordered += o.reordered;
  corrupted += o.corrupted;
  delayed += o.delayed;
  duplicate_failed += o.duplicate_failed;
  corrupt_skipped += o.corrupt_skipped;
  delay_overflow += o.delay_overflow;
  reorder_expired += o.reorder_expired;
  return *this;
}

FaultShaper::FaultShaper(const config::FaultInjectionConfig& config, uint64_t stream,
                         rte_mempool* pool, uint64_t ticks_per_second, uint64_t reorder_hold_us)
    : decider_(config, stream),
      pool_(pool),
      delay_ticks_(ticks_per_second / 1000000 * config.delay_us +
                   ticks_per_second % 1000000 * config.delay_us / 1000000),
      reorder_hold_ticks_(ticks_per_second / 1000000 * reorder_hold_us +
                          ticks_per_second % 1000000 * reorder_hold_us / 1000000) {}

FaultShaper::~FaultShaper() {
  while (output_head_ != output_tail_) rte_pktmbuf_free(output_[output_head_++ % kOutputCapacity]);
  while (delayed_head_ != delayed_tail_) {
    rte_pktmbuf_free(delayed_[delayed_head_++ % kDelayCapacity].frame);
  }
  if (held_ != nullptr) rte_pktmbuf_free(held_);
}

void FaultShaper::Emit(rte_mbuf* frame) { output_[output_tail_++ % kOutputCapacity] = frame; }

void FaultShaper::EmitIntact(rte_mbuf* frame) {
  Emit(frame);
  if (held_ != nullptr) {
    Emit(held_);
    held_ = nullptr;
  }
}

void FaultShaper::Admit(rte_mbuf* frame, uint64_t now) {
  frames_.Add();
  switch (decider_.Next()) {
    case FaultAction::kPass:
      passed_.Add();
      EmitIntact(frame);
      return;
    case FaultAction::kDrop:
      dropped_.Add();
      rte_pktmbuf_free(frame);
      return;
    case FaultAction::kDuplicate: {
      rte_mbuf* copy = rte_pktmbuf_copy(frame, pool_, 0, UINT32_MAX);
      if (copy == nullptr) {
        passed_.Add();
        duplicate_failed_.Add();
        EmitIntact(frame);
        return;
      }
      duplicated_.Add();
      Emit(frame);
      EmitIntact(copy);
      return;
    }
    case FaultAction::kReorder:
      if (held_ != nullptr) {  // one frame held at a time; this one goes through
        passed_.Add();
        EmitIntact(frame);
        return;
      }
      reordered_.Add();
      held_ = frame;
      held_since_ = now;
      return;
    case FaultAction::kCorrupt:
      Corrupt(frame);
      return;
    case FaultAction::kDelay:
      if (delayed_tail_ - delayed_head_ == kDelayCapacity) {
        passed_.Add();
        delay_overflow_.Add();
        EmitIntact(frame);
        return;
      }
      delayed_count_.Add();
      delayed_[delayed_tail_++ % kDelayCapacity] = Delayed{frame, now + delay_ticks_};
      return;
  }
}

rte_mbuf* FaultShaper::MakeWritable(rte_mbuf* frame) {
  bool exclusive = true;
  for (rte_mbuf* seg = frame; seg != nullptr; seg = seg->next) {
    // Indirect/external buffers and shared mbufs may be someone else's data (a retransmit
    // buffer, a guest page attached zero-copy): never flip bits in place there.
    if (rte_mbuf_refcnt_read(seg) != 1 || !RTE_MBUF_DIRECT(seg)) exclusive = false;
  }
  if (exclusive) return frame;
  rte_mbuf* copy = rte_pktmbuf_copy(frame, pool_, 0, UINT32_MAX);
  if (copy != nullptr) rte_pktmbuf_free(frame);
  return copy;
}

void FaultShaper::Corrupt(rte_mbuf* frame) {
  // The Ethernet header stays intact so the frame is still delivered to the peer.
  if (frame->pkt_len <= kEthernetHeaderBytes) {
    passed_.Add();
    corrupt_skipped_.Add();
    EmitIntact(frame);
    return;
  }
  rte_mbuf* writable = MakeWritable(frame);
  if (writable == nullptr) {
    passed_.Add();
    corrupt_skipped_.Add();
    EmitIntact(frame);
    return;
  }
  uint32_t offset = kEthernetHeaderBytes +
                    static_cast<uint32_t>(decider_.random().Below(writable->pkt_len -
                                                                  kEthernetHeaderBytes));
  auto flip = static_cast<uint8_t>(1 + decider_.random().Below(255));  // never 0: always changes
  rte_mbuf* seg = writable;
  while (seg != nullptr && offset >= seg->data_len) {
    offset -= seg->data_len;
    seg = seg->next;
  }
  if (seg == nullptr) {  // pkt_len disagrees with the segment chain; leave the frame alone
    passed_.Add();
    corrupt_skipped_.Add();
    EmitIntact(writable);
    return;
  }
  *rte_pktmbuf_mtod_offset(seg, uint8_t*, offset) ^= flip;
  corrupted_.Add();
  Emit(writable);
}

void FaultShaper::ReleaseDue(uint64_t now) {
  while (delayed_head_ != delayed_tail_ && OutputFree() > 0) {
    const Delayed& next = delayed_[delayed_head_ % kDelayCapacity];
    if (next.due > now) break;
    Emit(next.frame);
    ++delayed_head_;
  }
  if (held_ != nullptr && now - held_since_ >= reorder_hold_ticks_ && OutputFree() > 0) {
    reorder_expired_.Add();
    Emit(held_);
    held_ = nullptr;
  }
}

uint32_t FaultShaper::Peek(std::span<rte_mbuf*> out) const {
  uint32_t n = std::min<uint32_t>(ready(), static_cast<uint32_t>(out.size()));
  for (uint32_t i = 0; i < n; ++i) out[i] = output_[(output_head_ + i) % kOutputCapacity];
  return n;
}

void FaultShaper::Consume(uint32_t count) { output_head_ += std::min(count, ready()); }

FaultCounters FaultShaper::counters() const {
  FaultCounters c;
  c.frames = frames_.Get();
  c.passed = passed_.Get();
  c.dropped = dropped_.Get();
  c.duplicated = duplicated_.Get();
  c.reordered = reordered_.Get();
  c.corrupted = corrupted_.Get();
  c.delayed = delayed_count_.Get();
  c.duplicate_failed = duplicate_failed_.Get();
  c.corrupt_skipped = corrupt_skipped_.Get();
  c.delay_overflow = delay_overflow_.Get();
  c.reorder_expired = reorder_expired_.Get();
  return c;
}

}  // namespace replink::port
