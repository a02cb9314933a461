#include "dataplane/ring_verifier/epoch_verifier.h"

#include <unistd.h>

#include <cstring>

namespace replink {

EpochVerifier::EpochVerifier(CaptureRingReader& reader, codec::PageEncoder encoder, codec::CodecSetting setting,
                             const std::byte* guest_memory)
    : reader_(reader),
      encoder_(std::move(encoder)),
      setting_(setting),
      guest_memory_(guest_memory),
      replica_(reader.identity().guest_pages * kPageSize),
      replica_version_(reader.identity().guest_pages, 0),
      replica_disk_(reader.identity().disk_count > 0 ? reader.identity().disk_sectors * kSectorSize : 0),
      staged_index_(reader.identity().guest_pages, -1),
      blob_(1u << 22),
      batch_(256) {}

Result<void> EpochVerifier::Poll() {
  REPLINK_ASSIGN_OR_RETURN(std::size_t n, reader_.Poll(batch_));
  for (std::size_t i = 0; i < n; ++i) {
    const CaptureRecord& r = batch_[i];
    if (r.type == RecordType::kEpochBegin && r.catch_up) discarding_ = false;
    if (discarding_) {
      if (r.type == RecordType::kEpochEnd) {
        ++stats_.epochs_discarded;
        REPLINK_TRY(CompleteWithRetry(r.epoch, capture_abi::CompletionStatus::kFailed));
      }
      continue;
    }
    if (r.type == RecordType::kEpochEnd) {
      REPLINK_TRY(Commit(r));
    } else {
      REPLINK_TRY(Stage(r));
    }
  }
  // Everything polled so far is staged (copied out): its slots are free again. The real dataplane
  // releases later, when the peer acknowledges the frames that carried them.
  if (n > 0) reader_.ReleaseSlotsThrough(reader_.slots_consumed());
  return Ok();
}

Result<void> EpochVerifier::Stage(const CaptureRecord& r) {
  switch (r.type) {
    case RecordType::kEpochBegin:
      epoch_ = r.epoch;
      if (r.catch_up) ++stats_.catch_up_epochs;
      checksum_.Reset();
      staged_disk_.clear();
      for (uint64_t gfn : staged_gfns_) staged_index_[gfn] = -1;
      staged_gfns_.clear();
      staged_pages_.clear();
      return Ok();
    case RecordType::kPage:
    case RecordType::kZeroPage: {
      int64_t idx = staged_index_[r.key];
      if (idx < 0) {
        idx = static_cast<int64_t>(staged_gfns_.size());
        staged_index_[r.key] = idx;
        staged_gfns_.push_back(r.key);
        staged_pages_.resize(staged_pages_.size() + kPageSize);
      }
      codec::PageSpan out(staged_pages_.data() + static_cast<std::size_t>(idx) * kPageSize, kPageSize);
      if (r.type == RecordType::kZeroPage) {
        std::memset(out.data(), 0, kPageSize);
        checksum_.AddZeroPage(r.key);
        ++stats_.zero_records;
        return Ok();
      }
      // Sender: encode as the dataplane would. Receiver: decode against its latest copy.
      codec::ConstPageSpan page = reader_.Slot(r.slot_cursor);
      codec::CodecPlan plan = policy_.Plan(encoder_.ContextFor(r.key, 1.0f, setting_));
      REPLINK_ASSIGN_OR_RETURN(codec::EncodedPage enc, encoder_.Encode(r.key, page, r.epoch, plan, payload_));
      std::optional<codec::PageDecoder::LocalCopy> local;
      if (replica_version_[r.key] != 0) local = codec::PageDecoder::LocalCopy{ReplicaPage(r.key), replica_version_[r.key]};
      REPLINK_TRY(decoder_.Decode(r.key, static_cast<uint8_t>(enc.codec), enc.base_version,
                                  {payload_.data(), enc.length}, local, out));
      checksum_.AddPage(r.key, out);
      ++stats_.pages;
      stats_.payload_bytes += enc.length;
      stats_.page_bytes += kPageSize;
      return Ok();
    }
    case RecordType::kVcpuState:
    case RecordType::kDeviceState:
    case RecordType::kDiskWrite: {
      std::span<std::byte> content(blob_.data(), r.length);
      reader_.CopyContent(r, content);
      if (r.type == RecordType::kDiskWrite) {
        checksum_.AddDiskWrite(r.index, r.key, content);
        staged_disk_.push_back(StagedDiskWrite{r.key, {content.begin(), content.end()}});
      } else
        checksum_.AddBlob(r.type, r.index, content);
      return Ok();
    }
    case RecordType::kEpochEnd:
      break;
  }
  return Ok();
}

Result<void> EpochVerifier::Commit(const CaptureRecord& end) {
  if (checksum_.value() != end.key || checksum_.records() != end.length) {
    ++stats_.epochs_failed;
    Error e = MakeError(Errc::kCorrupt, "vm {} epoch {}: checksum {:#x} over {} records, shim said {:#x} over {}",
                        reader_.identity().vm_id, end.epoch, checksum_.value(), checksum_.records(), end.key,
                        end.length);
    (void)reader_.Complete(end.epoch, capture_abi::CompletionStatus::kFailed, Errc::kCorrupt);
    return e;
  }
  if (fail_epochs.count(end.epoch)) {
    // As if the peer lost it: nothing applied, and nothing more until the shim catches up.
    discarding_ = true;
    ++stats_.epochs_failed;
    encoder_.ResetPeerState();  // its cache now holds versions the peer never committed
    return CompleteWithRetry(end.epoch, capture_abi::CompletionStatus::kFailed);
  }
  for (const StagedDiskWrite& w : staged_disk_) {
    if ((w.sector * kSectorSize + w.data.size()) > replica_disk_.size())
      return MakeError(Errc::kCorrupt, "disk write beyond the replica disk");
    std::memcpy(replica_disk_.data() + w.sector * kSectorSize, w.data.data(), w.data.size());
    stats_.disk_bytes += w.data.size();
  }
  for (std::size_t i = 0; i < staged_gfns_.size(); ++i) {
    uint64_t gfn = staged_gfns_[i];
    std::memcpy(ReplicaPage(gfn), staged_pages_.data() + i * kPageSize, kPageSize);
    replica_version_[gfn] = end.epoch;
    if (guest_memory_ != nullptr) {
      ++stats_.pages_compared;
      if (std::memcmp(ReplicaPage(gfn), guest_memory_ + gfn * kPageSize, kPageSize) != 0)
        ++stats_.memory_mismatches;
    }
  }
  ++stats_.epochs_committed;
  if (on_commit) on_commit(end.epoch);
  REPLINK_TRY(CompleteWithRetry(end.epoch, capture_abi::CompletionStatus::kCommitted));
  if (stats_.memory_mismatches != 0)
    return MakeError(Errc::kCorrupt, "vm {} epoch {}: {} committed pages differ from guest memory",
                     reader_.identity().vm_id, end.epoch, stats_.memory_mismatches);
  return Ok();
}

// A full completion ring means the shim is behind on draining it: wait for it (bounded), never drop a
// completion.
Result<void> EpochVerifier::CompleteWithRetry(uint64_t epoch, capture_abi::CompletionStatus status) {
  for (int attempt = 0;; ++attempt) {
    auto done = reader_.Complete(epoch, status, status == capture_abi::CompletionStatus::kFailed ? Errc::kClosed : Errc{});
    if (done.ok()) return Ok();
    if (done.error().code != Errc::kNoSpace || attempt == 100'000) return done;
    usleep(100);
  }
}

uint64_t EpochVerifier::CountReplicaMismatches(const std::byte* guest_memory) const {
  uint64_t mismatches = 0;
  for (uint64_t gfn = 0; gfn < replica_version_.size(); ++gfn)
    if (std::memcmp(replica_.data() + gfn * kPageSize, guest_memory + gfn * kPageSize, kPageSize) != 0)
      ++mismatches;
  return mismatches;
}

}  // namespace replink
