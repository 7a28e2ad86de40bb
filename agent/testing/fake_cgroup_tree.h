#pragma once

// A fake cgroup tree in a temporary directory, laid out as a v1, v2 or hybrid host would be
// (CgroupLayout::ForFakeTree), with helpers to create containers and write their usage files.
// Removed with everything in it on destruction. For tests and benchmarks; thread-compatible.

#include <cstdint>
#include <string>

#include "agent/cgroup_layout.h"

namespace rcbench::agent::testing {

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
  // Creates the base directory (under $TMPDIR or /tmp) and the hierarchies' mount dirs.
  explicit FakeCgroupTree(rcbench::v1::CgroupMode mode);
  ~FakeCgroupTree();
  FakeCgroupTree(const FakeCgroupTree&) = delete;
  FakeCgroupTree& operator=(const FakeCgroupTree&) = delete;

  const CgroupLayout& layout() const { return layout_; }
  const std::string& base() const { return base_; }

  // Creates `root`/`path` in every hierarchy with the files of `usage` (path "" = the root).
  void AddContainer(const std::string& root, const std::string& path, const FakeUsage& usage = {});
  void RemoveContainer(const std::string& root, const std::string& path);
  // Overwrites one file of a container in `controller`'s hierarchy ("unified" on v2).
  void WriteFile(const std::string& controller, const std::string& root, const std::string& path,
                 const std::string& file, const std::string& content);
  std::string Dir(const std::string& controller, const std::string& root,
                  const std::string& path) const;

 private:
  rcbench::v1::CgroupMode mode_;
  std::string base_;
  CgroupLayout layout_;
};

}  // namespace rcbench::agent::testing
