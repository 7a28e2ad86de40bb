#pragma once

// The seam between the agent's RPCs and the cgroups they administer. Paths are relative to
// the agent's root subtree and have already been validated (container_path.h) by the caller.
// Implementations are thread-safe.
//
// Errors: NOT_FOUND (no such container), ALREADY_EXISTS (Create without exist_ok),
// FAILED_PRECONDITION (Delete of a container with children, not recursive), INVALID_ARGUMENT
// (attribute out of range), and the cgroup files' own errors.

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "rcbench/v1/agent.pb.h"

namespace rcbench::agent {

class ContainerAdmin {
 public:
  virtual ~ContainerAdmin() = default;
  // Creates `path` and missing parents, then applies `attributes`.
  virtual absl::StatusOr<rcbench::v1::ContainerInfo> Create(
      absl::string_view path, const rcbench::v1::ContainerAttributes& attributes,
      bool exist_ok) = 0;
  virtual absl::StatusOr<rcbench::v1::ContainerInfo> Update(
      absl::string_view path, const rcbench::v1::ContainerAttributes& attributes) = 0;
  // Moves member processes to the parent, then removes it (descendants first if recursive).
  virtual absl::Status Delete(absl::string_view path, bool recursive) = 0;
  // Every container whose path starts with `prefix`, the root subtree excluded.
  virtual absl::StatusOr<std::vector<rcbench::v1::ContainerInfo>> List(
      absl::string_view prefix) = 0;
  // Moves process `pid` (all its threads) into `path`.
  virtual absl::Status AddProcess(absl::string_view path, pid_t pid) = 0;
  virtual bool Exists(absl::string_view path) = 0;
};

// `path` and those of its ancestors that do not exist yet: what Create(path) would create.
inline std::vector<std::string> MissingContainers(ContainerAdmin& admin, absl::string_view path) {
  std::vector<std::string> out;
  for (absl::string_view p = path; !p.empty() && !admin.Exists(p);) {
    out.emplace_back(p);
    size_t slash = p.rfind('/');
    p = slash == absl::string_view::npos ? absl::string_view() : p.substr(0, slash);
  }
  return out;
}

}  // namespace rcbench::agent
