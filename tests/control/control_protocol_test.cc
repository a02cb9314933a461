// The control protocol's framing and JSON envelope (control/protocol): round trips, every header
// refusal, arbitrary and mutated bytes (never a crash, never a body over the limit).
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "control/protocol/control_frame.h"
#include "control/protocol/control_message.h"

namespace replink::control {
namespace {

std::span<const std::byte> Bytes(const std::string& s) { return std::as_bytes(std::span(s.data(), s.size())); }

TEST(ControlFrame, RoundTripFedOneByteAtATime) {
  std::string wire = EncodeMessage(MessageKind::kRequest, 7, RequestBody("status"));
  ASSERT_EQ(wire.size(), sizeof(ControlFrameHeader) + RequestBody("status").size());
  MessageAssembler a(MessageKind::kRequest, kMaxRequestBody);
  for (std::size_t i = 0; i < wire.size(); ++i) {
    EXPECT_FALSE(a.Take().has_value());
    ASSERT_TRUE(a.Feed(Bytes(wire.substr(i, 1))).ok());
  }
  auto m = a.Take();
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->request_id, 7u);
  auto request = ParseRequest(m->body);
  ASSERT_TRUE(request.ok());
  EXPECT_EQ(request->command, "status");
  EXPECT_EQ(a.pending_bytes(), 0u);
}

TEST(ControlFrame, TwoMessagesInOneRead) {
  std::string wire = EncodeMessage(MessageKind::kResponse, 1, OkBody(Json{{"a", 1}})) +
                     EncodeMessage(MessageKind::kResponse, 2, OkBody(Json{{"b", 2}}));
  MessageAssembler a(MessageKind::kResponse, kMaxResponseBody);
  ASSERT_TRUE(a.Feed(Bytes(wire)).ok());
  auto first = a.Take();
  auto second = a.Take();
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->request_id, 1u);
  EXPECT_EQ(second->request_id, 2u);
  EXPECT_FALSE(a.Take().has_value());
}

struct Damage {
  std::size_t offset;
  uint32_t value;
  std::size_t width;
  FramingFault fault;
};

TEST(ControlFrame, EveryHeaderFieldIsChecked) {
  const Damage cases[] = {
      {0, 0x12345678, 4, FramingFault::kBadMagic},
      {4, 2, 2, FramingFault::kBadVersion},
      {6, 2, 1, FramingFault::kBadKind},  // a response where a request is expected
      {7, 1, 1, FramingFault::kBadFlags},
      {12, kMaxRequestBody + 1, 4, FramingFault::kTooLong},
  };
  for (const Damage& d : cases) {
    std::string wire = EncodeMessage(MessageKind::kRequest, 1, "{}");
    std::memcpy(wire.data() + d.offset, &d.value, d.width);
    MessageAssembler a(MessageKind::kRequest, kMaxRequestBody);
    EXPECT_FALSE(a.Feed(Bytes(wire)).ok()) << FramingFaultName(d.fault);
    ASSERT_TRUE(a.fault().has_value());
    EXPECT_EQ(*a.fault(), d.fault);
    EXPECT_FALSE(a.Take().has_value());
    EXPECT_FALSE(a.Feed(Bytes(wire)).ok());  // stays refused
  }
}

TEST(ControlFrame, FloodingWithoutWaitingIsRefused) {
  MessageAssembler a(MessageKind::kRequest, 16);
  std::string junk(100, '\0');
  std::string wire = EncodeMessage(MessageKind::kRequest, 1, std::string(16, 'x'));
  Result<void> fed = Ok();
  for (int i = 0; i < 10 && fed.ok(); ++i) fed = a.Feed(Bytes(wire));
  EXPECT_FALSE(fed.ok());
  EXPECT_EQ(a.fault(), FramingFault::kTooLong);
}

TEST(ControlFrame, RandomAndMutatedStreamsNeverCrash) {
  std::mt19937_64 rng(20261125);
  std::string valid = EncodeMessage(MessageKind::kRequest, 3, RequestBody("link.set", Json{{"mtu", 1400}}));
  for (int round = 0; round < 20000; ++round) {
    std::string wire = valid;
    if (round % 2 == 0) {
      wire.resize(rng() % 64);
      for (char& c : wire) c = static_cast<char>(rng());
    } else {
      for (int flips = 1 + int(rng() % 4); flips > 0; --flips) wire[rng() % wire.size()] ^= char(1 << (rng() % 8));
    }
    MessageAssembler a(MessageKind::kRequest, kMaxRequestBody);
    std::size_t at = 0;
    while (at < wire.size()) {
      std::size_t n = 1 + rng() % 16;
      if (!a.Feed(Bytes(wire.substr(at, n))).ok()) break;
      at += n;
      while (auto m = a.Take()) {
        ASSERT_LE(m->body.size(), kMaxRequestBody);
        (void)ParseRequest(m->body);  // any verdict, no crash
      }
    }
  }
}

TEST(ControlMessage, RequestShapeIsChecked) {
  EXPECT_TRUE(ParseRequest(R"({"command":"stats"})").ok());
  EXPECT_TRUE(ParseRequest(R"({"command":"link.set","args":{"mtu":"1400"}})").ok());
  for (const char* bad : {"", "nonsense", "[1,2]", R"({"args":{}})", R"({"command":5})",
                          R"({"command":"stats","args":[]})", R"({"command":"stats","extra":1})",
                          "{\"command\":\"st\xff\xfe\"", R"({"command":""})"}) {
    auto r = ParseRequest(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.error().code, Errc::kCorrupt);
    }
  }
}

TEST(ControlMessage, RepliesRoundTripAndInvalidUtf8IsReplaced) {
  auto ok = ParseReply(OkBody(Json{{"name", std::string("vm\xff")}}));
  ASSERT_TRUE(ok.ok());
  EXPECT_TRUE(ok->ok);
  EXPECT_TRUE(ok->result["name"].is_string());
  auto error = ParseReply(ErrorBody(ControlErrc::kInvalidArgument, "mtu: 99 is out of range", Json{{"x", 1}}));
  ASSERT_TRUE(error.ok());
  EXPECT_FALSE(error->ok);
  EXPECT_EQ(error->code, ControlErrc::kInvalidArgument);
  EXPECT_EQ(error->message, "mtu: 99 is out of range");
  EXPECT_EQ(error->details["x"], 1);
  auto unknown = ParseReply(R"({"ok":false,"error":{"code":"from-the-future","message":"m"}})");
  ASSERT_TRUE(unknown.ok());
  EXPECT_EQ(unknown->code, ControlErrc::kInternal);
  for (const char* bad : {"{}", R"({"ok":1})", R"({"ok":false})", R"({"ok":false,"error":{"code":1}})"})
    EXPECT_FALSE(ParseReply(bad).ok()) << bad;
  for (int i = 0; i <= static_cast<int>(ControlErrc::kInternal); ++i)
    EXPECT_EQ(ParseControlErrc(ControlErrcName(static_cast<ControlErrc>(i))), static_cast<ControlErrc>(i));
}

}  // namespace
}  // namespace replink::control
