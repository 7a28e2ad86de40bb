#pragma once

// Validation of container paths received from the network or the config: paths are relative
// to the agent's root subtree, '/'-separated, and must not be able to escape it. The rules are
// rc/'s (rc/names.h); this adds the agent's own bound on the whole path's length.

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace rcbench::agent {

inline constexpr size_t kMaxContainerPathLength = 1024;

// OK for "exp1/high"; INVALID_ARGUMENT (naming the problem) for "", "/x", "x/", "a//b", "..",
// ".", NUL, control characters or whitespace, cgroup control-file prefixes, over-long names and
// too-deep paths. `allow_empty` admits "" (the root subtree itself), for reads.
absl::Status ValidateContainerPath(absl::string_view path, bool allow_empty = false);

}  // namespace rcbench::agent
