#include "agent/cgroup_layout.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace rcbench::agent {

std::string CgroupLayout::MountOf(absl::string_view controller) const {
  auto it = mounts.find(std::string(controller));
  return it == mounts.end() ? std::string() : it->second;
}

CgroupLayout CgroupLayout::ForFakeTree(rcbench::v1::CgroupMode mode, const std::string& base) {
  CgroupLayout layout;
  layout.mode = mode;
  if (mode == rcbench::v1::CGROUP_MODE_V2) {
    layout.mounts["unified"] = base;
    return layout;
  }
  layout.v1_backend = true;
  for (const char* c : kV1Controllers) layout.mounts[c] = absl::StrCat(base, "/", c);
  if (mode == rcbench::v1::CGROUP_MODE_HYBRID) layout.mounts["unified"] = base + "/unified";
  return layout;
}

CgroupLayout CgroupLayout::FromRc(const rc::HostLayout& rc_layout, const rc::CgroupFs& fs) {
  CgroupLayout layout;
  switch (rc_layout.mode) {
    case rc::CgroupMode::kV1:
      layout.mode = rcbench::v1::CGROUP_MODE_V1;
      break;
    case rc::CgroupMode::kV2:
      layout.mode = rcbench::v1::CGROUP_MODE_V2;
      break;
    case rc::CgroupMode::kHybrid:
      layout.mode = rcbench::v1::CGROUP_MODE_HYBRID;
      break;
  }
  layout.v1_backend = rc_layout.backend == rc::BackendKind::kV1;
  for (const auto& [controller, mount] : rc_layout.mounts) {
    layout.mounts[controller] = fs.RealPath(mount);
  }
  // blkio is not one of rc's managed controllers, but the agent reads its counters.
  for (const rc::Hierarchy& h : rc_layout.hierarchies) {
    if (h.version == 1 && h.Has("blkio")) layout.mounts["blkio"] = fs.RealPath(h.mount_point);
  }
  return layout;
}

absl::StatusOr<CgroupLayout> ProbeCgroupLayout() {
  rc::LocalCgroupFs fs;
  RCBENCH_ASSIGN_OR_RETURN(rc::HostLayout layout, rc::ProbeHost(fs));
  return CgroupLayout::FromRc(layout, fs);
}

}  // namespace rcbench::agent
