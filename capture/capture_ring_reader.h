// CaptureRingReader: the dataplane's (consumer's) side of a capture region. Everything in the region is
// untrusted: the identity is validated once into a private copy, each descriptor is copied out of the
// ring before it is checked, and any violation fails this VM's stream (recorded in the region's failure
// line, counted, returned as an error) without touching any other stream. Single-threaded: owned by the
// worker lcore that serves this VM.
#pragma once

#include <cstdint>
#include <span>

#include "capture/capture_ring_abi.h"
#include "capture/doorbell.h"
#include "capture/epoch_record.h"
#include "capture/shared_region.h"
#include "errors/result.h"

namespace replink {

// A descriptor after validation. slot_cursor is the absolute (free-running) index of its first slot.
struct CaptureRecord {
  RecordType type = RecordType::kEpochBegin;
  EpochTrigger trigger = EpochTrigger::kExplicit;  // EPOCH_BEGIN only
  bool catch_up = false;                           // EPOCH_BEGIN only: capture_abi::kBeginCatchUp
  uint16_t index = 0;         // vCPU / device / disk
  uint32_t length = 0;        // content bytes; EPOCH_END: record count
  uint64_t epoch = 0;
  uint64_t key = 0;           // gfn, first sector, BEGIN timestamp, END checksum
  uint64_t slot_cursor = 0;
  uint32_t slot_span = 0;     // EPOCH_END: slots used by the epoch
};

// Why descriptors were rejected; the dataplane exports these as counters.
struct CaptureRingCounters {
  uint64_t records = 0;
  uint64_t epochs = 0;
  uint64_t malformed = 0;       // descriptors that failed validation (each fails the stream)
  uint64_t completions = 0;
  uint64_t completion_ring_full = 0;
};

class CaptureRingReader {
 public:
  static Result<CaptureRingReader> Attach(SharedRegion region);

  const capture_abi::RegionIdentity& identity() const { return identity_; }
  const CaptureRingCounters& counters() const { return counters_; }
  bool failed() const { return failed_; }

  // Copies up to out.size() validated records. The first invalid descriptor fails the stream; the
  // records before it in this call are still returned (the error is reported by the next call).
  Result<std::size_t> Poll(std::span<CaptureRecord> out);

  // Content of a PAGE record (or any slot by absolute cursor).
  std::span<const std::byte, kPageSize> Slot(uint64_t slot_cursor) const;
  // Gathers a record's content (handles slot wrap-around); dst.size() must be >= record.length.
  void CopyContent(const CaptureRecord& record, std::span<std::byte> dst) const;

  // Tells the shim an epoch's fate. kNoSpace if the shim is not draining its completion ring.
  Result<void> Complete(uint64_t epoch, capture_abi::CompletionStatus status, Errc detail = Errc{});
  // Slots with cursor < end are no longer needed (acknowledged by the peer). Monotonic.
  void ReleaseSlotsThrough(uint64_t end_cursor);
  uint64_t slots_consumed() const { return slot_cursor_; }
  uint64_t slots_released() const { return released_; }
  // Descriptors published but not yet polled (ring occupancy, for counters).
  uint64_t pending_descriptors() const;

  // Marks the stream failed in the region (the shim sees it) and remembers it here.
  void Fail(Errc reason, uint64_t epoch, std::string_view message);
  // Idle handling: announce that this stream's worker sleeps so the shim signals its eventfd.
  void SetSleeping(bool sleeping);

 private:
  explicit CaptureRingReader(SharedRegion region);
  capture_abi::RegionHeader* header() const {
    return reinterpret_cast<capture_abi::RegionHeader*>(region_.data());
  }
  Result<CaptureRecord> Validate(const capture_abi::CaptureDescriptor& d);
  Result<void> CheckSlots(const capture_abi::CaptureDescriptor& d, uint32_t expected_span);

  SharedRegion region_;
  capture_abi::RegionIdentity identity_{};  // validated private copy
  capture_abi::CaptureDescriptor* sq_ = nullptr;
  capture_abi::CaptureCompletion* cq_ = nullptr;
  const std::byte* slots_ = nullptr;
  uint64_t sq_head_ = 0;
  uint64_t cq_tail_ = 0;
  uint64_t released_ = 0;
  // Validation state machine.
  bool in_epoch_ = false;
  uint64_t expected_epoch_ = 0;
  uint32_t epoch_records_ = 0;
  uint64_t epoch_first_slot_ = 0;
  uint64_t slot_cursor_ = 0;
  bool failed_ = false;
  Error failure_;
  CaptureRingCounters counters_;
};

}  // namespace replink
