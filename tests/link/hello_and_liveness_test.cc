#include <gtest/gtest.h>

#include "link/hello_exchange.h"
#include "link/peer_liveness.h"

namespace replink::link {
namespace {

constexpr uint64_t kUs = 1000;
constexpr uint64_t kMs = 1000 * kUs;

HelloInfo Hello(uint64_t instance) {
  HelloInfo h;
  h.appliance_id = instance * 10;
  h.instance_id = instance;
  h.name = "appliance-" + std::to_string(instance);
  return h;
}

TEST(HelloExchange, EncodeDecodeRoundTrip) {
  HelloInfo h = Hello(1);
  h.name = std::string(kApplianceNameSize, 'x');  // exactly fills the field, no NUL
  h.min_version = 1;
  h.max_version = 3;
  h.codec_mask = 0b1011;
  h.mtu = 9000;
  h.window = 1024;
  h.heartbeat_interval_us = 2500;
  h.streams = {{7, StreamRole::kPrimary}, {9, StreamRole::kSecondary}};
  std::vector<std::byte> bytes;
  ASSERT_TRUE(EncodeHello(h, bytes).ok());
  EXPECT_EQ(bytes.size(), sizeof(HelloPayload) + 2 * sizeof(StreamEntry));
  auto back = DecodeHello(bytes);
  ASSERT_TRUE(back.ok()) << back.error().Describe();
  EXPECT_EQ(back->name, h.name);
  EXPECT_EQ(back->instance_id, 1u);
  EXPECT_EQ(back->appliance_id, 10u);
  EXPECT_EQ(back->max_version, 3u);
  EXPECT_EQ(back->codec_mask, 0b1011u);
  EXPECT_EQ(back->mtu, 9000u);
  EXPECT_EQ(back->window, 1024u);
  EXPECT_EQ(back->heartbeat_interval_us, 2500u);
  EXPECT_EQ(back->streams, h.streams);
}

TEST(HelloExchange, RefusesBadOffers) {
  auto bad = [](auto mutate) {
    HelloInfo h = Hello(1);
    mutate(h);
    std::vector<std::byte> bytes;
    return !EncodeHello(h, bytes).ok();
  };
  EXPECT_TRUE(bad([](HelloInfo& h) { h.instance_id = 0; }));
  EXPECT_TRUE(bad([](HelloInfo& h) { h.name = std::string(33, 'x'); }));
  EXPECT_TRUE(bad([](HelloInfo& h) { h.min_version = 2; h.max_version = 1; }));
  EXPECT_TRUE(bad([](HelloInfo& h) { h.mtu = 500; }));
  EXPECT_TRUE(bad([](HelloInfo& h) { h.window = 0; }));
  EXPECT_TRUE(bad([](HelloInfo& h) { h.heartbeat_interval_us = 1; }));
  EXPECT_TRUE(bad([](HelloInfo& h) { h.codec_mask = 0b1110; }));
  EXPECT_TRUE(bad([](HelloInfo& h) { h.streams = {{1, StreamRole::kPrimary}, {1, StreamRole::kSecondary}}; }));
  EXPECT_TRUE(bad([](HelloInfo& h) { h.streams = {{1, static_cast<StreamRole>(9)}}; }));
  EXPECT_TRUE(bad([](HelloInfo& h) { h.streams.resize(kMaxHelloStreams + 1); }));
  std::vector<std::byte> bytes;
  ASSERT_TRUE(EncodeHello(Hello(1), bytes).ok());
  bytes.push_back(std::byte{0});  // size no longer matches stream_count
  EXPECT_FALSE(DecodeHello(bytes).ok());
}

TEST(HelloExchange, NegotiatesTheCommonGround) {
  HelloInfo a = Hello(1);
  HelloInfo b = Hello(2);
  a.max_version = 3;
  b.max_version = 2;
  a.mtu = 9000;
  b.mtu = 1500;
  a.window = 512;
  b.window = 2048;
  a.codec_mask = 0b1111;
  b.codec_mask = 0b0101;
  a.heartbeat_interval_us = 10'000;
  b.heartbeat_interval_us = 5'000;
  b.features = kFeatureSelectiveAck;
  auto ab = Negotiate(a, b);
  auto ba = Negotiate(b, a);
  ASSERT_TRUE(ab.ok());
  ASSERT_TRUE(ba.ok());
  for (const LinkAgreement* g : {&ab.value(), &ba.value()}) {
    EXPECT_EQ(g->version, 2u);
    EXPECT_EQ(g->mtu, 1500u);
    EXPECT_EQ(g->window, 512u);
    EXPECT_EQ(g->codec_mask, 0b0101u);
    EXPECT_EQ(g->heartbeat_interval_ns, 5 * kMs);
    EXPECT_EQ(g->features, kFeatureSelectiveAck);
  }
  EXPECT_EQ(ab->session_id, ba->session_id);
  EXPECT_NE(ab->session_id, 0u);
  EXPECT_NE(SessionIdFor(1, 2), SessionIdFor(1, 3));
}

TEST(HelloExchange, RefusesIncompatiblePeers) {
  HelloInfo a = Hello(1);
  HelloInfo b = Hello(2);
  b.min_version = 2;
  b.max_version = 4;
  auto r = Negotiate(a, b);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kVersionMismatch);
  EXPECT_FALSE(Negotiate(a, Hello(1)).ok());  // our own instance: a looped cable
}

TEST(HelloExchange, ReportsRoleConflicts) {
  HelloInfo a = Hello(1);
  HelloInfo b = Hello(2);
  a.streams = {{1, StreamRole::kPrimary}, {2, StreamRole::kSecondary}, {3, StreamRole::kPrimary}};
  b.streams = {{1, StreamRole::kSecondary}, {2, StreamRole::kPrimary}, {3, StreamRole::kPrimary}};
  auto r = Negotiate(a, b);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->conflicts.size(), 1u);
  EXPECT_EQ(r->conflicts[0].stream_id, 3u);
  EXPECT_EQ(r->conflicts[0].role, StreamRole::kPrimary);
}

TEST(PeerLiveness, GoesSuspectThenDownAndBack) {
  PeerLiveness l(LivenessConfig{10 * kMs, 3, 10});
  EXPECT_EQ(l.state(), Liveness::kUnknown);
  EXPECT_FALSE(l.Update(kMs * 1000));  // unknown stays unknown
  l.OnHeard(100 * kMs);
  EXPECT_EQ(l.state(), Liveness::kUp);
  EXPECT_EQ(l.NextCheck(), 130 * kMs);
  EXPECT_FALSE(l.Update(129 * kMs));
  EXPECT_TRUE(l.Update(130 * kMs));
  EXPECT_EQ(l.state(), Liveness::kSuspect);
  EXPECT_EQ(l.NextCheck(), 200 * kMs);
  EXPECT_TRUE(l.Update(200 * kMs));
  EXPECT_EQ(l.state(), Liveness::kDown);
  EXPECT_EQ(l.NextCheck(), UINT64_MAX);
  l.OnHeard(250 * kMs);
  EXPECT_EQ(l.state(), Liveness::kUp);
  EXPECT_EQ(l.last_heard_ns(), 250 * kMs);
}

TEST(PeerLiveness, MeasuresRttFromEchoedHeartbeats) {
  PeerLiveness a, b;
  // a -> b takes 30 us, b holds it 500 us, b -> a takes 50 us.
  HeartbeatPayload ha = a.MakeHeartbeat(1, 1000 * kUs);
  b.OnHeartbeat(ha, 1030 * kUs);
  HeartbeatPayload hb = b.MakeHeartbeat(2, 1530 * kUs);
  EXPECT_EQ(hb.echo_time_ns, 1000 * kUs);
  EXPECT_EQ(hb.echo_delay_ns, 500 * kUs);
  a.OnHeartbeat(hb, 1580 * kUs);
  ASSERT_TRUE(a.has_rtt());
  EXPECT_EQ(a.rtt_ns(), 80 * kUs);
  // An echo from the future or a hold longer than the elapsed time is ignored.
  HeartbeatPayload junk{2, 5, 9'000'000 * kUs, 0};
  a.OnHeartbeat(junk, 2000 * kUs);
  junk = HeartbeatPayload{2, 6, 1900 * kUs, 200 * kUs};
  a.OnHeartbeat(junk, 2000 * kUs);
  EXPECT_EQ(a.rtt_samples(), 1u);
}

}  // namespace
}  // namespace replink::link
