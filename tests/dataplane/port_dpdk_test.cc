// Port and FaultInjectingPort inside one process with a real EAL (--no-huge, no PCI):
//  - Port over net_ring (whose tx queue i loops back into rx queue i): open by name via hot-plug,
//    frame limits, start, link, loopback traffic, counters, tx drops, close + reopen, errors;
//  - FaultInjectingPort over an in-memory PortIo with a fake clock: every fault, the counter
//    invariant, backpressure, and no leaked mbufs.
// EAL runs unprivileged with --no-huge; the tests skip with the reason if it cannot start.
#include <unistd.h>

#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "dataplane/port/eal.h"
#include "dataplane/port/fault_injecting_port.h"
#include "dataplane/port/port.h"

namespace replink::port {
namespace {

using ::testing::HasSubstr;

// EAL is per process and cannot be re-initialized: one for the whole test binary.
class EalEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    std::string prefix = fmt::format("replink-port-test-{}", ::getpid());
    auto eal = Eal::Init({"port_dpdk_test", "-l", "0", "--no-huge", "--no-shconf", "-m", "256",
                          "--no-pci", "--file-prefix", prefix, "--log-level", "lib.eal:error"});
    if (eal.ok()) {
      eal_ = std::move(eal).value();
    } else {
      skip_reason_ = eal.error().Describe();
    }
  }
  void TearDown() override { eal_.reset(); }
  static bool ready() { return eal_ != nullptr; }
  static const std::string& skip_reason() { return skip_reason_; }

 private:
  static inline std::unique_ptr<Eal> eal_;
  static inline std::string skip_reason_;
};

const auto* const kEalEnvironment = ::testing::AddGlobalTestEnvironment(new EalEnvironment);

#define REQUIRE_EAL()                                                                  \
  do {                                                                                 \
    if (!EalEnvironment::ready()) {                                                    \
      GTEST_SKIP() << "EAL could not start: "                       \
                   << EalEnvironment::skip_reason();                                   \
    }                                                                                  \
  } while (0)

TEST(Eal, SecondInitInOneProcessIsRefused) {
  REQUIRE_EAL();
  auto again = Eal::Init({"again", "--no-huge"});
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, Errc::kState);
}

config::PortConfig RingPort(const std::string& name) {
  config::PortConfig c;
  c.vdev = name;
  c.mtu = 1500;
  c.rx_queue_size = 512;
  c.tx_queue_size = 512;
  c.mempool_size = 4095;
  c.mempool_cache = 0;
  return c;
}

rte_mbuf* MakeFrame(rte_mempool* pool, uint32_t length, uint8_t tag) {
  rte_mbuf* m = rte_pktmbuf_alloc(pool);
  if (m == nullptr) return nullptr;
  auto* data = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, static_cast<uint16_t>(length)));
  if (data == nullptr) {
    rte_pktmbuf_free(m);
    return nullptr;
  }
  for (uint32_t i = 0; i < length; ++i) data[i] = static_cast<uint8_t>(tag + i);
  return m;
}

uint8_t TagOf(const rte_mbuf* m) { return *rte_pktmbuf_mtod(m, const uint8_t*); }

TEST(Port, OpensRingVdevAndLoopsFramesBack) {
  REQUIRE_EAL();
  auto opened = Port::Open(RingPort("net_ring7"), {.tx_queues = 2});
  ASSERT_TRUE(opened.ok()) << opened.error().Describe();
  Port& port = **opened;
  const PortInfo& info = port.info();
  EXPECT_EQ(info.name, "net_ring7");
  EXPECT_EQ(info.driver, "net_ring");
  EXPECT_TRUE(info.probed_by_us);
  EXPECT_EQ(info.mtu, 1500);
  EXPECT_EQ(info.max_frame_bytes, 1514u);
  EXPECT_EQ(info.tx_queues, 2);
  EXPECT_EQ(port.tx_queue_count(), 2);
  EXPECT_GE(info.mbuf_data_room, 1514u + RTE_PKTMBUF_HEADROOM);
  EXPECT_THAT(info.Describe(), HasSubstr("net_ring7 (net_ring"));

  ASSERT_TRUE(port.Start().ok());
  ASSERT_TRUE(port.WaitForLinkUp(std::chrono::milliseconds(2000)).ok());
  EXPECT_TRUE(port.Link().up);

  constexpr int kFrames = 100;
  std::vector<rte_mbuf*> tx;
  for (int i = 0; i < kFrames; ++i) tx.push_back(MakeFrame(port.mempool(), 200, uint8_t(i)));
  ASSERT_EQ(port.TxBurst(0, tx), kFrames);
  std::vector<rte_mbuf*> rx(128);
  uint16_t n = port.RxBurst(rx);
  ASSERT_EQ(n, kFrames);
  for (int i = 0; i < kFrames; ++i) {
    EXPECT_EQ(TagOf(rx[i]), uint8_t(i));
    EXPECT_EQ(rx[i]->pkt_len, 200u);
    rte_pktmbuf_free(rx[i]);
  }
  PortCounters c = port.Counters();
  EXPECT_EQ(c.tx_packets, uint64_t{kFrames});
  EXPECT_EQ(c.rx_packets, uint64_t{kFrames});
  EXPECT_EQ(c.tx_drops, 0u);

  // A queue id the port does not have is refused rather than handed to ethdev.
  rte_mbuf* extra = MakeFrame(port.mempool(), 60, 0);
  EXPECT_EQ(port.TxBurst(9, std::span<rte_mbuf*>(&extra, 1)), 0);
  rte_pktmbuf_free(extra);
}

TEST(Port, TxBurstOrDropFreesAndCountsWhatTheDeviceRefuses) {
  REQUIRE_EAL();
  auto opened = Port::Open(RingPort("net_ring8"), {});
  ASSERT_TRUE(opened.ok()) << opened.error().Describe();
  Port& port = **opened;
  ASSERT_TRUE(port.Start().ok());
  // The ring behind tx queue 0 fills up when nobody receives.
  uint64_t offered = 0, sent = 0;
  for (int round = 0; round < 40; ++round) {
    std::vector<rte_mbuf*> burst;
    for (int i = 0; i < 64; ++i) burst.push_back(MakeFrame(port.mempool(), 64, 1));
    offered += burst.size();
    sent += port.TxBurstOrDrop(0, burst);
  }
  PortCounters c = port.Counters();
  EXPECT_LT(sent, offered);
  EXPECT_EQ(c.tx_drops, offered - sent);
  // Drain the ring so every mbuf is back before the pool goes away.
  std::vector<rte_mbuf*> rx(64);
  while (uint16_t n = port.RxBurst(rx)) {
    for (uint16_t i = 0; i < n; ++i) rte_pktmbuf_free(rx[i]);
  }
  EXPECT_EQ(rte_mempool_in_use_count(port.mempool()), 0u);
}

TEST(Port, ClosingUnplugsSoTheNameCanBeOpenedAgain) {
  REQUIRE_EAL();
  for (int i = 0; i < 3; ++i) {
    auto opened = Port::Open(RingPort("net_ring9"), {});
    ASSERT_TRUE(opened.ok()) << "round " << i << ": " << opened.error().Describe();
    ASSERT_TRUE((*opened)->Start().ok());
  }
  uint16_t id = 0;
  EXPECT_NE(rte_eth_dev_get_port_by_name("net_ring9", &id), 0);
}

TEST(Port, OpenErrorsNameTheDevice) {
  REQUIRE_EAL();
  auto bogus = Port::Open(RingPort("net_nosuchdriver0"), {});
  ASSERT_FALSE(bogus.ok());
  EXPECT_THAT(bogus.error().message, HasSubstr("net_nosuchdriver0"));

  config::PortConfig tiny = RingPort("net_ring10");
  tiny.mempool_size = 600;
  auto small = Port::Open(tiny, {.tx_queues = 1});
  ASSERT_FALSE(small.ok());
  EXPECT_THAT(small.error().message, HasSubstr("port.mempool_size 600 is too small"));
  // The failed open unplugged its device again.
  uint16_t id = 0;
  EXPECT_NE(rte_eth_dev_get_port_by_name("net_ring10", &id), 0);
}

// ---- FaultInjectingPort over an in-memory port ----

// Loopback-free fake: TxBurst appends to `sent` (up to `accept_per_call`), RxBurst hands out
// `to_receive`. Owns every mbuf it holds.
class FakePortIo final : public PortIo {
 public:
  ~FakePortIo() override { Clear(); }
  uint16_t RxBurst(std::span<rte_mbuf*> out) override {
    uint16_t n = 0;
    while (n < out.size() && !to_receive.empty()) {
      out[n++] = to_receive.front();
      to_receive.pop_front();
    }
    return n;
  }
  uint16_t TxBurst(uint16_t, std::span<rte_mbuf*> frames) override {
    size_t n = std::min(frames.size(), accept_per_call);
    for (size_t i = 0; i < n; ++i) sent.push_back(frames[i]);
    return static_cast<uint16_t>(n);
  }
  uint16_t tx_queue_count() const override { return 2; }
  PortCounters Counters() const override { return {}; }
  void Clear() {
    for (rte_mbuf* m : sent) rte_pktmbuf_free(m);
    for (rte_mbuf* m : to_receive) rte_pktmbuf_free(m);
    sent.clear();
    to_receive.clear();
  }

  std::deque<rte_mbuf*> sent;
  std::deque<rte_mbuf*> to_receive;
  size_t accept_per_call = SIZE_MAX;
};

class FaultInjectingPortTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!EalEnvironment::ready()) {
      GTEST_SKIP() << "EAL unavailable: " << EalEnvironment::skip_reason();
    }
    std::string name = fmt::format("fault-test-{}", counter_++);
    // No per-lcore cache, so in-use counts are exact.
    pool_ = rte_pktmbuf_pool_create(name.c_str(), 8191, 0, 0, 2048 + RTE_PKTMBUF_HEADROOM,
                                    SOCKET_ID_ANY);
    ASSERT_NE(pool_, nullptr);
  }
  void TearDown() override {
    if (pool_ == nullptr) return;
    faults_.reset();
    fake_.Clear();
    EXPECT_EQ(rte_mempool_in_use_count(pool_), 0u) << "leaked mbufs";
    rte_mempool_free(pool_);
  }

  config::FaultInjectionConfig Config(config::FaultDirection direction) {
    config::FaultInjectionConfig c;
    c.enabled = true;
    c.seed = 1234;
    c.delay_us = 100;
    c.direction = direction;
    return c;
  }
  void Create(const config::FaultInjectionConfig& c) {
    FaultClock clock{[this] { return now_; }, 1000000};  // 1 tick = 1 us
    auto created = FaultInjectingPort::Create(fake_, pool_, c, clock, /*reorder_hold_us=*/50);
    ASSERT_TRUE(created.ok()) << created.error().Describe();
    faults_ = std::move(created).value();
  }
  // Sends frames tagged first..first+count-1 through queue 0, retrying until all are taken.
  void Send(int first, int count, uint32_t length = 100) {
    std::vector<rte_mbuf*> frames;
    for (int i = 0; i < count; ++i) frames.push_back(MakeFrame(pool_, length, uint8_t(first + i)));
    size_t offset = 0;
    for (int tries = 0; offset < frames.size() && tries < 10000; ++tries) {
      offset += faults_->TxBurst(0, std::span<rte_mbuf*>(frames).subspan(offset));
    }
    ASSERT_EQ(offset, frames.size());
  }
  std::vector<uint8_t> SentTags() const {
    std::vector<uint8_t> tags;
    for (rte_mbuf* m : fake_.sent) tags.push_back(TagOf(m));
    return tags;
  }
  static void ExpectInvariant(const FaultCounters& c) {
    EXPECT_EQ(c.frames, c.passed + c.dropped + c.duplicated + c.reordered + c.corrupted + c.delayed);
  }

  static inline int counter_ = 0;
  rte_mempool* pool_ = nullptr;
  uint64_t now_ = 1000;
  FakePortIo fake_;
  std::unique_ptr<FaultInjectingPort> faults_;
};

TEST_F(FaultInjectingPortTest, RefusesADisabledConfig) {
  config::FaultInjectionConfig c;
  c.enabled = false;
  auto created = FaultInjectingPort::Create(fake_, pool_, c);
  ASSERT_FALSE(created.ok());
  EXPECT_THAT(created.error().message, HasSubstr("disabled"));
}

TEST_F(FaultInjectingPortTest, DropsFreeTheFrames) {
  auto c = Config(config::FaultDirection::kTx);
  c.drop_pct = 100;
  Create(c);
  Send(0, 50);
  EXPECT_TRUE(fake_.sent.empty());
  FaultCounters f = faults_->tx_faults();
  EXPECT_EQ(f.dropped, 50u);
  ExpectInvariant(f);
  EXPECT_EQ(rte_mempool_in_use_count(pool_), 0u);
}

TEST_F(FaultInjectingPortTest, DuplicatesAreIdenticalCopiesRightBehindTheOriginal) {
  auto c = Config(config::FaultDirection::kTx);
  c.duplicate_pct = 100;
  Create(c);
  Send(0, 10, 300);
  ASSERT_EQ(fake_.sent.size(), 20u);
  for (size_t i = 0; i < 20; i += 2) {
    rte_mbuf* a = fake_.sent[i];
    rte_mbuf* b = fake_.sent[i + 1];
    EXPECT_NE(a, b);
    ASSERT_EQ(a->pkt_len, b->pkt_len);
    EXPECT_EQ(std::memcmp(rte_pktmbuf_mtod(a, void*), rte_pktmbuf_mtod(b, void*), a->pkt_len), 0);
    EXPECT_EQ(TagOf(a), uint8_t(i / 2));
  }
  EXPECT_EQ(faults_->tx_faults().duplicated, 10u);
}

TEST_F(FaultInjectingPortTest, CorruptionFlipsOneByteOutsideTheEthernetHeader) {
  auto c = Config(config::FaultDirection::kTx);
  c.corrupt_pct = 100;
  Create(c);
  constexpr uint32_t kLength = 80;
  Send(0, 200, kLength);
  ASSERT_EQ(fake_.sent.size(), 200u);
  for (size_t f = 0; f < fake_.sent.size(); ++f) {
    const auto* data = rte_pktmbuf_mtod(fake_.sent[f], const uint8_t*);
    int changed = 0;
    for (uint32_t i = 0; i < kLength; ++i) {
      if (data[i] != uint8_t(f + i)) {
        ++changed;
        EXPECT_GE(i, 14u) << "Ethernet header touched";
      }
    }
    EXPECT_EQ(changed, 1);
  }
  EXPECT_EQ(faults_->tx_faults().corrupted, 200u);
}

TEST_F(FaultInjectingPortTest, SharedFramesAreCopiedBeforeCorruption) {
  auto c = Config(config::FaultDirection::kTx);
  c.corrupt_pct = 100;
  Create(c);
  rte_mbuf* original = MakeFrame(pool_, 64, 0);
  rte_mbuf_refcnt_update(original, 1);  // e.g. kept by the sender for retransmission
  rte_mbuf* frame = original;
  ASSERT_EQ(faults_->TxBurst(0, std::span<rte_mbuf*>(&frame, 1)), 1);
  ASSERT_EQ(fake_.sent.size(), 1u);
  EXPECT_NE(fake_.sent[0], original);
  const auto* data = rte_pktmbuf_mtod(original, const uint8_t*);
  for (uint32_t i = 0; i < 64; ++i) EXPECT_EQ(data[i], uint8_t(i));  // untouched
  EXPECT_EQ(rte_mbuf_refcnt_read(original), 1);  // the decorator dropped its reference
  rte_pktmbuf_free(original);
}

TEST_F(FaultInjectingPortTest, TooShortFramesPassIntact) {
  auto c = Config(config::FaultDirection::kTx);
  c.corrupt_pct = 100;
  Create(c);
  Send(0, 5, 14);
  FaultCounters f = faults_->tx_faults();
  EXPECT_EQ(f.corrupt_skipped, 5u);
  EXPECT_EQ(f.passed, 5u);
  ExpectInvariant(f);
}

TEST_F(FaultInjectingPortTest, ReorderSwapsNeighbours) {
  auto c = Config(config::FaultDirection::kTx);
  c.reorder_pct = 100;  // hold one, the next overtakes it (only one frame is held at a time)
  Create(c);
  Send(0, 6);
  EXPECT_EQ(SentTags(), (std::vector<uint8_t>{1, 0, 3, 2, 5, 4}));
  FaultCounters f = faults_->tx_faults();
  EXPECT_EQ(f.reordered, 3u);
  EXPECT_EQ(f.passed, 3u);
  ExpectInvariant(f);
}

TEST_F(FaultInjectingPortTest, HeldFrameIsReleasedWhenNothingOvertakesIt) {
  auto c = Config(config::FaultDirection::kTx);
  c.reorder_pct = 100;
  Create(c);
  Send(7, 1);
  EXPECT_TRUE(fake_.sent.empty());
  now_ += 49;
  faults_->TxBurst(0, {});
  EXPECT_TRUE(fake_.sent.empty());
  now_ += 1;  // reorder_hold_us = 50
  faults_->TxBurst(0, {});
  EXPECT_EQ(SentTags(), (std::vector<uint8_t>{7}));
  EXPECT_EQ(faults_->tx_faults().reorder_expired, 1u);
}

TEST_F(FaultInjectingPortTest, DelayHoldsFramesUntilTheirTime) {
  auto c = Config(config::FaultDirection::kTx);
  c.delay_pct = 100;  // delay_us = 100
  Create(c);
  Send(0, 3);
  now_ += 10;
  Send(3, 2);
  EXPECT_TRUE(fake_.sent.empty());
  now_ += 90;
  faults_->TxBurst(0, {});
  EXPECT_EQ(SentTags(), (std::vector<uint8_t>{0, 1, 2}));
  now_ += 10;
  faults_->TxBurst(0, {});
  EXPECT_EQ(SentTags(), (std::vector<uint8_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(faults_->tx_faults().delayed, 5u);
}

TEST_F(FaultInjectingPortTest, BackpressureKeepsEveryFrameInOrder) {
  auto c = Config(config::FaultDirection::kTx);  // enabled, all rates 0: pure pass-through path
  Create(c);
  fake_.accept_per_call = 3;
  constexpr int kFrames = 2000;  // more than the shaper's output queue
  Send(0, kFrames);
  for (int i = 0; i < 1000 && fake_.sent.size() < kFrames; ++i) faults_->TxBurst(0, {});
  ASSERT_EQ(fake_.sent.size(), size_t{kFrames});
  for (int i = 0; i < kFrames; ++i) EXPECT_EQ(TagOf(fake_.sent[i]), uint8_t(i));
}

TEST_F(FaultInjectingPortTest, RxDirectionShapesReceivedFramesOnly) {
  auto c = Config(config::FaultDirection::kRx);
  c.drop_pct = 20;
  c.duplicate_pct = 10;
  c.reorder_pct = 10;
  c.corrupt_pct = 10;
  Create(c);
  constexpr int kFrames = 3000;
  for (int i = 0; i < kFrames; ++i) fake_.to_receive.push_back(MakeFrame(pool_, 100, uint8_t(i)));
  std::vector<rte_mbuf*> rx(32);
  uint64_t received = 0;
  for (int i = 0; i < 500; ++i) {  // 500 x 32 slots: room for every frame and duplicate
    now_ += 100;  // lets a held frame expire at the end
    uint16_t n = faults_->RxBurst(rx);
    for (uint16_t k = 0; k < n; ++k) rte_pktmbuf_free(rx[k]);
    received += n;
  }
  FaultCounters f = faults_->rx_faults();
  EXPECT_EQ(f.frames, uint64_t{kFrames});
  ExpectInvariant(f);
  EXPECT_GT(f.dropped, 0u);
  EXPECT_GT(f.duplicated, 0u);
  EXPECT_GT(f.reordered, 0u);
  EXPECT_GT(f.corrupted, 0u);
  EXPECT_EQ(received, kFrames - f.dropped + f.duplicated);
  Send(0, 10);  // tx is not shaped in the rx direction
  EXPECT_EQ(fake_.sent.size(), 10u);
  EXPECT_EQ(faults_->tx_faults().frames, 0u);
}

TEST_F(FaultInjectingPortTest, MixedFaultsKeepTheInvariantAndLeakNothing) {
  auto c = Config(config::FaultDirection::kBoth);
  c.drop_pct = 10;
  c.duplicate_pct = 10;
  c.reorder_pct = 10;
  c.corrupt_pct = 10;
  c.delay_pct = 10;
  Create(c);
  for (int round = 0; round < 50; ++round) {
    Send(round * 40, 40);
    now_ += 37;
  }
  now_ += 1000;
  faults_->TxBurst(0, {});
  FaultCounters f = faults_->tx_faults();
  EXPECT_EQ(f.frames, 2000u);
  ExpectInvariant(f);
  // Everything not dropped came out (held frames were released by time).
  EXPECT_EQ(fake_.sent.size(), f.frames - f.dropped + f.duplicated);
}

}  // namespace
}  // namespace replink::port
