#include "agent/cgroup_layout.h"

#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

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
  for (const char* c : kV1Controllers) layout.mounts[c] = absl::StrCat(base, "/", c);
  if (mode == rcbench::v1::CGROUP_MODE_HYBRID) layout.mounts["unified"] = base + "/unified";
  return layout;
}

absl::StatusOr<CgroupLayout> ParseMountInfo(absl::string_view text) {
  CgroupLayout layout;
  bool any_v1 = false;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    if (line.empty()) continue;
    // "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS"
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    size_t dash = 0;
    for (size_t i = 6; i < f.size(); ++i) {
      if (f[i] == "-") {
        dash = i;
        break;
      }
    }
    if (f.size() < 7 || dash == 0 || dash + 3 > f.size()) {
      // Only complain about lines that claim to be cgroup mounts.
      if (absl::StrContains(line, " cgroup")) {
        return absl::InvalidArgumentError(
            absl::StrCat("mountinfo line ", line_no, " is malformed: '", line, "'"));
      }
      continue;
    }
    absl::string_view fstype = f[dash + 1];
    std::string mount_point(f[4]);
    if (fstype == "cgroup2") {
      layout.mounts["unified"] = mount_point;
    } else if (fstype == "cgroup") {
      absl::string_view super = dash + 3 < f.size() ? f[dash + 3] : absl::string_view();
      for (absl::string_view opt : absl::StrSplit(super, ',')) {
        if (opt == "rw" || opt == "ro" || opt.empty() || absl::StartsWith(opt, "release_agent") ||
            opt == "clone_children" || opt == "noprefix" || opt == "xattr" ||
            opt == "cpuset_v2_mode" || opt == "favordynmods") {
          continue;
        }
        layout.mounts.emplace(std::string(opt), mount_point);
        if (!absl::StartsWith(opt, "name=")) any_v1 = true;
      }
    }
  }
  bool v2 = layout.has("unified");
  if (!v2 && !any_v1) return absl::NotFoundError("no cgroup hierarchy is mounted");
  layout.mode = any_v1 ? (v2 ? rcbench::v1::CGROUP_MODE_HYBRID : rcbench::v1::CGROUP_MODE_V1)
                       : rcbench::v1::CGROUP_MODE_V2;
  return layout;
}

absl::StatusOr<CgroupLayout> ProbeCgroupLayout(const std::string& mountinfo_path) {
  std::ifstream in(mountinfo_path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", mountinfo_path));
  std::stringstream ss;
  ss << in.rdbuf();
  auto layout = ParseMountInfo(ss.str());
  if (!layout.ok()) {
    return absl::Status(layout.status().code(),
                        absl::StrCat(mountinfo_path, ": ", layout.status().message()));
  }
  return layout;
}

}  // namespace rcbench::agent
