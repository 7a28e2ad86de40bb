#include "server/kernel_containers.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"

namespace rcbench::server {
namespace {

bool IsDir(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool Exists(const std::string& p) { return access(p.c_str(), F_OK) == 0; }

absl::Status WriteFile(const std::string& path, absl::string_view value) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::UnavailableError(absl::StrCat("open ", path, ": ", std::strerror(errno)));
  }
  ssize_t n = write(fd, value.data(), value.size());
  int err = errno;
  close(fd);
  if (n != static_cast<ssize_t>(value.size())) {
    return absl::UnavailableError(
        absl::StrCat("write \"", value, "\" to ", path, ": ", std::strerror(err)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::ostringstream s;
  s << in.rdbuf();
  return std::move(s).str();
}

// Our process's cgroup path in the hierarchy whose /proc/self/cgroup line matches `pred`.
std::string OwnCgroup(bool v2, absl::string_view controller) {
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> f = absl::StrSplit(line, absl::MaxSplits(':', 2));
    if (f.size() != 3) continue;
    if (v2 && f[0] == "0" && f[1].empty()) return f[2];
    if (!v2) {
      for (absl::string_view c : absl::StrSplit(f[1], ',')) {
        if (c == controller) return f[2];
      }
    }
  }
  return "/";
}

bool ValidContainerName(absl::string_view name) {
  if (name.empty() || name.size() > 64 || name == "." || name == "..") return false;
  for (char c : name) {
    if (!(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')) {
      return false;
    }
  }
  return true;
}

}  // namespace

absl::StatusOr<std::unique_ptr<CgroupKernelContainers>> CgroupKernelContainers::Open(
    absl::string_view root, absl::string_view subtree) {
  std::unique_ptr<CgroupKernelContainers> kc(new CgroupKernelContainers());
  kc->root_ = std::string(root);
  std::string server = absl::StrCat("server-", getpid());
  std::vector<std::string> hierarchies;
  if (Exists(absl::StrCat(root, "/cgroup.controllers"))) {
    auto controllers = ReadFile(absl::StrCat(root, "/cgroup.controllers"));
    if (!controllers.ok() || controllers->find("cpu") == std::string::npos) {
      return absl::FailedPreconditionError(
          absl::StrCat(root, " is cgroup v2 but the cpu controller is not available"));
    }
    kc->v2_ = true;
    hierarchies.push_back(std::string(root));
  } else if (IsDir(absl::StrCat(root, "/cpu")) && IsDir(absl::StrCat(root, "/cpuacct"))) {
    hierarchies.push_back(absl::StrCat(root, "/cpu"));
    char a[PATH_MAX], b[PATH_MAX];
    std::string acct = absl::StrCat(root, "/cpuacct");
    // cpu and cpuacct may be one co-mounted hierarchy.
    if (!realpath(hierarchies[0].c_str(), a) || !realpath(acct.c_str(), b) ||
        std::strcmp(a, b) != 0) {
      hierarchies.push_back(acct);
    }
  } else {
    return absl::FailedPreconditionError(
        absl::StrCat("no usable cgroup hierarchy under ", root,
                     ": need cgroup v2 with the cpu controller, or v1 cpu and cpuacct mounts"));
  }
  kc->mounts_ = hierarchies;
  for (const std::string& h : hierarchies) {
    std::string sub = absl::StrCat(h, "/", subtree);
    if (!IsDir(sub)) {
      if (mkdir(sub.c_str(), 0755) != 0 && errno != EEXIST) {
        return absl::FailedPreconditionError(
            absl::StrCat("mkdir ", sub, ": ", std::strerror(errno),
                         " (rcbench-server needs root for --containers on)"));
      }
    }
    if (kc->v2_) {
      RCBENCH_RETURN_IF_ERROR(WriteFile(absl::StrCat(h, "/cgroup.subtree_control"), "+cpu"));
      RCBENCH_RETURN_IF_ERROR(WriteFile(absl::StrCat(sub, "/cgroup.subtree_control"), "+cpu"));
    }
    std::string base = absl::StrCat(sub, "/", server);
    if (mkdir(base.c_str(), 0755) != 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("mkdir ", base, ": ", std::strerror(errno)));
    }
    kc->created_.push_back(base);
    if (kc->v2_) {
      RCBENCH_RETURN_IF_ERROR(WriteFile(absl::StrCat(base, "/cgroup.subtree_control"), "+cpu"));
    }
    kc->bases_.push_back(base);
  }
  if (kc->v2_) kc->original_v2_cgroup_ = OwnCgroup(true, "");
  return kc;
}

absl::Status CgroupKernelContainers::EnsureThreadedRoot() {
  if (threaded_root_) return absl::OkStatus();
  // v2 puts threads of one process into different cgroups only inside a threaded subtree; the
  // process moves into <base>/main, whose children are threaded.
  std::string main = absl::StrCat(bases_[0], "/main");
  if (mkdir(main.c_str(), 0755) != 0 && errno != EEXIST) {
    return absl::UnavailableError(absl::StrCat("mkdir ", main, ": ", std::strerror(errno)));
  }
  created_.push_back(main);
  RCBENCH_RETURN_IF_ERROR(WriteFile(absl::StrCat(main, "/cgroup.procs"), absl::StrCat(getpid())));
  threaded_root_ = true;
  return absl::OkStatus();
}

absl::StatusOr<int> CgroupKernelContainers::Create(const KernelContainerSpec& spec) {
  if (!ValidContainerName(spec.name)) {
    return absl::InvalidArgumentError(
        absl::StrCat("container name \"", spec.name, "\": expected [A-Za-z0-9_.-]{1,64}"));
  }
  if (spec.weight < 1 || spec.weight > 10000) {
    return absl::InvalidArgumentError(
        absl::StrCat("container weight ", spec.weight, ": expected 1..10000"));
  }
  Container c;
  c.spec = spec;
  for (size_t h = 0; h < bases_.size(); ++h) {
    std::string parent = bases_[h];
    if (v2_ && spec.threaded) {
      RCBENCH_RETURN_IF_ERROR(EnsureThreadedRoot());
      parent = absl::StrCat(parent, "/main");
    }
    std::string dir = absl::StrCat(parent, "/", spec.name);
    if (mkdir(dir.c_str(), 0755) != 0) {
      return absl::UnavailableError(absl::StrCat("mkdir ", dir, ": ", std::strerror(errno)));
    }
    created_.push_back(dir);
    c.dirs.push_back(dir);
    bool is_cpu_hierarchy = v2_ || h == 0;
    if (v2_ && spec.threaded) {
      RCBENCH_RETURN_IF_ERROR(WriteFile(absl::StrCat(dir, "/cgroup.type"), "threaded"));
    }
    if (is_cpu_hierarchy) {
      if (v2_) {
        RCBENCH_RETURN_IF_ERROR(
            WriteFile(absl::StrCat(dir, "/cpu.weight"), absl::StrCat(spec.weight)));
      } else {
        RCBENCH_RETURN_IF_ERROR(
            WriteFile(absl::StrCat(dir, "/cpu.shares"),
                      absl::StrCat(std::max<uint64_t>(2, uint64_t{spec.weight} * 1024 / 100))));
      }
      if (spec.cpu_limit) {
        int64_t quota = static_cast<int64_t>(*spec.cpu_limit * 100000);
        if (quota < 1000) quota = 1000;
        if (v2_) {
          RCBENCH_RETURN_IF_ERROR(
              WriteFile(absl::StrCat(dir, "/cpu.max"), absl::StrCat(quota, " 100000")));
        } else {
          RCBENCH_RETURN_IF_ERROR(WriteFile(absl::StrCat(dir, "/cpu.cfs_period_us"), "100000"));
          RCBENCH_RETURN_IF_ERROR(
              WriteFile(absl::StrCat(dir, "/cpu.cfs_quota_us"), absl::StrCat(quota)));
        }
      }
    }
    if (!spec.threaded) {
      std::string procs = absl::StrCat(dir, "/cgroup.procs");
      int fd = open(procs.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
      if (fd < 0) {
        return absl::UnavailableError(absl::StrCat("open ", procs, ": ", std::strerror(errno)));
      }
      c.join_fds.push_back(fd);
    }
  }
  containers_.push_back(std::move(c));
  return static_cast<int>(containers_.size() - 1);
}

absl::Status CgroupKernelContainers::BindThread(int id, pid_t tid) {
  const Container& c = containers_[id];
  for (const std::string& dir : c.dirs) {
    RCBENCH_RETURN_IF_ERROR(
        WriteFile(absl::StrCat(dir, v2_ ? "/cgroup.threads" : "/tasks"), absl::StrCat(tid)));
  }
  return absl::OkStatus();
}

std::vector<int> CgroupKernelContainers::JoinFds(int id) { return containers_[id].join_fds; }

absl::StatusOr<double> CgroupKernelContainers::CpuSeconds(int id) {
  const Container& c = containers_[id];
  if (v2_) {
    RCBENCH_ASSIGN_OR_RETURN(std::string stat, ReadFile(absl::StrCat(c.dirs[0], "/cpu.stat")));
    for (absl::string_view line : absl::StrSplit(stat, '\n')) {
      uint64_t usec;
      if (absl::ConsumePrefix(&line, "usage_usec ") && absl::SimpleAtoi(line, &usec)) {
        return usec * 1e-6;
      }
    }
    return absl::DataLossError(absl::StrCat(c.dirs[0], "/cpu.stat: no usage_usec line"));
  }
  std::string path = absl::StrCat(c.dirs.back(), "/cpuacct.usage");
  RCBENCH_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  uint64_t ns;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &ns)) {
    return absl::DataLossError(absl::StrCat(path, ": not a number: \"", text, "\""));
  }
  return ns * 1e-9;
}

CgroupKernelContainers::~CgroupKernelContainers() {
  for (Container& c : containers_) {
    for (int fd : c.join_fds) close(fd);
  }
  if (threaded_root_) {
    (void)WriteFile(absl::StrCat(root_, original_v2_cgroup_, "/cgroup.procs"),
                    absl::StrCat(getpid()));
  }
  for (auto it = created_.rbegin(); it != created_.rend(); ++it) {
    if (rmdir(it->c_str()) == 0 || errno == ENOENT) continue;
    // Members still inside (a thread or child that outlived us): move them back, then retry.
    for (const char* file : {"/cgroup.procs", "/tasks"}) {
      auto members = ReadFile(absl::StrCat(*it, file));
      if (!members.ok()) continue;
      std::string target = root_;
      for (const std::string& m : mounts_) {
        if (it->rfind(m, 0) == 0) target = m;
      }
      for (absl::string_view m : absl::StrSplit(*members, '\n', absl::SkipEmpty())) {
        (void)WriteFile(absl::StrCat(target, file), m);
      }
    }
    rmdir(it->c_str());
  }
}

}  // namespace rcbench::server
