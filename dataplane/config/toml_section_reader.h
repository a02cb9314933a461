// Typed, range-checked reading of one TOML table, with every problem reported as
// "file:line:column: key: message". Keys that no getter asked for are errors (typos must not be
// silently ignored in an HA appliance), with a "did you mean" hint when a known key is close.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <limits>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <toml++/toml.h>

#include "dataplane/config/appliance_config.h"
#include "errors/result.h"

namespace replink::config {

// Problems found while reading one file; all of them are reported at once.
class ConfigDiagnostics {
 public:
  explicit ConfigDiagnostics(std::string path) : path_(std::move(path)) {}

  void Add(const toml::source_region& where, std::string_view key, std::string_view message);
  void AddAt(uint32_t line, std::string_view key, std::string_view message);
  bool empty() const { return problems_.empty(); }
  const std::string& path() const { return path_; }
  const std::vector<std::string>& problems() const { return problems_; }
  // One Error listing every problem, one per line.
  Error ToError() const;

 private:
  std::string path_;
  std::vector<std::string> problems_;
};

template <typename E>
struct EnumSpelling {
  std::string_view text;
  E value;
};

class TomlSectionReader {
 public:
  // `prefix` is the dotted path of `table` in the file: "port", "port.udp", "vm[1]".
  TomlSectionReader(const toml::table& table, std::string prefix, ConfigDiagnostics& diagnostics,
                    ConfigSource& source);

  bool Has(std::string_view key) const;
  // Reports a missing key at the table's header line.
  void Require(std::string_view key);

  template <typename T>
  void Integer(std::string_view key, T& out, T min, T max) {
    int64_t value = 0;
    if (ReadInteger(key, static_cast<int64_t>(min), static_cast<uint64_t>(max), value)) {
      out = static_cast<T>(value);
    }
  }
  void Bool(std::string_view key, bool& out);
  void Double(std::string_view key, double& out, double min, double max);
  void String(std::string_view key, std::string& out);
  void StringList(std::string_view key, std::vector<std::string>& out);
  void IntegerList(std::string_view key, std::vector<uint32_t>& out, uint32_t min, uint32_t max);

  template <typename E>
  void Enum(std::string_view key, E& out, std::initializer_list<EnumSpelling<E>> spellings) {
    std::string text;
    const toml::node* node = Find(key, toml::node_type::string, "a string");
    if (node == nullptr) return;
    text = *node->value<std::string>();
    std::string allowed;
    for (const auto& s : spellings) {
      if (s.text == text) {
        out = s.value;
        return;
      }
      allowed += allowed.empty() ? "" : ", ";
      allowed += fmt::format("\"{}\"", s.text);
    }
    Problem(*node, key, fmt::format("\"{}\" is not one of {}", text, allowed));
  }

  // A string turned into T by `parse`; parse errors are reported with the key's location.
  template <typename T>
  void Parsed(std::string_view key, T& out,
              const std::function<Result<T>(std::string_view)>& parse) {
    const toml::node* node = Find(key, toml::node_type::string, "a string");
    if (node == nullptr) return;
    auto parsed = parse(*node->value<std::string_view>());
    if (!parsed.ok()) {
      Problem(*node, key, parsed.error().message);
      return;
    }
    out = std::move(parsed).value();
  }

  // Marks `key` as known and returns its table, or nullptr when absent or not a table.
  const toml::table* Table(std::string_view key);
  // Marks `key` as known and returns its array of tables ([[key]]), or nullptr.
  const toml::array* ArrayOfTables(std::string_view key);

  // Reports every key of the table that no getter asked for. Call once, after all getters.
  void RejectUnknownKeys();

  std::string Path(std::string_view key) const;
  uint32_t header_line() const { return table_.source().begin.line; }

 private:
  // Returns the node if present and of the wanted type; otherwise reports and returns nullptr.
  const toml::node* Find(std::string_view key, toml::node_type type, std::string_view type_name);
  bool ReadInteger(std::string_view key, int64_t min, uint64_t max, int64_t& out);
  void Problem(const toml::node& node, std::string_view key, std::string_view message);

  const toml::table& table_;
  std::string prefix_;
  ConfigDiagnostics& diagnostics_;
  ConfigSource& source_;
  std::set<std::string, std::less<>> known_;
};

}  // namespace replink::config
