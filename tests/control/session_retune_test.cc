// LinkSession::Retune (used by `replinkctl link set heartbeat_interval_ms / failure_timeout_ms`):
// the heartbeat is renegotiated inside the running session, surviving a lost HELLO, without a new
// session or any stream reset.
#include <gtest/gtest.h>

#include <deque>

#include "link/frame_reader.h"
#include "link/link_session.h"
#include "tests/link/link_test_support.h"

namespace replink::link {
namespace {

constexpr uint64_t kUs = 1000;
constexpr uint64_t kMs = 1000 * kUs;

struct Side {
  Side(LinkEncapsulation e, uint64_t instance, StreamRole role) : encap(std::move(e)), buffer(encap.max_frame()) {
    SessionConfig c;
    c.local.appliance_id = instance;
    c.local.instance_id = instance;
    c.local.name = "node";
    c.local.heartbeat_interval_us = 1000;
    c.local.streams = {{1, role}};
    c.hello_retry_ns = 5 * kMs;
    session.emplace(LinkSession::Create(c, encap).value());
  }
  LinkEncapsulation encap;
  std::optional<LinkSession> session;
  FrameReader reader;
  std::vector<std::byte> buffer;
  std::vector<SessionEvent> events;
};

class Retune : public ::testing::Test {
 protected:
  Retune()
      : a_(testing::MakeEncap(), 0xA, StreamRole::kPrimary),
        b_(testing::PeerOf(a_.encap), 0xB, StreamRole::kSecondary) {
    a_.session->Start(now_);
    b_.session->Start(now_);
  }
  void Run(uint64_t duration_ns) {
    for (uint64_t end = now_ + duration_ns; now_ < end; now_ += 10 * kUs) {
      Exchange(a_, b_);
      Exchange(b_, a_);
    }
  }
  void Exchange(Side& from, Side& to) {
    for (;;) {
      auto frame = from.session->PollTransmit(now_, from.buffer);
      if (frame.empty()) break;
      auto parsed = to.reader.ParseEthernet(to.encap, frame);
      ASSERT_TRUE(parsed.ok());
      if (parsed->type() == FrameType::kHello && drop_hellos_ > 0) {
        --drop_hellos_;
        continue;
      }
      EXPECT_EQ(to.session->OnFrame(*parsed, now_), FrameFault::kNone);
    }
    while (auto e = to.session->PopEvent()) to.events.push_back(*e);
  }
  static int Count(const Side& s, SessionEvent::Kind kind) {
    int n = 0;
    for (const auto& e : s.events) n += e.kind == kind;
    return n;
  }

  uint64_t now_ = kMs;
  int drop_hellos_ = 0;
  Side a_, b_;
};

TEST_F(Retune, HeartbeatIsRenegotiatedInsideTheSession) {
  Run(5 * kMs);
  ASSERT_TRUE(a_.session->established() && b_.session->established());
  uint32_t session = a_.session->session_id();
  EXPECT_EQ(b_.session->agreement().heartbeat_interval_ns, 1 * kMs);

  drop_hellos_ = 1;  // the first HELLO with the new offer is lost: it is retried
  ASSERT_TRUE(a_.session->Retune(500, 3, 10, now_).ok());
  Run(20 * kMs);
  EXPECT_EQ(a_.session->agreement().heartbeat_interval_ns, 500 * kUs);
  EXPECT_EQ(b_.session->agreement().heartbeat_interval_ns, 500 * kUs);
  EXPECT_EQ(a_.session->session_id(), session);
  EXPECT_EQ(b_.session->session_id(), session);
  EXPECT_EQ(Count(a_, SessionEvent::Kind::kEstablished), 1);
  EXPECT_EQ(Count(b_, SessionEvent::Kind::kEstablished), 1);
  EXPECT_EQ(Count(a_, SessionEvent::Kind::kPeerRestarted) + Count(b_, SessionEvent::Kind::kPeerRestarted), 0);

  // Heartbeats now every 0.5 ms on both sides.
  uint64_t before = b_.session->counters().heartbeats_sent;
  Run(10 * kMs);
  EXPECT_GE(b_.session->counters().heartbeats_sent - before, 15u);

  // A longer offer than the peer's: the shorter (the peer's 1 ms) wins.
  ASSERT_TRUE(a_.session->Retune(5000, 3, 10, now_).ok());
  Run(10 * kMs);
  EXPECT_EQ(a_.session->agreement().heartbeat_interval_ns, 1 * kMs);
  EXPECT_EQ(b_.session->agreement().heartbeat_interval_ns, 1 * kMs);
}

TEST_F(Retune, ThresholdsApplyAtOnceAndBadOffersAreRefused) {
  Run(5 * kMs);
  EXPECT_FALSE(a_.session->Retune(10, 3, 10, now_).ok());  // below the protocol's 100 us minimum
  ASSERT_TRUE(a_.session->Retune(1000, 1, 2, now_).ok());
  // B goes silent: A declares it down after 2 intervals instead of 10.
  for (uint64_t end = now_ + 3 * kMs; now_ < end; now_ += 10 * kUs) {
    a_.session->PollTransmit(now_, a_.buffer);
    while (auto e = a_.session->PopEvent()) a_.events.push_back(*e);
  }
  EXPECT_EQ(a_.session->liveness().state(), Liveness::kDown);
}

}  // namespace
}  // namespace replink::link
