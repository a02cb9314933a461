// ApplianceStats: a consistent copy of everything the worker counts, published a few times a second
// for the control plane (status lines, replinkctl, telemetry, Prometheus). Copies, not references:
// the control thread never touches a stream the worker may be destroying.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "codec/page_codec.h"
#include "dataplane/port/port_io.h"
#include "dataplane/streams/stream_counters.h"
#include "link/frame_fault.h"
#include "link/link_session.h"
#include "link/reliable_sender.h"

namespace replink::dataplane {

struct WorkerCounters {
  uint64_t rx_frames = 0;
  uint64_t rx_bytes = 0;
  uint64_t tx_frames = 0;
  uint64_t tx_bytes = 0;
  uint64_t unknown_stream = 0;      // DATA/ACK for a stream this side does not serve
  uint64_t stream_opens = 0;
  uint64_t stream_open_refusals = 0;
  uint64_t session_refused = 0;     // frames the session refused (stale session, bad control payload)
  uint64_t streams_removed = 0;     // shims that went away
  uint64_t sleeps = 0;
  uint64_t slept_ns = 0;
  uint64_t busy_rounds = 0;
  uint64_t rounds = 0;
};

// Upper bounds (microseconds) of the commit-latency buckets exported as a Prometheus histogram.
inline constexpr std::array<uint64_t, 17> kCommitLatencyBucketsUs = {
    50, 100, 250, 500, 1'000, 2'500, 5'000, 10'000, 25'000, 50'000, 100'000, 250'000, 500'000,
    1'000'000, 2'500'000, 5'000'000, 10'000'000};

struct CodecUse {
  uint64_t pages = 0;
  uint64_t bytes_out = 0;
};

struct OutboundStats {
  uint32_t id = 0;
  std::string name;
  std::string state;
  OutboundCounters counters;
  std::array<CodecUse, codec::kCodecCount> codecs{};
  uint64_t commits = 0;             // samples in the latency histogram
  uint64_t commit_p50_us = 0;
  uint64_t commit_p99_us = 0;
  uint64_t commit_p999_us = 0;
  uint64_t commit_max_us = 0;
  uint64_t commit_sum_us = 0;
  std::array<uint64_t, kCommitLatencyBucketsUs.size()> commit_buckets{};  // cumulative: samples <= bound
  link::SenderCounters sender;      // retransmits by cause, probes, window/credit stalls
  uint64_t last_committed_epoch = 0;
  uint64_t last_commit_age_ns = 0;  // 0 when never committed
  uint64_t ring_pending = 0;        // descriptors published by the shim, not yet taken
  uint64_t slots_in_use = 0;        // consumed but not yet released
  uint64_t slot_count = 0;
  uint64_t frames_in_flight = 0;
  uint64_t credit_limit = 0;
  uint64_t rtt_ns = 0;
  std::string last_loss;
  std::string last_refusal;
};

struct InboundStats {
  uint32_t id = 0;
  InboundCounters counters;
  uint64_t committed_epoch = 0;
  uint64_t last_commit_age_ns = 0;
  uint64_t staging_free_bytes = 0;
  uint64_t credits = 0;
  bool rejecting = false;
  bool promoted = false;            // failover: the replica was closed to resume the guest here
  std::string last_error;
  std::string durability;
};

struct ApplianceStats {
  uint64_t taken_ns = 0;            // CLOCK_MONOTONIC
  std::string session;              // idle / hello-sent / established
  std::string liveness;             // unknown / up / suspect / down
  std::string peer_name;
  uint64_t peer_rtt_ns = 0;
  uint64_t peer_last_heard_ns = 0;
  uint32_t agreed_mtu = 0;          // negotiated in HELLO (0 until established)
  uint32_t agreed_window = 0;
  uint64_t agreed_heartbeat_ns = 0;
  link::SessionCounters session_counters;
  std::vector<uint32_t> unprotected;  // VMs the operator unprotected (registrations refused)
  WorkerCounters worker;
  link::FaultCounters rx_faults;    // frames refused, by reason
  port::PortCounters port;
  std::vector<OutboundStats> outbound;
  OutboundCounters outbound_closed;  // summed counters of streams whose shim went away
  std::vector<InboundStats> inbound;
};

}  // namespace replink::dataplane
