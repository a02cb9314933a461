// Per-stream counters. Plain integers written only by the stream's worker lcore (no atomics on the
// fast path); the control plane reads them racily, which on x86-64 gives slightly stale, never torn,
// values.
#pragma once

#include <array>
#include <cstdint>

namespace replink::dataplane {

struct OutboundCounters {
  uint64_t epochs_sent = 0;        // EPOCH_END written into a frame
  uint64_t epochs_committed = 0;   // completed as committed to the shim
  uint64_t epochs_failed = 0;      // completed as failed (link lost, peer reset, refused)
  uint64_t catch_up_epochs = 0;
  uint64_t records = 0;
  uint64_t pages = 0;
  uint64_t zero_pages = 0;         // ZERO_PAGE records from the shim (the codec counts detected ones)
  uint64_t page_bytes = 0;         // raw bytes of the pages sent
  uint64_t payload_bytes = 0;      // their encoded payloads
  uint64_t blob_bytes = 0;
  uint64_t disk_bytes = 0;
  uint64_t frames = 0;             // DATA frames sealed (first transmissions)
  uint64_t wire_bytes = 0;         // every byte handed to the port, retransmissions included
  uint64_t retransmits = 0;
  uint64_t open_attempts = 0;
  uint64_t open_refusals = 0;
  uint64_t peer_losses = 0;        // in-flight data lost with the peer (restart, reset, link down)
  uint64_t window_stalls = 0;      // rounds that could not send for the window or credits
  uint64_t pacer_stalls = 0;       // rounds held back by the rate cap
  uint64_t mbuf_exhausted = 0;
  uint64_t completion_retries = 0; // the shim's completion ring was full

  OutboundCounters& operator+=(const OutboundCounters& o);
};

struct InboundCounters {
  uint64_t frames = 0;             // DATA frames accepted in order
  uint64_t duplicates = 0;
  uint64_t out_of_window = 0;
  uint64_t epochs_committed = 0;
  uint64_t catch_up_epochs = 0;
  uint64_t epochs_rejected = 0;    // staging or decoding failed: discarded, stream reset requested
  uint64_t pages = 0;
  uint64_t payload_bytes = 0;
  uint64_t acks_sent = 0;
  uint64_t resets_requested = 0;
  uint64_t opens = 0;
  uint64_t commit_ns_total = 0;    // time spent in ReplicaStore::Commit
};

}  // namespace replink::dataplane
