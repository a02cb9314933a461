#include "link/reliable_receiver.h"

#include <vector>

#include <gtest/gtest.h>

namespace replink::link {
namespace {

constexpr uint64_t kUs = 1000;

ReceiverConfig Config(uint32_t window = 8) {
  ReceiverConfig c;
  c.window = window;
  c.ack_every = 4;
  c.ack_delay_ns = 50 * kUs;
  return c;
}

std::vector<uint64_t> Drain(ReliableReceiver& r) {
  std::vector<uint64_t> out;
  while (auto t = r.PopInOrder()) out.push_back(*t);
  return out;
}

TEST(ReliableReceiver, DeliversInOrderExactlyOnce) {
  ReliableReceiver r(1, Config());
  EXPECT_EQ(r.OnData(0, 100, false, 0), ReceiveVerdict::kAccepted);
  EXPECT_EQ(r.OnData(1, 101, false, 0), ReceiveVerdict::kAccepted);
  EXPECT_EQ(Drain(r), (std::vector<uint64_t>{100, 101}));
  EXPECT_EQ(r.OnData(1, 999, false, 0), ReceiveVerdict::kDuplicate);
  EXPECT_TRUE(Drain(r).empty());
  EXPECT_EQ(r.counters().delivered, 2u);
  EXPECT_EQ(r.counters().duplicates, 1u);
}

TEST(ReliableReceiver, BuffersOutOfOrderAndReportsSack) {
  ReliableReceiver r(1, Config());
  EXPECT_EQ(r.OnData(2, 102, false, 0), ReceiveVerdict::kAccepted);
  EXPECT_EQ(r.OnData(4, 104, false, 0), ReceiveVerdict::kAccepted);
  EXPECT_TRUE(Drain(r).empty());  // 0 missing
  AckFields ack = r.CurrentAck();
  EXPECT_EQ(ack.ack_next, 0u);
  EXPECT_EQ(ack.sack_bitmap, (uint64_t{1} << 1) | (uint64_t{1} << 3));  // seqs 2 and 4
  EXPECT_EQ(ack.credits, 8u);
  EXPECT_EQ(r.OnData(4, 999, false, 0), ReceiveVerdict::kDuplicate);  // buffered duplicate
  EXPECT_EQ(r.OnData(0, 100, false, 0), ReceiveVerdict::kAccepted);
  EXPECT_EQ(r.ack_next(), 1u);
  EXPECT_EQ(r.OnData(1, 101, false, 0), ReceiveVerdict::kAccepted);
  EXPECT_EQ(r.ack_next(), 3u);
  EXPECT_EQ(r.OnData(3, 103, false, 0), ReceiveVerdict::kAccepted);
  EXPECT_EQ(r.ack_next(), 5u);
  EXPECT_EQ(Drain(r), (std::vector<uint64_t>{100, 101, 102, 103, 104}));
  EXPECT_EQ(r.CurrentAck().sack_bitmap, 0u);
}

TEST(ReliableReceiver, RefusesOutsideTheWindowAndAdvertisesCredits) {
  ReliableReceiver r(1, Config(4));
  EXPECT_EQ(r.OnData(4, 1, false, 0), ReceiveVerdict::kOutOfWindow);
  for (uint64_t s = 0; s < 4; ++s) EXPECT_EQ(r.OnData(s, s, false, 0), ReceiveVerdict::kAccepted);
  EXPECT_EQ(r.credits(), 0u);  // nothing popped: the window is full
  EXPECT_EQ(r.OnData(4, 4, false, 0), ReceiveVerdict::kOutOfWindow);
  ASSERT_TRUE(r.PopInOrder().has_value());
  EXPECT_EQ(r.credits(), 1u);
  EXPECT_EQ(r.OnData(4, 4, false, 0), ReceiveVerdict::kAccepted);
  EXPECT_EQ(r.counters().out_of_window, 2u);
}

TEST(ReliableReceiver, SackCoversSixtyFourFramesAboveTheHole) {
  ReliableReceiver r(1, Config(256));
  for (uint64_t s = 1; s <= 100; ++s) r.OnData(s, s, false, 0);
  AckFields ack = r.CurrentAck();
  EXPECT_EQ(ack.ack_next, 0u);
  EXPECT_EQ(ack.sack_bitmap, ~uint64_t{0});
}

TEST(ReliableReceiver, AckPolicy) {
  ReliableReceiver r(1, Config());
  EXPECT_FALSE(r.AckDue(0));
  EXPECT_EQ(r.AckDeadline(), UINT64_MAX);
  r.OnData(0, 0, false, 1000);
  EXPECT_FALSE(r.AckDue(1000));
  EXPECT_EQ(r.AckDeadline(), 1000 + 50 * kUs);
  EXPECT_TRUE(r.AckDue(1000 + 50 * kUs));  // delayed ACK timer
  r.OnAckSent(1000 + 50 * kUs, false);
  EXPECT_FALSE(r.AckDue(UINT64_MAX / 2));
  // Every 4 frames.
  for (uint64_t s = 1; s <= 3; ++s) r.OnData(s, s, false, 2000);
  EXPECT_FALSE(r.AckDue(2000));
  r.OnData(4, 4, false, 2000);
  EXPECT_TRUE(r.AckDue(2000));
  r.OnAckSent(2000, false);
  // At once on a gap, on a duplicate and on request.
  r.OnData(7, 7, false, 3000);
  EXPECT_TRUE(r.AckDue(3000));
  EXPECT_EQ(r.AckDeadline(), 0u);
  r.OnAckSent(3000, false);
  r.OnData(2, 2, false, 3000);
  EXPECT_TRUE(r.AckDue(3000));
  r.OnAckSent(3000, false);
  r.OnData(5, 5, true, 3000);
  EXPECT_TRUE(r.AckDue(3000));
  r.OnAckSent(3000, false);
  r.OnAckRequest();
  EXPECT_TRUE(r.AckDue(3000));
}

TEST(ReliableReceiver, CommitNeedsAStandaloneAck) {
  ReliableReceiver r(1, Config());
  r.NoteCommitted(12);
  EXPECT_TRUE(r.AckDue(0));
  EXPECT_TRUE(r.commit_ack_pending());
  EXPECT_EQ(r.CurrentAck().committed_epoch, std::optional<uint64_t>(12));
  r.OnAckSent(0, false);  // piggybacked on DATA: cannot carry the commit
  EXPECT_TRUE(r.AckDue(0));
  r.OnAckSent(0, true);
  EXPECT_FALSE(r.AckDue(0));
  r.NoteCommitted(11);  // older: nothing new to say
  EXPECT_FALSE(r.AckDue(0));
}

TEST(ReliableReceiver, WindowReopeningIsAnnounced) {
  ReliableReceiver r(1, Config(8));
  for (uint64_t s = 0; s < 8; ++s) r.OnData(s, s, false, 0);
  r.OnAckSent(0, false);  // advertised 0 credits
  EXPECT_FALSE(r.AckDue(0));
  for (int i = 0; i < 3; ++i) r.PopInOrder();
  EXPECT_FALSE(r.AckDue(0));  // 3 of 8: not yet worth an ACK
  r.PopInOrder();
  EXPECT_TRUE(r.AckDue(0));   // half the window open again
}

TEST(ReliableReceiver, ResetHandsBackBufferedTokens) {
  ReliableReceiver r(1, Config());
  r.OnData(0, 10, false, 0);
  r.OnData(2, 12, false, 0);
  r.OnData(3, 13, false, 0);
  std::vector<uint64_t> dropped;
  r.Reset(40, [&](uint64_t t) { dropped.push_back(t); });
  EXPECT_EQ(dropped, (std::vector<uint64_t>{10, 12, 13}));
  EXPECT_EQ(r.ack_next(), 40u);
  EXPECT_EQ(r.OnData(39, 1, false, 0), ReceiveVerdict::kDuplicate);
  EXPECT_EQ(r.OnData(40, 1, false, 0), ReceiveVerdict::kAccepted);
}

}  // namespace
}  // namespace replink::link
