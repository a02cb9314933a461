#include "dataplane/config/toml_section_reader.h"

#include <algorithm>

namespace replink::config {
namespace {

std::string_view TypeName(toml::node_type type) {
  switch (type) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a number";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    case toml::node_type::none: break;
  }
  return "nothing";
}

// Levenshtein distance, small inputs only (config key names).
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

void ConfigDiagnostics::Add(const toml::source_region& where, std::string_view key,
                            std::string_view message) {
  problems_.push_back(fmt::format("{}:{}:{}: {}: {}", path_, where.begin.line, where.begin.column,
                                  key, message));
}

void ConfigDiagnostics::AddAt(uint32_t line, std::string_view key, std::string_view message) {
  if (line == 0) {
    problems_.push_back(fmt::format("{}: {}: {}", path_, key, message));
  } else {
    problems_.push_back(fmt::format("{}:{}: {}: {}", path_, line, key, message));
  }
}

Error ConfigDiagnostics::ToError() const {
  std::string text = fmt::format("{} problem{} in config", problems_.size(),
                                 problems_.size() == 1 ? "" : "s");
  for (const auto& p : problems_) text += "\n  " + p;
  return MakeError(Errc::kInvalidArgument, "{}", text);
}

TomlSectionReader::TomlSectionReader(const toml::table& table, std::string prefix,
                                     ConfigDiagnostics& diagnostics, ConfigSource& source)
    : table_(table), prefix_(std::move(prefix)), diagnostics_(diagnostics), source_(source) {
  if (!prefix_.empty() && table_.source().begin.line > 0) {
    source_.lines[prefix_] = table_.source().begin.line;
  }
}

std::string TomlSectionReader::Path(std::string_view key) const {
  return prefix_.empty() ? std::string(key) : fmt::format("{}.{}", prefix_, key);
}

bool TomlSectionReader::Has(std::string_view key) const { return table_.contains(key); }

void TomlSectionReader::Require(std::string_view key) {
  known_.emplace(key);
  if (Has(key)) return;
  diagnostics_.AddAt(header_line(), Path(key),
                     prefix_.empty() ? "required key is missing"
                                     : fmt::format("required key is missing from [{}]", prefix_));
}

void TomlSectionReader::Problem(const toml::node& node, std::string_view key,
                                std::string_view message) {
  diagnostics_.Add(node.source(), Path(key), message);
}

const toml::node* TomlSectionReader::Find(std::string_view key, toml::node_type type,
                                          std::string_view type_name) {
  known_.emplace(key);
  const toml::node* node = table_.get(key);
  if (node == nullptr) return nullptr;
  source_.lines[Path(key)] = node->source().begin.line;
  if (node->type() != type) {
    Problem(*node, key, fmt::format("expected {}, found {}", type_name, TypeName(node->type())));
    return nullptr;
  }
  return node;
}

bool TomlSectionReader::ReadInteger(std::string_view key, int64_t min, uint64_t max,
                                    int64_t& out) {
  const toml::node* node = Find(key, toml::node_type::integer, "an integer");
  if (node == nullptr) return false;
  int64_t value = *node->value<int64_t>();
  bool in_range = value >= min && (value < 0 || static_cast<uint64_t>(value) <= max);
  if (!in_range) {
    Problem(*node, key, fmt::format("{} is out of range [{}, {}]", value, min, max));
    return false;
  }
  out = value;
  return true;
}

void TomlSectionReader::Bool(std::string_view key, bool& out) {
  const toml::node* node = Find(key, toml::node_type::boolean, "a boolean");
  if (node != nullptr) out = *node->value<bool>();
}

void TomlSectionReader::Double(std::string_view key, double& out, double min, double max) {
  known_.emplace(key);
  const toml::node* node = table_.get(key);
  if (node == nullptr) return;
  source_.lines[Path(key)] = node->source().begin.line;
  // Integers are accepted where a number is expected: "drop_pct = 5" reads naturally.
  if (!node->is_floating_point() && !node->is_integer()) {
    Problem(*node, key, fmt::format("expected a number, found {}", TypeName(node->type())));
    return;
  }
  double value = *node->value<double>();
  if (!(value >= min && value <= max)) {  // also rejects NaN
    Problem(*node, key, fmt::format("{} is out of range [{}, {}]", value, min, max));
    return;
  }
  out = value;
}

void TomlSectionReader::String(std::string_view key, std::string& out) {
  const toml::node* node = Find(key, toml::node_type::string, "a string");
  if (node != nullptr) out = *node->value<std::string>();
}

void TomlSectionReader::StringList(std::string_view key, std::vector<std::string>& out) {
  const toml::node* node = Find(key, toml::node_type::array, "an array of strings");
  if (node == nullptr) return;
  std::vector<std::string> values;
  for (const toml::node& item : *node->as_array()) {
    if (!item.is_string()) {
      Problem(item, key, fmt::format("expected a string element, found {}", TypeName(item.type())));
      return;
    }
    values.push_back(*item.value<std::string>());
  }
  out = std::move(values);
}

void TomlSectionReader::IntegerList(std::string_view key, std::vector<uint32_t>& out, uint32_t min,
                                    uint32_t max) {
  const toml::node* node = Find(key, toml::node_type::array, "an array of integers");
  if (node == nullptr) return;
  std::vector<uint32_t> values;
  for (const toml::node& item : *node->as_array()) {
    if (!item.is_integer()) {
      Problem(item, key,
              fmt::format("expected an integer element, found {}", TypeName(item.type())));
      return;
    }
    int64_t value = *item.value<int64_t>();
    if (value < min || value > max) {
      Problem(item, key, fmt::format("element {} is out of range [{}, {}]", value, min, max));
      return;
    }
    values.push_back(static_cast<uint32_t>(value));
  }
  out = std::move(values);
}

const toml::table* TomlSectionReader::Table(std::string_view key) {
  const toml::node* node = Find(key, toml::node_type::table, "a table");
  return node == nullptr ? nullptr : node->as_table();
}

const toml::array* TomlSectionReader::ArrayOfTables(std::string_view key) {
  const toml::node* node = Find(key, toml::node_type::array, "an array of tables ([[...]])");
  if (node == nullptr) return nullptr;
  const toml::array* array = node->as_array();
  for (const toml::node& item : *array) {
    if (!item.is_table()) {
      Problem(item, key, fmt::format("expected a table element ([[{}]]), found {}", key,
                                     TypeName(item.type())));
      return nullptr;
    }
  }
  return array;
}

void TomlSectionReader::RejectUnknownKeys() {
  for (const auto& [key, node] : table_) {
    if (known_.count(key.str()) > 0) continue;
    std::string hint;
    size_t best = 3;  // suggest only close matches
    for (const auto& candidate : known_) {
      size_t distance = EditDistance(key.str(), candidate);
      if (distance < best) {
        best = distance;
        hint = fmt::format(" (did you mean '{}'?)", candidate);
      }
    }
    diagnostics_.Add(key.source(), Path(key.str()), fmt::format("unknown key{}", hint));
  }
}

}  // namespace replink::config
