#pragma once

// Allocation-free parsers for the contents of cgroup and /proc files, as read by the sampler.
// Each returns false (or an error) on malformed input instead of guessing; callers count that
// as a read error for the file. Thread-compatible (pure functions).

#include <cstdint>
#include <optional>

#include "absl/strings/string_view.h"

namespace rcbench::agent {

// A file holding one unsigned number ("12345\n"); "max" is not a number here.
std::optional<uint64_t> ParseSingleValue(absl::string_view text);

// Finds `key` in a flat-keyed file ("key value" per line: cpu.stat, memory.stat, cpuacct.stat)
// and returns its value; nullopt if absent or not a number.
std::optional<uint64_t> FindKeyedValue(absl::string_view text, absl::string_view key);

// Calls fn(key, value) for every "key value" line; returns false on a malformed line.
template <typename Fn>
bool ForEachKeyedValue(absl::string_view text, Fn&& fn);

struct IoTotals {
  uint64_t read_bytes = 0, write_bytes = 0, read_ops = 0, write_ops = 0;
};
// v2 io.stat: "MAJ:MIN rbytes=N wbytes=N rios=N wios=N ..." per device, summed.
bool ParseIoStat(absl::string_view text, IoTotals* out);
// v1 blkio.throttle.io_service_bytes / io_serviced: "MAJ:MIN Read N" ... "Total N"; adds
// Read and Write into *read / *write.
bool ParseBlkioFile(absl::string_view text, uint64_t* read, uint64_t* write);

struct PressureTotals {
  uint64_t some_total_us = 0, full_total_us = 0;
};
// PSI: "some avg10=.. avg60=.. avg300=.. total=N\nfull ... total=N" ("full" may be absent).
bool ParsePressure(absl::string_view text, PressureTotals* out);

// Parses an unsigned decimal at the start of `s`; advances `s` past it.
bool ConsumeUint(absl::string_view* s, uint64_t* value);

// The next non-empty line of `*text` (without its '\n') into `*line`, advancing `*text` past
// it; false when no line is left.
inline bool NextLine(absl::string_view* text, absl::string_view* line) {
  while (!text->empty()) {
    const size_t eol = text->find('\n');
    *line = text->substr(0, eol);
    *text = eol == absl::string_view::npos ? absl::string_view() : text->substr(eol + 1);
    if (!line->empty()) return true;
  }
  return false;
}

// --- template implementation ---
template <typename Fn>
bool ForEachKeyedValue(absl::string_view text, Fn&& fn) {
  for (absl::string_view line; NextLine(&text, &line);) {
    size_t sp = line.find(' ');
    if (sp == absl::string_view::npos || sp == 0) return false;
    absl::string_view rest = line.substr(sp + 1);
    uint64_t v = 0;
    if (!ConsumeUint(&rest, &v) || !rest.empty()) return false;
    fn(line.substr(0, sp), v);
  }
  return true;
}

}  // namespace rcbench::agent
