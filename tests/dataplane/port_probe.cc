// replink-port-probe: brings up EAL and the port of an appliance config and either sends N test
// frames (see port_probe_frame.h) or receives and verifies them, within a timeout, then prints
// one JSON line with what happened. Driven by port_pair_test.py; usable by hand as well:
//   replink-port-probe --config a.toml --mode recv --count 20000 --size 8192 --expect-all
//   replink-port-probe --config b.toml --mode send --count 20000 --size 8192
// Exit status: 0 success, 1 failure (reason on stderr), 2 bad usage or config.
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <rte_cycles.h>
#include <rte_pause.h>
#include <rte_ether.h>
#include <rte_mbuf.h>

#include "dataplane/config/config_loader.h"
#include "dataplane/config/eal_arguments.h"
#include "dataplane/port/eal.h"
#include "dataplane/port/fault_injecting_port.h"
#include "dataplane/port/port.h"
#include "tests/dataplane/port_probe_frame.h"

namespace replink::probe {
namespace {

constexpr uint16_t kBurst = 32;

struct Options {
  std::string config_path;
  std::string mode;
  uint64_t count = 1000;
  uint32_t size = 1024;
  uint32_t timeout_ms = 20000;
  uint32_t idle_ms = 1000;
  uint32_t linger_ms = 3000;
  uint64_t pps = 0;
  bool expect_all = false;
  bool print_eal_args = false;
};

class Clock {
 public:
  Clock() : hz_(rte_get_tsc_hz()), start_(rte_rdtsc()) {}
  uint64_t now() const { return rte_rdtsc(); }
  uint64_t Ticks(uint64_t ms) const { return hz_ / 1000 * ms; }
  double Seconds(uint64_t since) const { return static_cast<double>(now() - since) / hz_; }
  uint64_t hz() const { return hz_; }
  uint64_t start() const { return start_; }

 private:
  uint64_t hz_;
  uint64_t start_;
};

// The frame parts a probe fills in for every frame it sends.
struct Addresses {
  rte_ether_addr source;
  rte_ether_addr destination;
};

rte_mbuf* BuildFrame(rte_mempool* pool, const Addresses& addresses, const PayloadPattern& pattern,
                     ProbeKind kind, uint64_t sequence, uint32_t frame_bytes) {
  rte_mbuf* m = rte_pktmbuf_alloc(pool);
  if (m == nullptr) return nullptr;
  auto* data = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, static_cast<uint16_t>(frame_bytes)));
  if (data == nullptr) {
    rte_pktmbuf_free(m);
    return nullptr;
  }
  auto* eth = reinterpret_cast<rte_ether_hdr*>(data);
  eth->dst_addr = addresses.destination;
  eth->src_addr = addresses.source;
  eth->ether_type = rte_cpu_to_be_16(kProbeEtherType);
  ProbeHeader header{kProbeMagic, static_cast<uint16_t>(kind), 0, 0, sequence, frame_bytes, 0};
  std::memcpy(data + kProbeHeaderOffset, &header, sizeof(header));
  auto payload = pattern.For(sequence, frame_bytes - kMinProbeFrame);
  std::memcpy(data + kMinProbeFrame, payload.data(), payload.size());
  uint64_t checksum = ProbeChecksum(std::span<const uint8_t>(data, frame_bytes));
  std::memcpy(data + kProbeHeaderOffset + offsetof(ProbeHeader, checksum), &checksum, 8);
  return m;
}

enum class Verdict { kForeign, kCorrupt, kValid };

struct ParsedFrame {
  Verdict verdict = Verdict::kForeign;
  ProbeHeader header{};
  rte_ether_addr source{};
};

// Classifies a received frame; `scratch` holds a linear copy when the mbuf is segmented.
ParsedFrame ParseFrame(const rte_mbuf* m, const PayloadPattern& pattern,
                       std::vector<uint8_t>& scratch) {
  ParsedFrame parsed;
  if (m->pkt_len < kMinProbeFrame) return parsed;
  scratch.resize(m->pkt_len);
  const auto* data = static_cast<const uint8_t*>(rte_pktmbuf_read(m, 0, m->pkt_len, scratch.data()));
  if (data == nullptr) return parsed;
  rte_ether_hdr eth;
  std::memcpy(&eth, data, sizeof(eth));
  if (rte_be_to_cpu_16(eth.ether_type) != kProbeEtherType) return parsed;
  parsed.source = eth.src_addr;
  std::memcpy(&parsed.header, data + kProbeHeaderOffset, sizeof(parsed.header));
  std::span<const uint8_t> frame(data, m->pkt_len);
  bool valid = parsed.header.magic == kProbeMagic && parsed.header.frame_bytes == m->pkt_len &&
               parsed.header.checksum == ProbeChecksum(frame);
  if (valid && parsed.header.kind == static_cast<uint16_t>(ProbeKind::kData)) {
    auto expected = pattern.For(parsed.header.sequence, frame.size() - kMinProbeFrame);
    valid = std::memcmp(frame.data() + kMinProbeFrame, expected.data(), expected.size()) == 0;
  }
  parsed.verdict = valid ? Verdict::kValid : Verdict::kCorrupt;
  return parsed;
}

std::string FaultJson(const port::FaultCounters& c) {
  return fmt::format(
      "{{\"frames\":{},\"passed\":{},\"dropped\":{},\"duplicated\":{},\"reordered\":{},"
      "\"corrupted\":{},\"delayed\":{},\"duplicate_failed\":{},\"corrupt_skipped\":{},"
      "\"delay_overflow\":{},\"reorder_expired\":{}}}",
      c.frames, c.passed, c.dropped, c.duplicated, c.reordered, c.corrupted, c.delayed,
      c.duplicate_failed, c.corrupt_skipped, c.delay_overflow, c.reorder_expired);
}

std::string PortJson(const port::Port& p) {
  const port::PortInfo& i = p.info();
  port::PortCounters c = p.Counters();
  return fmt::format(
      "{{\"name\":\"{}\",\"driver\":\"{}\",\"mtu\":{},\"max_frame_bytes\":{},\"tx_queues\":{},"
      "\"rx_packets\":{},\"tx_packets\":{},\"rx_bytes\":{},\"tx_bytes\":{},\"rx_errors\":{},"
      "\"rx_missed\":{},\"rx_no_mbuf\":{},\"tx_errors\":{},\"tx_drops\":{}}}",
      i.name, i.driver, i.mtu, i.max_frame_bytes, i.tx_queues, c.rx_packets, c.tx_packets,
      c.rx_bytes, c.tx_bytes, c.rx_errors, c.rx_missed, c.rx_no_mbuf, c.tx_errors, c.tx_drops);
}

struct Session {
  PayloadPattern pattern;
  port::Port* port = nullptr;
  port::PortIo* io = nullptr;
  port::FaultInjectingPort* faults = nullptr;
  Addresses addresses{};
};

// Sends one control frame (ready/done), best effort.
void SendControl(Session& s, ProbeKind kind) {
  rte_mbuf* m = BuildFrame(s.port->mempool(), s.addresses, s.pattern, kind, 0, kMinProbeFrame + 18);
  if (m != nullptr) s.io->TxBurstOrDrop(0, std::span<rte_mbuf*>(&m, 1));
}

int RunSender(Session& s, const Options& o, const Clock& clock) {
  std::vector<uint8_t> scratch;
  rte_mbuf* rx[kBurst];
  // The receiver announces itself: frames sent before it polls (af_packet) would be lost.
  uint64_t deadline = clock.now() + clock.Ticks(o.timeout_ms);
  bool ready = false;
  while (!ready && clock.now() < deadline) {
    uint16_t n = s.io->RxBurst(rx);
    for (uint16_t i = 0; i < n; ++i) {
      ParsedFrame f = ParseFrame(rx[i], s.pattern, scratch);
      if (f.verdict == Verdict::kValid && f.header.kind == static_cast<uint16_t>(ProbeKind::kReady)) {
        ready = true;
      }
      rte_pktmbuf_free(rx[i]);
    }
    if (n == 0) std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  if (!ready) {
    fmt::print(stderr, "send: no READY from the receiver within {} ms\n", o.timeout_ms);
    return 1;
  }

  uint64_t start = clock.now();
  uint64_t gap = o.pps == 0 ? 0 : clock.hz() / o.pps;
  uint64_t next_send = start;
  uint64_t sent = 0;
  uint64_t alloc_failures = 0;
  rte_mbuf* pending[kBurst];
  uint16_t pending_count = 0;
  while (sent < o.count || pending_count > 0) {
    if (clock.now() >= deadline) {
      fmt::print(stderr, "send: timed out after {} of {} frames\n", sent, o.count);
      for (uint16_t i = 0; i < pending_count; ++i) rte_pktmbuf_free(pending[i]);
      return 1;
    }
    while (pending_count < kBurst && sent + pending_count < o.count) {
      if (gap != 0) {
        if (clock.now() < next_send) break;
        next_send += gap;
      }
      rte_mbuf* m = BuildFrame(s.port->mempool(), s.addresses, s.pattern, ProbeKind::kData,
                               sent + pending_count, o.size);
      if (m == nullptr) {
        ++alloc_failures;  // mbufs come back as the port transmits
        break;
      }
      pending[pending_count++] = m;
    }
    uint16_t taken = s.io->TxBurst(0, std::span<rte_mbuf*>(pending, pending_count));
    std::memmove(pending, pending + taken, (pending_count - taken) * sizeof(rte_mbuf*));
    pending_count = static_cast<uint16_t>(pending_count - taken);
    sent += taken;
    // Drain our rx so stray READY frames do not pile up in the device.
    uint16_t n = s.io->RxBurst(rx);
    for (uint16_t i = 0; i < n; ++i) rte_pktmbuf_free(rx[i]);
  }
  double send_seconds = clock.Seconds(start);

  // Linger: keep the port (and held fault-injected frames) moving until the receiver is done.
  uint64_t linger_end = clock.now() + clock.Ticks(o.linger_ms);
  bool done = false;
  while (!done && clock.now() < linger_end) {
    s.io->TxBurst(0, {});
    uint16_t n = s.io->RxBurst(rx);
    for (uint16_t i = 0; i < n; ++i) {
      ParsedFrame f = ParseFrame(rx[i], s.pattern, scratch);
      done |= f.verdict == Verdict::kValid && f.header.kind == static_cast<uint16_t>(ProbeKind::kDone);
      rte_pktmbuf_free(rx[i]);
    }
    if (n == 0) std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  double mpps = send_seconds > 0 ? sent / send_seconds / 1e6 : 0;
  fmt::print(
      "{{\"role\":\"send\",\"sent\":{},\"frame_bytes\":{},\"seconds\":{:.4f},\"mpps\":{:.4f},"
      "\"gbps\":{:.3f},\"alloc_waits\":{},\"receiver_done\":{},\"faults_tx\":{},"
      "\"faults_rx\":{},\"port\":{}}}\n",
      sent, o.size, send_seconds, mpps, mpps * o.size * 8 / 1000, alloc_failures,
      done ? "true" : "false",
      FaultJson(s.faults ? s.faults->tx_faults() : port::FaultCounters{}),
      FaultJson(s.faults ? s.faults->rx_faults() : port::FaultCounters{}), PortJson(*s.port));
  std::fflush(stdout);
  return 0;
}

int RunReceiver(Session& s, const Options& o, const Clock& clock) {
  std::vector<uint8_t> seen(o.count, 0);
  std::vector<uint8_t> scratch;
  uint64_t unique = 0, duplicates = 0, late = 0, corrupt = 0, foreign = 0, out_of_range = 0;
  uint64_t control = 0, bytes = 0;
  uint64_t max_sequence = 0;
  bool any_data = false;
  uint64_t start = clock.now();
  uint64_t deadline = start + clock.Ticks(o.timeout_ms);
  uint64_t first_data = 0, last_data = 0, next_ready = 0;
  bool timed_out = false;
  rte_mbuf* rx[kBurst];
  while (unique < o.count) {
    uint64_t now = clock.now();
    if (now >= deadline) {
      timed_out = true;
      break;
    }
    if (any_data && o.idle_ms != 0 && now - last_data > clock.Ticks(o.idle_ms)) break;
    if (!any_data && now >= next_ready) {
      SendControl(s, ProbeKind::kReady);
      next_ready = now + clock.Ticks(10);
    }
    s.io->TxBurst(0, {});  // lets a fault injector release held frames; free on a plain Port
    uint16_t n = s.io->RxBurst(rx);
    if (n == 0) {
      rte_pause();
      continue;
    }
    for (uint16_t i = 0; i < n; ++i) {
      ParsedFrame f = ParseFrame(rx[i], s.pattern, scratch);
      uint32_t length = rx[i]->pkt_len;
      rte_pktmbuf_free(rx[i]);
      if (f.verdict == Verdict::kForeign) {
        ++foreign;
        continue;
      }
      if (!any_data) first_data = now;
      any_data = true;
      last_data = now;
      if (f.verdict == Verdict::kCorrupt) {
        ++corrupt;
        continue;
      }
      if (f.header.kind != static_cast<uint16_t>(ProbeKind::kData)) {
        ++control;
        continue;
      }
      uint64_t seq = f.header.sequence;
      if (seq >= o.count) {
        ++out_of_range;
        continue;
      }
      if (seen[seq] != 0) {
        ++duplicates;
        continue;
      }
      seen[seq] = 1;
      ++unique;
      bytes += length;
      if (unique > 1 && seq < max_sequence) ++late;
      max_sequence = std::max(max_sequence, seq);
    }
  }
  double seconds = any_data ? static_cast<double>(last_data - first_data) / clock.hz() : 0;
  // Before DONE: memif reports zero stats once the peer has disconnected.
  std::string port_json = PortJson(*s.port);
  for (int i = 0; i < 8; ++i) SendControl(s, ProbeKind::kDone);
  // Give the done frames (and a decorator's held frames) a moment to leave.
  for (int i = 0; i < 20; ++i) {
    s.io->TxBurst(0, {});
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  double mpps = seconds > 0 ? unique / seconds / 1e6 : 0;
  fmt::print(
      "{{\"role\":\"recv\",\"expected\":{},\"unique\":{},\"missing\":{},\"duplicates\":{},"
      "\"late\":{},\"corrupt\":{},\"foreign\":{},\"control\":{},\"out_of_range\":{},"
      "\"bytes\":{},\"seconds\":{:.4f},\"mpps\":{:.4f},\"gbps\":{:.3f},\"timed_out\":{},"
      "\"faults_rx\":{},\"faults_tx\":{},\"port\":{}}}\n",
      o.count, unique, o.count - unique, duplicates, late, corrupt, foreign, control,
      out_of_range, bytes, seconds, mpps, seconds > 0 ? bytes * 8 / seconds / 1e9 : 0,
      timed_out ? "true" : "false",
      FaultJson(s.faults ? s.faults->rx_faults() : port::FaultCounters{}),
      FaultJson(s.faults ? s.faults->tx_faults() : port::FaultCounters{}), port_json);
  std::fflush(stdout);
  if (!any_data) {
    fmt::print(stderr, "recv: no frame arrived within {} ms\n", o.timeout_ms);
    return 1;
  }
  if (o.expect_all && (unique != o.count || duplicates != 0 || corrupt != 0 || late != 0)) {
    fmt::print(stderr,
               "recv: expected all {} frames intact and in order; unique {} duplicates {} "
               "corrupt {} late {}\n",
               o.count, unique, duplicates, corrupt, late);
    return 1;
  }
  return 0;
}

int Run(const Options& o) {
  auto config = config::LoadConfig(o.config_path);
  if (!config.ok()) {
    fmt::print(stderr, "{}\n", config.error().Describe());
    return 2;
  }
  std::vector<std::string> argv = config::BuildEalArguments(*config, "replink-port-probe");
  if (o.print_eal_args) {
    for (const auto& a : argv) fmt::print("{}\n", a);
    return 0;
  }
  if (o.size < kMinProbeFrame || o.size > kMinProbeFrame + PayloadPattern::kMaxPayload) {
    fmt::print(stderr, "--size must be within [{}, {}]\n", kMinProbeFrame,
               kMinProbeFrame + PayloadPattern::kMaxPayload);
    return 2;
  }
  auto eal = port::Eal::Init(argv);
  if (!eal.ok()) {
    fmt::print(stderr, "{}\n", eal.error().Describe());
    return 1;
  }
  int rc = 1;
  {
    auto opened = port::Port::Open(config->port, {static_cast<uint16_t>(config->workers.count())});
    if (!opened.ok()) {
      fmt::print(stderr, "{}\n", opened.error().Describe());
      return 1;
    }
    std::unique_ptr<port::Port> p = std::move(opened).value();
    fmt::print(stderr, "{}: {}\n", o.mode, p->info().Describe());
    if (o.size > p->info().max_frame_bytes) {
      fmt::print(stderr, "--size {} exceeds the port's max frame {}\n", o.size,
                 p->info().max_frame_bytes);
      return 2;
    }
    // Starts the port, and keeps retrying a memif client until its server is up.
    auto link = p->WaitForLinkUp(std::chrono::milliseconds(o.timeout_ms));
    if (!link.ok()) {
      fmt::print(stderr, "{}\n", link.error().Describe());
      return 1;
    }
    std::unique_ptr<port::FaultInjectingPort> faults;
    if (config->fault_injection.enabled) {
      auto created = port::FaultInjectingPort::Create(*p, p->mempool(), config->fault_injection);
      if (!created.ok()) {
        fmt::print(stderr, "{}\n", created.error().Describe());
        return 1;
      }
      faults = std::move(created).value();
    }
    Session session;
    session.port = p.get();
    session.io = faults ? static_cast<port::PortIo*>(faults.get()) : p.get();
    session.faults = faults.get();
    std::memcpy(session.addresses.source.addr_bytes, p->info().mac.bytes.data(), 6);
    if (config->peer.mac) {
      std::memcpy(session.addresses.destination.addr_bytes, config->peer.mac->bytes.data(), 6);
    } else {
      std::memset(session.addresses.destination.addr_bytes, 0xff, 6);  // broadcast until learned
    }
    Clock clock;
    rc = o.mode == "send" ? RunSender(session, o, clock) : RunReceiver(session, o, clock);
    faults.reset();  // holds mbufs of the port's pool: goes first
  }
  return rc;
}

}  // namespace
}  // namespace replink::probe

int main(int argc, char** argv) {
  replink::probe::Options o;
  CLI::App app{"replink-port-probe: send or verify test frames over an appliance's DPDK port"};
  app.add_option("--config", o.config_path, "appliance config (TOML)")->required();
  app.add_option("--mode", o.mode, "send or recv")->check(CLI::IsMember({"send", "recv"}));
  app.add_option("--count", o.count, "data frames to send / expect");
  app.add_option("--size", o.size, "frame size in bytes, Ethernet header included");
  app.add_option("--timeout-ms", o.timeout_ms, "give up after this long");
  app.add_option("--idle-ms", o.idle_ms, "recv: stop after this long without frames (0: never)");
  app.add_option("--linger-ms", o.linger_ms, "send: wait this long for the receiver's DONE");
  app.add_option("--pps", o.pps, "send: frames per second (0: as fast as the port takes them)");
  app.add_flag("--expect-all", o.expect_all, "recv: fail unless every frame arrived intact, once, in order");
  app.add_flag("--print-eal-args", o.print_eal_args, "print the EAL argv and exit");
  CLI11_PARSE(app, argc, argv);
  if (o.mode.empty() && !o.print_eal_args) {
    std::fprintf(stderr, "--mode send|recv is required\n");
    return 2;
  }
  return replink::probe::Run(o);
}
