// Two LinkSessions talking through an in-memory wire with a fixed one-way delay and switchable loss.
#include "link/link_session.h"

#include <deque>
#include <functional>
#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include "link/frame_reader.h"
#include "link/wire_access.h"
#include "link_test_support.h"

namespace replink::link {
namespace {

using testing::FrameBytes;
using testing::MakeEncap;
using testing::PeerOf;

constexpr uint64_t kUs = 1000;
constexpr uint64_t kMs = 1000 * kUs;

SessionConfig Config(uint64_t instance, std::vector<StreamAnnouncement> streams) {
  SessionConfig c;
  c.local.appliance_id = instance;
  c.local.instance_id = instance;
  c.local.name = "node-" + std::to_string(instance);
  c.local.heartbeat_interval_us = 1000;
  c.local.streams = std::move(streams);
  c.hello_retry_ns = 5 * kMs;
  c.reset_retry_ns = 2 * kMs;
  return c;
}

struct Side {
  Side(const LinkEncapsulation& e, const SessionConfig& c)
      : encap(e), session(LinkSession::Create(c, encap).value()), buffer(encap.max_frame()) {}
  LinkEncapsulation encap;
  LinkSession session;
  FrameReader reader;
  FrameBytes buffer;
  std::vector<SessionEvent> events;
  std::vector<FrameFault> data_faults;
};

class SessionPair : public ::testing::Test {
 protected:
  struct InFlight {
    uint64_t arrive_ns;
    FrameBytes bytes;
  };

  void Make(uint64_t ia, uint64_t ib, std::vector<StreamAnnouncement> sa = {{1, StreamRole::kPrimary}},
            std::vector<StreamAnnouncement> sb = {{1, StreamRole::kSecondary}}) {
    LinkEncapsulation ea = MakeEncap(Encapsulation::kRawEthernet, 1500);
    a_ = std::make_unique<Side>(ea, Config(ia, std::move(sa)));
    b_ = std::make_unique<Side>(PeerOf(ea), Config(ib, std::move(sb)));
    a_->session.Start(now_);
    b_->session.Start(now_);
  }

  // Replaces B by a new instance of itself (a restart).
  void RestartB(uint64_t ib) {
    b_ = std::make_unique<Side>(PeerOf(a_->encap), Config(ib, {{1, StreamRole::kSecondary}}));
    b_->session.Start(now_);
    to_b_.clear();
    to_a_.clear();
  }

  void Pump(Side& from, std::deque<InFlight>& wire, bool cut) {
    for (;;) {
      std::span<std::byte> frame = from.session.PollTransmit(now_, from.buffer);
      if (frame.empty()) break;
      if (cut || (drop_next_ && drop_next_(from, frame))) continue;
      wire.push_back({now_ + kDelay, FrameBytes(frame.begin(), frame.end())});
    }
  }
  void Deliver(Side& to, std::deque<InFlight>& wire) {
    while (!wire.empty() && wire.front().arrive_ns <= now_) {
      FrameBytes bytes = std::move(wire.front().bytes);
      wire.pop_front();
      auto parsed = to.reader.ParseEthernet(to.encap, bytes);
      ASSERT_TRUE(parsed.ok()) << parsed.error().Describe();
      FrameFault f = to.session.OnFrame(*parsed, now_);
      if (f != FrameFault::kNone) to.data_faults.push_back(f);
    }
    while (auto e = to.session.PopEvent()) to.events.push_back(*e);
  }
  void Run(uint64_t duration_ns, bool cut_a = false, bool cut_b = false) {
    uint64_t end = now_ + duration_ns;
    while (now_ < end) {
      Pump(*a_, to_b_, cut_a);
      Pump(*b_, to_a_, cut_b);
      Deliver(*b_, to_b_);
      Deliver(*a_, to_a_);
      now_ += 10 * kUs;
    }
  }
  static int Count(const Side& s, SessionEvent::Kind kind) {
    int n = 0;
    for (const SessionEvent& e : s.events) n += e.kind == kind;
    return n;
  }
  static FrameType TypeOf(const Side& s, std::span<const std::byte> frame) {
    return static_cast<FrameType>(LoadWire<LinkHeader>(frame, s.encap.header_size()).type);
  }

  static constexpr uint64_t kDelay = 40 * kUs;
  uint64_t now_ = 1 * kMs;
  std::unique_ptr<Side> a_, b_;
  std::deque<InFlight> to_a_, to_b_;
  std::function<bool(Side&, std::span<const std::byte>)> drop_next_;
};

TEST_F(SessionPair, EstablishesAndAgrees) {
  Make(0xA, 0xB);
  Run(2 * kMs);
  ASSERT_TRUE(a_->session.established());
  ASSERT_TRUE(b_->session.established());
  EXPECT_EQ(a_->session.session_id(), b_->session.session_id());
  EXPECT_EQ(a_->session.agreement().mtu, 1500u);
  EXPECT_EQ(a_->session.agreement().heartbeat_interval_ns, 1 * kMs);
  EXPECT_EQ(Count(*a_, SessionEvent::Kind::kEstablished), 1);
  EXPECT_EQ(Count(*b_, SessionEvent::Kind::kEstablished), 1);
  ASSERT_TRUE(a_->session.peer().has_value());
  EXPECT_EQ(a_->session.peer()->name, "node-11");
  EXPECT_EQ(a_->session.peer()->streams[0].role, StreamRole::kSecondary);
  EXPECT_EQ(a_->session.liveness().state(), Liveness::kUp);
}

TEST_F(SessionPair, HeartbeatsMeasureRttAndLivenessFollowsTheWire) {
  Make(0xA, 0xB);
  Run(20 * kMs);
  EXPECT_GE(a_->session.counters().heartbeats_received, 15u);
  ASSERT_TRUE(a_->session.liveness().has_rtt());
  // Two 40 us hops; the simulation steps in 10 us, so the estimate is within a step or two.
  EXPECT_GE(a_->session.liveness().rtt_ns(), 80 * kUs);
  EXPECT_LE(a_->session.liveness().rtt_ns(), 110 * kUs);

  Run(20 * kMs, /*cut_a=*/false, /*cut_b=*/true);  // B goes silent
  EXPECT_EQ(a_->session.liveness().state(), Liveness::kDown);
  int changes = Count(*a_, SessionEvent::Kind::kLivenessChanged);
  EXPECT_EQ(changes, 2);  // up -> suspect -> down
  EXPECT_EQ(a_->events.back().liveness, Liveness::kDown);
  Run(3 * kMs);
  EXPECT_EQ(a_->session.liveness().state(), Liveness::kUp);
  EXPECT_EQ(Count(*a_, SessionEvent::Kind::kPeerRestarted), 0);  // same instance: streams continue
}

TEST_F(SessionPair, SurvivesLostHellos) {
  Make(0xA, 0xB);
  int dropped = 0;
  drop_next_ = [&](Side&, std::span<const std::byte>) { return dropped++ < 4; };
  Run(30 * kMs);
  EXPECT_TRUE(a_->session.established());
  EXPECT_TRUE(b_->session.established());
  EXPECT_GT(a_->session.counters().hellos_sent + b_->session.counters().hellos_sent, 2u);
}

TEST_F(SessionPair, PeerRestartStartsANewSession) {
  Make(0xA, 0xB);
  Run(3 * kMs);
  uint32_t old_session = a_->session.session_id();
  // A frame B sent in the old session, delivered late to A after the restart.
  LinkHeader stale{};
  stale.type = static_cast<uint8_t>(FrameType::kHeartbeat);
  stale.session_id = old_session;
  HeartbeatPayload hb{0xB, now_, 0, 0};
  FrameBytes buf(a_->encap.max_frame());
  auto old_frame = BuildControlFrame(b_->encap, buf, stale, std::as_bytes(std::span(&hb, 1)));
  FrameBytes late(old_frame.begin(), old_frame.end());

  RestartB(0xB2);
  Run(5 * kMs);
  ASSERT_TRUE(a_->session.established());
  ASSERT_TRUE(b_->session.established());
  EXPECT_NE(a_->session.session_id(), old_session);
  EXPECT_EQ(a_->session.session_id(), b_->session.session_id());
  EXPECT_EQ(Count(*a_, SessionEvent::Kind::kPeerRestarted), 1);
  EXPECT_EQ(Count(*a_, SessionEvent::Kind::kEstablished), 2);
  // kPeerRestarted comes before the new session's kEstablished.
  auto restarted = std::find_if(a_->events.begin(), a_->events.end(), [](const SessionEvent& e) {
    return e.kind == SessionEvent::Kind::kPeerRestarted;
  });
  EXPECT_TRUE(std::any_of(restarted, a_->events.end(), [](const SessionEvent& e) {
    return e.kind == SessionEvent::Kind::kEstablished;
  }));
  EXPECT_EQ(a_->session.counters().peer_restarts, 1u);

  auto parsed = a_->reader.ParseEthernet(a_->encap, late);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(a_->session.OnFrame(*parsed, now_), FrameFault::kStaleSession);
}

TEST_F(SessionPair, StreamResetHandshakeSurvivesLoss) {
  Make(0xA, 0xB);
  Run(3 * kMs);
  // Lose the first RESET and the first reply.
  int resets_dropped = 0;
  int replies_dropped = 0;
  drop_next_ = [&](Side& from, std::span<const std::byte> f) {
    if (TypeOf(from, f) != FrameType::kReset) return false;
    auto h = LoadWire<LinkHeader>(f, from.encap.header_size());
    if (h.flags & kFlagReply) return replies_dropped++ == 0;
    return resets_dropped++ == 0;
  };
  a_->session.RequestStreamReset(1, 500, ResetReason::kOperator, now_);
  EXPECT_TRUE(a_->session.reset_pending(1));
  // B's owner answers every kStreamReset it sees.
  for (int i = 0; i < 2000 && a_->session.reset_pending(1); ++i) {
    Run(10 * kUs);
    for (SessionEvent& e : b_->events)
      if (e.kind == SessionEvent::Kind::kStreamReset && e.message.empty()) {
        EXPECT_EQ(e.peer_resume_seq, 500u);
        b_->session.AnswerStreamReset(e.stream_id, 900);
        e.message = "answered";
      }
  }
  EXPECT_FALSE(a_->session.reset_pending(1));
  Run(10 * kMs);  // late retransmissions must not cause a second reset
  EXPECT_EQ(Count(*b_, SessionEvent::Kind::kStreamReset), 1);
  EXPECT_EQ(Count(*a_, SessionEvent::Kind::kStreamResetDone), 1);
  auto done = std::find_if(a_->events.begin(), a_->events.end(), [](const SessionEvent& e) {
    return e.kind == SessionEvent::Kind::kStreamResetDone;
  });
  EXPECT_EQ(done->peer_resume_seq, 900u);
  EXPECT_EQ(done->reason, ResetReason::kOperator);
  EXPECT_GE(a_->session.counters().resets_sent, 2u);
  EXPECT_GE(b_->session.counters().reset_replies_sent, 2u);
}

TEST_F(SessionPair, NegotiationFailureIsReportedOnce) {
  LinkEncapsulation ea = MakeEncap(Encapsulation::kRawEthernet, 1500);
  SessionConfig ca = Config(0xA, {});
  SessionConfig cb = Config(0xB, {});
  cb.local.min_version = 5;
  cb.local.max_version = 6;
  a_ = std::make_unique<Side>(ea, ca);
  b_ = std::make_unique<Side>(PeerOf(ea), cb);
  a_->session.Start(now_);
  b_->session.Start(now_);
  Run(30 * kMs);
  EXPECT_FALSE(a_->session.established());
  EXPECT_EQ(Count(*a_, SessionEvent::Kind::kNegotiationFailed), 1);
  EXPECT_GT(a_->session.counters().negotiation_failures, 1u);
  EXPECT_NE(a_->events.front().message.find("version"), std::string::npos);
}

TEST_F(SessionPair, SplitBrainStreamsAreReported) {
  Make(0xA, 0xB, {{4, StreamRole::kPrimary}}, {{4, StreamRole::kPrimary}});
  Run(2 * kMs);
  ASSERT_EQ(Count(*a_, SessionEvent::Kind::kStreamConflict), 1);
  EXPECT_EQ(Count(*b_, SessionEvent::Kind::kStreamConflict), 1);
}

TEST_F(SessionPair, DataBeforeEstablishmentOrOfAnotherSessionIsStale) {
  Make(0xA, 0xB);
  LinkHeader h{};
  h.type = static_cast<uint8_t>(FrameType::kAck);
  h.flags = kFlagAckValid;
  h.session_id = 77;
  FrameView v{h, {}};
  EXPECT_EQ(a_->session.OnFrame(v, now_), FrameFault::kStaleSession);
  Run(2 * kMs);
  EXPECT_EQ(a_->session.OnFrame(v, now_), FrameFault::kStaleSession);
  v.header.session_id = a_->session.session_id();
  EXPECT_EQ(a_->session.OnFrame(v, now_), FrameFault::kNone);
}

}  // namespace
}  // namespace replink::link
