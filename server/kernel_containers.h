#pragma once

// Kernel resource containers (cgroups) the server puts its work into. In both modes the whole
// process runs in a process container of its own, so its CPU is measured like any other
// container's; with --containers on there are also per-class containers for worker threads,
// the CGI children's CPU-limited container and one container per virtual server. The seam
// over rc's Container API (FakeKernelContainers in server/testing/ for tests that need no
// root).
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
#include "rc/container.h"

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

// Kernel containers made with rc's Container API, in every hierarchy rc manages:
//
//   <subtree>/server-<pid>          all of the server's CPU (cgroup usage includes descendants)
//   <subtree>/server-<pid>/main     the process container: Open moves the whole process here
//   <subtree>/server-<pid>/<name>   containers made by Create (v1; v2 non-threaded)
//   <subtree>/server-<pid>/main/<name>   v2 threaded containers (v2 binds single threads only
//                                        inside the threaded subtree of the process's cgroup)
//
// The process joins a leaf below server-<pid> rather than server-<pid> itself because v2 lets
// processes live only in leaves (or threaded domains), so the layout is the same everywhere.
// On destruction the process is put back where it was before Open, and everything created is
// removed (and the root subtree, if it is then empty).
class RcKernelContainers : public KernelContainers {
 public:
  // Creates server-<pid>/main and moves this process (every thread) into it, after removing
  // the subtrees of servers that no longer run. FAILED_PRECONDITION / PERMISSION_DENIED from
  // rc saying what is missing on this host; nothing is left behind on failure.
  static absl::StatusOr<std::unique_ptr<RcKernelContainers>> Open(
      rc::ContainerSystem::Options options);
  ~RcKernelContainers() override;

  absl::StatusOr<int> Create(const KernelContainerSpec& spec) override;
  absl::Status BindThread(int id, pid_t tid) override;
  std::vector<int> JoinFds(int id) override { return containers_[id].join_fds; }
  absl::StatusOr<double> CpuSeconds(int id) override;
  std::string Name(int id) const override { return containers_[id].name; }
  size_t size() const override { return containers_.size(); }

  rc::ContainerSystem& system() { return *system_; }
  // Path of container `id` relative to rc's root subtree.
  const std::string& Path(int id) const { return containers_[id].handle.path(); }
  // The process container ("server-<pid>/main") and the server's whole subtree ("server-<pid>"),
  // relative to rc's root subtree.
  const std::string& ProcessPath() const { return main_.path(); }
  const std::string& ServerPath() const { return server_path_; }
  // CPU time of the whole server subtree: the process and everything below it.
  absl::StatusOr<double> ServerCpuSeconds();

 private:
  struct Entry {
    std::string name;
    rc::Container handle;
    std::vector<int> join_fds;
  };
  RcKernelContainers() = default;

  // Puts the process back into original_procs_ (best effort).
  void RestoreProcess();

  std::unique_ptr<rc::ContainerSystem> system_;
  std::string server_path_;  // "server-<pid>", below the container it was started in if any
  rc::Container server_;
  rc::Container main_;  // the process container; on v2 also the threaded domain
  // cgroup.procs of the cgroups the process was in before Open, one per managed hierarchy.
  std::vector<std::string> original_procs_;
  std::vector<Entry> containers_;
};

}  // namespace rcbench::server
