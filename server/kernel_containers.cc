#include "server/kernel_containers.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/logging.h"
#include "common/status_macros.h"

namespace rcbench::server {
namespace {

// A server killed with SIGKILL cannot remove its server-<pid> subtree. The next server on the
// host removes the subtrees of servers whose process no longer exists (members still inside,
// e.g. an orphaned CGI child, are moved up by Destroy). A reused pid keeps its subtree: it may
// be a live server.
void RemoveStaleServerSubtrees(rc::ContainerSystem& system) {
  auto paths = system.List();
  if (!paths.ok()) return;
  for (const std::string& path : *paths) {
    // At the top or below the container an agent started the server in.
    absl::string_view rest = path;
    if (size_t slash = rest.rfind('/'); slash != absl::string_view::npos) {
      rest.remove_prefix(slash + 1);
    }
    int pid = 0;
    if (!absl::ConsumePrefix(&rest, "server-") || !absl::SimpleAtoi(rest, &pid) || pid <= 0) {
      continue;  // not a server's subtree
    }
    if (kill(pid, 0) == 0 || errno != ESRCH) continue;
    absl::Status s = system.Destroy(path, /*recursive=*/true);
    if (s.ok()) {
      RCBENCH_LOG(INFO) << "removed the container subtree " << path << " of a dead server";
    }
  }
}

// cgroup.procs of the cgroup this process is in, in every hierarchy `system` manages.
absl::StatusOr<std::vector<std::string>> OriginalProcsFiles(rc::ContainerSystem& system) {
  const std::string self = absl::StrCat("/proc/", getpid(), "/cgroup");
  RCBENCH_ASSIGN_OR_RETURN(std::string content, system.fs().ReadFile(self));
  RCBENCH_ASSIGN_OR_RETURN(auto entries, rc::ParseProcCgroup(content, self));
  std::vector<std::string> out;
  for (const rc::Hierarchy* h : system.layout().Managed()) {
    for (const rc::ProcCgroupEntry& e : entries) {
      const bool match = h->version == 2 ? (e.hierarchy_id == 0 && e.controllers.empty())
                                         : std::find(e.controllers.begin(), e.controllers.end(),
                                                     h->controllers.front()) != e.controllers.end();
      if (!match) continue;
      out.push_back(absl::StrCat(h->mount_point, e.path == "/" ? "" : e.path, "/cgroup.procs"));
      break;
    }
  }
  return out;
}

// The container this process was started in (by an agent, say), relative to the root subtree;
// "" when it is not below the subtree.
std::string EnclosingContainer(rc::ContainerSystem& system) {
  const std::string self = absl::StrCat("/proc/", getpid(), "/cgroup");
  auto content = system.fs().ReadFile(self);
  if (!content.ok()) return "";
  auto entries = rc::ParseProcCgroup(*content, self);
  if (!entries.ok()) return "";
  const rc::Hierarchy& h = system.layout().Primary();
  for (const rc::ProcCgroupEntry& e : *entries) {
    const bool match = h.version == 2 ? (e.hierarchy_id == 0 && e.controllers.empty())
                                      : std::find(e.controllers.begin(), e.controllers.end(),
                                                  h.controllers.front()) != e.controllers.end();
    if (!match) continue;
    std::string dir = absl::StrCat(h.mount_point, e.path == "/" ? "" : e.path);
    absl::string_view rest = dir;
    if (!absl::ConsumePrefix(&rest, h.subtree_dir) || !absl::ConsumePrefix(&rest, "/")) return "";
    return std::string(rest);
  }
  return "";
}

}  // namespace

absl::StatusOr<std::unique_ptr<RcKernelContainers>> RcKernelContainers::Open(
    rc::ContainerSystem::Options options) {
  std::unique_ptr<RcKernelContainers> kc(new RcKernelContainers());
  RCBENCH_ASSIGN_OR_RETURN(kc->system_, rc::ContainerSystem::Open(std::move(options)));
  RemoveStaleServerSubtrees(*kc->system_);
  rc::CreateOptions create;
  create.remove_on_release = true;
  // Started inside a container (an agent's, for a multi-host run), the server's subtree goes
  // below it, so that container's usage still includes the server's. Where that is impossible
  // (cgroup v2 enables controllers for children only in a cgroup without processes, and the
  // server is in it), the subtree goes to the top and the log says so.
  const std::string enclosing = EnclosingContainer(*kc->system_);
  const std::string own = absl::StrCat("server-", getpid());
  absl::StatusOr<rc::Container> server = absl::NotFoundError("");
  if (!enclosing.empty()) {
    kc->server_path_ = absl::StrCat(enclosing, "/", own);
    server = kc->system_->Create(kc->server_path_, rc::Attributes{}, create);
    if (!server.ok()) {
      RCBENCH_LOG(WARNING) << "cannot make the server's container below " << enclosing
                           << ", where it was started (" << server.status()
                           << "); making it at the top: " << enclosing
                           << "'s usage will not include the server's";
    }
  }
  if (!server.ok()) {
    kc->server_path_ = own;
    server = kc->system_->Create(kc->server_path_, rc::Attributes{}, create);
  }
  RCBENCH_RETURN_IF_ERROR(server.status());
  kc->server_ = *std::move(server);
  // Remember where the process is, to put it back before the subtree is removed (removal
  // would move it to the root subtree, which then could not be removed).
  RCBENCH_ASSIGN_OR_RETURN(kc->original_procs_, OriginalProcsFiles(*kc->system_));
  RCBENCH_ASSIGN_OR_RETURN(kc->main_, kc->system_->CreateChild(&kc->server_, "main"));
  // Threads started later (workers, CGI children) inherit it.
  RCBENCH_RETURN_IF_ERROR(kc->main_.BindProcess(0));
  return kc;
}

absl::StatusOr<int> RcKernelContainers::Create(const KernelContainerSpec& spec) {
  rc::Attributes attrs;
  attrs.cpu_weight = spec.weight;
  if (spec.cpu_limit) attrs.cpu_limit_cores = *spec.cpu_limit;
  rc::CreateOptions create;
  create.threaded = spec.threaded;
  const rc::HostLayout& layout = system_->layout();
  // v2 binds single threads only inside the threaded subtree of the process's own cgroup.
  const rc::Container* parent =
      spec.threaded && layout.backend == rc::BackendKind::kV2 ? &main_ : &server_;
  Entry e;
  e.name = spec.name;
  RCBENCH_ASSIGN_OR_RETURN(e.handle, system_->CreateChild(parent, spec.name, attrs, create));
  if (!spec.threaded) {
    // Descriptors a forked child writes "0" to before exec, so it never runs outside.
    for (const rc::Hierarchy* h : layout.Managed()) {
      std::string procs = system_->fs().RealPath(
          absl::StrCat(layout.ContainerDir(*h, e.handle.path()), "/cgroup.procs"));
      int fd = open(procs.c_str(), O_WRONLY | O_CLOEXEC);
      if (fd < 0) {
        return absl::UnavailableError(absl::StrCat("open ", procs, ": ", std::strerror(errno)));
      }
      e.join_fds.push_back(fd);
    }
  }
  containers_.push_back(std::move(e));
  return static_cast<int>(containers_.size() - 1);
}

absl::Status RcKernelContainers::BindThread(int id, pid_t tid) {
  return containers_[id].handle.BindThread(tid);
}

absl::StatusOr<double> RcKernelContainers::CpuSeconds(int id) {
  RCBENCH_ASSIGN_OR_RETURN(rc::Usage u, containers_[id].handle.ReadUsage());
  return static_cast<double>(u.cpu_usage_ns) * 1e-9;
}

absl::StatusOr<double> RcKernelContainers::ServerCpuSeconds() {
  RCBENCH_ASSIGN_OR_RETURN(rc::Usage u, server_.ReadUsage());
  return static_cast<double>(u.cpu_usage_ns) * 1e-9;
}

void RcKernelContainers::RestoreProcess() {
  const std::string pid = absl::StrCat(getpid());
  for (const std::string& procs : original_procs_) {
    absl::Status s = system_->fs().WriteFile(procs, pid);
    if (!s.ok()) {
      RCBENCH_LOG(WARNING) << "moving the server back to " << procs << ": " << s;
    }
  }
}

RcKernelContainers::~RcKernelContainers() {
  for (Entry& e : containers_) {
    for (int fd : e.join_fds) close(fd);
  }
  containers_.clear();
  if (main_.valid()) RestoreProcess();
  main_.Release();
  // Removes server-<pid> and everything below it, moving any member left to the parent.
  server_.Release();
  // The root subtree too, if nobody else uses it.
  if (system_) system_->RemoveRootIfEmpty();
}

}  // namespace rcbench::server
