#include "link/reliable_sender.h"

#include <vector>

#include <gtest/gtest.h>

namespace replink::link {
namespace {

constexpr uint64_t kUs = 1000;
constexpr uint64_t kMs = 1000 * kUs;

SenderConfig SmallConfig() {
  SenderConfig c;
  c.window = 8;
  c.initial_peer_credits = 8;
  c.rto.initial_ns = 10 * kMs;
  c.rto.min_ns = 1 * kMs;
  c.rto.max_ns = 100 * kMs;
  return c;
}

AckFields Ack(uint64_t next, uint64_t sack = 0, uint32_t credits = 8) {
  return AckFields{next, sack, credits, std::nullopt};
}

std::vector<uint64_t> Vec(std::span<const uint64_t> s) { return {s.begin(), s.end()}; }

TEST(ReliableSender, AssignsSequenceNumbersAndStopsAtTheWindow) {
  ReliableSender s(1, SmallConfig(), 100);
  for (uint64_t i = 0; i < 8; ++i) {
    ASSERT_EQ(s.CanSend(), SendBlock::kNone);
    EXPECT_EQ(s.OnSent(0), 100 + i);
  }
  EXPECT_EQ(s.CanSend(), SendBlock::kWindowFull);
  EXPECT_EQ(s.in_flight(), 8u);
  EXPECT_EQ(Vec(s.OnAck(Ack(103, 0, 8), kMs)), (std::vector<uint64_t>{100, 101, 102}));
  EXPECT_EQ(s.oldest_unacked(), 103u);
  EXPECT_EQ(s.CanSend(), SendBlock::kNone);
  EXPECT_EQ(s.counters().frames_acked, 3u);
}

TEST(ReliableSender, RespectsReceiverCredits) {
  SenderConfig c = SmallConfig();
  c.initial_peer_credits = 2;
  ReliableSender s(1, c);
  s.OnSent(0);
  s.OnSent(0);
  EXPECT_EQ(s.CanSend(), SendBlock::kNoCredits);
  s.OnAck(Ack(1, 0, 1), 10);  // right edge 2: still blocked
  EXPECT_EQ(s.CanSend(), SendBlock::kNoCredits);
  s.OnAck(Ack(2, 0, 3), 20);  // right edge 5
  EXPECT_EQ(s.credit_limit(), 5u);
  EXPECT_EQ(s.CanSend(), SendBlock::kNone);
  // A reordered older ACK never pulls the edge back.
  s.OnAck(Ack(1, 0, 1), 30);
  EXPECT_EQ(s.credit_limit(), 5u);
  EXPECT_EQ(s.counters().acks_stale, 1u);
}

TEST(ReliableSender, SelectiveAckFreesFramesAndTriggersFastRetransmit) {
  ReliableSender s(1, SmallConfig());
  for (int i = 0; i < 6; ++i) s.OnSent(0);
  // Frame 0 lost; 1 and 2 arrived: not yet three above the hole.
  EXPECT_EQ(Vec(s.OnAck(Ack(0, 0b11), kMs)), (std::vector<uint64_t>{1, 2}));
  EXPECT_FALSE(s.NextRetransmit(kMs).has_value());
  // 3 arrives too: three SACKed above 0 -> fast retransmit of 0 only.
  EXPECT_EQ(Vec(s.OnAck(Ack(0, 0b111), kMs)), (std::vector<uint64_t>{3}));
  auto r = s.NextRetransmit(kMs);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, 0u);
  s.OnRetransmitted(0, kMs);
  EXPECT_FALSE(s.NextRetransmit(kMs).has_value());
  EXPECT_EQ(s.counters().fast_retransmits, 1u);
  // The same ACK again does not fast-retransmit 0 a second time.
  s.OnAck(Ack(0, 0b111), 2 * kMs);
  EXPECT_FALSE(s.NextRetransmit(2 * kMs).has_value());
  // The retransmission arrives: cumulative ACK covers 0..3, SACKed frames are not reported twice.
  EXPECT_EQ(Vec(s.OnAck(Ack(4), 3 * kMs)), (std::vector<uint64_t>{0}));
  EXPECT_EQ(s.oldest_unacked(), 4u);
  EXPECT_EQ(s.counters().frames_sacked, 3u);
}

TEST(ReliableSender, TimeoutRetransmitsWithBackoffAndKarn) {
  ReliableSender s(1, SmallConfig());
  s.OnSent(0);
  s.OnSent(0);
  EXPECT_EQ(s.NextDeadline(), 10 * kMs);
  EXPECT_FALSE(s.NextRetransmit(9 * kMs).has_value());
  auto r = s.NextRetransmit(10 * kMs);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, 0u);
  s.OnRetransmitted(0, 10 * kMs);
  r = s.NextRetransmit(10 * kMs);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, 1u);
  s.OnRetransmitted(1, 10 * kMs);
  EXPECT_EQ(s.rtt().rto_ns(), 20 * kMs);  // backed off once per expiry round
  EXPECT_EQ(s.counters().rto_expirations, 1u);
  EXPECT_EQ(s.counters().timeout_retransmits, 2u);
  // Acked after retransmission: no RTT sample (ambiguous).
  s.OnAck(Ack(2), 11 * kMs);
  EXPECT_EQ(s.counters().rtt_samples, 0u);
  EXPECT_FALSE(s.rtt().has_sample());
  // A fresh frame gives a sample and ends the backoff.
  s.OnSent(12 * kMs);
  s.OnAck(Ack(3), 12 * kMs + 200 * kUs);
  EXPECT_EQ(s.counters().rtt_samples, 1u);
  EXPECT_EQ(s.rtt().srtt_ns(), 200 * kUs);
  EXPECT_EQ(s.rtt().rto_ns(), 1 * kMs);  // 200 us + 4 * 100 us, raised to the minimum
  EXPECT_EQ(s.NextDeadline(), UINT64_MAX);
}

TEST(ReliableSender, IgnoresAcksForUnsentFrames) {
  ReliableSender s(1, SmallConfig());
  s.OnSent(0);
  EXPECT_TRUE(s.OnAck(Ack(5), 1).empty());
  EXPECT_EQ(s.counters().acks_invalid, 1u);
  EXPECT_EQ(s.in_flight(), 1u);
  // SACK bits beyond what was sent are ignored too.
  EXPECT_TRUE(s.OnAck(Ack(0, ~uint64_t{0}), 1).empty());
  EXPECT_EQ(s.in_flight(), 1u);
}

TEST(ReliableSender, ProbesWhileWaitingForTheCommitAck) {
  ReliableSender s(1, SmallConfig());
  s.OnSent(0);
  s.ExpectCommit(7);
  EXPECT_FALSE(s.ProbeDue(100 * kMs));  // a frame is in flight: the RTO covers it
  s.OnAck(Ack(1), 1 * kMs);
  EXPECT_FALSE(s.ProbeDue(1 * kMs));
  uint64_t due = s.NextDeadline();
  EXPECT_GT(due, 1 * kMs);
  EXPECT_TRUE(s.ProbeDue(due));
  s.OnProbeSent(due);
  EXPECT_FALSE(s.ProbeDue(due));
  EXPECT_GT(s.NextDeadline(), due);  // backed off
  AckFields committed = Ack(1);
  committed.committed_epoch = 7;
  s.OnAck(committed, due + 1);
  EXPECT_EQ(s.peer_committed_epoch(), std::optional<uint64_t>(7));
  EXPECT_FALSE(s.ProbeDue(UINT64_MAX / 2));
  EXPECT_EQ(s.counters().probes_sent, 1u);
}

TEST(ReliableSender, ProbesWhenTheWindowIsClosed) {
  SenderConfig c = SmallConfig();
  c.initial_peer_credits = 1;
  ReliableSender s(1, c);
  s.OnSent(0);
  s.OnAck(Ack(1, 0, 0), kMs);  // all acked, zero credits
  EXPECT_EQ(s.CanSend(), SendBlock::kNoCredits);
  EXPECT_TRUE(s.ProbeDue(kMs + s.rtt().rto_ns()));
  s.OnAck(Ack(1, 0, 4), 2 * kMs);
  EXPECT_EQ(s.CanSend(), SendBlock::kNone);
  EXPECT_FALSE(s.ProbeDue(UINT64_MAX / 2));
}

TEST(ReliableSender, ResetForgetsEverythingInFlight) {
  ReliableSender s(1, SmallConfig());
  for (int i = 0; i < 5; ++i) s.OnSent(0);
  s.OnAck(Ack(0, 0b1110), 1);  // marks 0 lost
  s.Reset(50);
  EXPECT_EQ(s.in_flight(), 0u);
  EXPECT_EQ(s.next_seq(), 50u);
  EXPECT_FALSE(s.NextRetransmit(UINT64_MAX / 2).has_value());
  EXPECT_EQ(s.OnSent(2), 50u);
}

}  // namespace
}  // namespace replink::link
