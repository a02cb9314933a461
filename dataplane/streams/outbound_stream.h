// OutboundStream: the primary side of one protected VM. It drains the VM's capture ring, encodes pages
// (codec policy), packs records into DATA frames, sends them reliably to the peer, frees capture slots
// when the peer has acknowledged the frames that carried them, and turns the peer's commit reports
// into completions for the shim.
//
// State machine:
//   opening --STREAM_OPEN accepted--> active --link lost / peer reset / refusal--> failing
//   failing: every epoch in flight is completed as failed (the shim releases or holds its I/O by its
//   policy and makes its next epoch a catch-up); records are discarded until that catch-up epoch,
//   which is sent once the stream is open again.
// Owned and driven by one worker lcore; no locks, no allocation on the fast path.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "capture/capture_ring_reader.h"
#include "capture/unique_fd.h"
#include "codec/codec_policy.h"
#include "codec/page_encoder.h"
#include "dataplane/streams/frame_sink.h"
#include "dataplane/streams/latency_histogram.h"
#include "dataplane/streams/stream_counters.h"
#include "link/frame_writer.h"
#include "link/hello_exchange.h"
#include "link/link_protocol.h"
#include "link/reliable_sender.h"
#include "link/token_bucket_pacer.h"

namespace replink::dataplane {

struct OutboundTuning {
  uint32_t window = 1024;              // frames in flight (buffers allocated at creation)
  uint32_t send_window = 0;            // operator cap on frames in flight, <= window; 0 = window
  uint32_t mtu = 0;                    // largest MTU for DATA frames, <= the encapsulation's; 0 = it
  uint32_t batch = 32;                 // ring records polled per round (1..kMaxBatch)
  codec::CodecSetting codec = codec::CodecSetting::kAuto;
  std::size_t delta_cache_mib = 256;
  uint64_t rate_bps = 0;               // 0 = unlimited
  uint64_t failure_timeout_ns = 1'000'000'000;  // link unusable this long -> epochs fail
  uint64_t open_retry_ns = 50'000'000;
};

// What the worker tells a stream about the link.
struct LinkView {
  bool usable = false;          // session established and peer not down
  uint32_t session_id = 0;
  uint64_t unusable_since_ns = 0;
  float utilisation = 1.0f;     // smoothed share of the link in use (codec policy input)
};

class OutboundStream {
 public:
  static constexpr uint32_t kMaxBatch = 512;
  static Result<std::unique_ptr<OutboundStream>> Create(uint32_t stream_id, CaptureRingReader reader,
                                                        UniqueFd registration, UniqueFd doorbell,
                                                        const link::LinkEncapsulation& encap,
                                                        const OutboundTuning& tuning);
  ~OutboundStream();

  uint32_t id() const { return stream_id_; }
  const std::string& name() const { return name_; }

  // One round of work: open handshake, pull ring records into frames, retransmit, probe. Returns
  // whether anything was done.
  bool Poll(uint64_t now_ns, const LinkView& link, FrameSink& sink);
  // The peer's reply to STREAM_OPEN.
  void OnOpenReply(const link::StreamOpenPayload& reply, uint64_t now_ns);
  // An ACK frame of this stream (with or without a committed epoch).
  void OnAck(const link::LinkHeader& header, uint64_t now_ns);
  // The session restarted or the peer reset this stream: in-flight data is gone on the other side.
  void OnPeerLost(std::string_view why, uint64_t now_ns);

  // Operator retuning (replinkctl link set), between rounds on the worker lcore: batch, codec, rate,
  // send window, MTU, failure timeout take effect with the next frame; nothing in flight is touched.
  // `window` (the allocation) is kept.
  void Retune(const OutboundTuning& tuning, uint64_t now_ns);
  // Swaps in a delta cache built off the worker (a new size); returns the old one to be destroyed
  // there too. The new cache starts empty, which is always safe: deltas resume as pages are re-sent.
  codec::DeltaCache ReplaceDeltaCache(codec::DeltaCache cache) { return encoder_.ReplaceCache(std::move(cache)); }
  const OutboundTuning& tuning() const { return tuning_; }

  // The shim closed its registration socket (checked by the worker now and then).
  bool ShimGone();
  bool failed() const { return reader_.failed(); }
  std::string_view state_name() const;
  const OutboundCounters& counters() const { return counters_; }
  const LatencyHistogram& commit_latency() const { return commit_latency_; }
  const codec::PageEncoder& encoder() const { return encoder_; }
  const link::ReliableSender& sender() const { return sender_; }
  const CaptureRingReader& reader() const { return reader_; }
  CaptureRingReader& reader() { return reader_; }
  int doorbell_fd() const { return doorbell_.get(); }
  uint64_t last_committed_epoch() const { return last_committed_; }
  uint64_t last_committed_ns() const { return last_committed_ns_; }
  const std::string& last_refusal() const { return last_refusal_; }
  const std::string& last_loss() const { return last_loss_; }

 private:
  enum class State { kOpening, kActive, kFailing };
  struct InFlightFrame {
    rte_mbuf* mbuf = nullptr;
    uint64_t slot_end = 0;  // capture slots below this are fully inside frames up to this one
  };
  struct EpochInFlight {
    uint64_t epoch;
    uint64_t capture_ns;
  };
  // A record being packed; it may span several frames.
  struct PendingRecord {
    bool active = false;
    CaptureRecord record;
    std::size_t offset = 0;  // bytes of its payload already in frames
    codec::EncodedPage encoded;
  };

  OutboundStream(uint32_t stream_id, CaptureRingReader reader, UniqueFd registration, UniqueFd doorbell,
                 codec::PageEncoder encoder, const link::LinkEncapsulation& encap, const OutboundTuning& tuning);
  void StartOpening();
  bool SendOpen(uint64_t now_ns, const LinkView& link, FrameSink& sink);
  bool PumpRecords(uint64_t now_ns, const LinkView& link, FrameSink& sink);
  bool DiscardRecords(bool stop_at_catch_up);
  // Appends the pending record to the current frame; false when the frame is full (seal and retry).
  bool AppendPending();
  bool StartFrame(uint64_t epoch, FrameSink& sink);
  void SealFrame(uint64_t now_ns, const LinkView& link, FrameSink& sink, bool ack_request);
  bool Retransmit(uint64_t now_ns, const LinkView& link, FrameSink& sink);
  void FailInFlight(std::string_view why);
  void CompleteThrough(uint64_t epoch, uint64_t now_ns);
  void QueueCompletion(uint64_t epoch, capture_abi::CompletionStatus status);
  bool FlushCompletions();
  void FreeFrames();
  void Transmit(rte_mbuf* m, FrameSink& sink);

  uint32_t stream_id_;
  std::string name_;
  CaptureRingReader reader_;
  UniqueFd registration_;
  UniqueFd doorbell_;
  codec::PageEncoder encoder_;
  codec::AdaptivePolicy policy_;
  const link::LinkEncapsulation& encap_;
  OutboundTuning tuning_;
  link::FrameWriter writer_;
  link::ReliableSender sender_;
  link::TokenBucketPacer pacer_;

  State state_ = State::kOpening;
  uint64_t open_id_ = 0;
  uint64_t next_open_ns_ = 0;
  uint64_t opening_since_ns_ = 0;     // first STREAM_OPEN of this opening
  uint32_t session_id_ = 0;
  uint64_t now_ns_ = 0;              // time of the current Poll (the pacer's clock)
  bool need_catch_up_ = true;        // discard until a catch-up epoch (the first epoch is one)
  bool in_epoch_ = false;            // the ring is inside an epoch we are sending
  uint64_t frame_epoch_ = 0;
  rte_mbuf* frame_ = nullptr;        // DATA frame being filled
  uint64_t frame_slot_end_ = 0;
  std::vector<CaptureRecord> batch_;  // kMaxBatch records; tuning_.batch of them used per poll
  std::size_t batch_pos_ = 0;
  std::size_t batch_len_ = 0;
  PendingRecord pending_;
  std::vector<std::byte> payload_;   // encoded page or gathered blob / disk write
  std::vector<InFlightFrame> frames_;  // by seq % window
  std::deque<EpochInFlight> epochs_;
  uint64_t released_seq_ = 0;        // frames below this had their slots released
  uint64_t last_committed_ = 0;
  uint64_t last_committed_ns_ = 0;
  uint64_t last_completed_ = 0;      // highest epoch queued for completion (either way)
  std::deque<std::pair<uint64_t, capture_abi::CompletionStatus>> completions_;  // not yet in the ring
  std::string last_refusal_;         // why the peer refused STREAM_OPEN
  std::string last_loss_;            // why in-flight data was last given up
  OutboundCounters counters_;
  LatencyHistogram commit_latency_;
};

}  // namespace replink::dataplane
