// Control-plane work run on the worker lcore (LinkWorker::Post): the worker owns the streams and the
// session, so changes to them happen there, between rounds, never under a lock. Each task is built
// on the control thread with everything it needs (allocations included), runs once on the worker,
// and leaves its outcome for the control thread to read after done().
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "codec/delta_cache.h"
#include "dataplane/streams/outbound_stream.h"
#include "dataplane/worker/link_worker.h"
#include "errors/result.h"

namespace replink::dataplane::control {

// New link settings: stream tuning, delta caches, the session's heartbeat and liveness.
class RetuneTask final : public WorkerTask {
 public:
  struct SessionTiming {
    uint32_t heartbeat_interval_us = 0;
    uint32_t suspect_after = 0;
    uint32_t down_after = 0;
  };
  // `caches`: a new delta cache per stream id (empty map: the cache size did not change). Streams
  // registered after the caches were built get their own from the new tuning when they register.
  RetuneTask(OutboundTuning tuning, std::map<uint32_t, codec::DeltaCache> caches, std::optional<SessionTiming> timing)
      : tuning_(std::move(tuning)), caches_(std::move(caches)), timing_(timing) {}

  void Run(LinkWorker& worker, uint64_t now_ns) override;

  // After done(): the outcome, and the replaced caches (destroyed by the control thread: unmapping a
  // large arena must not stall the worker).
  const Result<void>& outcome() const { return outcome_; }
  std::vector<uint32_t> retuned_streams() const { return retuned_; }
  std::map<uint32_t, codec::DeltaCache> TakeOldCaches() { return std::move(caches_); }

 private:
  OutboundTuning tuning_;
  std::map<uint32_t, codec::DeltaCache> caches_;
  std::optional<SessionTiming> timing_;
  Result<void> outcome_ = Ok();
  std::vector<uint32_t> retuned_;
};

// Stops protecting a VM on the primary: its capture ring is failed with the operator's reason (the
// shim stops and says why) and later registrations of the VM are refused until ProtectTask.
class UnprotectTask final : public WorkerTask {
 public:
  explicit UnprotectTask(uint32_t vm_id) : vm_id_(vm_id) {}
  void Run(LinkWorker& worker, uint64_t now_ns) override;
  const Result<std::string>& outcome() const { return outcome_; }

 private:
  uint32_t vm_id_;
  Result<std::string> outcome_ = std::string();
};

// Allows a VM's shim to register again; reports whether it is registered now.
class ProtectTask final : public WorkerTask {
 public:
  explicit ProtectTask(uint32_t vm_id) : vm_id_(vm_id) {}
  void Run(LinkWorker& worker, uint64_t now_ns) override;
  const Result<std::string>& outcome() const { return outcome_; }

 private:
  uint32_t vm_id_;
  Result<std::string> outcome_ = std::string();
};

}  // namespace replink::dataplane::control
