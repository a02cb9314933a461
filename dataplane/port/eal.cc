#include "dataplane/port/eal.h"

#include <atomic>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>

namespace replink::port {
namespace {

// Process-wide by nature: EAL itself is a process singleton.
std::atomic<bool> g_eal_claimed{false};

std::string JoinArgs(const std::vector<std::string>& argv) {
  std::string text;
  for (const auto& a : argv) {
    if (!text.empty()) text += ' ';
    text += a;
  }
  return text;
}

}  // namespace

Result<std::unique_ptr<Eal>> Eal::Init(std::vector<std::string> argv) {
  if (argv.empty()) return MakeError(Errc::kInvalidArgument, "EAL argv needs a program name");
  if (g_eal_claimed.exchange(true)) {
    return MakeError(Errc::kState,
                     "EAL was already initialized in this process (DPDK allows one rte_eal_init "
                     "per process)");
  }
  std::unique_ptr<Eal> eal(new Eal(std::move(argv)));
  for (auto& arg : eal->argv_) eal->argv_pointers_.push_back(arg.data());
  eal->argv_pointers_.push_back(nullptr);
  int consumed = rte_eal_init(static_cast<int>(eal->argv_.size()), eal->argv_pointers_.data());
  if (consumed < 0) {
    int code = rte_errno;
    // The claim stays: a failed rte_eal_init may leave EAL half set up and cannot be retried.
    return Error{Errc::kUnsupported,
                 fmt::format("rte_eal_init failed: {} (args: {})", rte_strerror(code),
                             JoinArgs(eal->argv_)),
                 code};
  }
  return eal;
}

Eal::~Eal() { rte_eal_cleanup(); }

uint32_t Eal::main_lcore() const { return rte_get_main_lcore(); }
uint32_t Eal::lcore_count() const { return rte_lcore_count(); }
uint64_t Eal::tsc_hz() const { return rte_get_tsc_hz(); }

}  // namespace replink::port
