// A filled-in ApplianceStats for the report tests: one protected VM, one replica, a few drops.
#pragma once

#include "dataplane/worker/appliance_stats.h"

namespace replink::dataplane::control::testing {

inline ApplianceStats SampleStats(uint64_t taken_ns, uint64_t scale) {
  ApplianceStats s;
  s.taken_ns = taken_ns;
  s.session = "established";
  s.liveness = "up";
  s.peer_name = "secondary";
  s.peer_rtt_ns = 42'000;
  s.peer_last_heard_ns = taken_ns - 3'000'000;
  s.agreed_mtu = 9000;
  s.agreed_window = 1024;
  s.agreed_heartbeat_ns = 100'000'000;
  s.session_counters.sessions = 1;
  s.session_counters.heartbeats_sent = 10 * scale;
  s.worker.rx_frames = 100 * scale;
  s.worker.tx_frames = 1000 * scale;
  s.worker.rx_bytes = 6400 * scale;
  s.worker.tx_bytes = 8'000'000 * scale;
  s.worker.rounds = 1000 * scale;
  s.worker.busy_rounds = 500 * scale;
  s.rx_faults.Count(link::FrameFault::kBadChecksum);
  s.port.rx_missed = 2;
  OutboundStats o;
  o.id = 1;
  o.name = "web \"front\"\nend\xff";  // names come from shims: quoted, escaped, sanitised
  o.state = "protected";
  o.counters.epochs_sent = 100 * scale;
  o.counters.epochs_committed = 100 * scale;
  o.counters.pages = 1000 * scale;
  o.counters.page_bytes = 4096 * 1000 * scale;
  o.counters.payload_bytes = 2048 * 1000 * scale;
  o.counters.wire_bytes = 2200 * 1000 * scale;
  o.counters.retransmits = 3 * scale;
  o.codecs[0] = {100 * scale, 409600 * scale};
  o.codecs[3] = {900 * scale, 900 * 1800 * scale};
  o.commits = 100 * scale;
  o.commit_p50_us = 180;
  o.commit_p99_us = 900;
  o.commit_p999_us = 2000;
  o.commit_max_us = 2500;
  o.commit_sum_us = 30'000 * scale;
  for (std::size_t b = 0; b < kCommitLatencyBucketsUs.size(); ++b)
    o.commit_buckets[b] = kCommitLatencyBucketsUs[b] < 250 ? 40 * scale : o.commits;
  o.sender.fast_retransmits = scale;
  o.sender.timeout_retransmits = 2 * scale;
  o.last_committed_epoch = 100 * scale;
  o.last_commit_age_ns = 1'500'000;
  o.ring_pending = 5;
  o.slots_in_use = 64;
  o.slot_count = 16384;
  o.frames_in_flight = 12;
  o.credit_limit = 500;
  s.outbound.push_back(o);
  InboundStats i;
  i.id = 7;
  i.counters.frames = 50 * scale;
  i.counters.duplicates = 1;
  i.counters.epochs_committed = 20 * scale;
  i.counters.pages = 300 * scale;
  i.counters.commit_ns_total = 1'000'000 * scale;
  i.committed_epoch = 20 * scale;
  i.last_commit_age_ns = 0;  // committed in the snapshot's own round
  i.credits = 900;
  i.durability = "dsync";
  s.inbound.push_back(i);
  return s;
}

}  // namespace replink::dataplane::control::testing
