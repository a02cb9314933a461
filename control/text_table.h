// Aligned columns for replinkctl's human output: text columns left-aligned, numbers right-aligned,
// two spaces between columns, widths from the widest cell.
#pragma once

#include <string>
#include <vector>

namespace replink::control {

class TextTable {
 public:
  enum class Align { kLeft, kRight };
  struct Column {
    std::string title;
    Align align = Align::kLeft;
  };

  explicit TextTable(std::vector<Column> columns) : columns_(std::move(columns)) {}
  // Cells beyond the columns are ignored; missing ones are blank.
  void AddRow(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
  bool empty() const { return rows_.empty(); }
  // Header line and one line per row, each ending in '\n'.
  std::string Render() const;

 private:
  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

// "key: value" lines with the values aligned.
std::string AlignedPairs(const std::vector<std::pair<std::string, std::string>>& pairs, int indent = 0);

}  // namespace replink::control
