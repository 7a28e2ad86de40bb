#pragma once

// Validation of container names and paths, so that no caller can reach outside the rc root
// subtree. A name is one path component: 1..kMaxNameLength bytes, not "." or "..", no '/',
// NUL, control characters (< 0x20, 0x7f) or whitespace, and not a cgroup control-file prefix
// ("cgroup.", "cpu.", ...) that the kernel would confuse with its own files. A path is
// '/'-separated names relative to the subtree ("exp1/high"); "" is the subtree itself.
// All functions are pure and thread-safe; errors are INVALID_ARGUMENT naming the offender.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rcbench::rc {

inline constexpr size_t kMaxNameLength = 64;
inline constexpr size_t kMaxPathDepth = 16;

absl::Status ValidateName(absl::string_view name);
// Accepts "" (the subtree), rejects leading/trailing/double slashes.
absl::Status ValidatePath(absl::string_view path);
// Validated components of `path` ("" -> {}).
absl::StatusOr<std::vector<std::string>> SplitPath(absl::string_view path);
// "a" + "b" -> "a/b"; "" + "b" -> "b". Does not validate.
std::string JoinPath(absl::string_view parent, absl::string_view name);
// "a/b" -> "a"; "a" -> "".
std::string ParentPath(absl::string_view path);
// "a/b" -> "b".
std::string BaseName(absl::string_view path);
// True if `path` equals `ancestor` or lies below it ("" is everyone's ancestor).
bool IsSameOrBelow(absl::string_view path, absl::string_view ancestor);

}  // namespace rcbench::rc
