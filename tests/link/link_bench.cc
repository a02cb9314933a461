// Link layer costs per frame / per byte (not a test: `meson test -C build --benchmark --suite link`
// or run the binary). Numbers go into the report, never into assertions.
#include <random>
#include <vector>

#include <benchmark/benchmark.h>

#include "link/crc32c.h"
#include "link/frame_reader.h"
#include "link/frame_writer.h"
#include "link/reliable_receiver.h"
#include "link/reliable_sender.h"
#include "link_test_support.h"

namespace replink::link {
namespace {

std::vector<std::byte> Random(std::size_t n) {
  std::mt19937_64 rng(1);
  return testing::RandomBytes(n, rng);
}

void BM_Crc32c(benchmark::State& state) {
  auto data = Random(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(Crc32c(data));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_Crc32c)->Arg(1500)->Arg(9000);

void BM_Crc32cPortable(benchmark::State& state) {
  auto data = Random(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(Crc32cPortable(data));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_Crc32cPortable)->Arg(9000);

// Packing raw 4 KiB pages into frames (copy + headers + CRC), per page.
void BM_PackRawPages(benchmark::State& state) {
  LinkEncapsulation encap = testing::MakeEncap(Encapsulation::kRawEthernet,
                                               static_cast<uint32_t>(state.range(0)));
  auto page = Random(kPageSize);
  std::vector<std::byte> buffer(encap.max_frame());
  FrameWriter writer(encap);
  uint64_t seq = 0;
  int64_t frames = 0;
  writer.BeginData(buffer, 1, 1);
  for (auto _ : state) {
    std::size_t offset = 0;
    for (;;) {
      AppendResult r = writer.AddPage({seq, 0, 0, page}, offset);
      if (r == AppendResult::kComplete) break;
      benchmark::DoNotOptimize(writer.FinishData(seq++, FrameStamp{}));
      ++frames;
      writer.BeginData(buffer, 1, 1);
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["frames_per_page"] =
      benchmark::Counter(static_cast<double>(frames) / static_cast<double>(state.iterations()));
}
BENCHMARK(BM_PackRawPages)->Arg(1500)->Arg(9000);

// Full validation of a received frame (CRC + every record) per frame.
void BM_ParseDataFrame(benchmark::State& state) {
  LinkEncapsulation encap = testing::MakeEncap(Encapsulation::kRawEthernet,
                                               static_cast<uint32_t>(state.range(0)));
  LinkEncapsulation peer = testing::PeerOf(encap);
  std::mt19937_64 rng(3);
  auto e = testing::RandomEpoch(1, rng, 40);
  uint64_t seq = 0;
  auto frames = testing::PackEpoch(encap, 1, e, [&](FrameWriter& w) {
    return w.FinishData(seq++, FrameStamp{});
  });
  FrameReader reader;
  std::size_t i = 0;
  int64_t bytes = 0;
  for (auto _ : state) {
    const auto& f = frames[i++ % frames.size()];
    auto parsed = reader.ParseEthernet(peer, f);
    benchmark::DoNotOptimize(parsed);
    bytes += static_cast<int64_t>(f.size());
  }
  state.SetBytesProcessed(bytes);
}
BENCHMARK(BM_ParseDataFrame)->Arg(1500)->Arg(9000);

// Sender + receiver bookkeeping per frame on a clean link (ACK every 4 frames).
void BM_ReliableRoundTrip(benchmark::State& state) {
  SenderConfig sc;
  sc.window = 256;
  ReliableSender sender(1, sc);
  ReliableReceiver receiver(1, ReceiverConfig{256, 4, 50'000});
  uint64_t now = 0;
  for (auto _ : state) {
    now += 100;
    uint64_t seq = sender.OnSent(now);
    receiver.OnData(seq, seq, false, now);
    benchmark::DoNotOptimize(receiver.PopInOrder());
    if (receiver.AckDue(now)) {
      benchmark::DoNotOptimize(sender.OnAck(receiver.CurrentAck(), now));
      receiver.OnAckSent(now, false);
    }
    benchmark::DoNotOptimize(sender.NextRetransmit(now));
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_ReliableRoundTrip);

}  // namespace
}  // namespace replink::link

BENCHMARK_MAIN();
