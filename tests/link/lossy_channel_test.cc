// End to end over a simulated unreliable wire: epochs are packed into frames (FrameWriter), sent
// under ReliableSender + TokenBucketPacer, dropped / duplicated / corrupted / reordered / delayed by a
// seeded LossyChannel in both directions, refused or accepted by FrameReader, ordered by
// ReliableReceiver, reassembled by EpochRecordAssembler and committed; commits come back in ACKs.
// Asserts: every frame delivered exactly once and in sequence order, every epoch's content intact,
// every corrupted frame refused by the CRC and nothing else refused, every epoch's commit seen by the
// sender.
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "link/epoch_record_assembler.h"
#include "link/frame_reader.h"
#include "link/reliable_receiver.h"
#include "link/reliable_sender.h"
#include "link/token_bucket_pacer.h"
#include "link/wire_access.h"
#include "link_test_support.h"
#include "lossy_channel.h"

namespace replink::link {
namespace {

using testing::ChannelConfig;
using testing::FrameBytes;
using testing::LossyChannel;

constexpr uint64_t kUs = 1000;
constexpr uint32_t kStream = 3;
constexpr uint32_t kSession = 0x5e55;

struct Scenario {
  const char* name;
  uint64_t seed;
  Encapsulation encap;
  uint32_t mtu;
  ChannelConfig forward;
  ChannelConfig reverse;
  int epochs;
  uint64_t rate_bits_per_s;
  bool lockstep = false;  // the next epoch goes out only once the previous one is committed
};

ChannelConfig Lossy(double drop, double dup, double corrupt, double reorder) {
  ChannelConfig c;
  c.drop = drop;
  c.duplicate = dup;
  c.corrupt = corrupt;
  c.reorder = reorder;
  return c;
}

class LossyChannelTest : public ::testing::TestWithParam<Scenario> {};

TEST_P(LossyChannelTest, ExactlyOnceInOrderDelivery) {
  const Scenario& sc = GetParam();
  std::mt19937_64 rng(sc.seed);
  LinkEncapsulation encap_a = testing::MakeEncap(sc.encap, sc.mtu);
  LinkEncapsulation encap_b = testing::PeerOf(encap_a);

  // ---- the content: epochs packed into frames, seq = position in the stream ----
  std::vector<testing::TestEpoch> epochs;
  std::vector<FrameBytes> frames;        // A keeps these until acknowledged
  std::vector<uint64_t> last_frame_of;   // epoch index -> seq of its EPOCH_END frame
  std::vector<std::size_t> epoch_of;     // seq -> epoch index
  for (int i = 0; i < sc.epochs; ++i) {
    epochs.push_back(testing::RandomEpoch(100 + i, rng, 1 + rng() % 16));
    uint64_t seq = frames.size();
    auto packed = testing::PackEpoch(encap_a, kStream, epochs.back(), [&](FrameWriter& w) {
      return w.FinishData(seq++, FrameStamp{kSession, std::nullopt, false});
    });
    // The epoch's last frame asks for an ACK at once: the shim is holding the guest's I/O.
    RestampFrame(encap_a, packed.back(), FrameStamp{kSession, std::nullopt, true});
    for (auto& f : packed) {
      frames.push_back(std::move(f));
      epoch_of.push_back(epochs.size() - 1);
    }
    last_frame_of.push_back(frames.size() - 1);
  }
  const uint64_t total = frames.size();
  ASSERT_GT(total, 1000u) << sc.name;
  std::printf("%s: %llu frames\n", sc.name, static_cast<unsigned long long>(total));

  // ---- A: sender of stream kStream ----
  SenderConfig sc_cfg;
  sc_cfg.window = 64;
  sc_cfg.initial_peer_credits = 64;
  sc_cfg.rto.initial_ns = 2000 * kUs;
  sc_cfg.rto.min_ns = 300 * kUs;
  sc_cfg.rto.max_ns = 20'000 * kUs;
  ReliableSender sender(kStream, sc_cfg);
  ReliableReceiver a_reverse(kStream, ReceiverConfig{64, 4, 50 * kUs});  // B -> A data: none here
  TokenBucketPacer pacer(PacerConfig{sc.rate_bits_per_s, 64 * 1024});
  FrameReader a_reader;
  std::vector<uint8_t> freed(total, 0);
  uint64_t next_epoch_to_expect = 0;

  // ---- B: receiver, assembler, "commit stage" ----
  ReliableReceiver receiver(kStream, ReceiverConfig{64, 4, 50 * kUs});
  EpochRecordAssembler assembler(kStream);
  FrameReader b_reader;
  std::map<uint64_t, FrameBytes> b_store;  // token -> frame bytes held by B
  uint64_t next_token = 0;
  std::vector<uint64_t> delivered;
  std::vector<std::vector<testing::TestItem>> received_items;
  std::vector<uint64_t> received_checksums;

  LossyChannel forward(sc.forward, sc.seed * 31 + 1, encap_a.header_size());
  LossyChannel reverse(sc.reverse, sc.seed * 31 + 2, encap_b.header_size());
  FrameBytes ack_buffer(encap_b.max_frame());
  FrameBytes probe_buffer(encap_a.max_frame());

  uint64_t now = 0;
  uint64_t steps = 0;
  auto committed_all = [&] {
    return sender.peer_committed_epoch() == std::optional<uint64_t>(epochs.back().epoch);
  };
  while (!committed_all() || sender.in_flight() > 0) {
    ASSERT_LT(++steps, 3'000'000u) << "no progress: in flight " << sender.in_flight() << " next "
                                   << sender.next_seq() << " acked-to " << sender.oldest_unacked();
    now += 5 * kUs;

    // A: retransmissions first (refreshed stamp), then new frames while window, credits and pacer allow.
    while (auto seq = sender.NextRetransmit(now)) {
      ASSERT_LT(*seq, total);
      ASSERT_FALSE(freed[*seq]) << "asked to resend a frame already acknowledged";
      if (!pacer.CanSend(frames[*seq].size(), now)) break;
      RestampFrame(encap_a, frames[*seq],
                   FrameStamp{kSession, std::nullopt, *seq == last_frame_of[next_epoch_to_expect]});
      forward.Send(frames[*seq], now);
      pacer.Consume(frames[*seq].size(), now);
      sender.OnRetransmitted(*seq, now);
    }
    for (int burst = 0; burst < 8 && sender.next_seq() < total; ++burst) {
      if (sender.CanSend() != SendBlock::kNone) break;
      std::size_t e = epoch_of[sender.next_seq()];
      if (sc.lockstep && e > 0 && sender.peer_committed_epoch() < epochs[e - 1].epoch) break;
      const FrameBytes& f = frames[sender.next_seq()];
      if (!pacer.CanSend(f.size(), now)) break;
      uint64_t seq = sender.OnSent(now);
      forward.Send(frames[seq], now);
      pacer.Consume(f.size(), now);
      if (seq == last_frame_of[next_epoch_to_expect]) sender.ExpectCommit(epochs[next_epoch_to_expect].epoch);
      while (next_epoch_to_expect + 1 < epochs.size() && seq >= last_frame_of[next_epoch_to_expect])
        ++next_epoch_to_expect;
    }
    if (sender.ProbeDue(now)) {
      forward.Send(BuildAckFrame(encap_a, probe_buffer, kStream, kSession, a_reverse.CurrentAck(), true),
                   now);
      sender.OnProbeSent(now);
    }

    // B: receive, order, deliver, assemble, commit.
    for (FrameBytes& bytes : forward.Receive(now)) {
      auto parsed = b_reader.ParseEthernet(encap_b, bytes);
      if (!parsed.ok()) continue;  // counted by the reader; checked at the end
      const LinkHeader& h = parsed->header;
      ASSERT_EQ(h.stream_id, kStream);
      ASSERT_EQ(h.session_id, kSession);
      if (parsed->type() == FrameType::kAck) {
        if (h.flags & kFlagAckRequest) receiver.OnAckRequest();
        continue;
      }
      ASSERT_EQ(parsed->type(), FrameType::kData);
      uint64_t token = next_token++;
      auto verdict = receiver.OnData(h.seq, token, (h.flags & kFlagAckRequest) != 0, now);
      if (verdict == ReceiveVerdict::kAccepted) b_store.emplace(token, std::move(bytes));
    }
    // A slow commit stage now and then: backpressure through credits.
    int budget = rng() % 8 == 0 ? 0 : 16;
    for (int i = 0; i < budget; ++i) {
      auto token = receiver.PopInOrder();
      if (!token) break;
      auto it = b_store.find(*token);
      ASSERT_NE(it, b_store.end());
      FrameBytes bytes = std::move(it->second);
      b_store.erase(it);
      auto parsed = b_reader.ParseEthernet(encap_b, bytes);
      ASSERT_TRUE(parsed.ok());
      delivered.push_back(parsed->header.seq);
      RecordCursor cursor(*parsed);
      RecordView r;
      while (cursor.Next(&r)) {
        RecordView whole;
        auto fed = assembler.Feed(r, &whole);
        ASSERT_TRUE(fed.ok()) << fed.error().Describe();
        if (!*fed) continue;
        if (whole.type == RecordType::kEpochBegin) {
          received_items.emplace_back();
        } else if (whole.type == RecordType::kEpochEnd) {
          received_checksums.push_back(whole.checksum);
          receiver.NoteCommitted(whole.epoch);  // the replica committed it
        } else {
          testing::TestItem it2;
          it2.type = whole.type;
          it2.gfn = whole.gfn;
          it2.codec = whole.codec;
          it2.base_version = whole.base_version;
          it2.index = whole.index;
          it2.sector = whole.sector;
          it2.data.assign(whole.fragment.begin(), whole.fragment.end());
          received_items.back().push_back(std::move(it2));
        }
      }
      ASSERT_EQ(cursor.fault(), FrameFault::kNone);
    }
    if (receiver.AckDue(now)) {
      reverse.Send(BuildAckFrame(encap_b, ack_buffer, kStream, kSession, receiver.CurrentAck()), now);
      receiver.OnAckSent(now, true);
    }

    // A: ACKs.
    for (FrameBytes& bytes : reverse.Receive(now)) {
      auto parsed = a_reader.ParseEthernet(encap_a, bytes);
      if (!parsed.ok()) continue;
      auto ack = AckFromHeader(parsed->header);
      ASSERT_TRUE(ack.has_value());
      for (uint64_t seq : sender.OnAck(*ack, now)) {
        ASSERT_LT(seq, total);
        ASSERT_FALSE(freed[seq]) << "seq " << seq << " acknowledged twice";
        freed[seq] = 1;
      }
    }
  }

  // Exactly once, in order.
  ASSERT_EQ(delivered.size(), total);
  for (uint64_t i = 0; i < total; ++i) ASSERT_EQ(delivered[i], i);
  for (uint64_t i = 0; i < total; ++i) ASSERT_TRUE(freed[i]) << i;
  EXPECT_TRUE(b_store.empty());

  // Content intact.
  ASSERT_EQ(received_items.size(), epochs.size());
  for (std::size_t e = 0; e < epochs.size(); ++e) {
    ASSERT_EQ(received_items[e].size(), epochs[e].items.size());
    for (std::size_t i = 0; i < epochs[e].items.size(); ++i) {
      const testing::TestItem& a = epochs[e].items[i];
      const testing::TestItem& b = received_items[e][i];
      ASSERT_EQ(a.type, b.type);
      ASSERT_EQ(a.data, b.data);
      ASSERT_EQ(a.gfn, b.gfn);
      ASSERT_EQ(a.index, b.index);
      ASSERT_EQ(a.sector, b.sector);
    }
    testing::TestEpoch got{epochs[e].epoch, epochs[e].trigger, received_items[e], 0};
    EXPECT_EQ(testing::ChecksumOf(got), received_checksums[e]);
    EXPECT_EQ(received_checksums[e], epochs[e].checksum);
  }

  // Every corrupted frame refused by the CRC, nothing else refused.
  EXPECT_EQ(b_reader.faults()[FrameFault::kBadChecksum], forward.counters().corrupted);
  EXPECT_EQ(b_reader.faults().Total(), forward.counters().corrupted);
  EXPECT_EQ(a_reader.faults()[FrameFault::kBadChecksum], reverse.counters().corrupted);
  EXPECT_EQ(a_reader.faults().Total(), reverse.counters().corrupted);

  // The channel really did its worst, and the engine really repaired it.
  const SenderCounters& s = sender.counters();
  const ReceiverCounters& r = receiver.counters();
  if (sc.forward.drop > 0) {
    EXPECT_GT(forward.counters().dropped, 0u);
    EXPECT_GT(s.fast_retransmits + s.timeout_retransmits, 0u);
  }
  if (sc.forward.duplicate > 0) {
    EXPECT_GT(r.duplicates, 0u);
  }
  if (sc.forward.reorder > 0) {
    EXPECT_GT(r.out_of_order, 0u);
  }
  if (sc.lockstep && sc.reverse.drop > 0) {
    EXPECT_GT(s.probes_sent, 0u);  // lost commit ACKs were recovered by probing
  }
  if (sc.forward.corrupt > 0) {
    EXPECT_GT(forward.counters().corrupted, 0u);
  }
  RecordProperty("frames", static_cast<int>(total));
  RecordProperty("sent", static_cast<int>(s.frames_sent));
  RecordProperty("fast_retransmits", static_cast<int>(s.fast_retransmits));
  RecordProperty("timeout_retransmits", static_cast<int>(s.timeout_retransmits));
  RecordProperty("corrupted", static_cast<int>(forward.counters().corrupted));
  RecordProperty("duplicates", static_cast<int>(r.duplicates));
  RecordProperty("probes", static_cast<int>(s.probes_sent));
  RecordProperty("credit_stalls", static_cast<int>(s.credit_stalls));
}

INSTANTIATE_TEST_SUITE_P(
    Link, LossyChannelTest,
    ::testing::Values(
        Scenario{"clean_raw1500", 1, Encapsulation::kRawEthernet, 1500, Lossy(0, 0, 0, 0),
                 Lossy(0, 0, 0, 0), 200, 0},
        Scenario{"mixed_raw1500", 2, Encapsulation::kRawEthernet, 1500, Lossy(0.05, 0.03, 0.03, 0.1),
                 Lossy(0.05, 0.03, 0.03, 0.1), 300, 0},
        Scenario{"mixed_udp9000", 3, Encapsulation::kUdpIpv4, 9000, Lossy(0.05, 0.05, 0.05, 0.2),
                 Lossy(0.1, 0.05, 0.05, 0.2), 1000, 10'000'000'000},
        Scenario{"heavy_raw1500", 4, Encapsulation::kRawEthernet, 1500, Lossy(0.2, 0.1, 0.1, 0.3),
                 Lossy(0.3, 0.1, 0.1, 0.3), 200, 0},
        Scenario{"paced_udp1500", 5, Encapsulation::kUdpIpv4, 1500, Lossy(0.02, 0.01, 0.01, 0.05),
                 Lossy(0.02, 0.01, 0.01, 0.05), 200, 1'000'000'000},
        Scenario{"lockstep_raw9000", 6, Encapsulation::kRawEthernet, 9000, Lossy(0.05, 0.02, 0.02, 0.1),
                 Lossy(0.3, 0.05, 0.05, 0.1), 1200, 0, true}),
    [](const ::testing::TestParamInfo<Scenario>& param) { return std::string(param.param.name); });

}  // namespace
}  // namespace replink::link
