#include "agent/cgroup_parse.h"

namespace rcbench::agent {

bool ConsumeUint(absl::string_view* s, uint64_t* value) {
  size_t i = 0;
  uint64_t v = 0;
  while (i < s->size() && (*s)[i] >= '0' && (*s)[i] <= '9') {
    uint64_t d = static_cast<uint64_t>((*s)[i] - '0');
    if (v > (UINT64_MAX - d) / 10) return false;  // overflow
    v = v * 10 + d;
    ++i;
  }
  if (i == 0) return false;
  *value = v;
  s->remove_prefix(i);
  return true;
}

std::optional<uint64_t> ParseSingleValue(absl::string_view text) {
  uint64_t v = 0;
  if (!ConsumeUint(&text, &v)) return std::nullopt;
  if (!(text.empty() || text == "\n")) return std::nullopt;
  return v;
}

std::optional<uint64_t> FindKeyedValue(absl::string_view text, absl::string_view key) {
  size_t pos = 0;
  while (pos < text.size()) {
    // `key` must start a line and be followed by one space.
    if (text.compare(pos, key.size(), key) == 0 && pos + key.size() < text.size() &&
        text[pos + key.size()] == ' ') {
      absl::string_view rest = text.substr(pos + key.size() + 1);
      uint64_t v = 0;
      if (!ConsumeUint(&rest, &v)) return std::nullopt;
      if (!rest.empty() && rest.front() != '\n') return std::nullopt;
      return v;
    }
    size_t eol = text.find('\n', pos);
    if (eol == absl::string_view::npos) break;
    pos = eol + 1;
  }
  return std::nullopt;
}

bool ParseIoStat(absl::string_view text, IoTotals* out) {
  IoTotals t;
  for (absl::string_view line; NextLine(&text, &line);) {
    size_t sp = line.find(' ');
    if (sp == absl::string_view::npos || line.substr(0, sp).find(':') == absl::string_view::npos) {
      return false;
    }
    line.remove_prefix(sp + 1);
    while (!line.empty()) {
      size_t eq = line.find('=');
      if (eq == absl::string_view::npos) return false;
      absl::string_view key = line.substr(0, eq);
      line.remove_prefix(eq + 1);
      uint64_t v = 0;
      if (!ConsumeUint(&line, &v)) return false;
      if (!line.empty()) {
        if (line.front() != ' ') return false;
        line.remove_prefix(1);
      }
      if (key == "rbytes") t.read_bytes += v;
      if (key == "wbytes") t.write_bytes += v;
      if (key == "rios") t.read_ops += v;
      if (key == "wios") t.write_ops += v;
    }
  }
  *out = t;
  return true;
}

bool ParseBlkioFile(absl::string_view text, uint64_t* read, uint64_t* write) {
  uint64_t r = 0, w = 0;
  for (absl::string_view line; NextLine(&text, &line);) {
    size_t sp = line.find(' ');
    if (sp == absl::string_view::npos) return false;
    absl::string_view first = line.substr(0, sp);
    absl::string_view rest = line.substr(sp + 1);
    uint64_t v = 0;
    if (first == "Total") {
      if (!ConsumeUint(&rest, &v) || !rest.empty()) return false;
      continue;
    }
    if (first.find(':') == absl::string_view::npos) return false;
    size_t sp2 = rest.find(' ');
    if (sp2 == absl::string_view::npos) return false;
    absl::string_view op = rest.substr(0, sp2);
    rest.remove_prefix(sp2 + 1);
    if (!ConsumeUint(&rest, &v) || !rest.empty()) return false;
    if (op == "Read") r += v;
    if (op == "Write") w += v;
  }
  *read += r;
  *write += w;
  return true;
}

bool ParsePressure(absl::string_view text, PressureTotals* out) {
  PressureTotals p;
  bool some = false;
  for (absl::string_view line; NextLine(&text, &line);) {
    size_t tot = line.find(" total=");
    if (tot == absl::string_view::npos) return false;
    absl::string_view rest = line.substr(tot + 7);
    uint64_t v = 0;
    if (!ConsumeUint(&rest, &v) || !rest.empty()) return false;
    if (line.substr(0, 5) == "some ") {
      p.some_total_us = v;
      some = true;
    } else if (line.substr(0, 5) == "full ") {
      p.full_total_us = v;
    } else {
      return false;
    }
  }
  if (!some) return false;
  *out = p;
  return true;
}

}  // namespace rcbench::agent
