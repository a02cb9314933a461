#include "dataplane/worker/link_worker.h"

#include <poll.h>
#include <unistd.h>

#include <rte_mbuf.h>
#include <rte_ring.h>

#include <atomic>
#include <cstdio>
#include <ctime>
#include <utility>

#include <fmt/format.h>

#include "link/frame_stamp.h"
#include "link/wire_access.h"

namespace replink::dataplane {
namespace {

constexpr uint16_t kRxBurst = 32;
constexpr std::size_t kTxBatch = 32;
constexpr uint64_t kShimCheckIntervalRounds = 4096;

uint64_t MonotonicNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000'000ULL + uint64_t(ts.tv_nsec);
}

struct Command {
  enum class Kind { kAddOutbound, kTask } kind;
  OutboundStream* stream;
  std::shared_ptr<WorkerTask> task;  // kTask
};

std::atomic<uint32_t> g_ring_serial{0};

const char* SessionStateName(link::SessionState s) {
  switch (s) {
    case link::SessionState::kIdle: return "idle";
    case link::SessionState::kHelloSent: return "hello-sent";
    case link::SessionState::kEstablished: return "established";
  }
  return "unknown";
}

}  // namespace

Result<std::unique_ptr<LinkWorker>> LinkWorker::Create(const WorkerSetup& setup, link::LinkEncapsulation encap,
                                                       link::LinkSession session) {
  if (setup.port == nullptr || setup.pool == nullptr || setup.config == nullptr)
    return MakeError(Errc::kInvalidArgument, "worker needs a port, a mempool and a configuration");
  std::string name = fmt::format("rl_inbox_{}_{}", getpid(), g_ring_serial.fetch_add(1));
  rte_ring* inbox = rte_ring_create(name.c_str(), 256, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
  if (inbox == nullptr) return MakeError(Errc::kNoSpace, "cannot create the worker's command ring");
  return std::unique_ptr<LinkWorker>(new LinkWorker(setup, std::move(encap), std::move(session), inbox));
}

LinkWorker::LinkWorker(const WorkerSetup& setup, link::LinkEncapsulation encap, link::LinkSession session,
                       rte_ring* inbox)
    : setup_(setup),
      encap_(std::move(encap)),
      session_(std::move(session)),
      inbox_(inbox),
      backoff_(setup.idle) {
  tx_.reserve(kTxBatch * 2);
}

LinkWorker::~LinkWorker() {
  Flush();
  void* item = nullptr;
  while (rte_ring_dequeue(inbox_, &item) == 0) {
    auto* cmd = static_cast<Command*>(item);
    delete cmd->stream;
    delete cmd;
  }
  outbound_.clear();
  inbound_.clear();
  rte_ring_free(inbox_);
}

Result<void> LinkWorker::Post(std::shared_ptr<WorkerTask> task) {
  auto* cmd = new Command{Command::Kind::kTask, nullptr, std::move(task)};
  if (rte_ring_enqueue(inbox_, cmd) != 0) {
    delete cmd;
    return MakeError(Errc::kNoSpace, "worker command ring full");
  }
  return Ok();
}

Result<void> LinkWorker::AddOutbound(std::unique_ptr<OutboundStream> stream) {
  auto* cmd = new Command{Command::Kind::kAddOutbound, stream.get(), nullptr};
  if (rte_ring_enqueue(inbox_, cmd) != 0) {
    delete cmd;
    return MakeError(Errc::kNoSpace, "worker command ring full");
  }
  stream.release();
  return Ok();
}

rte_mbuf* LinkWorker::Allocate() { return rte_pktmbuf_alloc(setup_.pool); }

void LinkWorker::Send(rte_mbuf* frame) {
  tx_.push_back(frame);
  if (tx_.size() >= kTxBatch) Flush();
}

void LinkWorker::Flush() {
  // An empty burst still lets a fault-injecting decorator release frames it holds back.
  uint64_t bytes = 0;
  for (rte_mbuf* m : tx_) bytes += m->pkt_len;
  uint16_t sent = setup_.port->TxBurstOrDrop(setup_.tx_queue, tx_);
  counters_.tx_frames += sent;
  counters_.tx_bytes += bytes;
  util_window_bytes_ += bytes;
  tx_.clear();
}

bool LinkWorker::PollControl() {
  void* item = nullptr;
  bool did = false;
  while (rte_ring_dequeue(inbox_, &item) == 0) {
    auto* cmd = static_cast<Command*>(item);
    if (cmd->kind == Command::Kind::kTask) {
      cmd->task->Run(*this, MonotonicNs());
      cmd->task->MarkDone();
      delete cmd;
      did = true;
      continue;
    }
    std::unique_ptr<OutboundStream> stream(cmd->stream);
    delete cmd;
    uint32_t id = stream->id();
    if (outbound_.count(id) != 0 || inbound_.count(id) != 0) {
      fmt::print(stderr, "replink-dataplane: vm {} registered twice; refusing the second\n", id);
      stream->reader().Fail(Errc::kState, 0, "this VM is already protected or replicated by this appliance");
      continue;
    }
    if (unprotected_.count(id) != 0) {
      fmt::print(stderr, "replink-dataplane: vm {} was unprotected by the operator; refusing its shim\n", id);
      stream->reader().Fail(Errc::kState, 0, "unprotected by the operator (replinkctl vm protect to allow it again)");
      continue;
    }
    fmt::print("replink-dataplane: vm {} '{}' protected from here (primary)\n", id, stream->name());
    std::fflush(stdout);
    outbound_.emplace(id, std::move(stream));
    did = true;
  }
  return did;
}

LinkView LinkWorker::CurrentLinkView() const {
  LinkView v;
  v.usable = link_usable_;
  v.session_id = session_.session_id();
  v.unusable_since_ns = unusable_since_ns_;
  v.utilisation = utilisation_;
  return v;
}

bool LinkWorker::ReceiveFrames(uint64_t now_ns) {
  rte_mbuf* burst[kRxBurst];
  bool did = false;
  for (int i = 0; i < 4; ++i) {
    uint16_t n = setup_.port->RxBurst(burst);
    if (n == 0) break;
    did = true;
    for (uint16_t k = 0; k < n; ++k) HandleFrame(burst[k], now_ns);
    if (n < kRxBurst) break;
  }
  return did;
}

void LinkWorker::HandleFrame(rte_mbuf* m, uint64_t now_ns) {
  ++counters_.rx_frames;
  counters_.rx_bytes += m->pkt_len;
  if (m->nb_segs != 1) {  // our frames always fit one segment (see FIELD-NOTES on memif bsize)
    reader_.faults().Count(link::FrameFault::kTruncated);
    rte_pktmbuf_free(m);
    return;
  }
  auto parsed = reader_.ParseEthernet(encap_, FrameSink::Bytes(m));
  if (!parsed.ok()) {  // counted by the reader, by reason
    rte_pktmbuf_free(m);
    return;
  }
  const link::FrameView& v = *parsed;
  if (session_.OnFrame(v, now_ns) != link::FrameFault::kNone) {
    ++counters_.session_refused;
    rte_pktmbuf_free(m);
    return;
  }
  uint32_t id = v.header.stream_id;
  switch (v.type()) {
    case link::FrameType::kData: {
      auto in = inbound_.find(id);
      if (in == inbound_.end()) {
        ++counters_.unknown_stream;
        rte_pktmbuf_free(m);
        return;
      }
      if (!in->second->OnData(m, v, now_ns)) {
        fmt::print(stderr, "replink-dataplane: vm {}: {}; asking the primary to resynchronise\n", id,
                   in->second->last_error());
        session_.RequestStreamReset(id, 0, link::ResetReason::kResync, now_ns);
      }
      return;  // the stream owns the mbuf now
    }
    case link::FrameType::kAck:
      if (auto out = outbound_.find(id); out != outbound_.end()) {
        out->second->OnAck(v.header, now_ns);
      } else if (auto in = inbound_.find(id); in != inbound_.end()) {
        if (v.header.flags & link::kFlagAckRequest) in->second->OnProbe();
      } else {
        ++counters_.unknown_stream;
      }
      break;
    case link::FrameType::kStreamOpen: HandleStreamOpen(v, now_ns); break;
    default: break;  // HELLO, HELLO_ACK, HEARTBEAT, RESET: the session consumed them
  }
  rte_pktmbuf_free(m);
}

void LinkWorker::HandleStreamOpen(const link::FrameView& v, uint64_t now_ns) {
  auto open = link::LoadWire<link::StreamOpenPayload>(v.payload);
  uint32_t id = v.header.stream_id;
  if (v.header.flags & link::kFlagReply) {
    if (auto out = outbound_.find(id); out != outbound_.end()) {
      out->second->OnOpenReply(open, now_ns);
      if (open.status != 0)
        fmt::print(stderr, "replink-dataplane: vm {}: the peer refused to replicate it: {}\n", id,
                   out->second->last_refusal());
      else
        fmt::print("replink-dataplane: vm {}: replica open on the peer (its last committed epoch: {})\n", id,
                   open.committed_epoch);
      std::fflush(stdout);
    }
    return;
  }
  ++counters_.stream_opens;
  const config::VmConfig* vm = nullptr;
  for (const config::VmConfig& candidate : setup_.config->vms)
    if (candidate.id == id) vm = &candidate;
  Result<void> outcome = Ok();
  uint64_t committed = 0;
  if (vm == nullptr) {
    outcome = MakeError(Errc::kInvalidArgument, "no [[vm]] with id {} is configured on appliance '{}'", id,
                        setup_.config->appliance.name);
  } else if (outbound_.count(id) != 0) {
    outcome = MakeError(Errc::kState, "vm {} is protected from this appliance too (split brain?)", id);
  } else if (auto in = inbound_.find(id); in != inbound_.end()) {
    auto fresh = in->second->Reopen(open);
    if (!fresh.ok()) outcome = fresh.error();
    committed = in->second->store().committed_epoch();
  } else {
    auto stream = InboundStream::Open(id, *vm, open, setup_.inbound);
    if (stream.ok()) {
      committed = (*stream)->store().committed_epoch();
      const auto& rec = (*stream)->store().recovery();
      fmt::print("replink-dataplane: vm {} '{}' replicated here (secondary): replica {} at epoch {}{}{}\n", id,
                 vm->name, vm->replica_dir, committed, rec.created ? " (new)" : "",
                 rec.detail.empty() ? "" : fmt::format("; recovery: {}", rec.detail));
      std::fflush(stdout);
      inbound_.emplace(id, std::move(stream).value());
    } else {
      outcome = stream.error();
    }
  }
  if (!outcome.ok()) {
    ++counters_.stream_open_refusals;
    fmt::print(stderr, "replink-dataplane: refusing to replicate vm {}: {}\n", id, outcome.error().Describe());
  }
  SendOpenReply(id, open, outcome, committed);
}

void LinkWorker::SendOpenReply(uint32_t stream_id, const link::StreamOpenPayload& request,
                               const Result<void>& outcome, uint64_t committed_epoch) {
  rte_mbuf* m = Allocate();
  if (m == nullptr) return;  // the primary asks again
  link::StreamOpenPayload reply = request;
  reply.status = outcome.ok() ? 0 : 1 + static_cast<int32_t>(outcome.error().code);
  reply.committed_epoch = committed_epoch;
  std::memset(reply.message, 0, sizeof(reply.message));
  if (!outcome.ok()) {
    std::string text = outcome.error().message;
    std::memcpy(reply.message, text.data(), std::min(text.size(), sizeof(reply.message) - 1));
  }
  link::LinkHeader h{};
  h.type = static_cast<uint8_t>(link::FrameType::kStreamOpen);
  h.flags = link::kFlagReply;
  h.stream_id = stream_id;
  h.session_id = session_.session_id();
  auto bytes = link::BuildControlFrame(encap_, FrameSink::Room(m), h, std::as_bytes(std::span(&reply, 1)));
  FrameSink::SetLength(m, bytes.size());
  Send(m);
}

void LinkWorker::HandleSessionEvents(uint64_t now_ns) {
  while (auto ev = session_.PopEvent()) {
    using Kind = link::SessionEvent::Kind;
    switch (ev->kind) {
      case Kind::kEstablished: {
        const auto& a = session_.agreement();
        fmt::print("replink-dataplane: link established with '{}' (protocol {}, mtu {}, window {}, heartbeat {} us)\n",
                   session_.peer() ? session_.peer()->name : "?", a.version, a.mtu, a.window,
                   a.heartbeat_interval_ns / 1000);
        break;
      }
      case Kind::kPeerRestarted:
        fmt::print("replink-dataplane: the peer restarted: every stream resynchronises\n");
        for (auto& [id, in] : inbound_) in->OnPeerLost();
        for (auto& [id, out] : outbound_) out->OnPeerLost("peer restarted", now_ns);
        break;
      case Kind::kNegotiationFailed:
        fmt::print(stderr, "replink-dataplane: link negotiation failed: {}\n", ev->message);
        break;
      case Kind::kStreamConflict:
        fmt::print(stderr, "replink-dataplane: vm {} is claimed by both appliances in the same role\n",
                   ev->stream_id);
        break;
      case Kind::kLivenessChanged:
        fmt::print("replink-dataplane: peer is {}\n", link::LivenessName(ev->liveness));
        if (ev->liveness == link::Liveness::kDown) {
          // The primary is declared dead: promote every replica that has a failover command.
          for (const config::VmConfig& vm : setup_.config->vms)
            if (!vm.promote_command.empty() && inbound_.count(vm.id) != 0) Promote(vm.id, "primary declared dead");
        }
        break;
      case Kind::kStreamReset:
        if (auto out = outbound_.find(ev->stream_id); out != outbound_.end())
          out->second->OnPeerLost("the peer asked to resynchronise the stream", now_ns);
        if (auto in = inbound_.find(ev->stream_id); in != inbound_.end()) in->second->OnPeerLost();
        session_.AnswerStreamReset(ev->stream_id, 0);
        break;
      case Kind::kStreamResetDone: break;
    }
    std::fflush(stdout);
  }
  bool usable = session_.established() && session_.liveness().state() != link::Liveness::kDown;
  if (usable != link_usable_) {
    link_usable_ = usable;
    if (!usable) unusable_since_ns_ = now_ns;
  }
  if (!link_usable_ && unusable_since_ns_ == 0) unusable_since_ns_ = now_ns;
}

bool LinkWorker::PollStreams(uint64_t now_ns) {
  bool did = false;
  LinkView view = CurrentLinkView();
  for (auto it = outbound_.begin(); it != outbound_.end();) {
    OutboundStream& s = *it->second;
    did |= s.Poll(now_ns, view, *this);
    if (rounds_ % kShimCheckIntervalRounds == 0 && s.ShimGone()) {
      // The stream's own figures go with it (the benchmark harness reads them: scripts/bench/).
      const OutboundCounters& fc = s.counters();
      const LatencyHistogram& fh = s.commit_latency();
      fmt::print(
          "replink-dataplane: vm {} '{}': shim disconnected; stream closed; final {{\"vm\":{},\"epochs_committed\":{},"
          "\"pages\":{},\"page_bytes\":{},\"payload_bytes\":{},\"wire_bytes\":{},\"retransmits\":{},\"commits\":{},"
          "\"commit_p50_us\":{},\"commit_p99_us\":{},\"commit_p999_us\":{},\"commit_max_us\":{}}}\n",
          s.id(), s.name(), s.id(), fc.epochs_committed, fc.pages, fc.page_bytes, fc.payload_bytes, fc.wire_bytes,
          fc.retransmits, fh.count(), fh.PercentileUs(0.50), fh.PercentileUs(0.99), fh.PercentileUs(0.999), fh.max_us());
      std::fflush(stdout);
      ++counters_.streams_removed;
      outbound_closed_ += s.counters();
      it = outbound_.erase(it);
      continue;
    }
    ++it;
  }
  if (!session_.established()) return did;
  for (auto& [id, in] : inbound_) did |= in->PollAck(now_ns, session_.session_id(), encap_, *this);
  for (auto& [id, in] : inbound_) {
    if (!in->commit_pending()) continue;
    Flush();  // the ACKs of everything received go out before the commit starts
    if (!in->CommitPending(now_ns)) {
      fmt::print(stderr, "replink-dataplane: vm {}: {}; asking the primary to resynchronise\n", id, in->last_error());
      session_.RequestStreamReset(id, 0, link::ResetReason::kResync, now_ns);
    }
    did = true;
    did |= in->PollAck(now_ns, session_.session_id(), encap_, *this);  // the commit report, at once
  }
  return did;
}

bool LinkWorker::RunOnce(uint64_t now_ns) {
  ++rounds_;
  ++counters_.rounds;
  bool did = PollControl();
  did |= ReceiveFrames(now_ns);
  HandleSessionEvents(now_ns);
  for (;;) {  // control frames due: HELLO, heartbeats, RESETs
    rte_mbuf* m = Allocate();
    if (m == nullptr) break;
    auto frame = session_.PollTransmit(now_ns, FrameSink::Room(m));
    if (frame.empty()) {
      rte_pktmbuf_free(m);
      break;
    }
    FrameSink::SetLength(m, frame.size());
    Send(m);
  }
  did |= PollStreams(now_ns);
  Flush();
  // Utilisation over 10 ms windows against the configured rate cap (unknown capacity counts as busy:
  // compressing costs CPU but never correctness).
  if (now_ns - util_window_start_ns_ >= 10'000'000) {
    uint64_t rate = setup_.outbound.rate_bps;
    if (rate > 0) {
      double capacity = double(rate) / 8.0 * double(now_ns - util_window_start_ns_) / 1e9;
      utilisation_ = static_cast<float>(std::min(1.0, double(util_window_bytes_) / capacity));
    }
    util_window_start_ns_ = now_ns;
    util_window_bytes_ = 0;
  }
  if (did) ++counters_.busy_rounds;
  if (now_ns >= next_snapshot_ns_) {
    PublishSnapshot(now_ns);
    next_snapshot_ns_ = now_ns + setup_.snapshot_interval_ns;
  }
  return did;
}

void LinkWorker::Sleep(uint64_t ns) {
  // Sleep on the shims' doorbells: a new epoch wakes us at once. Frames from the peer wait for the
  // end of the nap (bounded by max_sleep_us).
  std::vector<pollfd> fds;
  fds.reserve(outbound_.size());
  for (auto& [id, out] : outbound_) {
    out->reader().SetSleeping(true);
    if (out->reader().pending_descriptors() > 0) ns = 0;
    if (out->doorbell_fd() >= 0) fds.push_back(pollfd{out->doorbell_fd(), POLLIN, 0});
  }
  if (ns > 0) {
    timespec ts{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
    ppoll(fds.data(), fds.size(), &ts, nullptr);
    for (const pollfd& p : fds) {
      if (p.revents & POLLIN) {
        uint64_t v;
        [[maybe_unused]] ssize_t r = read(p.fd, &v, sizeof(v));
      }
    }
    ++counters_.sleeps;
    counters_.slept_ns += ns;
  }
  for (auto& [id, out] : outbound_) out->reader().SetSleeping(false);
}

void LinkWorker::Run(const std::atomic<bool>& stop) {
  session_.Start(MonotonicNs());
  while (!stop.load(std::memory_order_relaxed)) {
    uint64_t now = MonotonicNs();
    bool did = RunOnce(now);
    uint64_t nap = backoff_.OnRound(did, now);
    if (nap > 0) Sleep(nap);
  }
  PublishSnapshot(MonotonicNs());
}

namespace {

class PromoteTask final : public WorkerTask {
 public:
  explicit PromoteTask(uint32_t vm_id) : vm_id_(vm_id) {}
  void Run(LinkWorker& worker, uint64_t) override { worker.Promote(vm_id_, "operator request"); }

 private:
  uint32_t vm_id_;
};

}  // namespace

Result<void> LinkWorker::RequestPromotion(uint32_t vm_id) { return Post(std::make_shared<PromoteTask>(vm_id)); }

void LinkWorker::Promote(uint32_t vm_id, const char* why) {
  Promotion p{vm_id, 0, {}, {}};
  for (const config::VmConfig& vm : setup_.config->vms)
    if (vm.id == vm_id) p.replica_dir = vm.replica_dir;
  auto in = inbound_.find(vm_id);
  if (in == inbound_.end()) {
    p.error = fmt::format("vm {} has no replica on this appliance", vm_id);
  } else if (in->second->promoted()) {
    return;  // already done
  } else {
    auto epoch = in->second->Promote();
    if (epoch.ok()) {
      p.epoch = *epoch;
    } else {
      p.error = epoch.error().Describe();
    }
  }
  fmt::print("replink-dataplane: vm {}: failover ({}): {}\n", vm_id, why,
             p.error.empty() ? fmt::format("replica closed at committed epoch {}, ready to resume", p.epoch) : p.error);
  std::fflush(stdout);
  std::lock_guard<std::mutex> lock(snapshot_mutex_);
  promotions_.push_back(std::move(p));
}

std::vector<LinkWorker::Promotion> LinkWorker::TakePromotions() {
  std::lock_guard<std::mutex> lock(snapshot_mutex_);
  return std::exchange(promotions_, {});
}

void LinkWorker::CloseReplicas() {
  for (auto& [id, in] : inbound_) {
    if (in->promoted()) continue;
    auto closed = in->Close();
    if (!closed.ok())
      fmt::print(stderr, "replink-dataplane: vm {}: closing the replica: {}\n", id, closed.error().Describe());
  }
}

void LinkWorker::PublishSnapshot(uint64_t now_ns) {
  ApplianceStats s;
  s.taken_ns = now_ns;
  s.session = SessionStateName(session_.state());
  s.liveness = link::LivenessName(session_.liveness().state());
  if (session_.peer()) s.peer_name = session_.peer()->name;
  s.peer_rtt_ns = session_.liveness().rtt_ns();
  s.peer_last_heard_ns = session_.liveness().last_heard_ns();
  if (session_.established()) {
    s.agreed_mtu = session_.agreement().mtu;
    s.agreed_window = session_.agreement().window;
    s.agreed_heartbeat_ns = session_.agreement().heartbeat_interval_ns;
  }
  s.session_counters = session_.counters();
  s.unprotected.assign(unprotected_.begin(), unprotected_.end());
  s.worker = counters_;
  s.rx_faults = reader_.faults();
  s.port = setup_.port->Counters();
  s.outbound_closed = outbound_closed_;
  for (const auto& [id, out] : outbound_) {
    OutboundStats o;
    o.id = id;
    o.name = out->name();
    o.state = std::string(out->state_name());
    o.counters = out->counters();
    for (std::size_t c = 0; c < codec::kCodecCount; ++c) {
      const auto& cc = out->encoder().counters(static_cast<codec::CodecId>(c));
      o.codecs[c] = CodecUse{cc.pages, cc.bytes_out};
    }
    const LatencyHistogram& h = out->commit_latency();
    o.commits = h.count();
    o.commit_p50_us = h.PercentileUs(0.50);
    o.commit_p99_us = h.PercentileUs(0.99);
    o.commit_p999_us = h.PercentileUs(0.999);
    o.commit_max_us = h.max_us();
    o.commit_sum_us = h.sum_us();
    for (std::size_t b = 0; b < kCommitLatencyBucketsUs.size(); ++b)
      o.commit_buckets[b] = h.CountAtMostUs(kCommitLatencyBucketsUs[b]);
    o.sender = out->sender().counters();
    o.last_committed_epoch = out->last_committed_epoch();
    o.last_commit_age_ns = out->last_committed_ns() ? now_ns - out->last_committed_ns() : 0;
    o.ring_pending = out->reader().pending_descriptors();
    o.slots_in_use = out->reader().slots_consumed() - out->reader().slots_released();
    o.slot_count = out->reader().identity().slot_count;
    o.frames_in_flight = out->sender().in_flight();
    o.credit_limit = out->sender().credit_limit() - out->sender().next_seq();
    o.rtt_ns = out->sender().rtt().srtt_ns();
    o.last_loss = out->last_loss();
    o.last_refusal = out->last_refusal();
    s.outbound.push_back(std::move(o));
  }
  for (const auto& [id, in] : inbound_) {
    InboundStats i;
    i.id = id;
    i.counters = in->counters();
    i.committed_epoch = in->store().committed_epoch();
    i.last_commit_age_ns = in->last_commit_ns() ? now_ns - in->last_commit_ns() : 0;
    i.staging_free_bytes = in->stager().remaining_bytes();
    i.credits = in->receiver().credits();
    i.rejecting = in->rejecting();
    i.promoted = in->promoted();
    i.last_error = in->last_error();
    i.durability = replica::DurabilityName(in->store().durability());
    s.inbound.push_back(std::move(i));
  }
  std::lock_guard<std::mutex> lock(snapshot_mutex_);
  snapshot_ = std::move(s);
}

ApplianceStats LinkWorker::Snapshot() const {
  std::lock_guard<std::mutex> lock(snapshot_mutex_);
  return snapshot_;
}

OutboundCounters& OutboundCounters::operator+=(const OutboundCounters& o) {
  epochs_sent += o.epochs_sent;
  epochs_committed += o.epochs_committed;
  epochs_failed += o.epochs_failed;
  catch_up_epochs += o.catch_up_epochs;
  records += o.records;
  pages += o.pages;
  zero_pages += o.zero_pages;
  page_bytes += o.page_bytes;
  payload_bytes += o.payload_bytes;
  blob_bytes += o.blob_bytes;
  disk_bytes += o.disk_bytes;
  frames += o.frames;
  wire_bytes += o.wire_bytes;
  retransmits += o.retransmits;
  open_attempts += o.open_attempts;
  open_refusals += o.open_refusals;
  peer_losses += o.peer_losses;
  window_stalls += o.window_stalls;
  pacer_stalls += o.pacer_stalls;
  mbuf_exhausted += o.mbuf_exhausted;
  completion_retries += o.completion_retries;
  return *this;
}

}  // namespace replink::dataplane
