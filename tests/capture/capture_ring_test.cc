// Capture ring: writer -> reader round trips, validation of hostile descriptors, completions, slots.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "capture/capture_ring_reader.h"
#include "capture/capture_ring_writer.h"
#include "capture/epoch_checksum.h"
#include "capture/region_layout.h"

namespace replink {
namespace {

using capture_abi::CaptureCompletion;
using capture_abi::CaptureDescriptor;
using capture_abi::CompletionStatus;

CaptureRingParams SmallParams() {
  CaptureRingParams p;
  p.vm_id = 7;
  p.vm_name = "test-vm";
  p.guest_pages = 1024;
  p.vcpu_count = 2;
  p.disk_count = 1;
  p.disk_sectors = 8192;
  p.device_count = 1;
  p.slot_count = 64;
  p.sq_entries = 128;
  p.cq_entries = 16;
  p.prefer_hugetlb = false;
  return p;
}

struct Pair {
  CaptureRingWriter writer;
  CaptureRingReader reader;
};

Pair MakePair(const CaptureRingParams& p) {
  auto w = CaptureRingWriter::Create(p);
  EXPECT_TRUE(w.ok()) << w.error().Describe();
  int fd = dup(w->region().fd());
  auto region = SharedRegion::Attach(fd);
  EXPECT_TRUE(region.ok());
  auto r = CaptureRingReader::Attach(std::move(region).value());
  EXPECT_TRUE(r.ok()) << r.error().Describe();
  return Pair{std::move(w).value(), std::move(r).value()};
}

std::vector<CaptureRecord> Drain(CaptureRingReader& reader) {
  std::vector<CaptureRecord> all;
  CaptureRecord buf[16];
  while (true) {
    auto n = reader.Poll(buf);
    if (!n.ok() || *n == 0) break;
    all.insert(all.end(), buf, buf + *n);
  }
  return all;
}

// Recomputes the epoch checksum from what the reader sees, as the peer would.
uint64_t ChecksumOf(const CaptureRingReader& reader, const std::vector<CaptureRecord>& records) {
  EpochChecksum sum;
  for (const CaptureRecord& r : records) {
    std::vector<std::byte> content(r.length);
    switch (r.type) {
      case RecordType::kPage: sum.AddPage(r.key, reader.Slot(r.slot_cursor)); break;
      case RecordType::kZeroPage: sum.AddZeroPage(r.key); break;
      case RecordType::kVcpuState:
      case RecordType::kDeviceState:
        reader.CopyContent(r, content);
        sum.AddBlob(r.type, r.index, content);
        break;
      case RecordType::kDiskWrite:
        reader.CopyContent(r, content);
        sum.AddDiskWrite(r.index, r.key, content);
        break;
      default: break;
    }
  }
  return sum.value();
}

TEST(CaptureRing, RoundTripAllRecordTypesWithSlotWrap) {
  Pair pair = MakePair(SmallParams());
  std::mt19937_64 rng(1);
  for (uint64_t epoch = 1; epoch <= 20; ++epoch) {
    ASSERT_TRUE(pair.writer.BeginEpoch(epoch, EpochTrigger::kDiskWrite, 1000 + epoch).ok());
    std::vector<uint64_t> gfns;
    for (int i = 0; i < 5; ++i) {
      if (i == 2) {
        ASSERT_TRUE(pair.writer.PushZeroPage(epoch * 10 + i, 1'000'000).ok());
        continue;
      }
      auto slot = pair.writer.ReservePageSlot(1'000'000);
      ASSERT_TRUE(slot.ok());
      for (std::size_t b = 0; b < kPageSize; ++b) (*slot)[b] = std::byte(rng());
      ASSERT_TRUE(pair.writer.CommitReservedPage(epoch * 10 + i).ok());
    }
    std::vector<std::byte> vcpu(5000, std::byte{0x5a});
    ASSERT_TRUE(pair.writer.PushBlob(RecordType::kVcpuState, 1, vcpu, 1'000'000).ok());
    std::vector<std::byte> disk(1024, std::byte(epoch));
    ASSERT_TRUE(pair.writer.PushDiskWrite(0, 16 * epoch, disk, 1'000'000).ok());
    auto checksum = pair.writer.EndEpoch(1'000'000);
    ASSERT_TRUE(checksum.ok());

    auto records = Drain(pair.reader);
    ASSERT_FALSE(pair.reader.failed());
    ASSERT_EQ(records.size(), 1u + 5 + 1 + 1 + 1);
    EXPECT_EQ(records.front().type, RecordType::kEpochBegin);
    EXPECT_EQ(records.front().trigger, EpochTrigger::kDiskWrite);
    EXPECT_EQ(records[3].type, RecordType::kZeroPage);
    EXPECT_EQ(records.back().type, RecordType::kEpochEnd);
    EXPECT_EQ(records.back().key, *checksum);
    EXPECT_EQ(ChecksumOf(pair.reader, records), *checksum);
    std::vector<std::byte> got(5000);
    pair.reader.CopyContent(records[6], got);
    EXPECT_EQ(got, vcpu);
    // The peer committed: release the epoch's slots and complete it.
    pair.reader.ReleaseSlotsThrough(pair.reader.slots_consumed());
    ASSERT_TRUE(pair.reader.Complete(epoch, CompletionStatus::kCommitted).ok());
    CaptureCompletion c[4];
    ASSERT_EQ(pair.writer.PollCompletions(c), 1u);
    EXPECT_EQ(c[0].epoch, epoch);
    EXPECT_EQ(c[0].status, static_cast<uint32_t>(CompletionStatus::kCommitted));
  }
  EXPECT_EQ(pair.reader.counters().epochs, 20u);
}

TEST(CaptureRing, WriterTimesOutWhenSlotsAreNeverReleased) {
  CaptureRingParams p = SmallParams();
  Pair pair = MakePair(p);
  ASSERT_TRUE(pair.writer.BeginEpoch(1, EpochTrigger::kTimer, 0).ok());
  for (uint32_t i = 0; i < p.slot_count; ++i) {
    auto slot = pair.writer.ReservePageSlot(1'000'000);
    ASSERT_TRUE(slot.ok());
    std::memset(slot->data(), 1, kPageSize);
    ASSERT_TRUE(pair.writer.CommitReservedPage(i).ok());
  }
  auto full = pair.writer.ReservePageSlot(20'000'000);
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.error().code, Errc::kTimeout);
  // Releasing (the peer acknowledged the frames) makes room again.
  Drain(pair.reader);
  pair.reader.ReleaseSlotsThrough(10);
  EXPECT_EQ(pair.writer.free_slots(), 10u);
  EXPECT_TRUE(pair.writer.ReservePageSlot(1'000'000).ok());
}

TEST(CaptureRing, RejectsBadIdentity) {
  auto w = CaptureRingWriter::Create(SmallParams());
  ASSERT_TRUE(w.ok());
  auto* id = reinterpret_cast<capture_abi::RegionIdentity*>(w->region().data());
  auto attach = [&] {
    auto region = SharedRegion::Attach(dup(w->region().fd()));
    return CaptureRingReader::Attach(std::move(region).value());
  };
  capture_abi::RegionIdentity saved = *id;
  id->magic ^= 1;
  EXPECT_EQ(attach().error().code, Errc::kCorrupt);
  *id = saved;
  id->abi_major = 99;
  EXPECT_EQ(attach().error().code, Errc::kVersionMismatch);
  *id = saved;
  id->slot_count = 1u << 30;
  EXPECT_FALSE(attach().ok());
  *id = saved;
  id->cq_offset += 64;
  EXPECT_FALSE(attach().ok());
  *id = saved;
  id->region_bytes *= 4;
  EXPECT_FALSE(attach().ok());
  *id = saved;
  id->features |= 0x10000;
  EXPECT_EQ(attach().error().code, Errc::kVersionMismatch);
  *id = saved;
  EXPECT_TRUE(attach().ok());
}

// Writes one valid epoch, then replaces descriptor `victim` by a mutated copy; the reader must fail the
// stream with a clear message, count it, and never crash or read outside the region.
TEST(CaptureRing, HostileDescriptorsFailTheStreamCleanly) {
  std::mt19937_64 rng(42);
  int failures = 0;
  for (int trial = 0; trial < 400; ++trial) {
    Pair pair = MakePair(SmallParams());
    ASSERT_TRUE(pair.writer.BeginEpoch(1, EpochTrigger::kNetSend, 0).ok());
    for (int i = 0; i < 3; ++i) {
      auto slot = pair.writer.ReservePageSlot(1'000'000);
      std::memset(slot->data(), i + 1, kPageSize);
      ASSERT_TRUE(pair.writer.CommitReservedPage(i).ok());
    }
    std::vector<std::byte> blob(6000, std::byte{1});
    ASSERT_TRUE(pair.writer.PushBlob(RecordType::kDeviceState, 0, blob, 1'000'000).ok());
    ASSERT_TRUE(pair.writer.PushDiskWrite(0, 0, std::vector<std::byte>(512), 1'000'000).ok());
    ASSERT_TRUE(pair.writer.EndEpoch(1'000'000).ok());
    auto* sq = reinterpret_cast<CaptureDescriptor*>(pair.writer.region().data() +
                                                    pair.writer.identity().sq_offset);
    std::size_t victim = rng() % 7;
    CaptureDescriptor& d = sq[victim];
    CaptureDescriptor before = d;
    switch (rng() % 8) {
      case 0: d.type = static_cast<uint8_t>(rng()); break;
      case 1: d.slot = static_cast<uint32_t>(rng()); break;
      case 2: d.slot_span = static_cast<uint32_t>(rng() % 100000); break;
      case 3: d.length = static_cast<uint32_t>(rng()); break;
      case 4: d.key = rng(); break;
      case 5: d.epoch += 1 + rng() % 3; break;
      case 6: d.index = static_cast<uint16_t>(rng()); break;
      case 7: d.flags = static_cast<uint8_t>(1 + rng() % 255); break;
    }
    auto records = Drain(pair.reader);
    if (std::memcmp(&before, &d, sizeof(d)) == 0) continue;  // mutation was a no-op
    // Some mutations are harmless (a different but valid gfn); every other must be caught.
    if (pair.reader.failed()) {
      ++failures;
      EXPECT_EQ(pair.writer.stream_state(), capture_abi::StreamState::kFailed);
      EXPECT_FALSE(pair.writer.failure_message().empty());
      EXPECT_EQ(pair.reader.counters().malformed, 1u);
      EXPECT_LT(records.size(), 7u);
      // The shim learns about it instead of blocking forever.
      EXPECT_FALSE(pair.writer.BeginEpoch(2, EpochTrigger::kTimer, 0).ok());
    } else {
      EXPECT_EQ(records.size(), 7u);
    }
  }
  EXPECT_GT(failures, 300);
}

TEST(CaptureRing, BatchReservationGivesBackUnusedSlots) {
  Pair pair = MakePair(SmallParams());
  ASSERT_TRUE(pair.writer.BeginEpoch(1, EpochTrigger::kTimer, 0).ok());
  ASSERT_TRUE(pair.writer.ReservePageSlots(8, 1'000'000).ok());
  for (uint32_t i = 0; i < 8; ++i) std::memset(pair.writer.ReservedSlot(i), int(i), kPageSize);
  uint64_t gfns[] = {100, 101, 102, 103, 104};  // three frames "failed to map": not committed
  ASSERT_TRUE(pair.writer.CommitReservedPages(gfns).ok());
  ASSERT_TRUE(pair.writer.EndEpoch(1'000'000).ok());
  auto records = Drain(pair.reader);
  ASSERT_FALSE(pair.reader.failed());
  ASSERT_EQ(records.size(), 7u);
  EXPECT_EQ(records.back().slot_span, 5u);
  EXPECT_EQ(pair.reader.Slot(records[5].slot_cursor)[0], std::byte{4});
  EXPECT_EQ(pair.writer.free_slots(), 64u - 5u);
}

TEST(CaptureRing, RunawayTailIsRejected) {
  Pair pair = MakePair(SmallParams());
  auto* header = reinterpret_cast<capture_abi::RegionHeader*>(pair.writer.region().data());
  header->sq_tail.value = 1u << 20;
  CaptureRecord buf[4];
  auto n = pair.reader.Poll(buf);
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.error().code, Errc::kCorrupt);
  EXPECT_TRUE(pair.reader.failed());
}

TEST(CaptureRing, CompletionRingFullIsReportedNotOverwritten) {
  Pair pair = MakePair(SmallParams());
  for (uint64_t e = 1; e <= 16; ++e) ASSERT_TRUE(pair.reader.Complete(e, CompletionStatus::kCommitted).ok());
  auto full = pair.reader.Complete(17, CompletionStatus::kCommitted);
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.error().code, Errc::kNoSpace);
  CaptureCompletion c[32];
  EXPECT_EQ(pair.writer.PollCompletions(c), 16u);
  EXPECT_EQ(c[15].epoch, 16u);
}

TEST(CaptureRing, WriterRejectsMisuse) {
  Pair pair = MakePair(SmallParams());
  EXPECT_EQ(pair.writer.PushZeroPage(1, 1000).error().code, Errc::kState);
  EXPECT_EQ(pair.writer.BeginEpoch(5, EpochTrigger::kTimer, 0).error().code, Errc::kInvalidArgument);
  ASSERT_TRUE(pair.writer.BeginEpoch(1, EpochTrigger::kTimer, 0).ok());
  EXPECT_FALSE(pair.writer.PushZeroPage(5000, 1000).ok());
  EXPECT_FALSE(pair.writer.PushDiskWrite(0, 0, std::vector<std::byte>(100), 1000).ok());
  EXPECT_FALSE(pair.writer.PushDiskWrite(0, 8190, std::vector<std::byte>(2048), 1000).ok());
  EXPECT_FALSE(pair.writer.PushBlob(RecordType::kVcpuState, 9, std::vector<std::byte>(8), 1000).ok());
}

}  // namespace
}  // namespace replink
