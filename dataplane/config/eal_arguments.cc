#include "dataplane/config/eal_arguments.h"

#include <algorithm>

#include <fmt/format.h>

namespace replink::config {

std::string FormatLcoreList(const std::vector<uint32_t>& lcores) {
  std::vector<uint32_t> sorted = lcores;
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  std::string text;
  for (size_t i = 0; i < sorted.size();) {
    size_t j = i;
    while (j + 1 < sorted.size() && sorted[j + 1] == sorted[j] + 1) ++j;
    if (!text.empty()) text += ',';
    text += j == i ? fmt::format("{}", sorted[i]) : fmt::format("{}-{}", sorted[i], sorted[j]);
    i = j + 1;
  }
  return text;
}

std::vector<std::string> BuildEalArguments(const ApplianceConfig& config,
                                           std::string_view program_name) {
  const EalConfig& eal = config.eal;
  std::vector<std::string> argv{std::string(program_name)};
  if (eal.verbatim()) {
    argv.insert(argv.end(), eal.args.begin(), eal.args.end());
    return argv;
  }
  auto add = [&argv](std::string_view option, std::string value) {
    argv.emplace_back(option);
    argv.push_back(std::move(value));
  };
  add("-l", FormatLcoreList(eal.lcores));
  if (eal.main_lcore) add("--main-lcore", fmt::format("{}", *eal.main_lcore));
  add("--file-prefix", eal.file_prefix);
  if (eal.no_huge) {
    // Anonymous memory; --no-shconf keeps the runtime directory free of shared config files
    // (multi-process is not used by replink).
    argv.emplace_back("--no-huge");
    argv.emplace_back("--no-shconf");
  }
  if (eal.in_memory) argv.emplace_back("--in-memory");
  if (eal.memory_mb != 0) add("-m", fmt::format("{}", eal.memory_mb));
  if (eal.no_pci) argv.emplace_back("--no-pci");
  if (!config.port.pci.empty()) add("-a", config.port.pci);
  for (const auto& vdev : eal.vdevs) add("--vdev", vdev);
  for (const auto& plugin : eal.plugins) add("-d", plugin);
  if (!eal.log_level.empty()) add("--log-level", eal.log_level);
  argv.insert(argv.end(), eal.extra_args.begin(), eal.extra_args.end());
  return argv;
}

}  // namespace replink::config
