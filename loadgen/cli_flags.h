#pragma once

// The flag side of the rcbench-loadgen command line (loadgen/cli.h): each subcommand's flag
// table, typed flag readers and the translation of a one-shot subcommand's flags into a
// rcbench.v1.Workload. Every error is INVALID_ARGUMENT naming the flag ("--rate: ...").
// Internal to the CLI (cli.cc, cli_serve.cc).

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/flags.h"
#include "google/protobuf/duration.pb.h"
#include "loadgen/allow_list.h"
#include "loadgen/workload.h"
#include "rcbench/v1/loadgen.pb.h"

namespace rcbench::loadgen {

// The longest run a one-shot subcommand accepts (-d).
inline constexpr int64_t kCliMaxDurationNs = int64_t{24} * 3600 * 1'000'000'000;

// True for http, sclient, syn, classes and serve.
bool IsSubcommand(const std::string& sub);
// argv[first..] against the common flags plus `sub`'s own.
absl::StatusOr<ParsedFlags> ParseSubcommandArgs(const std::string& sub, int argc, char** argv,
                                                int first);

// A positive duration in nanoseconds from --NAME (default `def`).
absl::StatusOr<int64_t> DurationFlag(const ParsedFlags& args, const std::string& name,
                                     const std::string& def);
// An integer >= `min` from --NAME, `def` when absent.
absl::StatusOr<uint32_t> UintFlag(const ParsedFlags& args, const std::string& name, uint32_t def,
                                  uint32_t min = 1);
// --max-sockets with `max_duration_ns`.
absl::StatusOr<WorkloadLimits> LimitsFlags(const ParsedFlags& args, int64_t max_duration_ns);
// --cpus 0,2,3; empty when absent.
absl::StatusOr<std::vector<int>> CpuList(const ParsedFlags& args);
// The default loopback targets plus every --allow-target.
absl::StatusOr<AllowList> BuildAllowList(const ParsedFlags& args);

// The workload of a one-shot subcommand (http, sclient, syn, classes) from its flags; classes
// reads --config, whose allow_targets are added to `allow`.
absl::StatusOr<rcbench::v1::Workload> BuildWorkload(const std::string& sub, const ParsedFlags& args,
                                                    AllowList& allow);
// The run flags (-d, -t, --io, ...) applied to `workload`.
absl::Status ApplyRunFlags(const ParsedFlags& args, rcbench::v1::Workload& workload);

}  // namespace rcbench::loadgen
