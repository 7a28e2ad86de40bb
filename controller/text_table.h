#pragma once

// Plain-text tables for the command line's outputs (compare, history, the results table).
// Header-only; pure functions.

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace rcbench::controller {

// Rows of cells (header first, every row as long as the header) as aligned text: each cell
// left-aligned and padded to its column's widest, columns two spaces apart, a line per row. The
// last column is not padded (no trailing spaces) unless `pad_last_column`.
inline std::string TextTable(const std::vector<std::vector<std::string>>& rows,
                             bool pad_last_column = false) {
  if (rows.empty()) return "";
  std::vector<size_t> width(rows[0].size(), 0);
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) {
      const bool pad = pad_last_column || i + 1 < row.size();
      absl::StrAppend(&out, i ? "  " : "", row[i],
                      pad ? std::string(width[i] - row[i].size(), ' ') : "");
    }
    out += "\n";
  }
  return out;
}

}  // namespace rcbench::controller
