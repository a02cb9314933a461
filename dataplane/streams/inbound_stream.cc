#include "dataplane/streams/inbound_stream.h"

#include <rte_mbuf.h>

#include <cstring>
#include <filesystem>
#include <ctime>

#include "capture/capture_ring_abi.h"
#include "link/frame_stamp.h"

namespace replink::dataplane {
namespace {

uint64_t MonotonicNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000'000ULL + uint64_t(ts.tv_nsec);
}

replica::ReplicaGeometry GeometryOf(uint32_t stream_id, const link::StreamOpenPayload& open) {
  replica::ReplicaGeometry g;
  g.vm_id = stream_id;
  g.guest_pages = open.guest_pages;
  g.vcpu_slots = std::max<uint32_t>(open.vcpu_count, 1);
  g.device_slots = std::max<uint32_t>(open.device_count, 1);
  g.max_blob_bytes = link::kMaxBlobLength;
  g.disk_sectors.assign(open.disk_count, open.disk_sectors);
  return g;
}

}  // namespace

Result<std::unique_ptr<InboundStream>> InboundStream::Open(uint32_t stream_id, const config::VmConfig& vm,
                                                           const link::StreamOpenPayload& open,
                                                           const InboundTuning& tuning) {
  if (tuning.window == 0 || tuning.window > link::kMaxWindow)
    return MakeError(Errc::kInvalidArgument, "window {} out of range", tuning.window);
  std::error_code ec;
  std::filesystem::create_directories(vm.replica_dir, ec);
  if (ec) return MakeError(Errc::kIo, "vm {}: cannot create replica directory {}: {}", stream_id, vm.replica_dir, ec.message());
  replica::ReplicaStoreConfig sc;
  sc.directory = vm.replica_dir;
  sc.memory_image_path = vm.memory_image;
  sc.geometry = GeometryOf(stream_id, open);
  sc.durability = vm.durability == config::Durability::kDsync ? replica::Durability::kDsync
                                                              : replica::Durability::kPageCache;
  REPLINK_ASSIGN_OR_RETURN(replica::ReplicaStore store, replica::ReplicaStore::Open(std::move(sc)));
  replica::StagerConfig stc;
  stc.geometry = store.geometry();
  // A catch-up epoch may carry every page: stage a whole guest plus room for state and disk writes.
  stc.arena_bytes = open.guest_pages * kPageSize + tuning.staging_slack_bytes;
  stc.prefault_arena = false;  // guest-sized, but only a catch-up epoch fills it: touch on demand
  REPLINK_ASSIGN_OR_RETURN(replica::EpochStager stager, replica::EpochStager::Create(stc, store.committed_epoch()));
  return std::unique_ptr<InboundStream>(new InboundStream(stream_id, open.open_id, std::move(store),
                                                          std::move(stager), tuning.window,
                                                          link::kMaxDiskWriteLength));
}

InboundStream::InboundStream(uint32_t stream_id, uint64_t open_id, replica::ReplicaStore store,
                             replica::EpochStager stager, uint32_t window, std::size_t max_item)
    : stream_id_(stream_id),
      open_id_(open_id),
      store_(std::move(store)),
      stager_(std::move(stager)),
      receiver_(stream_id, link::ReceiverConfig{window, 4, 50'000}),
      assembler_(stream_id, max_item),
      buffered_(window),
      committer_(std::make_unique<AsyncCommitter>(store_)) {
  ++counters_.opens;
}

InboundStream::~InboundStream() {
  committer_->Wait();
  for (Buffered& b : buffered_)
    if (b.mbuf != nullptr) rte_pktmbuf_free(b.mbuf);
}

Result<bool> InboundStream::Reopen(const link::StreamOpenPayload& open) {
  if (promoted_)
    return MakeError(Errc::kState, "vm {} was promoted on this appliance (failover): it is no longer a replica",
                     stream_id_);
  if (open.open_id == open_id_) return false;
  replica::ReplicaGeometry wanted = GeometryOf(stream_id_, open);
  if (!(wanted == store_.geometry()))
    return MakeError(Errc::kInvalidArgument, "vm {} reopened with another geometry ({} pages, {} disks)",
                     stream_id_, open.guest_pages, open.disk_count);
  open_id_ = open.open_id;
  ++counters_.opens;
  ResetSequence();
  rejecting_ = false;
  return true;
}

void InboundStream::ResetSequence() {
  committer_->Wait();
  if (committer_->busy()) (void)committer_->Collect();  // its epoch stays committed; we start over
  receiver_.Reset(0, [this](uint64_t seq) {
    Buffered& b = buffered_[seq % buffered_.size()];
    if (b.mbuf != nullptr) rte_pktmbuf_free(b.mbuf);
    b.mbuf = nullptr;
  });
  for (Buffered& b : buffered_) {
    if (b.mbuf != nullptr) rte_pktmbuf_free(b.mbuf);
    b.mbuf = nullptr;
  }
  assembler_.Reset();
  commit_pending_ = false;
  stager_.Rebase(store_.committed_epoch());
  have_wire_epoch_ = false;  // the next epoch must be a catch-up
}

void InboundStream::OnPeerLost() { ResetSequence(); }

void InboundStream::Reject(const Error& error) {
  committer_->Wait();
  if (committer_->busy()) (void)committer_->Collect();
  commit_pending_ = false;
  last_error_ = error.Describe();
  ++counters_.epochs_rejected;
  ++counters_.resets_requested;
  stager_.Rebase(store_.committed_epoch());
  assembler_.Reset();
  rejecting_ = true;
}

Result<uint64_t> InboundStream::Promote() {
  if (!promoted_) {
    ResetSequence();  // drops a half-staged or sealed epoch: it was never acknowledged as committed
    promoted_ = true;
    REPLINK_TRY(store_.Close());
  }
  return store_.committed_epoch();
}

bool InboundStream::OnData(rte_mbuf* frame, const link::FrameView& view, uint64_t now_ns) {
  if (rejecting_ || promoted_) {  // waiting for the primary to re-open after we asked for a reset
    rte_pktmbuf_free(frame);
    return true;
  }
  uint64_t seq = view.header.seq;
  bool ack_requested = (view.header.flags & link::kFlagAckRequest) != 0;
  switch (receiver_.OnData(seq, seq, ack_requested, now_ns)) {
    case link::ReceiveVerdict::kAccepted: {
      Buffered& b = buffered_[seq % buffered_.size()];
      if (b.mbuf != nullptr) rte_pktmbuf_free(b.mbuf);  // cannot happen: the window guards the slot
      b.mbuf = frame;
      b.view = view;
      break;
    }
    case link::ReceiveVerdict::kDuplicate:
      ++counters_.duplicates;
      rte_pktmbuf_free(frame);
      return true;
    case link::ReceiveVerdict::kOutOfWindow:
      ++counters_.out_of_window;
      rte_pktmbuf_free(frame);
      return true;
  }
  return DrainInOrder(now_ns);
}

bool InboundStream::DrainInOrder(uint64_t now_ns) {
  while (!commit_pending_) {
    auto token = receiver_.PopInOrder();
    if (!token) break;
    Buffered& b = buffered_[*token % buffered_.size()];
    rte_mbuf* m = b.mbuf;
    b.mbuf = nullptr;
    ++counters_.frames;
    auto done = ProcessFrame(b.view, now_ns);
    rte_pktmbuf_free(m);
    if (!done.ok()) {
      Reject(done.error());
      return false;
    }
  }
  return true;
}

bool InboundStream::CommitPending(uint64_t now_ns) {
  if (!commit_pending_) return true;
  if (!committer_->busy()) {
    commit_started_ns_ = MonotonicNs();
    committer_->Start(staged_);
    return true;
  }
  if (!committer_->done()) return true;
  commit_pending_ = false;
  auto committed = committer_->Collect();
  if (!committed.ok()) {
    Reject(committed.error());
    return false;
  }
  counters_.commit_ns_total += MonotonicNs() - commit_started_ns_;
  stager_.MarkCommitted();
  have_wire_epoch_ = true;
  last_wire_epoch_ = wire_epoch_;
  ++counters_.epochs_committed;
  last_commit_ns_ = now_ns;
  receiver_.NoteCommitted(wire_epoch_);  // in the sender's numbers
  return DrainInOrder(now_ns);
}

Result<void> InboundStream::ProcessFrame(const link::FrameView& view, uint64_t now_ns) {
  link::RecordCursor cursor(view);
  link::RecordView record, whole;
  while (cursor.Next(&record)) {
    REPLINK_ASSIGN_OR_RETURN(bool complete, assembler_.Feed(record, &whole));
    if (complete) REPLINK_TRY(Apply(whole, now_ns));
  }
  if (cursor.fault() != link::FrameFault::kNone)
    return MakeError(Errc::kCorrupt, "vm {}: record refused: {}", stream_id_, link::FrameFaultName(cursor.fault()));
  return Ok();
}

Result<void> InboundStream::StagePage(const link::RecordView& r) {
  // The receiver's latest copy, staged in this epoch or committed, in wire version numbers. A copy
  // older than the last catch-up can be no delta's base: the sender's cache was empty then.
  std::optional<codec::PageDecoder::LocalCopy> local;
  if (auto staged = stager_.StagedPage(r.gfn)) {
    local = codec::PageDecoder::LocalCopy{staged->data, staged->version - offset_};
  } else {
    REPLINK_ASSIGN_OR_RETURN(replica::PageRef committed, store_.CommittedPage(r.gfn));
    uint64_t wire_version = committed.version >= segment_start_ && committed.version != 0
                                ? committed.version - offset_
                                : 0;
    local = codec::PageDecoder::LocalCopy{committed.data, wire_version};
  }
  REPLINK_ASSIGN_OR_RETURN(auto out, stager_.ReservePage(r.gfn));
  REPLINK_TRY(decoder_.Decode(r.gfn, r.codec, r.base_version, r.fragment, local, out));
  ++counters_.pages;
  counters_.payload_bytes += r.fragment.size();
  return Ok();
}

Result<void> InboundStream::Apply(const link::RecordView& r, uint64_t now_ns) {
  switch (r.type) {
    case RecordType::kEpochBegin: {
      bool catch_up = (r.begin_flags & capture_abi::kBeginCatchUp) != 0;
      if (!catch_up && (!have_wire_epoch_ || r.epoch != last_wire_epoch_ + 1))
        return MakeError(Errc::kCorrupt, "vm {}: epoch {} follows {} without a catch-up", stream_id_, r.epoch,
                         last_wire_epoch_);
      uint64_t replica_epoch = store_.committed_epoch() + 1;
      offset_ = replica_epoch - r.epoch;
      if (catch_up) {
        segment_start_ = replica_epoch;
        ++counters_.catch_up_epochs;
      }
      wire_epoch_ = r.epoch;
      stager_.Rebase(store_.committed_epoch());
      return stager_.Begin(replica_epoch, r.trigger);
    }
    case RecordType::kPage: return StagePage(r);
    case RecordType::kZeroPage: return stager_.StageZeroPage(r.gfn);
    case RecordType::kVcpuState:
    case RecordType::kDeviceState:
      return stager_.StageBlobFragment(r.type, r.index, r.total_length, 0, r.fragment);
    case RecordType::kDiskWrite:
      return stager_.StageDiskWriteFragment(r.index, r.sector, r.total_length, 0, r.fragment);
    case RecordType::kEpochEnd: {
      (void)now_ns;
      REPLINK_ASSIGN_OR_RETURN(staged_, stager_.End(r.record_count, r.checksum));
      commit_pending_ = true;  // the worker commits after sending its ACKs (CommitPending)
      return Ok();
    }
  }
  return Ok();
}

bool InboundStream::PollAck(uint64_t now_ns, uint32_t session_id, const link::LinkEncapsulation& encap,
                            FrameSink& sink) {
  if (promoted_ || !receiver_.AckDue(now_ns)) return false;
  rte_mbuf* m = sink.Allocate();
  if (m == nullptr) return false;
  link::LinkHeader h{};
  h.type = static_cast<uint8_t>(link::FrameType::kAck);
  h.stream_id = stream_id_;
  link::AckFields ack = receiver_.CurrentAck();
  if (ack.committed_epoch) {
    h.flags |= link::kFlagCommitValid;
    h.epoch = *ack.committed_epoch;
  }
  link::ApplyStamp(h, link::FrameStamp{session_id, ack, false});
  auto bytes = link::BuildControlFrame(encap, FrameSink::Room(m), h, {});
  FrameSink::SetLength(m, bytes.size());
  sink.Send(m);
  receiver_.OnAckSent(now_ns, true);
  ++counters_.acks_sent;
  return true;
}

}  // namespace replink::dataplane
