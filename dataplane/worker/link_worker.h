// LinkWorker: the run-to-completion loop of one dataplane lcore. It receives every frame of the port
// (the port has one rx queue), keeps the link session (HELLO, heartbeats, liveness, resets), drives
// the outbound streams of the VMs protected here and the inbound streams of the VMs replicated here,
// and sends through its own tx queue. When a whole round finds nothing to do it backs off to sleeping
// (on the shims' doorbell eventfds), so idle appliances leave the CPU to others.
//
// The control thread reaches it only through a single-producer single-consumer ring of commands
// (new stream, stop), checked every round, and reads a statistics snapshot the worker publishes
// under a lock once per snapshot interval (never on the per-frame path).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <vector>

#include "dataplane/config/appliance_config.h"
#include "dataplane/port/idle_backoff.h"
#include "dataplane/port/port_io.h"
#include "dataplane/streams/inbound_stream.h"
#include "dataplane/streams/outbound_stream.h"
#include "dataplane/worker/appliance_stats.h"
#include "link/frame_reader.h"
#include "link/link_session.h"

struct rte_mempool;
struct rte_ring;

namespace replink::dataplane {

struct WorkerSetup {
  port::PortIo* port = nullptr;
  rte_mempool* pool = nullptr;
  uint16_t tx_queue = 0;
  const config::ApplianceConfig* config = nullptr;
  OutboundTuning outbound;
  InboundTuning inbound;
  port::IdleBackoffPolicy idle;
  uint64_t snapshot_interval_ns = 500'000'000;
};

class LinkWorker;

// Control-plane work that must run on the worker lcore (runtime settings, unprotect, checks; built in
// dataplane/control): the control thread posts it through the command ring, the worker runs it at
// the start of a round and marks it done; the control thread polls done() and reads the outcome.
class WorkerTask {
 public:
  virtual ~WorkerTask() = default;
  virtual void Run(LinkWorker& worker, uint64_t now_ns) = 0;
  bool done() const { return done_.load(std::memory_order_acquire); }
  void MarkDone() { done_.store(true, std::memory_order_release); }

 private:
  std::atomic<bool> done_{false};
};

class LinkWorker final : public FrameSink {
 public:
  static Result<std::unique_ptr<LinkWorker>> Create(const WorkerSetup& setup, link::LinkEncapsulation encap,
                                                    link::LinkSession session);
  ~LinkWorker() override;

  // Control thread: hands over a registered stream (ownership passes on success).
  Result<void> AddOutbound(std::unique_ptr<OutboundStream> stream);
  // Runs until `stop`; on the worker lcore.
  void Run(const std::atomic<bool>& stop);
  // One round (for tests and the loop). Returns whether any work was done.
  bool RunOnce(uint64_t now_ns);
  // Closes every replica cleanly (worker stopped).
  void CloseReplicas();
  // Failover by operator command (the worker also promotes by itself when the primary is declared
  // dead and the VM has a promote_command). Any thread; applied on the worker's next round.
  Result<void> RequestPromotion(uint32_t vm_id);
  // Promotions done since the last call, for the control thread to act on (run promote_command).
  struct Promotion {
    uint32_t vm_id;
    uint64_t epoch;
    std::string replica_dir;
    std::string error;  // non-empty: the replica could not be closed cleanly
  };
  std::vector<Promotion> TakePromotions();
  // Worker lcore only: closes the VM's replica for failover and records the promotion.
  void Promote(uint32_t vm_id, const char* why);

  ApplianceStats Snapshot() const;
  const link::LinkEncapsulation& encapsulation() const { return encap_; }

  // Control thread: queues a task for the worker lcore (the worker shares ownership until done).
  Result<void> Post(std::shared_ptr<WorkerTask> task);
  // Worker lcore only, for WorkerTasks.
  std::map<uint32_t, std::unique_ptr<OutboundStream>>& outbound_streams() { return outbound_; }
  const std::map<uint32_t, std::unique_ptr<InboundStream>>& inbound_streams() const { return inbound_; }
  link::LinkSession& session() { return session_; }
  OutboundTuning& outbound_tuning() { return setup_.outbound; }
  // VMs the operator unprotected: their shims' registrations are refused until protected again.
  std::set<uint32_t>& unprotected_vms() { return unprotected_; }

  rte_mbuf* Allocate() override;
  void Send(rte_mbuf* frame) override;

 private:
  LinkWorker(const WorkerSetup& setup, link::LinkEncapsulation encap, link::LinkSession session, rte_ring* inbox);
  bool ReceiveFrames(uint64_t now_ns);
  void HandleFrame(rte_mbuf* m, uint64_t now_ns);
  void HandleStreamOpen(const link::FrameView& view, uint64_t now_ns);
  void SendOpenReply(uint32_t stream_id, const link::StreamOpenPayload& request, const Result<void>& outcome,
                     uint64_t committed_epoch);
  void HandleSessionEvents(uint64_t now_ns);
  bool PollControl();
  bool PollStreams(uint64_t now_ns);
  void Flush();
  void Sleep(uint64_t ns);
  void PublishSnapshot(uint64_t now_ns);
  LinkView CurrentLinkView() const;

  WorkerSetup setup_;
  link::LinkEncapsulation encap_;
  link::LinkSession session_;
  link::FrameReader reader_;
  rte_ring* inbox_;
  port::IdleBackoff backoff_;
  std::map<uint32_t, std::unique_ptr<OutboundStream>> outbound_;
  std::map<uint32_t, std::unique_ptr<InboundStream>> inbound_;
  std::vector<rte_mbuf*> tx_;
  uint64_t rounds_ = 0;
  bool link_usable_ = false;
  uint64_t unusable_since_ns_ = 0;
  WorkerCounters counters_;
  OutboundCounters outbound_closed_;
  std::set<uint32_t> unprotected_;
  // Link utilisation estimate for the codec policy: bytes sent per interval vs the rate cap.
  uint64_t util_window_start_ns_ = 0;
  uint64_t util_window_bytes_ = 0;
  float utilisation_ = 1.0f;
  uint64_t next_snapshot_ns_ = 0;
  mutable std::mutex snapshot_mutex_;  // guards snapshot_ only; taken twice a second
  ApplianceStats snapshot_;
  std::vector<Promotion> promotions_;  // guarded by snapshot_mutex_
};

}  // namespace replink::dataplane
