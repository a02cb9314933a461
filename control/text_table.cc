#include "control/text_table.h"

#include <algorithm>

namespace replink::control {
namespace {

// Display width: count UTF-8 code points, not bytes (names may be non-ASCII).
std::size_t Width(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

void Pad(std::string& out, std::size_t n) { out.append(n, ' '); }

}  // namespace

std::string TextTable::Render() const {
  std::vector<std::size_t> width(columns_.size());
  for (std::size_t i = 0; i < columns_.size(); ++i) width[i] = Width(columns_[i].title);
  for (const auto& row : rows_)
    for (std::size_t i = 0; i < columns_.size() && i < row.size(); ++i) width[i] = std::max(width[i], Width(row[i]));
  auto line = [&](auto cell) {
    std::string out;
    for (std::size_t i = 0; i < columns_.size(); ++i) {
      std::string text = cell(i);
      std::size_t pad = width[i] - std::min(width[i], Width(text));
      bool last = i + 1 == columns_.size();
      if (columns_[i].align == Align::kRight) {
        Pad(out, pad);
        out += text;
      } else {
        out += text;
        if (!last) Pad(out, pad);
      }
      if (!last) out += "  ";
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out + "\n";
  };
  std::string out = line([&](std::size_t i) { return columns_[i].title; });
  for (const auto& row : rows_) out += line([&](std::size_t i) { return i < row.size() ? row[i] : std::string(); });
  return out;
}

std::string AlignedPairs(const std::vector<std::pair<std::string, std::string>>& pairs, int indent) {
  std::size_t key_width = 0;
  for (const auto& [k, v] : pairs) key_width = std::max(key_width, Width(k) + 1);
  std::string out;
  for (const auto& [k, v] : pairs) {
    Pad(out, static_cast<std::size_t>(indent));
    out += k + ":";
    Pad(out, key_width - Width(k) - 1 + 1);
    out += v + "\n";
  }
  return out;
}

}  // namespace replink::control
