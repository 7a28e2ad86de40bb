#pragma once

// Host probing: which cgroup mode the host runs (v1, v2, hybrid), where each hierarchy is
// mounted, which backend rc/ uses, and where the rc root subtree lives in every hierarchy.
// The agent uses this to find containers and the files to sample (it keeps them open and
// re-reads them itself); ContainerSystem uses it to choose its backend.
//
// Backend choice: cgroup v2 when the unified hierarchy offers the "cpu" controller (a v2-only
// host, or a hybrid host that moved cpu to v2); otherwise cgroup v1 when a v1 hierarchy
// carries "cpu". Anything else is FAILED_PRECONDITION naming what is missing. A malformed
// mountinfo or cgroup.controllers file is INVALID_ARGUMENT naming the file and line.
// HostLayout is a value type; thread-compatible.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "rc/cgroup_fs.h"

namespace rcbench::rc {

enum class CgroupMode { kV1, kV2, kHybrid };
enum class BackendKind { kV1, kV2 };

absl::string_view CgroupModeName(CgroupMode mode);    // "v1", "v2", "hybrid"
absl::string_view BackendKindName(BackendKind kind);  // "v1", "v2"

// One mounted cgroup hierarchy.
struct Hierarchy {
  int version = 1;  // 1 or 2
  // Host path of the mount, e.g. "/sys/fs/cgroup/cpu" or "/sys/fs/cgroup/unified".
  std::string mount_point;
  // v1: controllers from the mount's super options ("cpu", "cpuacct", "name=systemd").
  // v2: the root's cgroup.controllers ("cpu", "memory", "pids", ...).
  std::vector<std::string> controllers;
  bool read_only = false;
  // Host path of the rc root subtree in this hierarchy: mount_point + "/" + root name.
  std::string subtree_dir;

  bool Has(absl::string_view controller) const;
};

// Host paths of the files that hold one container's usage. Empty when the host lacks them.
struct UsageFiles {
  std::string cpu_stat;            // v2: usage/user/system usec + throttling; v1: throttling
  std::string cpuacct_usage;       // v1: total ns
  std::string cpuacct_usage_user;  // v1: ns
  std::string cpuacct_usage_sys;   // v1: ns
  std::string cpuacct_stat;        // v1: user/system in USER_HZ ticks
  std::string memory_current;      // v2 memory.current; v1 memory.usage_in_bytes
  std::string memory_peak;         // v2 memory.peak; v1 memory.max_usage_in_bytes
  std::string memory_stat;         // memory.stat (both)
  std::string pids_current;        // pids.current (both)
  std::string io_stat;             // v2 io.stat
  std::string blkio_bytes;         // v1 blkio.throttle.io_service_bytes_recursive
  std::string blkio_ops;           // v1 blkio.throttle.io_serviced_recursive
  // PSI files: the container's cgroup2 directory (on hybrid hosts with the v1 backend, its
  // directory in the unified hierarchy, which exists only if someone created it there).
  std::string cpu_pressure;
  std::string memory_pressure;
  std::string io_pressure;
  std::string procs;  // cgroup.procs in the primary hierarchy
};

struct HostLayout {
  CgroupMode mode = CgroupMode::kV1;
  BackendKind backend = BackendKind::kV1;
  // Name of the root subtree in every hierarchy (default "rcbench").
  std::string root_name;
  std::vector<Hierarchy> hierarchies;
  // Controller -> mount point, "unified" for the v2 mount (as in HostFacts.cgroup_mounts).
  std::map<std::string, std::string> mounts;

  // The hierarchy the backend uses for `controller` ("cpu", "cpuacct", "memory", "pids"):
  // the unified one for every controller on the v2 backend. nullptr when unavailable.
  const Hierarchy* ForController(absl::string_view controller) const;
  // The hierarchy holding container handles (directory descriptors) and cgroup ids: the
  // unified one on v2, the cpu one on v1.
  const Hierarchy& Primary() const;
  // The v2 mount, if any (also on hybrid hosts, where it may carry no controllers).
  const Hierarchy* Unified() const;
  // Hierarchies the backend manages containers in (v2: one; v1: cpu, cpuacct, memory, pids
  // as mounted, without duplicates for co-mounted controllers).
  std::vector<const Hierarchy*> Managed() const;
  // Host path of container `path` (relative to the subtree, "" = the subtree) in `h`.
  std::string ContainerDir(const Hierarchy& h, absl::string_view path) const;
  UsageFiles UsageFilesFor(absl::string_view path) const;
};

struct ProbeOptions {
  std::string root_name = "rcbench";
  std::string mountinfo_path = "/proc/self/mountinfo";
  // Force a backend (e.g. v2 on a hybrid host); FAILED_PRECONDITION if it cannot work.
  std::optional<BackendKind> force_backend;
  // With force_backend = kV2: accept a unified hierarchy without the cpu controller (e.g. the
  // hugetlb-only v2 mount of a hybrid host). Containers then have no CPU attributes, but
  // membership, threaded mode, cpu.stat usage and PSI work; tests use it to run the v2
  // backend against a real kernel on hybrid hosts.
  bool require_cpu = true;
};

// Reads mountinfo (and the v2 root's cgroup.controllers) through `fs`. Creates nothing.
absl::StatusOr<HostLayout> ProbeHost(const CgroupFs& fs, const ProbeOptions& options = {});

// A host laid out below one directory, as fake trees (and the agent's --cgroup-base) are: v2
// (cpu, memory, pids, io) at `base`; v1 with each of cpu, cpuacct, memory, pids and blkio
// mounted at `base/<controller>`; hybrid as v1 plus a controller-less cgroup2 at
// `base/unified`. Subtree directories are `<mount>/<root_name>` (root_name may be empty: the
// whole hierarchy). Reads nothing.
HostLayout LayoutBelowDirectory(CgroupMode mode, const std::string& base,
                                const std::string& root_name);

// One parsed line of /proc/<pid>/cgroup.
struct ProcCgroupEntry {
  int hierarchy_id = 0;
  std::vector<std::string> controllers;  // empty for the v2 line "0::/path"
  std::string path;                      // relative to the hierarchy's mount, "/..." form
};
// Parses /proc/<pid>/cgroup content; INVALID_ARGUMENT names `source` and the line.
absl::StatusOr<std::vector<ProcCgroupEntry>> ParseProcCgroup(absl::string_view content,
                                                             absl::string_view source);

}  // namespace rcbench::rc
