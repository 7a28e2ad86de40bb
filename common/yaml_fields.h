#pragma once

// Reading rcbench's own YAML config files (the agent's, the controller's): typed fields whose
// errors all read "ORIGIN:LINE: 'key': why". INVALID_ARGUMENT for every problem. Stateless.

#include <yaml-cpp/yaml.h>

#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rcbench::yaml {

// "ORIGIN:LINE: 'key': why" (the line of `node` when known).
absl::Status Bad(absl::string_view origin, const YAML::Node& node, absl::string_view key,
                 absl::string_view why);

// `map` is a mapping whose keys are all in `allowed`; `what` names it ("the top level", "tls").
absl::Status CheckKeys(absl::string_view origin, const YAML::Node& map, absl::string_view what,
                       const std::set<std::string>& allowed);

absl::StatusOr<std::string> Scalar(absl::string_view origin, const YAML::Node& n,
                                   absl::string_view key);
absl::StatusOr<std::vector<std::string>> StringList(absl::string_view origin, const YAML::Node& n,
                                                    absl::string_view key);
absl::StatusOr<bool> Bool(absl::string_view origin, const YAML::Node& n, absl::string_view key);

}  // namespace rcbench::yaml
