#include "agent/testing/fake_cgroup_tree.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"

namespace rcbench::agent::testing {

FakeCgroupTree::FakeCgroupTree(rcbench::v1::CgroupMode mode) : mode_(mode) {
  const char* tmp = getenv("TMPDIR");
  std::string tmpl = absl::StrCat(tmp && *tmp ? tmp : "/tmp", "/rcbench-fakecg-XXXXXX");
  if (mkdtemp(tmpl.data()) == nullptr) abort();
  base_ = tmpl;
  layout_ = CgroupLayout::ForFakeTree(mode, base_);
  for (const auto& [controller, dir] : layout_.mounts) {
    std::filesystem::create_directories(dir);
  }
}

FakeCgroupTree::~FakeCgroupTree() {
  std::error_code ec;
  std::filesystem::remove_all(base_, ec);
}

std::string FakeCgroupTree::Dir(const std::string& controller, const std::string& root,
                                const std::string& path) const {
  std::string dir = layout_.MountOf(controller);
  if (!root.empty()) dir += "/" + root;
  if (!path.empty()) dir += "/" + path;
  return dir;
}

void FakeCgroupTree::WriteFile(const std::string& controller, const std::string& root,
                               const std::string& path, const std::string& file,
                               const std::string& content) {
  std::string dir = Dir(controller, root, path);
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/" + file, std::ios::trunc) << content;
}

void FakeCgroupTree::AddContainer(const std::string& root, const std::string& path,
                                  const FakeUsage& u) {
  std::string psi =
      absl::StrCat("some avg10=0.00 avg60=0.00 avg300=0.00 total=", u.psi_some_us,
                   "\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=", u.psi_full_us, "\n");
  if (mode_ == rcbench::v1::CGROUP_MODE_V2) {
    auto w = [&](const std::string& f, const std::string& c) {
      WriteFile("unified", root, path, f, c);
    };
    w("cpu.stat",
      absl::StrCat("usage_usec ", u.cpu_usage_us, "\nuser_usec ", u.cpu_user_us, "\nsystem_usec ",
                   u.cpu_system_us, "\nnr_periods ", u.nr_periods, "\nnr_throttled ",
                   u.nr_throttled, "\nthrottled_usec ", u.throttled_us, "\n"));
    w("memory.current", absl::StrCat(u.memory_bytes, "\n"));
    w("memory.stat", absl::StrCat("anon 12345\nfile 999\nactive_file 5\ninactive_file ",
                                  u.inactive_file_bytes, "\nslab 1\n"));
    w("memory.peak", absl::StrCat(u.peak_bytes, "\n"));
    w("pids.current", absl::StrCat(u.pids, "\n"));
    w("io.stat", absl::StrCat("8:0 rbytes=", u.read_bytes, " wbytes=", u.write_bytes,
                              " rios=", u.read_ops, " wios=", u.write_ops, " dbytes=0 dios=0\n"));
    w("cpu.pressure", psi);
    w("memory.pressure", psi);
    w("io.pressure", psi);
    w("cgroup.procs", "");
    return;
  }
  WriteFile("cpu", root, path, "cpu.stat",
            absl::StrCat("nr_periods ", u.nr_periods, "\nnr_throttled ", u.nr_throttled,
                         "\nthrottled_time ", u.throttled_us * 1000, "\n"));
  WriteFile("cpu", root, path, "cgroup.procs", "");
  WriteFile("cpuacct", root, path, "cpuacct.usage", absl::StrCat(u.cpu_usage_us * 1000, "\n"));
  // USER_HZ ticks (100 per second on Linux).
  WriteFile(
      "cpuacct", root, path, "cpuacct.stat",
      absl::StrCat("user ", u.cpu_user_us / 10000, "\nsystem ", u.cpu_system_us / 10000, "\n"));
  WriteFile("memory", root, path, "memory.usage_in_bytes", absl::StrCat(u.memory_bytes, "\n"));
  WriteFile("memory", root, path, "memory.stat",
            absl::StrCat("cache 1\nrss 2\ninactive_file 3\ntotal_cache 1\ntotal_inactive_file ",
                         u.inactive_file_bytes, "\n"));
  WriteFile("memory", root, path, "memory.max_usage_in_bytes", absl::StrCat(u.peak_bytes, "\n"));
  WriteFile("pids", root, path, "pids.current", absl::StrCat(u.pids, "\n"));
  WriteFile(
      "blkio", root, path, "blkio.throttle.io_service_bytes_recursive",
      absl::StrCat("8:0 Read ", u.read_bytes, "\n8:0 Write ", u.write_bytes,
                   "\n8:0 Sync 0\n8:0 Async 0\n8:0 Discard 0\n8:0 Total ",
                   u.read_bytes + u.write_bytes, "\nTotal ", u.read_bytes + u.write_bytes, "\n"));
  WriteFile("blkio", root, path, "blkio.throttle.io_serviced_recursive",
            absl::StrCat("8:0 Read ", u.read_ops, "\n8:0 Write ", u.write_ops, "\nTotal ",
                         u.read_ops + u.write_ops, "\n"));
  if (mode_ == rcbench::v1::CGROUP_MODE_HYBRID) {
    WriteFile("unified", root, path, "cpu.pressure", psi);
    WriteFile("unified", root, path, "memory.pressure", psi);
    WriteFile("unified", root, path, "io.pressure", psi);
  }
}

void FakeCgroupTree::RemoveContainer(const std::string& root, const std::string& path) {
  for (const auto& [controller, dir] : layout_.mounts) {
    std::error_code ec;
    std::filesystem::remove_all(Dir(controller, root, path), ec);
  }
}

}  // namespace rcbench::agent::testing
