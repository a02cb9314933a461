// EpochRecordAssembler turns the record stream of one VM stream (records of DATA frames, fed in
// sequence order as ReliableReceiver delivers them) back into whole items, and enforces the rules that
// span frames:
//   - EPOCH_BEGIN opens an epoch whose number is above every earlier one; content records and
//     EPOCH_END only inside an open epoch; EPOCH_END's record_count equals the items seen.
//   - A fragmented item arrives as consecutive records with offsets 0, then each previous
//     offset + length, up to total_length, all with the same identity (type, gfn / index / disk +
//     sector, codec, base version, total). Nothing else comes between its fragments.
// Whole (unfragmented) items are passed through as views of the frame; fragmented ones are copied into
// a buffer allocated once at construction. Any violation is an Error (kCorrupt) naming stream and
// epoch; the stream is then out of step and must be RESET (see docs/PROTOCOL.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "errors/result.h"
#include "link/frame_reader.h"

namespace replink::link {

struct AssemblerCounters {
  uint64_t items = 0;            // whole items handed out
  uint64_t fragments = 0;        // fragment records consumed
  uint64_t reassembled = 0;      // items that needed reassembly
  uint64_t epochs_begun = 0;
  uint64_t epochs_ended = 0;
  uint64_t errors = 0;
};

class EpochRecordAssembler {
 public:
  // `max_item_bytes`: the largest item this side reassembles (default: the protocol's largest).
  explicit EpochRecordAssembler(uint32_t stream_id, std::size_t max_item_bytes = kMaxDiskWriteLength);

  // Consumes one record. Returns true when `*out` holds a complete record: EPOCH_BEGIN, EPOCH_END or a
  // whole item (fragment == the item's bytes, fragment_offset 0). `out->fragment` stays valid until
  // the next call (it may point into the frame or into the reassembly buffer).
  Result<bool> Feed(const RecordView& record, RecordView* out);

  // Forgets everything (stream RESET): the next record must be an EPOCH_BEGIN of any epoch.
  void Reset();

  bool in_epoch() const { return in_epoch_; }
  uint64_t current_epoch() const { return epoch_; }
  const AssemblerCounters& counters() const { return counters_; }

 private:
  Error Fail(std::string_view what, uint64_t value, uint64_t expected);
  bool SameItem(const RecordView& record) const;

  uint32_t stream_id_;
  std::vector<std::byte> buffer_;  // reassembly room, sized once
  RecordView item_;                // identity of the item in progress
  std::size_t progress_ = 0;       // bytes of it received
  bool in_item_ = false;
  bool in_epoch_ = false;
  bool have_last_epoch_ = false;
  uint64_t epoch_ = 0;
  uint64_t last_epoch_ = 0;
  uint32_t items_in_epoch_ = 0;
  AssemblerCounters counters_;
};

}  // namespace replink::link
