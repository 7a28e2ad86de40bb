#pragma once

// The sampler's view of the host's cgroup hierarchies: where each is mounted (as a real path
// the agent can open) and whether resource controllers are read from v1 hierarchies or from
// the unified one. Built from rc/'s host probing (rc::ProbeHost), or for a fake tree in a
// temporary directory. Value type.

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "rc/cgroup_fs.h"
#include "rc/host_layout.h"
#include "rcbench/v1/common.pb.h"

namespace rcbench::agent {

struct CgroupLayout {
  rcbench::v1::CgroupMode mode = rcbench::v1::CGROUP_MODE_UNSPECIFIED;
  // Controller name ("cpu", "memory", "name=systemd", ...; "unified" for cgroup2) -> the real
  // path of its mount point.
  std::map<std::string, std::string> mounts;
  // True when resource controllers live in v1 hierarchies (rc's v1 backend): v1 hosts, and
  // hybrid hosts whose unified hierarchy lacks the cpu controller.
  bool v1_backend = false;

  bool has(absl::string_view controller) const { return mounts.count(std::string(controller)) > 0; }
  // Mount point of `controller`, or "" when it is not mounted.
  std::string MountOf(absl::string_view controller) const;
  bool uses_v1() const { return v1_backend; }

  // A layout for a fake tree: v2 at `base`, or v1 controllers at `base/<controller>` (plus,
  // for hybrid, cgroup2 at `base/unified`). For tests and benchmarks.
  static CgroupLayout ForFakeTree(rcbench::v1::CgroupMode mode, const std::string& base);
  // From rc/'s probe; mount points are resolved through `fs` (fake trees live below a root).
  static CgroupLayout FromRc(const rc::HostLayout& layout, const rc::CgroupFs& fs);
};

// Probes this host with rc::ProbeHost. Its errors (no cgroup mount, no cpu controller,
// malformed mountinfo) are passed on.
absl::StatusOr<CgroupLayout> ProbeCgroupLayout();

// The v1 controllers the agent reads, in the order they are preferred as the "primary"
// hierarchy (whose directory inode is the container's cgroup id on v1).
inline constexpr const char* kV1Controllers[] = {"cpu", "cpuacct", "memory", "pids", "blkio"};

}  // namespace rcbench::agent
