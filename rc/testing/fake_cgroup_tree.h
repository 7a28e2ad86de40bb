#pragma once

// Fake cgroup hosts in temp dirs for unit tests: a mountinfo file and cgroup hierarchies laid
// out as on a v1, v2-only or hybrid host, served by FakeCgroupFs, which behaves like cgroupfs
// where rc/ relies on it: mkdir creates the control files of the hierarchy's controllers,
// writing an id to tasks / cgroup.procs / cgroup.threads moves it out of every other cgroup of
// the hierarchy, cgroup.subtree_control takes "+ctrl -ctrl", rmdir removes control files.
// Not thread-safe; test-only.

#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "rc/cgroup_fs.h"

namespace rcbench::rc::testing {

class FakeCgroupFs : public LocalCgroupFs {
 public:
  explicit FakeCgroupFs(std::string root);

  absl::Status WriteFile(absl::string_view path, absl::string_view content) override;
  absl::Status MakeDir(absl::string_view path) override;

 private:
  std::string root_;
};

class FakeCgroupTree {
 public:
  enum class Kind { kV1, kV2, kHybrid };

  // Creates a temp dir laid out as `kind` (this host's layout for kHybrid: separate cpu and
  // cpuacct mounts, memory, pids, and a v2 mount at /sys/fs/cgroup/unified with hugetlb).
  explicit FakeCgroupTree(Kind kind);
  ~FakeCgroupTree();  // removes the temp dir
  FakeCgroupTree(const FakeCgroupTree&) = delete;
  FakeCgroupTree& operator=(const FakeCgroupTree&) = delete;

  const std::string& root() const { return root_; }
  std::shared_ptr<FakeCgroupFs> fs() const { return fs_; }
  // Host-path helpers for arranging and asserting.
  void Write(absl::string_view host_path, absl::string_view content) const;
  std::string Read(absl::string_view host_path) const;
  bool Exists(absl::string_view host_path) const;
  // Writes /proc/<tid>/cgroup placing `tid` at the hierarchy roots (as this host does).
  void WriteProcCgroup(int tid) const;

 private:
  std::string root_;
  Kind kind_;
  std::shared_ptr<FakeCgroupFs> fs_;
};

}  // namespace rcbench::rc::testing
