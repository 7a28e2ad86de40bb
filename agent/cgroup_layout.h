#pragma once

// The agent's view of the host's cgroup hierarchies: rc/'s host layout (rc::ProbeHost) with
// every path resolved to one the agent can open, and a summary of it (mode, mount per
// controller) for host facts and discovery. Which usage files a container has and how they
// are read is rc's (rc::UsageReader over `host`). Built from rc's probe, or for a tree laid out
// below one directory (tests, --cgroup-base). Value type.

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
  // rc's layout with real paths (mount points; subtree dirs for rc's root name, which the
  // sampler replaces with its own root).
  rc::HostLayout host;

  bool has(absl::string_view controller) const { return mounts.count(std::string(controller)) > 0; }
  // Mount point of `controller`, or "" when it is not mounted.
  std::string MountOf(absl::string_view controller) const;
  bool uses_v1() const { return v1_backend; }

  // A layout for a tree below one directory (rc::LayoutBelowDirectory): v2 at `base`, or v1
  // controllers at `base/<controller>` (plus, for hybrid, cgroup2 at `base/unified`). For
  // tests and benchmarks.
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
