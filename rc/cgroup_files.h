#pragma once

// Parsers for cgroup control files, shared by the rc backends and the agent (which re-reads
// kept-open files with pread and parses the bytes with these). Every parser takes the file's
// content and a `source` (usually its path) that error messages name; malformed or truncated
// content is INVALID_ARGUMENT ("<source>: line 2: expected '<key> <value>', got ..."), never a
// crash. Pure functions; thread-safe.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rcbench::rc {

// A single unsigned integer ("1234\n"). "max" is not accepted here.
absl::StatusOr<uint64_t> ParseUint(absl::string_view content, absl::string_view source);
// A single signed integer ("-1\n").
absl::StatusOr<int64_t> ParseInt(absl::string_view content, absl::string_view source);
// An unsigned integer or "max" (-> nullopt), as in pids.max / memory.max.
absl::StatusOr<std::optional<uint64_t>> ParseUintOrMax(absl::string_view content,
                                                       absl::string_view source);
// "key value" lines (cpu.stat, memory.stat, cpuacct.stat). Empty content is an empty map;
// duplicate keys keep the first value.
absl::StatusOr<std::map<std::string, uint64_t>> ParseFlatKeyed(absl::string_view content,
                                                               absl::string_view source);
// The same format without building a map: calls fn(key, value) for every line, in order.
// Allocation-free unless the content is malformed; for samplers re-reading files every interval.
absl::Status ForEachFlatKeyed(absl::string_view content, absl::string_view source,
                              absl::FunctionRef<void(absl::string_view, uint64_t)> fn);
// The first value of `key` in flat-keyed content, nullopt when absent. Only that line is
// parsed (a sampler reads v1 memory.stat, ~40 lines, for one key every interval); truncated
// content or a malformed value of `key` is INVALID_ARGUMENT.
absl::StatusOr<std::optional<uint64_t>> FindFlatKeyed(absl::string_view content,
                                                      absl::string_view key,
                                                      absl::string_view source);
// Looks up `key` in a flat-keyed map; INVALID_ARGUMENT "<source>: missing key" if absent.
absl::StatusOr<uint64_t> RequireKey(const std::map<std::string, uint64_t>& map,
                                    absl::string_view key, absl::string_view source);

// v2 cpu.max: "max 100000" or "20000 100000".
struct CpuMax {
  std::optional<uint64_t> quota_us;  // nullopt = no limit
  uint64_t period_us = 100000;
};
absl::StatusOr<CpuMax> ParseCpuMax(absl::string_view content, absl::string_view source);

// PSI: "some avg10=0.00 avg60=0.00 avg300=0.00 total=123\nfull ... total=45\n".
struct PressureTotals {
  uint64_t some_total_us = 0;
  std::optional<uint64_t> full_total_us;  // cpu.pressure has no "full" on older kernels
};
absl::StatusOr<PressureTotals> ParsePressure(absl::string_view content, absl::string_view source);

// Block I/O counters summed over devices.
struct IoTotals {
  uint64_t read_bytes = 0;
  uint64_t write_bytes = 0;
  uint64_t read_ops = 0;
  uint64_t write_ops = 0;
};
// v2 io.stat: "MAJ:MIN rbytes=N wbytes=N rios=N wios=N dbytes=N dios=N" per device (keys it
// does not know are skipped). Empty content is all zeros.
absl::StatusOr<IoTotals> ParseIoStat(absl::string_view content, absl::string_view source);
// v1 blkio.throttle.io_service_bytes_recursive / io_serviced_recursive: "MAJ:MIN Read N",
// "MAJ:MIN Write N", ... per device and a final "Total N". Returns the Read and Write sums.
struct BlkioTotals {
  uint64_t read = 0;
  uint64_t write = 0;
};
absl::StatusOr<BlkioTotals> ParseBlkio(absl::string_view content, absl::string_view source);

// Whitespace-separated decimal ids (cgroup.procs, cgroup.threads, tasks).
absl::StatusOr<std::vector<int>> ParseIdList(absl::string_view content, absl::string_view source);

// Space-separated words (cgroup.controllers, cgroup.subtree_control).
std::vector<std::string> ParseWords(absl::string_view content);

}  // namespace rcbench::rc
