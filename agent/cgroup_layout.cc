#include "agent/cgroup_layout.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "rc/proto_convert.h"

namespace rcbench::agent {

std::string CgroupLayout::MountOf(absl::string_view controller) const {
  auto it = mounts.find(std::string(controller));
  return it == mounts.end() ? std::string() : it->second;
}

CgroupLayout CgroupLayout::ForFakeTree(rcbench::v1::CgroupMode mode, const std::string& base) {
  rc::CgroupMode rc_mode = rc::CgroupMode::kV2;
  if (mode == rcbench::v1::CGROUP_MODE_V1) rc_mode = rc::CgroupMode::kV1;
  if (mode == rcbench::v1::CGROUP_MODE_HYBRID) rc_mode = rc::CgroupMode::kHybrid;
  return FromRc(rc::LayoutBelowDirectory(rc_mode, base, ""), rc::LocalCgroupFs());
}

CgroupLayout CgroupLayout::FromRc(const rc::HostLayout& rc_layout, const rc::CgroupFs& fs) {
  CgroupLayout layout;
  layout.mode = rc::ToProto(rc_layout.mode);
  layout.v1_backend = rc_layout.backend == rc::BackendKind::kV1;
  layout.host = rc_layout;
  for (rc::Hierarchy& h : layout.host.hierarchies) {
    h.mount_point = fs.RealPath(h.mount_point);
    h.subtree_dir = fs.RealPath(h.subtree_dir);
  }
  for (auto& [controller, mount] : layout.host.mounts) mount = fs.RealPath(mount);
  layout.mounts = layout.host.mounts;
  return layout;
}

absl::StatusOr<CgroupLayout> ProbeCgroupLayout() {
  rc::LocalCgroupFs fs;
  RCBENCH_ASSIGN_OR_RETURN(rc::HostLayout layout, rc::ProbeHost(fs));
  return CgroupLayout::FromRc(layout, fs);
}

}  // namespace rcbench::agent
