#pragma once

// ContainerAdmin on the cgroup filesystem described by a CgroupLayout: containers are
// directories below the root subtree in every managed hierarchy (v2: the unified one, with
// cpu/memory/pids/io enabled down the path; v1/hybrid: cpu, cpuacct, memory, pids, blkio as
// mounted). Works on fake trees in temporary directories too. Thread-safe (one mutex).

#include <mutex>
#include <string>
#include <vector>

#include "agent/cgroup_layout.h"
#include "agent/container_admin.h"

namespace rcbench::agent {

class CgroupContainerAdmin : public ContainerAdmin {
 public:
  // `root` as in SamplerOptions ("rcbench"); `host` fills ContainerId.host.
  CgroupContainerAdmin(CgroupLayout layout, std::string root, std::string host);

  absl::StatusOr<rcbench::v1::ContainerInfo> Create(
      absl::string_view path, const rcbench::v1::ContainerAttributes& attributes,
      bool exist_ok) override;
  absl::StatusOr<rcbench::v1::ContainerInfo> Update(
      absl::string_view path, const rcbench::v1::ContainerAttributes& attributes) override;
  absl::Status Delete(absl::string_view path, bool recursive) override;
  absl::StatusOr<std::vector<rcbench::v1::ContainerInfo>> List(absl::string_view prefix) override;
  absl::Status AddProcess(absl::string_view path, pid_t pid) override;

 private:
  std::string Dir(const std::string& mount, absl::string_view path) const;
  bool Exists(absl::string_view path) const;
  absl::Status Apply(absl::string_view path, const rcbench::v1::ContainerAttributes& a);
  rcbench::v1::ContainerInfo Info(absl::string_view path) const;
  absl::Status DeleteLocked(const std::string& path, bool recursive);

  const CgroupLayout layout_;
  const std::string root_;
  const std::string host_;
  std::vector<std::string> mounts_;  // managed hierarchies, primary first, no duplicates
  bool v2_ = false;
  std::mutex mu_;
};

}  // namespace rcbench::agent
