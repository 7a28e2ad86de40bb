#pragma once

// Where the cgroup hierarchies of a host are mounted, and whether the host is v1, v2 or hybrid.
// Parsed from /proc/self/mountinfo (or any text in its format, for tests). Value type.

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "rcbench/v1/common.pb.h"

namespace rcbench::agent {

struct CgroupLayout {
  rcbench::v1::CgroupMode mode = rcbench::v1::CGROUP_MODE_UNSPECIFIED;
  // Controller name ("cpu", "memory", "name=systemd", ...; "unified" for cgroup2) -> mount point.
  std::map<std::string, std::string> mounts;

  bool has(absl::string_view controller) const { return mounts.count(std::string(controller)) > 0; }
  // Mount point of `controller`, or "" when it is not mounted.
  std::string MountOf(absl::string_view controller) const;
  // True when resource controllers live in v1 hierarchies (v1 and hybrid hosts).
  bool uses_v1() const {
    return mode == rcbench::v1::CGROUP_MODE_V1 || mode == rcbench::v1::CGROUP_MODE_HYBRID;
  }

  // A layout for a fake tree: v2 at `base`, or v1 controllers at `base/<controller>` (plus,
  // for hybrid, cgroup2 at `base/unified`). For tests and benchmarks.
  static CgroupLayout ForFakeTree(rcbench::v1::CgroupMode mode, const std::string& base);
};

// Parses mountinfo text (proc(5)). Lines that are not cgroup mounts are ignored; a malformed
// cgroup line is INVALID_ARGUMENT naming the line. No cgroup mount at all is NOT_FOUND.
absl::StatusOr<CgroupLayout> ParseMountInfo(absl::string_view text);

// Reads and parses `path` (default /proc/self/mountinfo).
absl::StatusOr<CgroupLayout> ProbeCgroupLayout(
    const std::string& mountinfo_path = "/proc/self/mountinfo");

// The v1 controllers the agent reads and administers, in the order they are preferred as
// the "primary" hierarchy (whose directory inode is the container's cgroup id on v1).
inline constexpr const char* kV1Controllers[] = {"cpu", "cpuacct", "memory", "pids", "blkio"};

}  // namespace rcbench::agent
