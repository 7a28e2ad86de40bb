#pragma once

// Fake cgroup hosts in temp dirs for unit tests: a mountinfo file and cgroup hierarchies laid
// out as on a v1, v2-only or hybrid host, served by FakeCgroupFs, which behaves like cgroupfs
// where rc/ relies on it: mkdir creates the control files of the hierarchy's controllers,
// writing an id to tasks / cgroup.procs / cgroup.threads moves it out of every other cgroup of
// the hierarchy, cgroup.subtree_control takes "+ctrl -ctrl", rmdir removes control files.
// Not thread-safe; test-only.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

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

// What the usage files of a fake container report (FakeCgroupTree::WriteUsage).
struct FakeUsage {
  uint64_t cpu_usage_us = 1000;
  uint64_t cpu_user_us = 600;
  uint64_t cpu_system_us = 400;
  uint64_t nr_periods = 10, nr_throttled = 2, throttled_us = 500;
  uint64_t memory_bytes = 1 << 20;
  uint64_t inactive_file_bytes = 1 << 18;
  uint64_t peak_bytes = 2 << 20;
  uint64_t pids = 3;
  uint64_t read_bytes = 4096, write_bytes = 8192, read_ops = 1, write_ops = 2;
  uint64_t psi_some_us = 77, psi_full_us = 7;
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
  // Host paths of the hierarchies' mount points: /sys/fs/cgroup (v2), /sys/fs/cgroup/<ctrl>
  // for cpu, cpuacct, memory, pids, blkio (v1), plus /sys/fs/cgroup/unified (hybrid). They lie
  // below one directory as rc::LayoutBelowDirectory expects (RealPath("/sys/fs/cgroup")).
  std::vector<std::string> MountPoints() const;
  // Host path of `path` (relative to the mount, e.g. "rcbench/web") in `hierarchy` ("cpu", ...;
  // "unified" is the v2 mount on every kind).
  std::string Dir(absl::string_view hierarchy, absl::string_view path) const;
  // Creates directory `path` (relative to the mounts, "rcbench/web") in every hierarchy, as
  // cgroupfs would show a container made by someone else, with the usage files a kernel shows
  // for `usage`: v2 cpu.stat, memory.{current,stat,peak}, pids.current, io.stat, PSI; v1
  // cpu.stat, cpuacct.{usage,usage_user,usage_sys,stat}, memory.{usage_in_bytes,stat,
  // max_usage_in_bytes}, pids.current, blkio.throttle.*_recursive; hybrid also PSI in the
  // unified directory.
  void WriteUsage(absl::string_view path, const FakeUsage& usage = {}) const;
  // Removes directory `path` (relative to the mounts) from every hierarchy.
  void RemoveDirs(absl::string_view path) const;
  // Writes /proc/<tid>/cgroup placing `tid` at the hierarchy roots (as this host does).
  void WriteProcCgroup(int tid) const;

 private:
  std::string root_;
  Kind kind_;
  std::shared_ptr<FakeCgroupFs> fs_;
};

}  // namespace rcbench::rc::testing
