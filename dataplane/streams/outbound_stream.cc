#include "dataplane/streams/outbound_stream.h"

#include <sys/socket.h>

#include <rte_mbuf.h>

#include <algorithm>
#include <cstring>
#include <random>

#include "capture/region_layout.h"
#include "link/frame_stamp.h"

namespace replink::dataplane {
namespace {

using capture_abi::CompletionStatus;

// Work per Poll round, so one busy stream cannot starve the others on the same worker.
constexpr int kMaxFramesPerPoll = 32;
constexpr int kMaxRetransmitsPerPoll = 32;

uint64_t RandomOpenId() {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  uint64_t id = 0;
  while (id == 0) id = rng();
  return id;
}

}  // namespace

Result<std::unique_ptr<OutboundStream>> OutboundStream::Create(uint32_t stream_id, CaptureRingReader reader,
                                                               UniqueFd registration, UniqueFd doorbell,
                                                               const link::LinkEncapsulation& encap,
                                                               const OutboundTuning& tuning) {
  if (tuning.window == 0 || tuning.window > link::kMaxWindow)
    return MakeError(Errc::kInvalidArgument, "window {} out of range [1, {}]", tuning.window, link::kMaxWindow);
  REPLINK_ASSIGN_OR_RETURN(codec::DeltaCache cache, codec::DeltaCache::Create(tuning.delta_cache_mib));
  return std::unique_ptr<OutboundStream>(new OutboundStream(stream_id, std::move(reader), std::move(registration),
                                                            std::move(doorbell), codec::PageEncoder(std::move(cache)),
                                                            encap, tuning));
}

OutboundStream::OutboundStream(uint32_t stream_id, CaptureRingReader reader, UniqueFd registration,
                               UniqueFd doorbell, codec::PageEncoder encoder, const link::LinkEncapsulation& encap,
                               const OutboundTuning& tuning)
    : stream_id_(stream_id),
      name_(VmNameOf(reader.identity())),
      reader_(std::move(reader)),
      registration_(std::move(registration)),
      doorbell_(std::move(doorbell)),
      encoder_(std::move(encoder)),
      encap_(encap),
      tuning_(tuning),
      writer_(encap),
      sender_(stream_id, link::SenderConfig{tuning.window, tuning.window, 3, {}}),
      pacer_(link::PacerConfig{tuning.rate_bps, 64 * 1024}),
      batch_(kMaxBatch),
      payload_(1u << 20),
      frames_(tuning.window) {}

OutboundStream::~OutboundStream() { FreeFrames(); }

std::string_view OutboundStream::state_name() const {
  if (reader_.failed()) return "failed";
  switch (state_) {
    case State::kOpening: return "opening";
    case State::kActive: return need_catch_up_ ? "resyncing" : "protected";
    case State::kFailing: return "degraded";
  }
  return "unknown";
}

void OutboundStream::Retune(const OutboundTuning& tuning, uint64_t now_ns) {
  uint32_t allocated = tuning_.window;
  tuning_ = tuning;
  tuning_.window = allocated;
  tuning_.batch = std::clamp<uint32_t>(tuning.batch, 1, kMaxBatch);
  pacer_.Reconfigure(link::PacerConfig{tuning.rate_bps, 64 * 1024}, now_ns);
}

bool OutboundStream::ShimGone() {
  char c;
  ssize_t n = recv(registration_.get(), &c, 1, MSG_DONTWAIT | MSG_PEEK);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

void OutboundStream::Transmit(rte_mbuf* m, FrameSink& sink) {
  counters_.wire_bytes += m->pkt_len;
  pacer_.Consume(m->pkt_len, now_ns_);
  sink.Send(m);
}

bool OutboundStream::Poll(uint64_t now_ns, const LinkView& link, FrameSink& sink) {
  if (reader_.failed()) return false;
  now_ns_ = now_ns;
  bool did = FlushCompletions();

  if (!link.usable || link.session_id != session_id_) {
    if (state_ == State::kActive && link.session_id != session_id_ && link.usable) {
      OnPeerLost("new link session", now_ns);
    } else if (state_ == State::kActive && !link.usable &&
               now_ns - link.unusable_since_ns > tuning_.failure_timeout_ns) {
      OnPeerLost("peer unreachable", now_ns);
    }
    if (!link.usable) {
      // Nothing can be sent. Once the peer has been gone for the failure timeout, fail epochs as they
      // come so the shim runs on (degraded) instead of stalling its guest.
      if (now_ns - link.unusable_since_ns > tuning_.failure_timeout_ns) did |= DiscardRecords(false);
      return did;
    }
    session_id_ = link.session_id;
    StartOpening();
  }
  if (state_ == State::kFailing) StartOpening();
  if (state_ == State::kOpening) {
    // Not protected while the peer has not accepted the stream: once that has lasted the failure
    // timeout (peer silent, or it refused), fail epochs as they come so the guest runs on, degraded.
    bool give_up = opening_since_ns_ != 0 && now_ns - opening_since_ns_ > tuning_.failure_timeout_ns;
    did |= DiscardRecords(/*stop_at_catch_up=*/!give_up);
    return SendOpen(now_ns, link, sink) || did;
  }
  if (need_catch_up_) did |= DiscardRecords(true);

  did |= Retransmit(now_ns, link, sink);
  if (!need_catch_up_) did |= PumpRecords(now_ns, link, sink);
  if (sender_.ProbeDue(now_ns)) {
    rte_mbuf* m = sink.Allocate();
    if (m != nullptr) {
      link::LinkHeader h{};
      h.type = static_cast<uint8_t>(link::FrameType::kAck);
      h.stream_id = stream_id_;
      link::ApplyStamp(h, link::FrameStamp{link.session_id, link::AckFields{}, true});
      auto bytes = link::BuildControlFrame(encap_, FrameSink::Room(m), h, {});
      FrameSink::SetLength(m, bytes.size());
      Transmit(m, sink);
      sender_.OnProbeSent(now_ns);
      did = true;
    }
  }
  return did;
}

void OutboundStream::StartOpening() {
  state_ = State::kOpening;
  open_id_ = RandomOpenId();
  next_open_ns_ = 0;
  opening_since_ns_ = 0;
}

bool OutboundStream::SendOpen(uint64_t now_ns, const LinkView& link, FrameSink& sink) {
  if (now_ns < next_open_ns_) return false;
  rte_mbuf* m = sink.Allocate();
  if (m == nullptr) {
    ++counters_.mbuf_exhausted;
    return false;
  }
  const capture_abi::RegionIdentity& id = reader_.identity();
  link::StreamOpenPayload open{};
  open.open_id = open_id_;
  open.vm_id = id.vm_id;
  open.guest_pages = id.guest_pages;
  open.disk_sectors = id.disk_sectors;
  open.vcpu_count = id.vcpu_count;
  open.disk_count = id.disk_count;
  open.device_count = id.device_count;  // the replica's device blob slots (a Xen shim has 3)
  std::memcpy(open.vm_name, id.vm_name, std::min(sizeof(open.vm_name), sizeof(id.vm_name)));
  link::LinkHeader h{};
  h.type = static_cast<uint8_t>(link::FrameType::kStreamOpen);
  h.stream_id = stream_id_;
  h.session_id = link.session_id;
  auto bytes = link::BuildControlFrame(encap_, FrameSink::Room(m), h, std::as_bytes(std::span(&open, 1)));
  FrameSink::SetLength(m, bytes.size());
  Transmit(m, sink);
  next_open_ns_ = now_ns + tuning_.open_retry_ns;
  if (opening_since_ns_ == 0) opening_since_ns_ = now_ns;
  ++counters_.open_attempts;
  return true;
}

void OutboundStream::OnOpenReply(const link::StreamOpenPayload& reply, uint64_t now_ns) {
  if (state_ != State::kOpening || reply.open_id != open_id_) return;  // stale or repeated
  if (reply.status != 0) {
    ++counters_.open_refusals;
    last_refusal_ = std::string(reply.message, strnlen(reply.message, sizeof(reply.message)));
    next_open_ns_ = now_ns + 1'000'000'000;  // ask again in a second (the operator may fix the peer)
    return;
  }
  last_refusal_.clear();
  opening_since_ns_ = 0;
  // A fresh sequence space on both sides for this opening.
  FreeFrames();
  sender_.Reset(0);
  released_seq_ = 0;
  state_ = State::kActive;
}

bool OutboundStream::DiscardRecords(bool stop_at_catch_up) {
  bool did = false;
  uint64_t slot_end = 0;
  bool any_slots = false;
  while (true) {
    if (batch_pos_ == batch_len_) {
      auto n = reader_.Poll(std::span(batch_).first(std::clamp<uint32_t>(tuning_.batch, 1, kMaxBatch)));
      if (!n.ok() || *n == 0) break;
      batch_pos_ = 0;
      batch_len_ = *n;
    }
    const CaptureRecord& r = batch_[batch_pos_];
    if (stop_at_catch_up && r.type == RecordType::kEpochBegin && r.catch_up) {
      need_catch_up_ = false;
      break;
    }
    did = true;
    if (r.slot_span != 0) {
      slot_end = r.slot_cursor + r.slot_span;
      any_slots = true;
    }
    if (r.type == RecordType::kEpochEnd && r.epoch > last_completed_) {
      QueueCompletion(r.epoch, CompletionStatus::kFailed);
      ++counters_.epochs_failed;
    }
    if (r.type == RecordType::kEpochEnd) need_catch_up_ = true;  // the peer never gets this epoch
    ++batch_pos_;
  }
  if (any_slots) reader_.ReleaseSlotsThrough(slot_end);
  return did;
}

bool OutboundStream::StartFrame(uint64_t epoch, FrameSink& sink) {
  if (sender_.CanSend() != link::SendBlock::kNone ||
      (tuning_.send_window != 0 && sender_.in_flight() >= tuning_.send_window)) {
    ++counters_.window_stalls;
    return false;
  }
  if (!pacer_.CanSend(encap_.max_frame(), now_ns_)) {
    ++counters_.pacer_stalls;
    return false;
  }
  frame_ = sink.Allocate();
  if (frame_ == nullptr) {
    ++counters_.mbuf_exhausted;
    return false;
  }
  auto room = FrameSink::Room(frame_);
  std::size_t limit = encap_.max_frame();
  if (tuning_.mtu != 0) limit = std::min<std::size_t>(limit, link::kEthernetHeaderSize + tuning_.mtu);
  writer_.BeginData(room.first(std::min(room.size(), limit)), stream_id_, epoch);
  frame_epoch_ = epoch;
  return true;
}

void OutboundStream::SealFrame(uint64_t now_ns, const LinkView& link, FrameSink& sink, bool ack_request) {
  uint64_t seq = sender_.OnSent(now_ns);
  auto bytes = writer_.FinishData(seq, link::FrameStamp{link.session_id, std::nullopt, ack_request});
  FrameSink::SetLength(frame_, bytes.size());
  InFlightFrame& slot = frames_[seq % frames_.size()];
  slot.mbuf = frame_;
  slot.slot_end = frame_slot_end_;
  // Keep a reference: the port frees its own after sending; ours is the retransmit source.
  rte_mbuf_refcnt_update(frame_, 1);
  ++counters_.frames;
  Transmit(frame_, sink);
  frame_ = nullptr;
}

bool OutboundStream::AppendPending() {
  const CaptureRecord& r = pending_.record;
  link::AppendResult result = link::AppendResult::kComplete;
  switch (r.type) {
    case RecordType::kEpochBegin:
      return writer_.AddEpochBegin(r.trigger, r.catch_up ? capture_abi::kBeginCatchUp : 0);
    case RecordType::kZeroPage:
      return writer_.AddZeroPage(r.key);
    case RecordType::kEpochEnd:
      return writer_.AddEpochEnd(r.length, r.key);
    case RecordType::kPage: {
      link::PageItem item{r.key, static_cast<uint8_t>(pending_.encoded.codec), pending_.encoded.base_version,
                          {payload_.data(), pending_.encoded.length}};
      result = writer_.AddPage(item, pending_.offset);
      break;
    }
    case RecordType::kVcpuState:
    case RecordType::kDeviceState:
      result = writer_.AddBlob(r.type, r.index, {payload_.data(), r.length}, pending_.offset);
      break;
    case RecordType::kDiskWrite:
      result = writer_.AddDiskWrite(r.index, r.key, {payload_.data(), r.length}, pending_.offset);
      break;
  }
  return result == link::AppendResult::kComplete;
}

bool OutboundStream::PumpRecords(uint64_t now_ns, const LinkView& link, FrameSink& sink) {
  bool did = false;
  for (int frames = 0; frames < kMaxFramesPerPoll;) {
    if (!pending_.active) {
      if (batch_pos_ == batch_len_) {
        auto n = reader_.Poll(std::span(batch_).first(std::clamp<uint32_t>(tuning_.batch, 1, kMaxBatch)));
        if (!n.ok()) {  // the shim broke the ABI: the reader failed the stream and told the shim
          FailInFlight(n.error().message);
          return true;
        }
        batch_pos_ = 0;
        batch_len_ = *n;
        if (batch_len_ == 0) break;
      }
      const CaptureRecord& r = batch_[batch_pos_++];
      pending_ = PendingRecord{true, r, 0, {}};
      ++counters_.records;
      switch (r.type) {
        case RecordType::kEpochBegin:
          epochs_.push_back(EpochInFlight{r.epoch, r.key});
          if (r.catch_up) {
            // The peer may lack anything since its last commit: no delta may refer to our cache.
            encoder_.ResetPeerState();
            ++counters_.catch_up_epochs;
          }
          break;
        case RecordType::kPage: {
          auto plan = policy_.Plan(encoder_.ContextFor(r.key, link.utilisation, tuning_.codec));
          auto enc = encoder_.Encode(r.key, reader_.Slot(r.slot_cursor), r.epoch, plan, payload_);
          if (!enc.ok()) {  // cannot happen with a raw fallback; treat as a broken stream if it does
            reader_.Fail(Errc::kState, r.epoch, enc.error().Describe());
            FailInFlight(enc.error().message);
            return true;
          }
          pending_.encoded = *enc;
          ++counters_.pages;
          counters_.page_bytes += kPageSize;
          counters_.payload_bytes += enc->length;
          break;
        }
        case RecordType::kZeroPage: ++counters_.zero_pages; break;
        case RecordType::kVcpuState:
        case RecordType::kDeviceState:
        case RecordType::kDiskWrite:
          reader_.CopyContent(r, payload_);
          (r.type == RecordType::kDiskWrite ? counters_.disk_bytes : counters_.blob_bytes) += r.length;
          break;
        case RecordType::kEpochEnd: break;
      }
    }
    const CaptureRecord& r = pending_.record;
    if (writer_.active() && frame_epoch_ != r.epoch) {  // a frame carries one epoch
      SealFrame(now_ns, link, sink, false);
      ++frames;
      continue;
    }
    if (!writer_.active() && !StartFrame(r.epoch, sink)) break;
    did = true;
    if (!AppendPending()) {  // the frame is full: the record continues in the next one
      SealFrame(now_ns, link, sink, false);
      ++frames;
      continue;
    }
    pending_.active = false;
    if (r.slot_span != 0) frame_slot_end_ = r.slot_cursor + r.slot_span;
    if (r.type == RecordType::kEpochEnd) {
      ++counters_.epochs_sent;
      sender_.ExpectCommit(r.epoch);
      SealFrame(now_ns, link, sink, /*ack_request=*/true);  // the peer commits and answers at once
      ++frames;
    }
  }
  // Nothing more in the ring right now: send what we have instead of waiting for a fuller frame.
  if (writer_.active() && !pending_.active && batch_pos_ == batch_len_) SealFrame(now_ns, link, sink, false);
  return did;
}

bool OutboundStream::Retransmit(uint64_t now_ns, const LinkView& link, FrameSink& sink) {
  bool did = false;
  for (int i = 0; i < kMaxRetransmitsPerPoll; ++i) {
    auto seq = sender_.NextRetransmit(now_ns);
    if (!seq) break;
    rte_mbuf* original = frames_[*seq % frames_.size()].mbuf;
    rte_mbuf* copy = sink.Allocate();
    if (original == nullptr || copy == nullptr) {
      if (copy != nullptr) rte_pktmbuf_free(copy);
      ++counters_.mbuf_exhausted;
      break;
    }
    // A fresh buffer: the original may still be referenced by a decorator or a NIC queue.
    auto src = FrameSink::Bytes(original);
    std::memcpy(FrameSink::Room(copy).data(), src.data(), src.size());
    FrameSink::SetLength(copy, src.size());
    link::RestampFrame(encap_, FrameSink::Bytes(copy), link::FrameStamp{link.session_id, std::nullopt, false});
    Transmit(copy, sink);
    sender_.OnRetransmitted(*seq, now_ns);
    ++counters_.retransmits;
    did = true;
  }
  return did;
}

void OutboundStream::OnAck(const link::LinkHeader& header, uint64_t now_ns) {
  if (state_ != State::kActive) return;
  if (auto ack = link::AckFromHeader(header)) {
    for (uint64_t seq : sender_.OnAck(*ack, now_ns)) {
      InFlightFrame& f = frames_[seq % frames_.size()];
      if (f.mbuf != nullptr) rte_pktmbuf_free(f.mbuf);
      f.mbuf = nullptr;
    }
    // Slots are free once every frame up to the cumulative point is acknowledged.
    uint64_t una = sender_.oldest_unacked();
    if (una > released_seq_) {
      reader_.ReleaseSlotsThrough(frames_[(una - 1) % frames_.size()].slot_end);
      released_seq_ = una;
    }
  }
  if (header.flags & link::kFlagCommitValid) CompleteThrough(header.epoch, now_ns);
}

void OutboundStream::CompleteThrough(uint64_t epoch, uint64_t now_ns) {
  last_committed_ = std::max(last_committed_, epoch);
  while (!epochs_.empty() && epochs_.front().epoch <= epoch) {
    const EpochInFlight& e = epochs_.front();
    if (e.epoch > last_completed_) {
      QueueCompletion(e.epoch, CompletionStatus::kCommitted);
      ++counters_.epochs_committed;
      // Same clock as the shim's capture timestamp (CLOCK_MONOTONIC, one host).
      if (now_ns > e.capture_ns) commit_latency_.RecordNs(now_ns - e.capture_ns);
      last_committed_ns_ = now_ns;
    }
    epochs_.pop_front();
  }
  FlushCompletions();
}

void OutboundStream::QueueCompletion(uint64_t epoch, CompletionStatus status) {
  completions_.push_back({epoch, status});
  last_completed_ = epoch;
}

bool OutboundStream::FlushCompletions() {
  bool did = false;
  while (!completions_.empty()) {
    auto [epoch, status] = completions_.front();
    // A full completion ring means the shim is behind: keep the rest for the next round.
    if (!reader_.Complete(epoch, status, status == CompletionStatus::kFailed ? Errc::kClosed : Errc{}).ok()) {
      ++counters_.completion_retries;
      break;
    }
    completions_.pop_front();
    did = true;
  }
  return did;
}

void OutboundStream::OnPeerLost(std::string_view why, uint64_t now_ns) {
  (void)now_ns;
  if (state_ == State::kActive || !epochs_.empty()) FailInFlight(why);
  state_ = State::kFailing;
}

void OutboundStream::FailInFlight(std::string_view why) {
  ++counters_.peer_losses;
  last_loss_ = std::string(why);
  for (const EpochInFlight& e : epochs_) {
    if (e.epoch <= last_completed_) continue;
    QueueCompletion(e.epoch, CompletionStatus::kFailed);
    ++counters_.epochs_failed;
  }
  epochs_.clear();
  FlushCompletions();
  // Everything sent or half-packed is void: free it, and with it the capture slots of every record
  // taken from the ring so far (records still in batch_ keep theirs).
  FreeFrames();
  if (frame_ != nullptr) {
    rte_pktmbuf_free(frame_);
    frame_ = nullptr;
  }
  if (writer_.active()) writer_.Abandon();
  uint64_t taken_end = frame_slot_end_;
  if (pending_.active && pending_.record.slot_span != 0)
    taken_end = pending_.record.slot_cursor + pending_.record.slot_span;
  reader_.ReleaseSlotsThrough(taken_end);
  pending_.active = false;
  encoder_.ResetPeerState();
  sender_.Reset(0);
  released_seq_ = 0;
  need_catch_up_ = true;
}

void OutboundStream::FreeFrames() {
  for (InFlightFrame& f : frames_) {
    if (f.mbuf != nullptr) rte_pktmbuf_free(f.mbuf);
    f.mbuf = nullptr;
  }
}

}  // namespace replink::dataplane
