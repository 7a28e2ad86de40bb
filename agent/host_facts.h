#pragma once

// Facts about the host a result depends on (kernel, CPUs, memory, cgroup mode, sysctls),
// collected on request. Thread-safe (reads files only).

#include <string>
#include <vector>

#include "agent/cgroup_layout.h"
#include "agent/sysctl_store.h"
#include "rcbench/v1/common.pb.h"

namespace rcbench::agent {

struct HostFactsSources {
  std::string proc_dir = "/proc";
  std::string os_release = "/etc/os-release";
};

// Missing or unreadable sources leave their fields empty; unreadable sysctls are omitted.
rcbench::v1::HostFacts CollectHostFacts(const HostFactsSources& sources, const CgroupLayout& layout,
                                        const SysctlStore& sysctls,
                                        const std::vector<std::string>& sysctl_names);

}  // namespace rcbench::agent
