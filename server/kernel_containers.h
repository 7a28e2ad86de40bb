#pragma once

// Kernel resource containers (cgroups) the server puts its work into with --containers on:
// per-class containers for worker threads, the CGI children's CPU-limited container and one
// container per virtual server. This is the server's seam for rc's Container API;
// CgroupKernelContainers is a small direct implementation over cgroup v1 or v2 until rc lands.
//
// Thread-safe after the containers are created (Create before the server starts; the other
// methods from any thread).

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rcbench::server {

struct KernelContainerSpec {
  std::string name;                 // [A-Za-z0-9_.-]+, unique
  uint32_t weight = 100;            // relative CPU weight, 1..10000 (100 = default share)
  std::optional<double> cpu_limit;  // fraction of one CPU
  // Holds threads of the server process (threads arch workers) rather than child processes.
  bool threaded = false;
};

class KernelContainers {
 public:
  virtual ~KernelContainers() = default;
  // Creates a container and returns its id. INVALID_ARGUMENT for bad names, or the file
  // system's error naming the path.
  virtual absl::StatusOr<int> Create(const KernelContainerSpec& spec) = 0;
  // Moves thread `tid` of this process into container `id` (threaded containers only).
  virtual absl::Status BindThread(int id, pid_t tid) = 0;
  // Descriptors a forked child writes "0" to, to join container `id`. Owned by this object.
  virtual std::vector<int> JoinFds(int id) = 0;
  // CPU time used by the container's members so far.
  virtual absl::StatusOr<double> CpuSeconds(int id) = 0;
  virtual std::string Name(int id) const = 0;
  virtual size_t size() const = 0;
};

// cgroup v2 (unified, at `root`) or v1 (cpu and cpuacct hierarchies under `root`), probed in
// that order. Containers live at <subtree>/server-<pid>/<name>; everything created is removed
// on destruction (members still inside are moved back to where this process started).
class CgroupKernelContainers : public KernelContainers {
 public:
  // FAILED_PRECONDITION saying what is missing when neither cgroup version is usable.
  static absl::StatusOr<std::unique_ptr<CgroupKernelContainers>> Open(absl::string_view root,
                                                                      absl::string_view subtree);
  ~CgroupKernelContainers() override;

  absl::StatusOr<int> Create(const KernelContainerSpec& spec) override;
  absl::Status BindThread(int id, pid_t tid) override;
  std::vector<int> JoinFds(int id) override;
  absl::StatusOr<double> CpuSeconds(int id) override;
  std::string Name(int id) const override { return containers_[id].spec.name; }
  size_t size() const override { return containers_.size(); }

  bool is_v2() const { return v2_; }
  // The container's directory in each hierarchy it lives in (v1: cpu then cpuacct).
  std::vector<std::string> Dirs(int id) const { return containers_[id].dirs; }

 private:
  struct Container {
    KernelContainerSpec spec;
    std::vector<std::string> dirs;
    std::vector<int> join_fds;
  };
  CgroupKernelContainers() = default;
  absl::Status EnsureThreadedRoot();

  bool v2_ = false;
  std::string root_;
  std::vector<std::string> mounts_;   // hierarchy roots
  std::vector<std::string> bases_;    // server-<pid> directory per hierarchy
  std::vector<std::string> created_;  // directories to remove, in creation order
  std::vector<Container> containers_;
  bool threaded_root_ = false;  // v2: the process moved into <base>/main
  std::string original_v2_cgroup_;
};

}  // namespace rcbench::server
