// RAII ownership of DPDK's Environment Abstraction Layer for this process.
// Init never calls rte_exit: failures come back as an Error carrying rte_errno's text. (EAL
// itself still panics on a few internal failures, such as being unable to create an lcore
// thread; nothing outside DPDK can catch those.)
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "errors/result.h"

namespace replink::port {

class Eal {
 public:
  // `argv` starts with the program name (see config::BuildEalArguments). EAL can be initialized
  // once per process, ever: DPDK does not support rte_eal_init after rte_eal_cleanup, so a second
  // Init fails with Errc::kState even when the first Eal has been destroyed.
  static Result<std::unique_ptr<Eal>> Init(std::vector<std::string> argv);

  ~Eal();
  Eal(const Eal&) = delete;
  Eal& operator=(const Eal&) = delete;

  uint32_t main_lcore() const;
  uint32_t lcore_count() const;
  uint64_t tsc_hz() const;
  const std::vector<std::string>& argv() const { return argv_; }

 private:
  explicit Eal(std::vector<std::string> argv) : argv_(std::move(argv)) {}

  std::vector<std::string> argv_;
  // rte_eal_init permutes the pointer array (getopt); keep it and the strings alive.
  std::vector<char*> argv_pointers_;
};

}  // namespace replink::port
