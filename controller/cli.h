#pragma once

// The `rcbench` command line: run | validate | list | report | compare | history | serve |
// certs. main.cc only calls RunCli. Exit codes: 0 success; 1 a run failed (run) or a regression
// (compare); 2 bad usage or an error.

#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rcbench::controller {

// A parsed command line: positional arguments and --flags (repeatable).
struct ParsedArgs {
  std::vector<std::string> positional;
  std::map<std::string, std::vector<std::string>> flags;

  bool Has(const std::string& flag) const { return flags.count(flag) > 0; }
  // The last value given, or `fallback`.
  std::string Get(const std::string& flag, const std::string& fallback = "") const;
};

// Parses `args` against the allowed flags: `value_flags` take a value ("--db PATH" or
// "--db=PATH"), `bool_flags` take none. INVALID_ARGUMENT naming the flag otherwise.
absl::StatusOr<ParsedArgs> ParseArgs(const std::vector<std::string>& args,
                                     const std::vector<std::string>& value_flags,
                                     const std::vector<std::string>& bool_flags);

// ParseArgs for a subcommand with a usage text and a --help flag. nullopt when the subcommand
// ends here, with its exit code in *exit_code: 0 after writing `usage` to `out` for --help; 2
// after writing "PROGRAM: ERROR" and `usage` to `err` for arguments ParseArgs refuses.
std::optional<ParsedArgs> ParseCommandArgs(const std::vector<std::string>& argv,
                                           const std::vector<std::string>& value_flags,
                                           const std::vector<std::string>& bool_flags,
                                           const char* usage, std::ostream& out, std::ostream& err,
                                           absl::string_view program, int* exit_code);

int RunCli(int argc, char** argv);

}  // namespace rcbench::controller
