#pragma once

// The one reader of rcbench's YAML files (the experiment spec, the agent's, the controller's
// and the load generator's configs): loading text or a file, and typed fields. Every error is
// INVALID_ARGUMENT reading "ORIGIN:LINE:COLUMN: what: why" (ORIGIN is the file name; the
// position is the offending node's, 1-based), except an unreadable file (NOT_FOUND). Nothing
// here throws: yaml-cpp's exceptions are caught beside the calls. Stateless.

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rcbench::yaml {

// "ORIGIN:LINE:COLUMN" (1-based), the one way a position in a YAML file is written.
std::string Where(absl::string_view origin, int line, int column);
// The position of `node`; "ORIGIN:1:1" when it has none (a key that is absent).
std::string Where(absl::string_view origin, const YAML::Node& node);

// "ORIGIN:LINE:COLUMN: message" at `node`.
absl::Status Error(absl::string_view origin, const YAML::Node& node, absl::string_view message);
// "ORIGIN:LINE:COLUMN: key: why" at `node`.
absl::Status Bad(absl::string_view origin, const YAML::Node& node, absl::string_view key,
                 absl::string_view why);

// Parses a document. Malformed YAML reads "ORIGIN:LINE:COLUMN: YAML syntax error: ...;
// expected well-formed YAML". An empty text is a null node.
absl::StatusOr<YAML::Node> Load(absl::string_view text, absl::string_view origin);
// Reads a whole file of at most `max_bytes` (a larger one is refused unread: INVALID_ARGUMENT
// "PATH:1:1: ..."); NOT_FOUND "cannot read WHAT PATH: reason" when it cannot be read.
absl::StatusOr<std::string> ReadFile(const std::string& path, absl::string_view what,
                                     uint64_t max_bytes = uint64_t{1} << 20);

// `map` is a mapping whose keys are all in `allowed`; `what` names it ("the top level", "tls").
// An unknown key reads "ORIGIN:L:C: KEY: unknown key in WHAT; expected one of A, B".
absl::Status CheckKeys(absl::string_view origin, const YAML::Node& map, absl::string_view what,
                       const std::set<std::string>& allowed);
// `n` is a list of at most `max` entries (null counts as empty).
absl::Status CheckList(absl::string_view origin, const YAML::Node& n, absl::string_view key,
                       size_t max);

absl::StatusOr<std::string> Scalar(absl::string_view origin, const YAML::Node& n,
                                   absl::string_view key);
absl::StatusOr<std::vector<std::string>> StringList(absl::string_view origin, const YAML::Node& n,
                                                    absl::string_view key);
absl::StatusOr<bool> Bool(absl::string_view origin, const YAML::Node& n, absl::string_view key);
// An integer in [min, max]: "expected an integer in [MIN, MAX]" otherwise.
absl::StatusOr<uint64_t> Uint(absl::string_view origin, const YAML::Node& n, absl::string_view key,
                              uint64_t min, uint64_t max);
// A finite number in [min, max].
absl::StatusOr<double> Double(absl::string_view origin, const YAML::Node& n, absl::string_view key,
                              double min, double max);
// A duration such as "500ms" (common/flags.h's ParseDuration).
absl::StatusOr<std::chrono::nanoseconds> Duration(absl::string_view origin, const YAML::Node& n,
                                                  absl::string_view key);
// A size such as "64MiB" or a plain byte count (ParseSize).
absl::StatusOr<uint64_t> Size(absl::string_view origin, const YAML::Node& n, absl::string_view key);

}  // namespace rcbench::yaml
