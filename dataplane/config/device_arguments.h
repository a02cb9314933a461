// DPDK device arguments ("net_memif0,role=server,bsize=9216"): the device name followed by
// comma-separated key=value pairs. Parsed here so that config validation and the port layer can
// reason about driver-specific limits (memif bsize, af_packet framesz/blocksz) before EAL runs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "errors/result.h"

namespace replink::config {

struct DeviceArguments {
  std::string name;  // "net_memif0"
  std::vector<std::pair<std::string, std::string>> values;

  // The driver part of a vdev name: "net_memif0" -> "net_memif", "net_af_packet1" -> "net_af_packet".
  std::string_view DriverName() const;
  std::optional<std::string_view> Get(std::string_view key) const;
  // A numeric value, `fallback` when absent; an error when present but not an unsigned integer.
  Result<uint64_t> GetUnsigned(std::string_view key, uint64_t fallback) const;
};

Result<DeviceArguments> ParseDeviceArguments(std::string_view devargs);

}  // namespace replink::config
