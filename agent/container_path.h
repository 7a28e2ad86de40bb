#pragma once

// Validation of container paths received from the network or the config: paths are relative
// to the agent's root subtree, '/'-separated, and must not be able to escape it.

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace rcbench::agent {

inline constexpr size_t kMaxContainerPathLength = 1024;
inline constexpr size_t kMaxContainerComponentLength = 64;
inline constexpr int kMaxContainerDepth = 8;

// OK for "exp1/high"; INVALID_ARGUMENT (naming the problem) for "", "/x", "x/", "a//b", "..",
// ".", NUL or control characters, over-long names and too-deep paths. `allow_empty` admits
// "" (the root subtree itself), for reads.
absl::Status ValidateContainerPath(absl::string_view path, bool allow_empty = false);

}  // namespace rcbench::agent
