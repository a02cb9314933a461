// Loading an appliance config: TOML text -> ApplianceConfig with defaults applied, every key
// type- and range-checked, unknown keys rejected, then ValidateConfig's cross-key rules.
// Errors name file, line and key, and list every problem found, not only the first.
#pragma once

#include <string>
#include <string_view>

#include "dataplane/config/appliance_config.h"
#include "errors/result.h"

namespace replink::config {

Result<ApplianceConfig> LoadConfig(const std::string& path);

// The same from text already in memory; `source_name` stands in for the path in messages.
Result<ApplianceConfig> ParseConfig(std::string_view toml_text, std::string_view source_name);

}  // namespace replink::config
