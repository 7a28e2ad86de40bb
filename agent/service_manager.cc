#include "agent/service_manager.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <future>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/container_path.h"
#include "agent/request_validation.h"
#include "common/logging.h"

extern char** environ;

namespace rcbench::agent {
namespace {

using rcbench::v1::ServiceStatus;

constexpr size_t kStderrTailLines = 20;

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> Tail(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return {};
  std::streamoff size = in.tellg();
  std::streamoff start = size > 8192 ? size - 8192 : 0;
  in.seekg(start);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> lines = absl::StrSplit(text, '\n', absl::SkipEmpty());
  if (start > 0 && !lines.empty()) lines.erase(lines.begin());  // a partial first line
  if (lines.size() > kStderrTailLines) {
    lines.erase(lines.begin(), lines.end() - static_cast<long>(kStderrTailLines));
  }
  return lines;
}

}  // namespace

struct ServiceManager::Running {
  std::string owner;
  std::string container;
  uint64_t cgroup_id = 0;
  pid_t pid = 0;
  ServiceStatus::State state = ServiceStatus::STATE_STARTING;
  int exit_code = -1;
  int term_signal = 0;
  bool stop_requested = false;
  std::string ready_info;
  std::string log_path;
  std::thread reaper;
};

ServiceManager::ServiceManager(std::map<std::string, ServiceSpec> specs, ContainerAdmin* admin,
                               std::string state_dir, std::string host, ServiceLimits limits,
                               Journal* journal)
    : specs_(std::move(specs)),
      admin_(admin),
      state_dir_(std::move(state_dir)),
      host_(std::move(host)),
      limits_(limits),
      journal_(journal) {
  mkdir(state_dir_.c_str(), 0700);
}

ServiceManager::~ServiceManager() {
  StopAll(std::chrono::seconds(2));
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [name, r] : running_) {
    if (r->reaper.joinable()) r->reaper.join();
  }
}

ServiceStatus ServiceManager::StatusLocked(const std::string& name, Running* r) {
  ServiceStatus s;
  s.set_name(name);
  if (r == nullptr) {
    s.set_state(ServiceStatus::STATE_STOPPED);
    s.set_exit_code(-1);
    return s;
  }
  s.set_state(r->state);
  s.set_pid(r->pid);
  s.set_exit_code(r->exit_code);
  s.set_term_signal(r->term_signal);
  s.mutable_container()->set_host(host_);
  s.mutable_container()->set_path(r->container);
  s.mutable_container()->set_cgroup_id(r->cgroup_id);
  s.set_ready_info(r->ready_info);
  s.set_owner(r->owner);
  for (std::string& line : Tail(r->log_path)) s.add_stderr_tail(std::move(line));
  return s;
}

absl::StatusOr<ServiceStatus> ServiceManager::Start(const rcbench::v1::StartServiceRequest& req) {
  if (absl::Status s = ValidateStartServiceRequest(req, specs_, limits_); !s.ok()) return s;
  const ServiceSpec& spec = specs_.find(req.name())->second;
  if (admin_ == nullptr) {
    return absl::FailedPreconditionError("this agent does not administer containers");
  }
  std::string container = req.container().empty() ? spec.container : req.container();
  if (absl::Status s = ValidateContainerPath(container); !s.ok()) return s;

  auto r = std::make_shared<Running>();
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = running_.find(spec.name);
    if (it != running_.end()) {
      if (it->second->state == ServiceStatus::STATE_STARTING ||
          it->second->state == ServiceStatus::STATE_RUNNING) {
        return absl::AlreadyExistsError(absl::StrCat("service '", spec.name, "' is running"));
      }
      if (it->second->reaper.joinable()) it->second->reaper.join();
    }
    running_[spec.name] = r;
  }
  auto fail = [&](absl::Status s) {
    std::lock_guard<std::mutex> lock(mu_);
    r->state = ServiceStatus::STATE_EXITED;
    return s;
  };
  r->owner = req.owner();
  const std::vector<std::string> created = MissingContainers(*admin_, container);
  auto info = admin_->Create(container, req.container_attributes(), /*exist_ok=*/true);
  if (!info.ok()) return fail(info.status());
  if (journal_ != nullptr) {
    for (const std::string& path : created) {
      if (absl::Status s = journal_->RecordContainer(path, req.owner()); !s.ok()) {
        RCBENCH_LOG(WARNING) << s;
      }
    }
  }
  r->container = container;
  r->cgroup_id = info->id().cgroup_id();
  r->log_path = absl::StrCat(state_dir_, "/", spec.name, ".log");
  std::string ready_path = absl::StrCat(state_dir_, "/", spec.name, ".ready");
  mkdir(state_dir_.c_str(), 0700);  // again: a tmp cleaner may have removed it meanwhile
  unlink(ready_path.c_str());

  // Everything the child needs is prepared before fork: after it only async-signal-safe calls.
  std::vector<std::string> argv_s = spec.command;
  for (const std::string& a : req.args()) argv_s.push_back(a);
  if (!spec.ready_file_flag.empty()) {
    argv_s.push_back(spec.ready_file_flag);
    argv_s.push_back(ready_path);
  }
  std::vector<std::string> env_s;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv = *e;
    std::string key = kv.substr(0, kv.find('='));
    if (!spec.env.count(key)) env_s.push_back(kv);
  }
  for (const auto& [k, v] : spec.env) env_s.push_back(k + "=" + v);

  auto started = std::make_shared<std::promise<absl::StatusOr<pid_t>>>();
  auto started_future = started->get_future();
  // The thread that forks must outlive the child: PR_SET_PDEATHSIG fires when the forking
  // *thread* exits. So one thread per service forks, then waits for the child.
  const std::string service_name = spec.name;
  r->reaper = std::thread([this, r, argv_s, env_s, container, started, service_name]() {
    std::vector<char*> argv, envp;
    for (const auto& a : argv_s) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    for (const auto& e : env_s) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    int go[2], err[2];
    if (pipe2(go, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
      started->set_value(absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno))));
      return;
    }
    int log_fd = open(r->log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
      // Signal masks and ignored dispositions survive execve: without this the service would
      // inherit the agent's blocked SIGTERM and every stop would end in SIGKILL.
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
      struct sigaction dfl;
      memset(&dfl, 0, sizeof(dfl));
      dfl.sa_handler = SIG_DFL;
      for (int sig = 1; sig < NSIG; ++sig) sigaction(sig, &dfl, nullptr);
      setpgid(0, 0);
      prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (getppid() != parent) _exit(127);
      if (null_fd >= 0) dup2(null_fd, 0);
      if (log_fd >= 0) {
        dup2(log_fd, 1);
        dup2(log_fd, 2);
      }
      char c;
      if (read(go[0], &c, 1) != 1) _exit(127);  // the agent could not place us: give up
      execve(argv[0], argv.data(), envp.data());
      int e = errno;
      ssize_t ignored = write(err[1], &e, sizeof(e));
      (void)ignored;
      _exit(127);
    }
    int fork_errno = errno;
    close(go[0]);
    close(err[1]);
    if (log_fd >= 0) close(log_fd);
    if (null_fd >= 0) close(null_fd);
    if (pid < 0) {
      close(go[1]);
      close(err[0]);
      started->set_value(absl::InternalError(absl::StrCat("fork: ", std::strerror(fork_errno))));
      return;
    }
    // Also set here: the journal records the group before the child may have run setpgid.
    setpgid(pid, pid);
    absl::Status placed = admin_->AddProcess(container, pid);
    if (placed.ok()) {
      char c = 'g';
      if (write(go[1], &c, 1) != 1) placed = absl::InternalError("could not release the child");
    }
    close(go[1]);
    int exec_errno = 0;
    ssize_t n = read(err[0], &exec_errno, sizeof(exec_errno));
    close(err[0]);
    if (!placed.ok() || n == sizeof(exec_errno)) {
      if (!placed.ok()) kill(pid, SIGKILL);
      int st;
      waitpid(pid, &st, 0);
      started->set_value(placed.ok() ? absl::FailedPreconditionError(absl::StrCat(
                                           "exec ", argv_s[0], ": ", std::strerror(exec_errno)))
                                     : placed);
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      r->pid = pid;
    }
    if (journal_ != nullptr) {
      JournalService record;
      record.name = service_name;
      record.pid = pid;
      record.process_group = pid;
      record.owner = r->owner;
      record.container = container;
      auto stat = ReadProcStat("/proc", pid);
      if (stat.ok()) record.start_time_ticks = stat->start_time_ticks;
      absl::Status s = stat.ok() ? journal_->RecordService(record) : stat.status();
      if (!s.ok()) {
        RCBENCH_LOG(WARNING) << "journal: service " << service_name << ": " << s;
      }
    }
    started->set_value(pid);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (journal_ != nullptr) {
      if (absl::Status s = journal_->ForgetService(service_name, pid); !s.ok()) {
        RCBENCH_LOG(WARNING) << s;
      }
    }
    std::lock_guard<std::mutex> lock(mu_);
    r->state = r->stop_requested ? ServiceStatus::STATE_STOPPED : ServiceStatus::STATE_EXITED;
    r->exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    r->term_signal = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
    exited_.notify_all();
  });
  absl::StatusOr<pid_t> pid = started_future.get();
  if (!pid.ok()) {
    r->reaper.join();
    return fail(pid.status());
  }
  RCBENCH_LOG(INFO) << "service " << spec.name << " started, pid " << *pid << ", container "
                    << container;

  if (!spec.ready_file_flag.empty()) {
    auto timeout = req.has_ready_timeout()
                       ? std::chrono::seconds(req.ready_timeout().seconds()) +
                             std::chrono::nanoseconds(req.ready_timeout().nanos())
                       : std::chrono::nanoseconds(std::chrono::seconds(10));
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      if (r->state != ServiceStatus::STATE_STARTING) {
        ServiceStatus s = StatusLocked(spec.name, r.get());
        return absl::FailedPreconditionError(absl::StrCat(
            "service '", spec.name, "' exited before it was ready (exit code ", s.exit_code(),
            ", signal ", s.term_signal(),
            "); stderr: ", s.stderr_tail_size() ? s.stderr_tail(s.stderr_tail_size() - 1) : ""));
      }
      // A ready file is complete once it ends with a newline: a service that writes it in
      // place (not by rename) may be seen half-written.
      if (access(ready_path.c_str(), F_OK) == 0) {
        std::string text = ReadFileOrEmpty(ready_path);
        if (!text.empty() && text.back() == '\n') {
          r->ready_info = std::string(absl::StripAsciiWhitespace(text));
          break;
        }
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        lock.unlock();
        Stop(spec.name, std::chrono::seconds(2)).IgnoreError();
        return absl::DeadlineExceededError(
            absl::StrCat("service '", spec.name, "' did not write its ready file in time"));
      }
      exited_.wait_for(lock, std::chrono::milliseconds(10));
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (r->state == ServiceStatus::STATE_STARTING) r->state = ServiceStatus::STATE_RUNNING;
  return StatusLocked(spec.name, r.get());
}

absl::Status ServiceManager::CheckDeclared(absl::string_view name) const {
  if (specs_.count(std::string(name))) return absl::OkStatus();
  return absl::NotFoundError(
      absl::StrCat("service '", name.substr(0, 64), "' is not declared in the agent config"));
}

absl::StatusOr<ServiceStatus> ServiceManager::Stop(absl::string_view name,
                                                   std::chrono::nanoseconds grace) {
  if (absl::Status s = CheckDeclared(name); !s.ok()) return s;
  std::string key(name);
  std::unique_lock<std::mutex> lock(mu_);
  auto it = running_.find(key);
  if (it == running_.end()) return StatusLocked(key, nullptr);
  std::shared_ptr<Running> r = it->second;
  auto alive = [&] {
    return r->state == ServiceStatus::STATE_STARTING || r->state == ServiceStatus::STATE_RUNNING;
  };
  if (alive() && r->pid > 0) {
    r->stop_requested = true;
    kill(-r->pid, SIGTERM);
    if (!exited_.wait_for(lock, grace, [&] { return !alive(); })) {
      kill(-r->pid, SIGKILL);
      exited_.wait(lock, [&] { return !alive(); });
    }
  }
  return StatusLocked(key, r.get());
}

absl::StatusOr<ServiceStatus> ServiceManager::Status(absl::string_view name) {
  if (absl::Status s = CheckDeclared(name); !s.ok()) return s;
  std::string key(name);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = running_.find(key);
  return StatusLocked(key, it == running_.end() ? nullptr : it->second.get());
}

std::vector<std::string> ServiceManager::StopOwnedBy(absl::string_view owner,
                                                     std::chrono::nanoseconds grace) {
  std::vector<std::string> names;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [name, r] : running_) {
      if (r->owner == owner &&
          (r->state == ServiceStatus::STATE_STARTING || r->state == ServiceStatus::STATE_RUNNING)) {
        names.push_back(name);
      }
    }
  }
  for (const std::string& name : names) Stop(name, grace).IgnoreError();
  return names;
}

void ServiceManager::StopAll(std::chrono::nanoseconds grace) {
  std::vector<std::string> names;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [name, r] : running_) names.push_back(name);
  }
  for (const std::string& name : names) Stop(name, grace).IgnoreError();
}

}  // namespace rcbench::agent
