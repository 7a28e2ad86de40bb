#include "rc/cgroup_files.h"

#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace rcbench::rc {
namespace {

std::string Quote(absl::string_view s) {
  if (s.size() > 60) s = s.substr(0, 60);
  std::string out = "'";
  for (unsigned char c : s) {
    if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20 || c >= 0x7f) {
      absl::StrAppend(&out, "\\x", absl::Hex(c, absl::kZeroPad2));
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out + "'";
}

absl::Status Malformed(absl::string_view source, absl::string_view what, absl::string_view got) {
  return absl::InvalidArgumentError(
      absl::StrCat(source, ": expected ", what, ", got ", Quote(got)));
}

// Malformed for one line of a multi-line file (line_no counts its non-empty lines from 1).
absl::Status MalformedLine(absl::string_view source, int line_no, absl::string_view what,
                           absl::string_view line) {
  return absl::InvalidArgumentError(
      absl::StrCat(source, ": line ", line_no, ": expected ", what, ", got ", Quote(line)));
}

// Cgroup files end with exactly one newline; a missing one means a truncated read.
absl::StatusOr<absl::string_view> SingleLine(absl::string_view content, absl::string_view source,
                                             absl::string_view what) {
  absl::string_view s = absl::StripAsciiWhitespace(content);
  if (s.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": empty, expected ", what));
  }
  if (s.find('\n') != absl::string_view::npos) return Malformed(source, what, content);
  return s;
}

// The next non-empty line of *text, advancing past it; false when none is left. memchr rather
// than string_view::find, which is out of line in the system absl: samplers call this for every
// line of every file every interval.
bool NextLine(absl::string_view* text, absl::string_view* line) {
  while (!text->empty()) {
    const char* begin = text->data();
    const char* eol = static_cast<const char*>(std::memchr(begin, '\n', text->size()));
    if (eol == nullptr) {
      *line = *text;
      *text = absl::string_view();
    } else {
      const size_t len = static_cast<size_t>(eol - begin);
      *line = absl::string_view(begin, len);
      text->remove_prefix(len + 1);
    }
    if (!line->empty()) return true;
  }
  return false;
}

// Plain decimal digits (at most 19, so no overflow) into *v; false for anything else, which
// the callers then hand to absl::SimpleAtoi (same values, slower).
bool DigitsToUint(absl::string_view s, uint64_t* v) {
  if (s.empty() || s.size() > 19) return false;
  uint64_t x = 0;
  for (const char c : s) {
    if (c < '0' || c > '9') return false;
    x = x * 10 + static_cast<uint64_t>(c - '0');
  }
  *v = x;
  return true;
}

// The next space-separated word of *text ("" at the end), advancing past it.
absl::string_view NextWord(absl::string_view* text) {
  size_t start = 0;
  while (start < text->size() && (*text)[start] == ' ') ++start;
  size_t end = start;
  while (end < text->size() && (*text)[end] != ' ') ++end;
  absl::string_view word = text->substr(start, end - start);
  text->remove_prefix(end);
  return word;
}

bool ParseUnsigned(absl::string_view s, uint64_t* v) {
  if (DigitsToUint(s, v)) return true;
  return !s.empty() && s[0] != '-' && s[0] != '+' && absl::SimpleAtoi(s, v);
}

}  // namespace

absl::StatusOr<uint64_t> ParseUint(absl::string_view content, absl::string_view source) {
  // Fast path for what the kernel writes: digits and one newline.
  uint64_t fast;
  if (!content.empty() && content.back() == '\n' &&
      DigitsToUint(content.substr(0, content.size() - 1), &fast)) {
    return fast;
  }
  auto line = SingleLine(content, source, "an unsigned integer");
  if (!line.ok()) return line.status();
  uint64_t v;
  if (!absl::SimpleAtoi(*line, &v) || (*line)[0] == '-' || (*line)[0] == '+') {
    return Malformed(source, "an unsigned integer", content);
  }
  return v;
}

absl::StatusOr<int64_t> ParseInt(absl::string_view content, absl::string_view source) {
  auto line = SingleLine(content, source, "an integer");
  if (!line.ok()) return line.status();
  int64_t v;
  if (!absl::SimpleAtoi(*line, &v)) return Malformed(source, "an integer", content);
  return v;
}

absl::StatusOr<std::optional<uint64_t>> ParseUintOrMax(absl::string_view content,
                                                       absl::string_view source) {
  auto line = SingleLine(content, source, "an unsigned integer or 'max'");
  if (!line.ok()) return line.status();
  if (*line == "max") return std::optional<uint64_t>();
  uint64_t v;
  if (!absl::SimpleAtoi(*line, &v) || (*line)[0] == '-' || (*line)[0] == '+') {
    return Malformed(source, "an unsigned integer or 'max'", content);
  }
  return std::optional<uint64_t>(v);
}

absl::Status ForEachFlatKeyed(absl::string_view content, absl::string_view source,
                              absl::FunctionRef<void(absl::string_view, uint64_t)> fn) {
  if (!content.empty() && content.back() != '\n') {
    const size_t nl = content.rfind('\n');
    absl::string_view last = nl == absl::string_view::npos ? content : content.substr(nl + 1);
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": truncated (no newline after the last line ", Quote(last), ")"));
  }
  int line_no = 0;
  for (absl::string_view rest = content, line; NextLine(&rest, &line);) {
    ++line_no;
    absl::string_view fields = line;
    const absl::string_view key = NextWord(&fields);
    const absl::string_view value = NextWord(&fields);
    uint64_t v;
    if (key.empty() || value.empty() || !NextWord(&fields).empty() || value[0] == '-' ||
        !(DigitsToUint(value, &v) || absl::SimpleAtoi(value, &v))) {
      return MalformedLine(source, line_no, "'<key> <unsigned value>'", line);
    }
    fn(key, v);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<uint64_t>> FindFlatKeyed(absl::string_view content,
                                                      absl::string_view key,
                                                      absl::string_view source) {
  if (!content.empty() && content.back() != '\n') {
    return absl::InvalidArgumentError(absl::StrCat(source, ": truncated (no final newline)"));
  }
  // Fast path: find the key where a line starts with memmem instead of splitting every line.
  // The first such line is the one the scan below would find; when its value is malformed, the
  // scan runs to name the line in the error.
  if (!key.empty() && std::memchr(key.data(), '\n', key.size()) == nullptr) {
    const char* base = content.data();
    size_t from = 0;
    for (;;) {
      const void* hit = memmem(base + from, content.size() - from, key.data(), key.size());
      if (hit == nullptr) return std::optional<uint64_t>();
      const size_t pos = static_cast<size_t>(static_cast<const char*>(hit) - base);
      const size_t end = pos + key.size();
      if ((pos == 0 || base[pos - 1] == '\n') && end < content.size() && base[end] == ' ') {
        // content ends with a newline (checked above), so the line has one.
        const char* eol =
            static_cast<const char*>(std::memchr(base + end, '\n', content.size() - end));
        absl::string_view fields(base + end, static_cast<size_t>(eol - (base + end)));
        uint64_t v;
        if (ParseUnsigned(NextWord(&fields), &v) && NextWord(&fields).empty()) {
          return std::optional<uint64_t>(v);
        }
        break;
      }
      from = pos + 1;
    }
  }
  int line_no = 0;
  for (absl::string_view rest = content, line; NextLine(&rest, &line);) {
    ++line_no;
    if (line.size() <= key.size() || line[key.size()] != ' ' || !absl::StartsWith(line, key)) {
      continue;
    }
    absl::string_view fields = line.substr(key.size());
    uint64_t v;
    if (!ParseUnsigned(NextWord(&fields), &v) || !NextWord(&fields).empty()) {
      return MalformedLine(source, line_no, "'<key> <unsigned value>'", line);
    }
    return std::optional<uint64_t>(v);
  }
  return std::optional<uint64_t>();
}

absl::StatusOr<std::map<std::string, uint64_t>> ParseFlatKeyed(absl::string_view content,
                                                               absl::string_view source) {
  std::map<std::string, uint64_t> out;
  absl::Status s = ForEachFlatKeyed(content, source, [&](absl::string_view key, uint64_t v) {
    out.emplace(std::string(key), v);
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<uint64_t> RequireKey(const std::map<std::string, uint64_t>& map,
                                    absl::string_view key, absl::string_view source) {
  auto it = map.find(std::string(key));
  if (it == map.end()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": missing key '", key, "'"));
  }
  return it->second;
}

absl::StatusOr<CpuMax> ParseCpuMax(absl::string_view content, absl::string_view source) {
  auto line = SingleLine(content, source, "'<quota|max> <period>'");
  if (!line.ok()) return line.status();
  std::vector<absl::string_view> f = absl::StrSplit(*line, ' ', absl::SkipEmpty());
  CpuMax out;
  if (f.size() != 2 || !absl::SimpleAtoi(f[1], &out.period_us) || out.period_us == 0) {
    return Malformed(source, "'<quota|max> <period>'", content);
  }
  if (f[0] != "max") {
    uint64_t q;
    if (!absl::SimpleAtoi(f[0], &q)) return Malformed(source, "'<quota|max> <period>'", content);
    out.quota_us = q;
  }
  return out;
}

absl::StatusOr<PressureTotals> ParsePressure(absl::string_view content, absl::string_view source) {
  PressureTotals out;
  bool has_some = false;
  if (!content.empty() && content.back() != '\n') {
    return absl::InvalidArgumentError(absl::StrCat(source, ": truncated (no final newline)"));
  }
  int line_no = 0;
  for (absl::string_view rest = content, line; NextLine(&rest, &line);) {
    ++line_no;
    absl::string_view fields = line;
    const absl::string_view kind = NextWord(&fields);
    std::optional<uint64_t> total;
    for (absl::string_view w = NextWord(&fields); !w.empty(); w = NextWord(&fields)) {
      if (absl::ConsumePrefix(&w, "total=")) {
        uint64_t v;
        if (absl::SimpleAtoi(w, &v)) total = v;
      }
    }
    if ((kind != "some" && kind != "full") || !total.has_value()) {
      return MalformedLine(source, line_no, "'<some|full> avg10=.. total=<us>'", line);
    }
    if (kind == "some") {
      out.some_total_us = *total;
      has_some = true;
    } else {
      out.full_total_us = *total;
    }
  }
  if (!has_some) return absl::InvalidArgumentError(absl::StrCat(source, ": no 'some' line"));
  return out;
}

absl::StatusOr<IoTotals> ParseIoStat(absl::string_view content, absl::string_view source) {
  IoTotals t;
  int line_no = 0;
  for (absl::string_view rest = content, line; NextLine(&rest, &line);) {
    ++line_no;
    absl::string_view fields = line;
    const absl::string_view device = NextWord(&fields);
    bool ok = device.find(':') != absl::string_view::npos;
    for (absl::string_view kv = NextWord(&fields); ok && !kv.empty(); kv = NextWord(&fields)) {
      const size_t eq = kv.find('=');
      uint64_t v = 0;
      ok = eq != absl::string_view::npos && ParseUnsigned(kv.substr(eq + 1), &v);
      const absl::string_view key = kv.substr(0, eq);
      if (key == "rbytes") t.read_bytes += v;
      if (key == "wbytes") t.write_bytes += v;
      if (key == "rios") t.read_ops += v;
      if (key == "wios") t.write_ops += v;
    }
    if (!ok) {
      return MalformedLine(source, line_no, "'MAJ:MIN rbytes=N wbytes=N rios=N wios=N ...'", line);
    }
  }
  return t;
}

absl::StatusOr<BlkioTotals> ParseBlkio(absl::string_view content, absl::string_view source) {
  BlkioTotals t;
  int line_no = 0;
  for (absl::string_view rest = content, line; NextLine(&rest, &line);) {
    ++line_no;
    absl::string_view fields = line;
    const absl::string_view first = NextWord(&fields);
    uint64_t v = 0;
    bool ok;
    if (first == "Total") {
      ok = ParseUnsigned(NextWord(&fields), &v) && NextWord(&fields).empty();
    } else {
      const absl::string_view op = NextWord(&fields);
      ok = first.find(':') != absl::string_view::npos && !op.empty() &&
           ParseUnsigned(NextWord(&fields), &v) && NextWord(&fields).empty();
      if (ok && op == "Read") t.read += v;
      if (ok && op == "Write") t.write += v;
    }
    if (!ok) {
      return MalformedLine(source, line_no, "'MAJ:MIN <op> N' or 'Total N'", line);
    }
  }
  return t;
}

absl::StatusOr<std::vector<int>> ParseIdList(absl::string_view content, absl::string_view source) {
  std::vector<int> out;
  for (absl::string_view tok : absl::StrSplit(content, absl::ByAnyChar(" \n"), absl::SkipEmpty())) {
    int v;
    if (!absl::SimpleAtoi(tok, &v) || v <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": expected process/thread ids, got ", Quote(tok)));
    }
    out.push_back(v);
  }
  return out;
}

std::vector<std::string> ParseWords(absl::string_view content) {
  std::vector<std::string> out;
  for (absl::string_view tok :
       absl::StrSplit(content, absl::ByAnyChar(" \n\t"), absl::SkipEmpty())) {
    out.emplace_back(tok);
  }
  return out;
}

}  // namespace rcbench::rc
