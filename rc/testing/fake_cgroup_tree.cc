#include "rc/testing/fake_cgroup_tree.h"

#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "rc/cgroup_files.h"

namespace rcbench::rc::testing {
namespace fs = std::filesystem;
namespace {

struct Mount {
  const char* point;
  const char* controllers;  // v1 controllers, or "unified"
};

constexpr Mount kV1Mounts[] = {{"/sys/fs/cgroup/cpu", "cpu"},
                               {"/sys/fs/cgroup/cpuacct", "cpuacct"},
                               {"/sys/fs/cgroup/memory", "memory"},
                               {"/sys/fs/cgroup/pids", "pids"},
                               {"/sys/fs/cgroup/blkio", "blkio"}};

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteAll(const fs::path& p, absl::string_view content) {
  std::ofstream out(p, std::ios::trunc);
  out << content;
}

bool Contains(const std::vector<std::string>& v, absl::string_view x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// Which fake mount a host path lies in: its mount point and kind.
std::pair<std::string, std::string> MountOf(absl::string_view path) {
  for (const Mount& m : kV1Mounts) {
    if (absl::StartsWith(path, absl::StrCat(m.point, "/")) || path == m.point) {
      return {m.point, m.controllers};
    }
  }
  if (absl::StartsWith(path, "/sys/fs/cgroup/unified")) {
    return {"/sys/fs/cgroup/unified", "unified"};
  }
  if (absl::StartsWith(path, "/sys/fs/cgroup")) return {"/sys/fs/cgroup", "unified"};
  return {"", ""};
}

}  // namespace

FakeCgroupFs::FakeCgroupFs(std::string root)
    : LocalCgroupFs(Options{root, /*emulate_cgroupfs=*/true}), root_(std::move(root)) {}

absl::Status FakeCgroupFs::WriteFile(absl::string_view path, absl::string_view content) {
  const fs::path real = RealPath(path);
  const std::string file = real.filename();
  if (!fs::exists(real.parent_path())) {
    return absl::NotFoundError(absl::StrCat("open ", path, ": No such file or directory"));
  }
  if (!fs::exists(real) && absl::StartsWith(path, "/sys/fs/cgroup")) {
    // cgroupfs has exactly the files its controllers provide.
    return absl::NotFoundError(absl::StrCat("open ", path, ": No such file or directory"));
  }
  if (file == "cgroup.subtree_control") {
    std::vector<std::string> enabled = ParseWords(ReadAll(real));
    const std::vector<std::string> available =
        ParseWords(ReadAll(real.parent_path() / "cgroup.controllers"));
    for (const std::string& w : ParseWords(content)) {
      const std::string c = w.substr(1);
      if (!Contains(available, c)) {
        return absl::InvalidArgumentError(absl::StrCat("write to ", path, ": Invalid argument"));
      }
      if (w[0] == '+' && !Contains(enabled, c)) enabled.push_back(c);
      if (w[0] == '-') enabled.erase(std::remove(enabled.begin(), enabled.end(), c), enabled.end());
    }
    WriteAll(real, absl::StrCat(absl::StrJoin(enabled, " "), "\n"));
    return absl::OkStatus();
  }
  if (file == "tasks" || file == "cgroup.procs" || file == "cgroup.threads") {
    if (!fs::exists(real)) {
      return absl::NotFoundError(absl::StrCat("open ", path, ": No such file or directory"));
    }
    const std::string id(absl::StripAsciiWhitespace(content));
    const fs::path mount = RealPath(MountOf(path).first);
    for (const auto& entry : fs::recursive_directory_iterator(mount)) {
      if (!entry.is_regular_file()) continue;
      const std::string name = entry.path().filename();
      if (name != "tasks" && name != "cgroup.procs" && name != "cgroup.threads") continue;
      std::vector<std::string> ids = ParseWords(ReadAll(entry.path()));
      ids.erase(std::remove(ids.begin(), ids.end(), id), ids.end());
      WriteAll(entry.path(), ids.empty() ? "" : absl::StrCat(absl::StrJoin(ids, "\n"), "\n"));
    }
    for (const char* member_file : {"tasks", "cgroup.procs", "cgroup.threads"}) {
      const fs::path p = real.parent_path() / member_file;
      if (fs::exists(p)) WriteAll(p, absl::StrCat(ReadAll(p), id, "\n"));
    }
    return absl::OkStatus();
  }
  if (file == "memory.limit_in_bytes" && content == "-1") {
    return LocalCgroupFs::WriteFile(path, "9223372036854771712\n");  // as the kernel reports it
  }
  return LocalCgroupFs::WriteFile(path, content);
}

absl::Status FakeCgroupFs::MakeDir(absl::string_view path) {
  absl::Status s = LocalCgroupFs::MakeDir(path);
  if (!s.ok()) return s;
  const fs::path dir = RealPath(path);
  auto [mount, kind] = MountOf(path);
  auto put = [&](const char* name, absl::string_view content) { WriteAll(dir / name, content); };
  if (kind == "unified") {
    const fs::path parent = dir.parent_path();
    const std::string enabled = ReadAll(parent / "cgroup.subtree_control");
    const std::vector<std::string> controllers = ParseWords(enabled);
    const std::string parent_type = ReadAll(parent / "cgroup.type");
    put("cgroup.controllers", enabled.empty() ? "\n" : enabled);
    put("cgroup.subtree_control", "\n");
    put("cgroup.type", absl::StartsWith(parent_type, "threaded") ? "threaded\n" : "domain\n");
    put("cgroup.procs", "");
    put("cgroup.threads", "");
    put("cpu.stat", "usage_usec 0\nuser_usec 0\nsystem_usec 0\n");
    put("cpu.pressure",
        "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
        "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n");
    if (Contains(controllers, "cpu")) {
      put("cpu.stat",
          "usage_usec 0\nuser_usec 0\nsystem_usec 0\nnr_periods 0\nnr_throttled 0\n"
          "throttled_usec 0\n");
      put("cpu.weight", "100\n");
      put("cpu.max", "max 100000\n");
    }
    if (Contains(controllers, "memory")) {
      put("memory.current", "0\n");
      put("memory.peak", "0\n");
      put("memory.max", "max\n");
      put("memory.stat", "anon 0\nfile 0\ninactive_file 0\n");
    }
    if (Contains(controllers, "pids")) {
      put("pids.current", "0\n");
      put("pids.max", "max\n");
    }
    return absl::OkStatus();
  }
  put("tasks", "");
  put("cgroup.procs", "");
  if (kind == "cpu") {
    put("cpu.shares", "1024\n");
    put("cpu.cfs_quota_us", "-1\n");
    put("cpu.cfs_period_us", "100000\n");
    put("cpu.stat", "nr_periods 0\nnr_throttled 0\nthrottled_time 0\n");
  } else if (kind == "cpuacct") {
    put("cpuacct.usage", "0\n");
    put("cpuacct.usage_user", "0\n");
    put("cpuacct.usage_sys", "0\n");
  } else if (kind == "memory") {
    put("memory.limit_in_bytes", "9223372036854771712\n");
    put("memory.usage_in_bytes", "0\n");
    put("memory.max_usage_in_bytes", "0\n");
    put("memory.stat", "cache 0\nrss 0\ntotal_inactive_file 0\n");
  } else if (kind == "pids") {
    put("pids.max", "max\n");
    put("pids.current", "0\n");
  }
  return absl::OkStatus();
}

FakeCgroupTree::FakeCgroupTree(Kind kind) : kind_(kind) {
  const char* tmp = getenv("TMPDIR");
  std::string templ = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/rc_fake_tree.XXXXXX");
  root_ = mkdtemp(templ.data());
  fs_ = std::make_shared<FakeCgroupFs>(root_);
  fs::create_directories(root_ + "/proc/self");
  std::string mountinfo =
      "22 1 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw\n"
      "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n";
  int id = 32;
  if (kind == Kind::kV2) {
    mountinfo = absl::StrCat(
        "22 1 0:21 / /proc rw,nosuid shared:12 - proc proc rw\n",
        "31 23 0:28 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 "
        "rw,nsdelegate,memory_recursiveprot\n");
    fs::create_directories(root_ + "/sys/fs/cgroup");
    Write("/sys/fs/cgroup/cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n");
    Write("/sys/fs/cgroup/cgroup.subtree_control", "\n");
    Write("/sys/fs/cgroup/cgroup.procs", "1\n");
    Write("/sys/fs/cgroup/cgroup.threads", "1\n");
  } else {
    for (const Mount& m : kV1Mounts) {
      absl::StrAppend(&mountinfo, id, " 31 0:", id, " / ", m.point,
                      " rw,relatime - cgroup cgroup rw,", m.controllers, "\n");
      ++id;
      fs::create_directories(root_ + m.point);
      Write(absl::StrCat(m.point, "/tasks"), "1\n");
      Write(absl::StrCat(m.point, "/cgroup.procs"), "1\n");
    }
    if (kind == Kind::kHybrid) {
      absl::StrAppend(&mountinfo, id, " 31 0:", id,
                      " / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n");
      fs::create_directories(root_ + "/sys/fs/cgroup/unified");
      Write("/sys/fs/cgroup/unified/cgroup.controllers", "hugetlb\n");
      Write("/sys/fs/cgroup/unified/cgroup.subtree_control", "\n");
    }
  }
  Write("/proc/self/mountinfo", mountinfo);
}

FakeCgroupTree::~FakeCgroupTree() {
  std::error_code ec;
  fs::remove_all(root_, ec);
}

void FakeCgroupTree::Write(absl::string_view host_path, absl::string_view content) const {
  const fs::path p = absl::StrCat(root_, host_path);
  fs::create_directories(p.parent_path());
  WriteAll(p, content);
}

std::string FakeCgroupTree::Read(absl::string_view host_path) const {
  return ReadAll(absl::StrCat(root_, host_path));
}

bool FakeCgroupTree::Exists(absl::string_view host_path) const {
  return fs::exists(absl::StrCat(root_, host_path));
}

std::vector<std::string> FakeCgroupTree::MountPoints() const {
  if (kind_ == Kind::kV2) return {"/sys/fs/cgroup"};
  std::vector<std::string> out;
  for (const Mount& m : kV1Mounts) out.push_back(m.point);
  if (kind_ == Kind::kHybrid) out.push_back("/sys/fs/cgroup/unified");
  return out;
}

std::string FakeCgroupTree::Dir(absl::string_view hierarchy, absl::string_view path) const {
  std::string dir = hierarchy == "unified" && kind_ == Kind::kV2
                        ? std::string("/sys/fs/cgroup")
                        : absl::StrCat("/sys/fs/cgroup/", hierarchy);
  if (!path.empty()) absl::StrAppend(&dir, "/", path);
  return dir;
}

void FakeCgroupTree::WriteUsage(absl::string_view path, const FakeUsage& u) const {
  const std::string psi =
      absl::StrCat("some avg10=0.00 avg60=0.00 avg300=0.00 total=", u.psi_some_us,
                   "\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=", u.psi_full_us, "\n");
  auto put = [&](absl::string_view hierarchy, absl::string_view file, absl::string_view content) {
    Write(absl::StrCat(Dir(hierarchy, path), "/", file), content);
  };
  for (const std::string& mount : MountPoints()) {
    fs::create_directories(absl::StrCat(root_, mount, "/", path));
  }
  if (kind_ == Kind::kV2) {
    put("unified", "cpu.stat",
        absl::StrCat("usage_usec ", u.cpu_usage_us, "\nuser_usec ", u.cpu_user_us, "\nsystem_usec ",
                     u.cpu_system_us, "\nnr_periods ", u.nr_periods, "\nnr_throttled ",
                     u.nr_throttled, "\nthrottled_usec ", u.throttled_us, "\n"));
    put("unified", "memory.current", absl::StrCat(u.memory_bytes, "\n"));
    put("unified", "memory.stat",
        absl::StrCat("anon 12345\nfile 999\nactive_file 5\ninactive_file ", u.inactive_file_bytes,
                     "\nslab 1\n"));
    put("unified", "memory.peak", absl::StrCat(u.peak_bytes, "\n"));
    put("unified", "pids.current", absl::StrCat(u.pids, "\n"));
    put("unified", "io.stat",
        absl::StrCat("8:0 rbytes=", u.read_bytes, " wbytes=", u.write_bytes, " rios=", u.read_ops,
                     " wios=", u.write_ops, " dbytes=0 dios=0\n"));
    put("unified", "cpu.pressure", psi);
    put("unified", "memory.pressure", psi);
    put("unified", "io.pressure", psi);
    put("unified", "cgroup.procs", "");
    return;
  }
  put("cpu", "cpu.stat",
      absl::StrCat("nr_periods ", u.nr_periods, "\nnr_throttled ", u.nr_throttled,
                   "\nthrottled_time ", u.throttled_us * 1000, "\n"));
  put("cpu", "cgroup.procs", "");
  put("cpuacct", "cpuacct.usage", absl::StrCat(u.cpu_usage_us * 1000, "\n"));
  put("cpuacct", "cpuacct.usage_user", absl::StrCat(u.cpu_user_us * 1000, "\n"));
  put("cpuacct", "cpuacct.usage_sys", absl::StrCat(u.cpu_system_us * 1000, "\n"));
  // USER_HZ ticks (100 per second on Linux).
  put("cpuacct", "cpuacct.stat",
      absl::StrCat("user ", u.cpu_user_us / 10000, "\nsystem ", u.cpu_system_us / 10000, "\n"));
  put("memory", "memory.usage_in_bytes", absl::StrCat(u.memory_bytes, "\n"));
  put("memory", "memory.stat",
      absl::StrCat("cache 1\nrss 2\ninactive_file 3\ntotal_cache 1\ntotal_inactive_file ",
                   u.inactive_file_bytes, "\n"));
  put("memory", "memory.max_usage_in_bytes", absl::StrCat(u.peak_bytes, "\n"));
  put("pids", "pids.current", absl::StrCat(u.pids, "\n"));
  put("blkio", "blkio.throttle.io_service_bytes_recursive",
      absl::StrCat("8:0 Read ", u.read_bytes, "\n8:0 Write ", u.write_bytes,
                   "\n8:0 Sync 0\n8:0 Async 0\n8:0 Discard 0\n8:0 Total ",
                   u.read_bytes + u.write_bytes, "\nTotal ", u.read_bytes + u.write_bytes, "\n"));
  put("blkio", "blkio.throttle.io_serviced_recursive",
      absl::StrCat("8:0 Read ", u.read_ops, "\n8:0 Write ", u.write_ops, "\nTotal ",
                   u.read_ops + u.write_ops, "\n"));
  if (kind_ == Kind::kHybrid) {
    put("unified", "cpu.pressure", psi);
    put("unified", "memory.pressure", psi);
    put("unified", "io.pressure", psi);
  }
}

void FakeCgroupTree::RemoveDirs(absl::string_view path) const {
  for (const std::string& mount : MountPoints()) {
    std::error_code ec;
    fs::remove_all(absl::StrCat(root_, mount, "/", path), ec);
  }
}

void FakeCgroupTree::WriteProcCgroup(int tid) const {
  std::string content;
  if (kind_ == Kind::kV2) {
    content = "0::/\n";
  } else {
    content = "4:pids:/\n3:memory:/\n2:cpuacct:/\n1:cpu:/\n";
    if (kind_ == Kind::kHybrid) content += "0::/\n";
  }
  Write(absl::StrCat("/proc/", tid, "/cgroup"), content);
}

}  // namespace rcbench::rc::testing
