#pragma once

// The command-line parser every rcbench binary uses (a declarative table of flags, parsed into
// ParsedFlags with typed getters), and the parsing of human-friendly flag values: durations
// ("500ms", "10s", "1m30s"), sizes ("1KiB", "64MB", "4096"), percentages ("30%") and host:port
// pairs. Errors are INVALID_ARGUMENT naming the flag (or the value) and what was expected;
// nothing here throws. Stateless functions; ParsedFlags is a value type.

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace rcbench {

// Accepts one or more <number><unit> terms, unit one of ns, us, µs, ms, s, m, h; the number
// may have a fraction ("1.5s"). A bare "0" is zero. Errors (INVALID_ARGUMENT) quote the input
// and say what was expected.
absl::StatusOr<std::chrono::nanoseconds> ParseDuration(absl::string_view text);

// Formats a duration compactly and exactly where possible ("1.5s", "250ms", "0s").
std::string FormatDuration(std::chrono::nanoseconds d);

// Accepts <number>[unit], unit one of B, K/KB (1000), KiB (1024), M/MB, MiB, G/GB, GiB,
// T/TB, TiB (case-insensitive). Returns bytes; rejects overflow and fractions of a byte.
absl::StatusOr<uint64_t> ParseSize(absl::string_view text);

// "30%" -> 0.30, "0.3" -> 0.3 (a bare number is a fraction); must lie in [0, max].
absl::StatusOr<double> ParseFraction(absl::string_view text, double max = 1.0);

struct HostPort {
  std::string host;  // without brackets for IPv6
  uint16_t port = 0;
};

// "127.0.0.1:8080", "[::1]:80", "localhost:0". Port 0 is allowed (ephemeral).
absl::StatusOr<HostPort> ParseHostPort(absl::string_view text);

// One row of a command's flag table.
struct FlagSpec {
  const char* name;             // long name without dashes: "threads" is --threads
  char short_name = '\0';       // 't': -t 4, -t4 and -t=4 (wrk's forms); '\0': none
  bool takes_value = false;     // --name VALUE or --name=VALUE; otherwise a switch
  bool repeatable = false;      // may be given more than once (All() returns every value)
  const char* value_name = "";  // for "needs a value" errors: "HOST:PORT", "a duration"
};

// A command line parsed against a flag table: flag values by long name, in order, and the
// positional arguments.
class ParsedFlags {
 public:
  bool Has(absl::string_view name) const;
  // The value given (a switch's is "true"), or `fallback` when the flag is absent.
  std::string Get(absl::string_view name, absl::string_view fallback = "") const;
  // Every value given, in order (empty when absent).
  std::vector<std::string> All(absl::string_view name) const;
  // Arguments that are not flags, in order; those after "--" are in rest() instead.
  const std::vector<std::string>& positional() const { return positional_; }
  // Everything after a "--" argument, verbatim.
  const std::vector<std::string>& rest() const { return rest_; }

  // Typed getters: `fallback` when the flag is absent, else the value checked against the
  // range. INVALID_ARGUMENT reads `--NAME "VALUE": expected ...`.
  absl::StatusOr<uint64_t> GetUint(absl::string_view name, uint64_t fallback, uint64_t min,
                                   uint64_t max) const;
  absl::StatusOr<std::chrono::nanoseconds> GetDuration(absl::string_view name,
                                                       std::chrono::nanoseconds fallback,
                                                       std::chrono::nanoseconds min,
                                                       std::chrono::nanoseconds max) const;
  absl::StatusOr<uint64_t> GetSize(absl::string_view name, uint64_t fallback) const;
  // Requires the flag (INVALID_ARGUMENT when absent).
  absl::StatusOr<HostPort> GetHostPort(absl::string_view name) const;

 private:
  friend absl::StatusOr<ParsedFlags> ParseFlags(absl::Span<const std::string>,
                                                absl::Span<const FlagSpec>);
  std::map<std::string, std::vector<std::string>, std::less<>> values_;
  std::vector<std::string> positional_;
  std::vector<std::string> rest_;
};

// Parses `args` (without the program name or subcommand) against `table`. Accepted forms:
// --name, --name VALUE, --name=VALUE; for flags with a short name -x, -x VALUE, -xVALUE and
// -x=VALUE. "--" ends the flags (the remaining arguments go to rest()); "-" alone is
// positional. INVALID_ARGUMENT naming the flag for an unknown flag, a missing value, a value
// given to a switch, and a second occurrence of a flag that is not repeatable.
absl::StatusOr<ParsedFlags> ParseFlags(absl::Span<const std::string> args,
                                       absl::Span<const FlagSpec> table);
// The same for main()'s arguments from argv[first] on.
absl::StatusOr<ParsedFlags> ParseFlags(int argc, const char* const* argv, int first,
                                       absl::Span<const FlagSpec> table);

// `--NAME "VALUE": expected WHAT`, the one format of bad flag values.
absl::Status FlagValueError(absl::string_view name, absl::string_view value,
                            absl::string_view expected);

}  // namespace rcbench
