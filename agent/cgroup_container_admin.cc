#include "agent/cgroup_container_admin.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"

namespace rcbench::agent {
namespace {

absl::Status WriteFile(const std::string& path, absl::string_view value) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::UnavailableError(absl::StrCat("open ", path, ": ", std::strerror(errno)));
  }
  ssize_t n = write(fd, value.data(), value.size());
  int err = errno;
  close(fd);
  if (n != static_cast<ssize_t>(value.size())) {
    return absl::InvalidArgumentError(
        absl::StrCat("writing '", value, "' to ", path, ": ", std::strerror(err)));
  }
  return absl::OkStatus();
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> SubDirs(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    struct stat st;
    if (stat((dir + "/" + e->d_name).c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      out.push_back(e->d_name);
    }
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

std::string StripSlashes(std::string s) {
  while (!s.empty() && s.front() == '/') s.erase(s.begin());
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

}  // namespace

CgroupContainerAdmin::CgroupContainerAdmin(CgroupLayout layout, std::string root, std::string host)
    : layout_(std::move(layout)), root_(StripSlashes(root)), host_(std::move(host)) {
  v2_ = !layout_.uses_v1();
  if (v2_) {
    mounts_.push_back(layout_.MountOf("unified"));
  } else {
    for (const char* c : kV1Controllers) {
      std::string m = layout_.MountOf(c);
      if (!m.empty() && std::find(mounts_.begin(), mounts_.end(), m) == mounts_.end()) {
        mounts_.push_back(m);
      }
    }
  }
}

std::string CgroupContainerAdmin::Dir(const std::string& mount, absl::string_view path) const {
  std::string dir = mount;
  if (!root_.empty()) absl::StrAppend(&dir, "/", root_);
  if (!path.empty()) absl::StrAppend(&dir, "/", path);
  return dir;
}

bool CgroupContainerAdmin::Exists(absl::string_view path) const {
  struct stat st;
  return !mounts_.empty() && stat(Dir(mounts_[0], path).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

absl::StatusOr<rcbench::v1::ContainerInfo> CgroupContainerAdmin::Create(
    absl::string_view path, const rcbench::v1::ContainerAttributes& attributes, bool exist_ok) {
  std::lock_guard<std::mutex> lock(mu_);
  if (mounts_.empty()) return absl::FailedPreconditionError("no cgroup hierarchy to manage");
  if (Exists(path) && !exist_ok) {
    return absl::AlreadyExistsError(absl::StrCat("container ", path, " exists"));
  }
  std::vector<std::string> parts;
  if (!root_.empty()) {
    for (absl::string_view p : absl::StrSplit(root_, '/')) parts.emplace_back(p);
  }
  const size_t root_parts = parts.size();
  for (absl::string_view p : absl::StrSplit(path, '/')) parts.emplace_back(p);
  for (const std::string& mount : mounts_) {
    std::string dir = mount;
    for (size_t i = 0; i < parts.size(); ++i) {
      if (v2_ && i >= root_parts) {
        // Children of this directory get the controllers (best effort: some may be missing).
        for (const char* c : {"+cpu", "+memory", "+pids", "+io"}) {
          WriteFile(dir + "/cgroup.subtree_control", c).IgnoreError();
        }
      }
      dir += "/" + parts[i];
      if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
        return errno == EACCES || errno == EPERM || errno == EROFS
                   ? absl::PermissionDeniedError(
                         absl::StrCat("mkdir ", dir, ": ", std::strerror(errno)))
                   : absl::UnavailableError(
                         absl::StrCat("mkdir ", dir, ": ", std::strerror(errno)));
      }
    }
  }
  RCBENCH_RETURN_IF_ERROR(Apply(path, attributes));
  return Info(path);
}

absl::StatusOr<rcbench::v1::ContainerInfo> CgroupContainerAdmin::Update(
    absl::string_view path, const rcbench::v1::ContainerAttributes& attributes) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!Exists(path)) return absl::NotFoundError(absl::StrCat("no container ", path));
  RCBENCH_RETURN_IF_ERROR(Apply(path, attributes));
  return Info(path);
}

absl::Status CgroupContainerAdmin::Apply(absl::string_view path,
                                         const rcbench::v1::ContainerAttributes& a) {
  auto file = [&](const char* controller, const char* name) {
    return Dir(v2_ ? layout_.MountOf("unified") : layout_.MountOf(controller), path) + "/" + name;
  };
  if (a.has_cpu_weight()) {
    if (v2_) {
      RCBENCH_RETURN_IF_ERROR(WriteFile(file("cpu", "cpu.weight"), absl::StrCat(a.cpu_weight())));
    } else {
      uint64_t shares = std::max<uint64_t>(2, uint64_t{a.cpu_weight()} * 1024 / 100);
      RCBENCH_RETURN_IF_ERROR(WriteFile(file("cpu", "cpu.shares"), absl::StrCat(shares)));
    }
  }
  if (a.has_cpu_limit_cores() || a.has_cpu_period_us()) {
    uint32_t period = a.has_cpu_period_us() ? a.cpu_period_us() : 100000;
    double cores = a.has_cpu_limit_cores() ? a.cpu_limit_cores() : 0;
    int64_t quota = cores > 0 ? std::max<int64_t>(1000, std::llround(cores * period)) : -1;
    if (v2_) {
      RCBENCH_RETURN_IF_ERROR(WriteFile(
          file("cpu", "cpu.max"),
          absl::StrCat(quota < 0 ? std::string("max") : absl::StrCat(quota), " ", period)));
    } else {
      // Quota off first, so a new period never conflicts with the old quota.
      RCBENCH_RETURN_IF_ERROR(WriteFile(file("cpu", "cpu.cfs_quota_us"), "-1"));
      RCBENCH_RETURN_IF_ERROR(WriteFile(file("cpu", "cpu.cfs_period_us"), absl::StrCat(period)));
      RCBENCH_RETURN_IF_ERROR(WriteFile(file("cpu", "cpu.cfs_quota_us"), absl::StrCat(quota)));
    }
  }
  if (a.has_memory_limit_bytes()) {
    uint64_t v = a.memory_limit_bytes();
    RCBENCH_RETURN_IF_ERROR(
        v2_ ? WriteFile(file("memory", "memory.max"), v ? absl::StrCat(v) : "max")
            : WriteFile(file("memory", "memory.limit_in_bytes"), v ? absl::StrCat(v) : "-1"));
  }
  if (a.has_pids_limit()) {
    uint64_t v = a.pids_limit();
    RCBENCH_RETURN_IF_ERROR(WriteFile(file("pids", "pids.max"), v ? absl::StrCat(v) : "max"));
  }
  return absl::OkStatus();
}

rcbench::v1::ContainerInfo CgroupContainerAdmin::Info(absl::string_view path) const {
  rcbench::v1::ContainerInfo info;
  info.mutable_id()->set_host(host_);
  info.mutable_id()->set_path(std::string(path));
  std::string dir = Dir(mounts_[0], path);
  struct stat st;
  if (stat(dir.c_str(), &st) == 0) info.mutable_id()->set_cgroup_id(st.st_ino);
  for (absl::string_view line : absl::StrSplit(ReadFile(dir + "/cgroup.procs"), '\n')) {
    int pid = 0;
    if (absl::SimpleAtoi(line, &pid)) info.add_pids(pid);
  }
  auto read_num = [&](const char* controller, const char* name) -> std::optional<int64_t> {
    std::string t = ReadFile(
        Dir(v2_ ? layout_.MountOf("unified") : layout_.MountOf(controller), path) + "/" + name);
    int64_t v = 0;
    if (absl::SimpleAtoi(absl::StripAsciiWhitespace(t), &v)) return v;
    return std::nullopt;
  };
  auto* a = info.mutable_attributes();
  if (v2_) {
    if (auto w = read_num("cpu", "cpu.weight")) a->set_cpu_weight(static_cast<uint32_t>(*w));
    std::vector<std::string> max = absl::StrSplit(
        absl::StripAsciiWhitespace(ReadFile(Dir(mounts_[0], path) + "/cpu.max")), ' ');
    int64_t quota = 0, period = 0;
    if (max.size() == 2 && absl::SimpleAtoi(max[1], &period) && period > 0) {
      a->set_cpu_period_us(static_cast<uint32_t>(period));
      a->set_cpu_limit_cores(absl::SimpleAtoi(max[0], &quota) ? double(quota) / period : 0);
    }
  } else {
    if (auto s = read_num("cpu", "cpu.shares")) {
      a->set_cpu_weight(static_cast<uint32_t>(std::clamp<int64_t>(*s * 100 / 1024, 1, 10000)));
    }
    auto quota = read_num("cpu", "cpu.cfs_quota_us");
    auto period = read_num("cpu", "cpu.cfs_period_us");
    if (quota && period && *period > 0) {
      a->set_cpu_period_us(static_cast<uint32_t>(*period));
      a->set_cpu_limit_cores(*quota > 0 ? double(*quota) / *period : 0);
    }
  }
  return info;
}

absl::Status CgroupContainerAdmin::Delete(absl::string_view path, bool recursive) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!Exists(path)) return absl::NotFoundError(absl::StrCat("no container ", path));
  return DeleteLocked(std::string(path), recursive);
}

absl::Status CgroupContainerAdmin::DeleteLocked(const std::string& path, bool recursive) {
  std::vector<std::string> children = SubDirs(Dir(mounts_[0], path));
  if (!children.empty() && !recursive) {
    return absl::FailedPreconditionError(
        absl::StrCat("container ", path, " has children; delete them first or use recursive"));
  }
  for (const std::string& child : children) {
    RCBENCH_RETURN_IF_ERROR(DeleteLocked(path + "/" + child, true));
  }
  size_t slash = path.rfind('/');
  std::string parent = slash == std::string::npos ? "" : path.substr(0, slash);
  for (const std::string& mount : mounts_) {
    std::string dir = Dir(mount, path);
    for (absl::string_view line : absl::StrSplit(ReadFile(dir + "/cgroup.procs"), '\n')) {
      if (line.empty()) continue;
      // A process may exit meanwhile (ESRCH): nothing to move then.
      WriteFile(Dir(mount, parent) + "/cgroup.procs", line).IgnoreError();
    }
    // A real cgroup directory holds only kernel files (rmdir works); a fake one holds plain
    // files that must go first.
    int r = rmdir(dir.c_str());
    for (int attempt = 0; r != 0 && errno == EBUSY && attempt < 50; ++attempt) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));  // exiting tasks linger
      r = rmdir(dir.c_str());
    }
    if (r != 0 && errno == ENOTEMPTY) {
      DIR* d = opendir(dir.c_str());
      while (d != nullptr) {
        dirent* e = readdir(d);
        if (e == nullptr) break;
        if (e->d_type == DT_REG) unlink((dir + "/" + e->d_name).c_str());
      }
      if (d != nullptr) closedir(d);
      r = rmdir(dir.c_str());
    }
    if (r != 0 && errno != ENOENT) {
      return absl::FailedPreconditionError(absl::StrCat("rmdir ", dir, ": ", std::strerror(errno)));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<rcbench::v1::ContainerInfo>> CgroupContainerAdmin::List(
    absl::string_view prefix) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<rcbench::v1::ContainerInfo> out;
  if (mounts_.empty()) return out;
  std::vector<std::string> stack = {""};
  while (!stack.empty()) {
    std::string path = stack.back();
    stack.pop_back();
    std::vector<std::string> children = SubDirs(Dir(mounts_[0], path));
    for (auto it = children.rbegin(); it != children.rend(); ++it) {
      stack.push_back(path.empty() ? *it : path + "/" + *it);
    }
    if (path.empty()) continue;
    if (prefix.empty() || path == prefix || absl::StartsWith(path, absl::StrCat(prefix, "/"))) {
      out.push_back(Info(path));
    }
  }
  return out;
}

absl::Status CgroupContainerAdmin::AddProcess(absl::string_view path, pid_t pid) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!Exists(path)) return absl::NotFoundError(absl::StrCat("no container ", path));
  for (const std::string& mount : mounts_) {
    RCBENCH_RETURN_IF_ERROR(WriteFile(Dir(mount, path) + "/cgroup.procs", absl::StrCat(pid)));
  }
  return absl::OkStatus();
}

}  // namespace rcbench::agent
