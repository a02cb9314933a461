#include "dataplane/control/worker_tasks.h"

#include <cstdio>

#include <fmt/format.h>

namespace replink::dataplane::control {

void RetuneTask::Run(LinkWorker& worker, uint64_t now_ns) {
  if (timing_) {
    auto retuned = worker.session().Retune(timing_->heartbeat_interval_us, timing_->suspect_after,
                                           timing_->down_after, now_ns);
    if (!retuned.ok()) {  // checked on the control thread already; nothing else changes either
      outcome_ = std::move(retuned).error();
      return;
    }
  }
  OutboundTuning& base = worker.outbound_tuning();
  uint32_t allocated = base.window;
  base = tuning_;
  base.window = allocated;
  for (auto& [id, stream] : worker.outbound_streams()) {
    stream->Retune(tuning_, now_ns);
    if (auto cache = caches_.find(id); cache != caches_.end()) cache->second = stream->ReplaceDeltaCache(std::move(cache->second));
    retuned_.push_back(id);
  }
  // Caches built for streams that went away in the meantime are simply returned unused.
}

void UnprotectTask::Run(LinkWorker& worker, uint64_t now_ns) {
  (void)now_ns;
  if (worker.inbound_streams().count(vm_id_) != 0) {
    outcome_ = MakeError(Errc::kState, "vm {} is replicated here (this appliance is its secondary): unprotect it "
                         "on the primary", vm_id_);
    return;
  }
  worker.unprotected_vms().insert(vm_id_);
  auto out = worker.outbound_streams().find(vm_id_);
  if (out == worker.outbound_streams().end()) {
    outcome_ = fmt::format("vm {} had no registered shim; its registrations are refused until 'vm protect'", vm_id_);
    return;
  }
  // Failing the ring tells the shim at once (it stops with this reason); the worker drops the stream
  // when the shim's connection closes, keeping its counters.
  out->second->reader().Fail(Errc::kClosed, 0, "unprotected by the operator (replinkctl vm unprotect)");
  fmt::print("replink-dataplane: vm {} '{}' unprotected by the operator\n", vm_id_, out->second->name());
  std::fflush(stdout);
  outcome_ = fmt::format("vm {} is no longer protected: its shim was told to stop; the replica on the peer stays at "
                         "epoch {}",
                         vm_id_, out->second->last_committed_epoch());
}

void ProtectTask::Run(LinkWorker& worker, uint64_t now_ns) {
  (void)now_ns;
  if (worker.inbound_streams().count(vm_id_) != 0) {
    outcome_ = MakeError(Errc::kState, "vm {} is replicated here (this appliance is its secondary): protect it on "
                         "the primary", vm_id_);
    return;
  }
  bool was_refused = worker.unprotected_vms().erase(vm_id_) != 0;
  auto out = worker.outbound_streams().find(vm_id_);
  if (out != worker.outbound_streams().end() && !out->second->failed()) {
    outcome_ = fmt::format("vm {} is protected already (state {})", vm_id_, out->second->state_name());
    return;
  }
  outcome_ = fmt::format("vm {} {}: protection starts when its shim registers (start replink-shim for it, e.g. "
                         "systemctl start replink-shim@<vm name>)",
                         vm_id_, was_refused ? "may register again" : "is allowed");
}

}  // namespace replink::dataplane::control
