// CaptureRingWriter: the shim's (producer's) side of a capture region. Single-threaded: one capture
// loop owns it. It builds the region, writes descriptors and slot contents, computes the epoch
// checksum as it goes, and consumes completions. Waiting (for slots, ring space, completions) polls
// briefly, then sleeps on the shim doorbell, so an idle shim costs no CPU.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "capture/capture_ring_abi.h"
#include "capture/doorbell.h"
#include "capture/epoch_checksum.h"
#include "capture/epoch_record.h"
#include "capture/shared_region.h"
#include "errors/result.h"

namespace replink {

struct CaptureRingParams {
  uint64_t vm_id = 0;
  std::string vm_name;
  uint64_t guest_pages = 0;
  uint32_t vcpu_count = 1;
  uint32_t disk_count = 0;
  uint64_t disk_sectors = 0;
  uint32_t device_count = 0;
  uint32_t slot_count = 16384;  // 64 MiB of page slots
  uint32_t sq_entries = 32768;
  uint32_t cq_entries = 1024;
  uint64_t first_epoch = 1;
  bool prefer_hugetlb = true;
};

class CaptureRingWriter {
 public:
  static Result<CaptureRingWriter> Create(const CaptureRingParams& params);

  const SharedRegion& region() const { return region_; }
  const capture_abi::RegionIdentity& identity() const { return header()->identity; }

  // Records of one epoch: BeginEpoch, any number of pages/blobs/disk writes, EndEpoch.
  // catch_up: see capture_abi::kBeginCatchUp.
  Result<void> BeginEpoch(uint64_t epoch, EpochTrigger trigger, uint64_t timestamp_ns, bool catch_up = false);
  // Reserves the next `count` slots for pages (waits up to timeout_ns); fill ReservedSlot(i), then
  // CommitReservedPages. Zero pages are not detected here: the dataplane's codec chain does that.
  Result<void> ReservePageSlots(uint32_t count, uint64_t timeout_ns);
  std::byte* ReservedSlot(uint32_t i) const { return SlotAt(slots_allocated_ + i); }
  // The first gfns.size() reserved slots become PAGE records, in order; the rest are given back.
  Result<void> CommitReservedPages(std::span<const uint64_t> gfns);
  // Single-page conveniences over the two calls above.
  Result<std::span<std::byte, kPageSize>> ReservePageSlot(uint64_t timeout_ns);
  Result<void> CommitReservedPage(uint64_t gfn) { return CommitReservedPages({&gfn, 1}); }
  Result<void> PushZeroPage(uint64_t gfn, uint64_t timeout_ns);
  Result<void> PushBlob(RecordType type, uint16_t index, std::span<const std::byte> bytes,
                        uint64_t timeout_ns);
  Result<void> PushDiskWrite(uint16_t disk, uint64_t sector, std::span<const std::byte> data,
                             uint64_t timeout_ns);
  // Ends the epoch and publishes everything; returns the epoch's content checksum.
  Result<uint64_t> EndEpoch(uint64_t timeout_ns);

  // Completions from the dataplane, oldest first. Returns how many were copied out.
  std::size_t PollCompletions(std::span<capture_abi::CaptureCompletion> out);
  // Sleeps until a completion is available, the stream failed, or the timeout elapsed.
  bool WaitForCompletion(uint64_t timeout_ns);

  capture_abi::StreamState stream_state() const;
  std::string failure_message() const;  // empty unless the dataplane failed the stream
  uint64_t free_slots() const;
  uint64_t current_epoch() const { return epoch_; }
  bool in_epoch() const { return in_epoch_; }
  // After registration: eventfd to signal when the dataplane announced it sleeps (-1: none).
  void SetDataplaneEventfd(int fd) { dp_eventfd_ = fd; }

 private:
  explicit CaptureRingWriter(SharedRegion region);
  capture_abi::RegionHeader* header() const {
    return reinterpret_cast<capture_abi::RegionHeader*>(region_.data());
  }
  std::byte* SlotAt(uint64_t cursor) const;
  Result<void> WaitForSlots(uint32_t count, uint64_t timeout_ns);
  Result<void> WaitForRingSpace(uint64_t timeout_ns);
  Result<void> Push(const capture_abi::CaptureDescriptor& desc, uint64_t timeout_ns);
  Result<void> CopyIntoSlots(std::span<const std::byte> bytes, uint64_t timeout_ns, uint32_t* first,
                             uint32_t* span);
  Result<void> CheckAlive() const;
  void Publish();
  Result<void> RequireEpoch() const;

  SharedRegion region_;
  Doorbell shim_doorbell_;
  capture_abi::CaptureDescriptor* sq_ = nullptr;
  capture_abi::CaptureCompletion* cq_ = nullptr;
  uint32_t sq_mask_ = 0;
  uint32_t cq_mask_ = 0;
  uint32_t slot_count_ = 0;
  // Producer-private cursors (the shared copies are published from these).
  uint64_t sq_tail_ = 0;
  uint64_t sq_published_ = 0;
  uint64_t cq_head_ = 0;
  uint64_t slots_allocated_ = 0;
  uint32_t slots_reserved_ = 0;
  // Epoch being written.
  bool in_epoch_ = false;
  uint64_t epoch_ = 0;
  uint64_t next_epoch_ = 0;
  uint32_t epoch_records_ = 0;
  uint64_t epoch_first_slot_ = 0;
  EpochChecksum checksum_;
  int dp_eventfd_ = -1;
};

}  // namespace replink
