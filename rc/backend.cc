#include "rc/backend.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "rc/names.h"
#include "rc/usage_reader.h"

namespace rcbench::rc::internal {

absl::Status ValidateAttributes(const Attributes& a) {
  if (a.cpu_weight.has_value() && (*a.cpu_weight < 1 || *a.cpu_weight > 10000)) {
    return absl::InvalidArgumentError(
        absl::StrCat("cpu_weight ", *a.cpu_weight, " outside 1..10000"));
  }
  if (a.cpu_limit_cores.has_value() &&
      (!std::isfinite(*a.cpu_limit_cores) || *a.cpu_limit_cores < 0 || *a.cpu_limit_cores > 4096)) {
    return absl::InvalidArgumentError(
        absl::StrCat("cpu_limit_cores ", *a.cpu_limit_cores, " is not a number of cores >= 0"));
  }
  if (a.cpu_period_us.has_value() && (*a.cpu_period_us < 1000 || *a.cpu_period_us > 1000000)) {
    return absl::InvalidArgumentError(
        absl::StrCat("cpu_period_us ", *a.cpu_period_us, " outside 1000..1000000"));
  }
  return absl::OkStatus();
}

std::string Backend::ParentDir(const Hierarchy& h, absl::string_view path) const {
  if (path.empty()) return h.mount_point;
  return Dir(h, ParentPath(path));
}

bool Backend::Exists(absl::string_view path) const {
  return fs_->IsDir(Dir(layout_.Primary(), path));
}

absl::StatusOr<Usage> Backend::ReadUsage(absl::string_view path) const {
  return ReadUsageFiles(layout_, layout_.UsageFilesFor(path),
                        [this](const std::string& file) { return ReadOptionalFile(*fs_, file); });
}

absl::StatusOr<std::vector<std::string>> Backend::Children(absl::string_view path) const {
  RCBENCH_ASSIGN_OR_RETURN(std::vector<std::string> names,
                           fs_->ListDirs(Dir(layout_.Primary(), path)));
  std::vector<std::string> out;
  for (const std::string& n : names) {
    // Directories rc/ could not have created (e.g. made by hand with odd names) are skipped
    // rather than failing every listing.
    if (ValidateName(n).ok()) out.push_back(n);
  }
  return out;
}

absl::Status Backend::RemoveEmptyNode(absl::string_view path) {
  absl::Status first;
  for (const Hierarchy* h : layout_.Managed()) {
    const std::string dir = Dir(*h, path);
    absl::Status s;
    // A task that just left (or exited) can keep a v1 cgroup busy for a moment.
    for (int attempt = 0; attempt < 200; ++attempt) {
      s = fs_->RemoveDir(dir);
      if (!absl::IsFailedPrecondition(s)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (absl::IsNotFound(s)) s = absl::OkStatus();
    if (!s.ok() && first.ok()) first = s;
  }
  return first;
}

absl::Status Backend::Destroy(absl::string_view path, bool recursive) {
  if (!Exists(path)) {
    return absl::NotFoundError(absl::StrCat("container '", path, "' does not exist"));
  }
  RCBENCH_ASSIGN_OR_RETURN(std::vector<std::string> children, Children(path));
  if (!children.empty() && !recursive) {
    return absl::FailedPreconditionError(absl::StrCat(
        "container '", path, "' has children (", children.front(), ", ...); destroy recursively"));
  }
  for (const std::string& child : children) {
    RCBENCH_RETURN_IF_ERROR(Destroy(JoinPath(path, child), true));
  }
  RCBENCH_RETURN_IF_ERROR(MoveMembers(path, nullptr));
  absl::Status s = RemoveEmptyNode(path);
  if (absl::IsFailedPrecondition(s)) {
    // Members that arrived (new threads) after the first move.
    RCBENCH_RETURN_IF_ERROR(MoveMembers(path, nullptr));
    s = RemoveEmptyNode(path);
  }
  return s;
}

absl::Status Backend::MoveTree(absl::string_view from, absl::string_view to) {
  RCBENCH_ASSIGN_OR_RETURN(Attributes attributes, GetAttributes(from));
  RCBENCH_RETURN_IF_ERROR(CreateNode(to, IsThreaded(from)));
  absl::Status s = SetAttributes(to, attributes);
  if (!s.ok()) {
    RemoveEmptyNode(to).IgnoreError();
    return s;
  }
  RCBENCH_ASSIGN_OR_RETURN(std::vector<std::string> children, Children(from));
  for (const std::string& child : children) {
    RCBENCH_RETURN_IF_ERROR(MoveTree(JoinPath(from, child), JoinPath(to, child)));
  }
  const std::string target(to);
  RCBENCH_RETURN_IF_ERROR(MoveMembers(from, &target));
  RCBENCH_RETURN_IF_ERROR(RemoveEmptyNode(from));
  RenameSockets(from, to);
  return absl::OkStatus();
}

absl::Status Backend::RecordOriginal(pid_t tid) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (originals_.count(tid) != 0) return absl::OkStatus();
  }
  const std::string source = absl::StrCat("/proc/", tid, "/cgroup");
  RCBENCH_ASSIGN_OR_RETURN(std::string content, fs_->ReadFile(source));
  RCBENCH_ASSIGN_OR_RETURN(std::vector<ProcCgroupEntry> entries, ParseProcCgroup(content, source));
  std::vector<std::pair<const Hierarchy*, std::string>> dirs;
  for (const Hierarchy* h : layout_.Managed()) {
    for (const ProcCgroupEntry& e : entries) {
      const bool match = h->version == 2
                             ? (e.hierarchy_id == 0 && e.controllers.empty())
                             : (!e.controllers.empty() &&
                                std::find(e.controllers.begin(), e.controllers.end(),
                                          h->controllers.front()) != e.controllers.end());
      if (match) {
        dirs.emplace_back(h, e.path == "/" ? h->mount_point : absl::StrCat(h->mount_point, e.path));
        break;
      }
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  originals_.emplace(tid, std::move(dirs));
  return absl::OkStatus();
}

absl::Status Backend::ResetThread(pid_t tid) {
  std::vector<std::pair<const Hierarchy*, std::string>> dirs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = originals_.find(tid);
    if (it == originals_.end()) {
      return absl::NotFoundError(
          absl::StrCat("thread ", tid, " was never bound through this ContainerSystem"));
    }
    dirs = it->second;
  }
  RCBENCH_RETURN_IF_ERROR(MoveThreadTo(tid, dirs));
  std::lock_guard<std::mutex> lock(mu_);
  originals_.erase(tid);
  return absl::OkStatus();
}

void Backend::RecordSocket(int fd, uint64_t inode, std::string path) {
  std::lock_guard<std::mutex> lock(mu_);
  sockets_[fd] = {inode, std::move(path)};
}

void Backend::ForgetSocket(int fd) {
  std::lock_guard<std::mutex> lock(mu_);
  sockets_.erase(fd);
}

absl::StatusOr<std::string> Backend::SocketPath(int fd, uint64_t inode) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sockets_.find(fd);
  if (it == sockets_.end() || it->second.first != inode) {
    return absl::NotFoundError(absl::StrCat("socket ", fd, " is not bound to a container"));
  }
  return it->second.second;
}

void Backend::RenameSockets(absl::string_view from, absl::string_view to) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [fd, entry] : sockets_) {
    if (IsSameOrBelow(entry.second, from)) {
      entry.second = absl::StrCat(to, entry.second.substr(from.size()));
    }
  }
}

}  // namespace rcbench::rc::internal
