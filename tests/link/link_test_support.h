// Helpers shared by the link tests: encapsulations, deterministic bytes, and an epoch packer that
// drives FrameWriter the way the dataplane does (fragmenting items across frames).
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include <gtest/gtest.h>

#include "capture/epoch_checksum.h"
#include "capture/epoch_record.h"
#include "link/frame_writer.h"
#include "link/link_encapsulation.h"

namespace replink::link::testing {

inline LinkEncapsulation MakeEncap(Encapsulation kind = Encapsulation::kRawEthernet,
                                   uint32_t mtu = 1500) {
  EncapsulationConfig c;
  c.kind = kind;
  c.mtu = mtu;
  c.local_mac.octets = {0x02, 0, 0, 0, 0, 0x01};
  c.peer_mac.octets = {0x02, 0, 0, 0, 0, 0x02};
  c.local_ip = 0x0a000001;
  c.peer_ip = 0x0a000002;
  auto encap = LinkEncapsulation::Create(c);
  EXPECT_TRUE(encap.ok());
  return std::move(encap).value();
}

// The peer's view: same link, addresses swapped.
inline LinkEncapsulation PeerOf(const LinkEncapsulation& encap) {
  EncapsulationConfig c = encap.config();
  std::swap(c.local_mac, c.peer_mac);
  std::swap(c.local_ip, c.peer_ip);
  return LinkEncapsulation::Create(c).value();
}

inline std::vector<std::byte> RandomBytes(std::size_t n, std::mt19937_64& rng) {
  std::vector<std::byte> out(n);
  for (auto& b : out) b = static_cast<std::byte>(rng() & 0xff);
  return out;
}

// One content item of an epoch, as the capture side would hand it over.
struct TestItem {
  RecordType type = RecordType::kPage;
  uint64_t gfn = 0;             // PAGE, ZERO_PAGE
  uint8_t codec = 0;            // PAGE
  uint64_t base_version = 0;    // PAGE
  uint32_t index = 0;           // blobs; disk id
  uint64_t sector = 0;          // DISK_WRITE
  std::vector<std::byte> data;  // PAGE payload, blob, disk data
};

struct TestEpoch {
  uint64_t epoch = 0;
  EpochTrigger trigger = EpochTrigger::kTimer;
  std::vector<TestItem> items;
  uint64_t checksum = 0;  // of the logical content (payload bytes stand in for page content)
};

inline uint64_t ChecksumOf(const TestEpoch& e) {
  EpochChecksum sum;
  for (const TestItem& it : e.items) {
    switch (it.type) {
      case RecordType::kZeroPage: sum.AddZeroPage(it.gfn); break;
      case RecordType::kVcpuState:
      case RecordType::kDeviceState: sum.AddBlob(it.type, it.index, it.data); break;
      case RecordType::kDiskWrite: sum.AddDiskWrite(it.index, it.sector, it.data); break;
      default: {  // page payloads of arbitrary length: hash them as a blob keyed by gfn
        sum.AddBlob(RecordType::kDeviceState, static_cast<uint32_t>(it.gfn), it.data);
        break;
      }
    }
  }
  return sum.value();
}

inline TestEpoch RandomEpoch(uint64_t epoch, std::mt19937_64& rng, std::size_t items) {
  TestEpoch e;
  e.epoch = epoch;
  for (std::size_t i = 0; i < items; ++i) {
    TestItem it;
    switch (rng() % 6) {
      case 0:
      case 1:
        it.type = RecordType::kPage;
        it.gfn = rng() % 100000;
        it.codec = static_cast<uint8_t>(rng() % 4);
        it.base_version = it.codec == 2 ? epoch - 1 : 0;
        it.data = RandomBytes(it.codec == 0 ? kPageSize : rng() % kPageSize, rng);
        break;
      case 2: it.type = RecordType::kZeroPage; it.gfn = rng() % 100000; break;
      case 3:
        it.type = RecordType::kVcpuState;
        it.index = static_cast<uint32_t>(rng() % 8);
        it.data = RandomBytes(1 + rng() % 6000, rng);
        break;
      case 4:
        it.type = RecordType::kDeviceState;
        it.index = static_cast<uint32_t>(rng() % 4);
        it.data = RandomBytes(rng() % 3000, rng);
        break;
      default:
        it.type = RecordType::kDiskWrite;
        it.index = static_cast<uint32_t>(rng() % 2);
        it.sector = rng() % 1000000;
        it.data = RandomBytes(kSectorSize * (1 + rng() % 24), rng);
        break;
    }
    e.items.push_back(std::move(it));
  }
  e.checksum = ChecksumOf(e);
  return e;
}

// A sealed frame's bytes, kept by the owner for retransmission.
using FrameBytes = std::vector<std::byte>;

// Packs one epoch into DATA frames the way the dataplane does. Sequence numbers and stamps are applied
// by `seal(writer)` which must call FinishData and return the frame.
template <typename Seal>
std::vector<FrameBytes> PackEpoch(const LinkEncapsulation& encap, uint32_t stream,
                                  const TestEpoch& epoch, Seal&& seal,
                                  uint32_t min_fragment = FrameWriter::kDefaultMinFragment) {
  std::vector<FrameBytes> frames;
  FrameWriter writer(encap, min_fragment);
  FrameBytes buffer(encap.max_frame());
  auto flush = [&] {
    std::span<std::byte> frame = seal(writer);
    frames.emplace_back(frame.begin(), frame.end());
    writer.BeginData(buffer, stream, epoch.epoch);
  };
  writer.BeginData(buffer, stream, epoch.epoch);
  EXPECT_TRUE(writer.AddEpochBegin(epoch.trigger));
  for (const TestItem& it : epoch.items) {
    if (it.type == RecordType::kZeroPage) {
      if (!writer.AddZeroPage(it.gfn)) {
        flush();
        EXPECT_TRUE(writer.AddZeroPage(it.gfn));
      }
      continue;
    }
    std::size_t offset = 0;
    for (int guard = 0; guard < 10000; ++guard) {
      AppendResult r = AppendResult::kRejected;
      if (it.type == RecordType::kPage)
        r = writer.AddPage({it.gfn, it.codec, it.base_version, it.data}, offset);
      else if (it.type == RecordType::kDiskWrite)
        r = writer.AddDiskWrite(it.index, it.sector, it.data, offset);
      else
        r = writer.AddBlob(it.type, it.index, it.data, offset);
      EXPECT_NE(r, AppendResult::kRejected);
      if (r == AppendResult::kComplete || r == AppendResult::kRejected) break;
      flush();
    }
  }
  if (!writer.AddEpochEnd(static_cast<uint32_t>(epoch.items.size()), epoch.checksum)) {
    flush();
    EXPECT_TRUE(writer.AddEpochEnd(static_cast<uint32_t>(epoch.items.size()), epoch.checksum));
  }
  std::span<std::byte> last = seal(writer);
  frames.emplace_back(last.begin(), last.end());
  return frames;
}

}  // namespace replink::link::testing
