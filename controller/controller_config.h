#pragma once

// The controller's own configuration (`rcbench run|serve --config FILE`, YAML): how its
// control plane is secured, and which programs a spec submitted to `rcbench serve` may run.
// Nothing in a submitted spec can extend the program list: a submitted spec names programs
// by name only, each argument must match one of the program's patterns in full, and per-host
// credential files are refused (the controller's own files are used). See docs/SECURITY.md.
// Value types; thread-compatible.

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/rpc_security.h"
#include "controller/spec.h"

namespace rcbench::controller {

// A program a submitted spec may name (`server.binary`, `benchmark.binary`).
struct ProgramRule {
  std::string path;  // absolute
  // ECMAScript regular expressions; every argument must match one of them in full.
  std::vector<std::string> allowed_args;
};

struct ControllerConfig {
  // Listener (serve) and client-side defaults: the token is presented to agents and load
  // generators and, for serve, required from callers.
  ServerSecurity security;
  std::map<std::string, ProgramRule> programs;
};

// The programs a submitted spec may name when the config file has no `programs:`: the
// reference server and the micro-benchmark program in `bin_dir`, with the arguments the
// shipped experiments use and none that name a file or a program (--cgi, --docroot,
// --ready-file, --listen, --container-root, --benchmark_out are refused).
std::map<std::string, ProgramRule> DefaultPrograms(const std::string& bin_dir);

// Parses the config file's text; `origin` prefixes errors ("FILE:LINE: 'key': why").
// INVALID_ARGUMENT for unknown keys, wrong types, relative program paths and bad patterns.
absl::StatusOr<ControllerConfig> ParseControllerConfig(absl::string_view yaml,
                                                       absl::string_view origin,
                                                       const std::string& bin_dir);
// Reads and parses a file (NOT_FOUND when unreadable); "" gives the defaults.
absl::StatusOr<ControllerConfig> LoadControllerConfig(const std::string& path,
                                                      const std::string& bin_dir);

// Checks a spec submitted over RPC: programs by name and on the list, every argument of every
// planned run allowed, no per-host credential files. PERMISSION_DENIED naming the spec's line,
// the program or argument, and the config key that would allow it.
absl::Status AdmitSubmittedSpec(const ExperimentSpec& spec,
                                const std::map<std::string, ProgramRule>& programs);

}  // namespace rcbench::controller
