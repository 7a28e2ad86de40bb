#pragma once

// Kernel resource containers (cgroups) the server puts its work into with --containers on:
// per-class containers for worker threads, the CGI children's CPU-limited container and one
// container per virtual server. The seam over rc's Container API (FakeKernelContainers in
// server/testing/ for tests that need no root).
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

// Kernel containers made with rc's Container API: <subtree>/server-<pid>/<name> in every
// hierarchy rc manages. On cgroup v2, threaded containers sit below <subtree>/server-<pid>/main,
// which the process joins (v2 binds single threads only inside a threaded subtree). Everything
// created is removed on destruction.
class RcKernelContainers : public KernelContainers {
 public:
  // FAILED_PRECONDITION / PERMISSION_DENIED from rc saying what is missing on this host.
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

 private:
  struct Entry {
    std::string name;
    rc::Container handle;
    std::vector<int> join_fds;
  };
  RcKernelContainers() = default;

  std::unique_ptr<rc::ContainerSystem> system_;
  std::string server_path_;  // "server-<pid>"
  rc::Container server_;
  rc::Container main_;                    // v2 threaded domain, created on demand
  std::string original_v2_cgroup_ = "/";  // where the process was before joining main_
  std::vector<Entry> containers_;
};

}  // namespace rcbench::server
