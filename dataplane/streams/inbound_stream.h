// InboundStream: the secondary side of one protected VM. DATA frames arrive (possibly lost, duplicated,
// reordered), are put back in order (ReliableReceiver), their records reassembled
// (EpochRecordAssembler), pages decoded against the local copy (codec), each epoch staged completely
// and verified (EpochStager), then committed atomically (ReplicaStore); only then is the epoch
// reported committed to the primary.
//
// Epoch numbers: the wire carries the shim's numbers; the replica counts its own commits. At a
// catch-up epoch (the first of an opening, or after a loss) the two are re-aligned; between catch-ups
// both advance by one, so a delta's base version converts with a constant offset. The sender forgets
// its delta cache at every catch-up, so no delta refers across one.
// Owned and driven by one worker lcore.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "codec/page_decoder.h"
#include "dataplane/config/appliance_config.h"
#include "dataplane/streams/async_committer.h"
#include "dataplane/streams/frame_sink.h"
#include "dataplane/streams/stream_counters.h"
#include "link/epoch_record_assembler.h"
#include "link/frame_reader.h"
#include "link/frame_writer.h"
#include "link/hello_exchange.h"
#include "link/link_protocol.h"
#include "link/reliable_receiver.h"
#include "replica/epoch_stager.h"
#include "replica/replica_store.h"

namespace replink::dataplane {

struct InboundTuning {
  uint32_t window = 1024;
  uint64_t staging_slack_bytes = 64u << 20;  // beyond guest memory, for blobs and disk writes
  std::string replica_root = "/var/lib/replink";  // where a [[vm]] without paths keeps its replica
};

class InboundStream {
 public:
  // Opens (or creates) the replica of `vm` for the geometry the primary announced.
  static Result<std::unique_ptr<InboundStream>> Open(uint32_t stream_id, const config::VmConfig& vm,
                                                     const link::StreamOpenPayload& open,
                                                     const InboundTuning& tuning);
  ~InboundStream();

  uint32_t id() const { return stream_id_; }
  uint64_t open_id() const { return open_id_; }
  // A STREAM_OPEN for an already open stream: a new opening (new id) starts a fresh sequence space;
  // a repeated one changes nothing. Returns whether it was new. The geometry must match.
  Result<bool> Reopen(const link::StreamOpenPayload& open);

  // A validated DATA frame of this stream; takes ownership of `frame`. Returns false when the stream
  // wants a reset (the caller asks the peer for one).
  bool OnData(rte_mbuf* frame, const link::FrameView& view, uint64_t now_ns);
  // A staged epoch is committed on the AsyncCommitter's thread (it may take long: fdatasync, a
  // catch-up epoch of all memory) while the worker goes on acknowledging and heart-beating.
  bool commit_pending() const { return commit_pending_; }
  // Starts the pending commit or, once it finished, reports the epoch committed and goes on with the
  // frames already received. Same return as OnData.
  bool CommitPending(uint64_t now_ns);
  void OnProbe() { receiver_.OnAckRequest(); }
  // Sends an ACK frame if one is due. Returns whether it did.
  bool PollAck(uint64_t now_ns, uint32_t session_id, const link::LinkEncapsulation& encap, FrameSink& sink);
  // The session restarted: drop what is in flight; the primary re-opens.
  void OnPeerLost();

  bool rejecting() const { return rejecting_; }
  const std::string& last_error() const { return last_error_; }
  const InboundCounters& counters() const { return counters_; }
  const replica::ReplicaStore& store() const { return store_; }
  const replica::EpochStager& stager() const { return stager_; }
  const codec::PageDecoder& decoder() const { return decoder_; }
  const link::ReliableReceiver& receiver() const { return receiver_; }
  uint64_t last_commit_ns() const { return last_commit_ns_; }
  // Closes the replica cleanly (durable, journal retired) so a restore can open it.
  Result<void> Close() { return store_.Close(); }
  // Failover: the staged epoch (if any) is discarded, the replica closed at its last committed epoch
  // and the stream refuses everything from now on (the old primary must not write into a promoted
  // replica). Returns the epoch the guest resumes from.
  Result<uint64_t> Promote();
  bool promoted() const { return promoted_; }

 private:
  struct Buffered {
    rte_mbuf* mbuf = nullptr;
    link::FrameView view;
  };
  InboundStream(uint32_t stream_id, uint64_t open_id, replica::ReplicaStore store, replica::EpochStager stager,
                uint32_t window, std::size_t max_item);
  Result<void> ProcessFrame(const link::FrameView& view, uint64_t now_ns);
  bool DrainInOrder(uint64_t now_ns);
  Result<void> Apply(const link::RecordView& record, uint64_t now_ns);
  Result<void> StagePage(const link::RecordView& record);
  void Reject(const Error& error);
  void ResetSequence();

  uint32_t stream_id_;
  uint64_t open_id_;
  replica::ReplicaStore store_;
  replica::EpochStager stager_;
  link::ReliableReceiver receiver_;
  link::EpochRecordAssembler assembler_;
  codec::PageDecoder decoder_;
  std::vector<Buffered> buffered_;  // by seq % window
  std::unique_ptr<AsyncCommitter> committer_;  // after store_: uses it
  uint64_t commit_started_ns_ = 0;
  bool rejecting_ = false;          // an epoch was refused: drop data until the primary re-opens
  bool commit_pending_ = false;
  bool promoted_ = false;     // the stager holds a sealed epoch (staged_) not yet committed
  replica::StagedEpoch staged_;
  bool have_wire_epoch_ = false;
  uint64_t last_wire_epoch_ = 0;    // last wire epoch committed (or begun, while staging)
  uint64_t wire_epoch_ = 0;         // the epoch being staged, in wire numbers
  uint64_t offset_ = 0;             // replica epoch - wire epoch (mod 2^64) since the last catch-up
  uint64_t segment_start_ = 0;      // replica epoch of the last catch-up
  uint64_t last_commit_ns_ = 0;
  std::string last_error_;
  InboundCounters counters_;
};

}  // namespace replink::dataplane
