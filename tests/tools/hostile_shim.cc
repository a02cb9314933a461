// replink-hostile-shim: registers capture regions with a running dataplane and then breaks the ABI on
// purpose, one way per region (garbage descriptors, slots out of order, a runaway tail, an epoch out of
// sequence, an oversized blob, a gfn beyond the guest). The dataplane must refuse each broken stream with
// a clear message written back into the region, and go on serving everything else. Exit 0 when every
// region was failed by the dataplane with a message; prints one line per case.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstring>
#include <random>
#include <thread>

#include <fmt/format.h>

#include "hostshim/shim_registration.h"

namespace {

using namespace replink;
using capture_abi::CaptureDescriptor;

struct Case {
  const char* name;
  void (*corrupt)(CaptureDescriptor* sq, uint64_t& tail, std::mt19937_64& rng);
};

void Put(CaptureDescriptor* sq, uint64_t& tail, const CaptureDescriptor& d) { sq[tail++ & 63] = d; }

CaptureDescriptor Begin(uint64_t epoch) {
  CaptureDescriptor d{};
  d.type = static_cast<uint8_t>(RecordType::kEpochBegin);
  d.flags = static_cast<uint8_t>(EpochTrigger::kExplicit);
  d.index = capture_abi::kBeginCatchUp;
  d.epoch = epoch;
  return d;
}

const Case kCases[] = {
    {"random descriptors",
     [](CaptureDescriptor* sq, uint64_t& tail, std::mt19937_64& rng) {
       for (int i = 0; i < 8; ++i) {
         CaptureDescriptor d;
         for (auto& b : std::span(reinterpret_cast<uint8_t*>(&d), sizeof d)) b = static_cast<uint8_t>(rng());
         Put(sq, tail, d);
       }
     }},
    {"page slot out of order",
     [](CaptureDescriptor* sq, uint64_t& tail, std::mt19937_64&) {
       Put(sq, tail, Begin(1));
       CaptureDescriptor d{};
       d.type = static_cast<uint8_t>(RecordType::kPage);
       d.length = 4096;
       d.epoch = 1;
       d.slot = 7;  // the first slot must be 0
       d.slot_span = 1;
       Put(sq, tail, d);
     }},
    {"gfn beyond the guest",
     [](CaptureDescriptor* sq, uint64_t& tail, std::mt19937_64&) {
       Put(sq, tail, Begin(1));
       CaptureDescriptor d{};
       d.type = static_cast<uint8_t>(RecordType::kZeroPage);
       d.epoch = 1;
       d.key = uint64_t{1} << 40;
       Put(sq, tail, d);
     }},
    {"epoch out of sequence", [](CaptureDescriptor* sq, uint64_t& tail, std::mt19937_64&) { Put(sq, tail, Begin(9)); }},
    {"oversized blob",
     [](CaptureDescriptor* sq, uint64_t& tail, std::mt19937_64&) {
       Put(sq, tail, Begin(1));
       CaptureDescriptor d{};
       d.type = static_cast<uint8_t>(RecordType::kVcpuState);
       d.epoch = 1;
       d.length = 64u << 20;
       d.slot_span = 16384;
       Put(sq, tail, d);
     }},
    {"runaway tail", [](CaptureDescriptor*, uint64_t& tail, std::mt19937_64&) { tail += 1u << 20; }},
};

}  // namespace

int main(int argc, char** argv) {
  std::string socket_path;
  uint64_t first_vm = 100;
  CLI::App app{"replink-hostile-shim: registers broken capture regions (tests)"};
  app.add_option("--socket", socket_path, "Dataplane registration socket")->required();
  app.add_option("--first-vm", first_vm, "VM id of the first broken region");
  CLI11_PARSE(app, argc, argv);
  std::mt19937_64 rng(1);
  int refused = 0;
  int cases = 0;
  for (const Case& c : kCases) {
    ++cases;
    CaptureRingParams p;
    p.vm_id = first_vm + static_cast<uint64_t>(cases);
    p.vm_name = "hostile";
    p.guest_pages = 256;
    p.slot_count = 64;
    p.sq_entries = 64;
    p.cq_entries = 16;
    p.prefer_hugetlb = false;
    auto ring = CaptureRingWriter::Create(p);
    if (!ring.ok()) return 2;
    auto conn = ConnectToDataplane(socket_path, *ring, -1, 10000);
    if (!conn.ok()) {
      fmt::print("hostile-shim: {}: registration failed: {}\n", c.name, conn.error().Describe());
      continue;
    }
    auto* header = reinterpret_cast<capture_abi::RegionHeader*>(ring->region().data());
    auto* sq = reinterpret_cast<CaptureDescriptor*>(ring->region().data() + ring->identity().sq_offset);
    uint64_t tail = 0;
    c.corrupt(sq, tail, rng);
    std::atomic_ref<uint64_t>(header->sq_tail.value).store(tail, std::memory_order_release);
    bool failed = false;
    for (int i = 0; i < 500 && !failed; ++i) {
      failed = ring->stream_state() == capture_abi::StreamState::kFailed;
      if (!failed) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (failed) ++refused;
    fmt::print("hostile-shim: {}: {}\n", c.name,
               failed ? "refused by the dataplane: " + ring->failure_message() : std::string("NOT REFUSED"));
  }
  fmt::print("hostile-shim: {} of {} broken regions refused\n", refused, cases);
  return refused == cases ? 0 : 1;
}
