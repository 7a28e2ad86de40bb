// The cgroup v2 backend: containers are directories of the unified hierarchy. Domain
// containers get cpu, memory, pids and io; threaded containers (for binding single threads)
// only the threaded controllers cpu and pids.

#include <algorithm>
#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "rc/backend.h"
#include "rc/cgroup_files.h"
#include "rc/names.h"
#include "rc/usage_reader.h"

namespace rcbench::rc::internal {
namespace {

constexpr absl::string_view kDomainControllers[] = {"cpu", "memory", "pids", "io"};
constexpr absl::string_view kThreadedControllers[] = {"cpu", "pids"};

class V2Backend : public Backend {
 public:
  using Backend::Backend;

  absl::Status EnsureSubtree() override {
    const Hierarchy& h = layout_.Primary();
    RCBENCH_RETURN_IF_ERROR(Enable(h.mount_point, /*threaded=*/false, "the cgroup v2 root"));
    absl::Status s = fs_->MakeDir(h.subtree_dir);
    if (!s.ok() && !absl::IsAlreadyExists(s)) return s;
    return absl::OkStatus();
  }

  absl::Status CreateNode(absl::string_view path, bool threaded) override {
    const Hierarchy& h = layout_.Primary();
    const std::string parent = ParentPath(path);
    if (IsThreaded(parent)) threaded = true;  // children of threaded cgroups are threaded
    RCBENCH_RETURN_IF_ERROR(
        Enable(Dir(h, parent), threaded, absl::StrCat("container '", parent, "'")));
    const std::string dir = Dir(h, path);
    absl::Status s = fs_->MakeDir(dir);
    if (absl::IsAlreadyExists(s)) {
      return absl::AlreadyExistsError(absl::StrCat("container '", path, "' exists (", dir, ")"));
    }
    RCBENCH_RETURN_IF_ERROR(s);
    if (threaded && !IsThreaded(path)) {
      s = fs_->WriteFile(dir + "/cgroup.type", "threaded");
      if (!s.ok()) {
        fs_->RemoveDir(dir).IgnoreError();
        return absl::FailedPreconditionError(
            absl::StrCat("cannot make container '", path, "' threaded: ", s.message(),
                         " (its parent must be a domain with only threaded controllers enabled)"));
      }
    }
    return absl::OkStatus();
  }

  bool IsThreaded(absl::string_view path) const override {
    auto t = fs_->ReadFile(Dir(layout_.Primary(), path) + "/cgroup.type");
    return t.ok() && absl::StripAsciiWhitespace(*t) == "threaded";
  }

  absl::Status SetAttributes(absl::string_view path, const Attributes& a) override {
    RCBENCH_RETURN_IF_ERROR(ValidateAttributes(a));
    const std::string dir = Dir(layout_.Primary(), path);
    if (a.cpu_weight.has_value()) {
      RCBENCH_RETURN_IF_ERROR(Write(path, dir, "cpu.weight", absl::StrCat(*a.cpu_weight), "cpu"));
    }
    if (a.cpu_limit_cores.has_value() || a.cpu_period_us.has_value()) {
      CpuMax current;
      const std::string file = dir + "/cpu.max";
      auto text = fs_->ReadFile(file);
      if (text.ok()) {
        RCBENCH_ASSIGN_OR_RETURN(current, ParseCpuMax(*text, file));
      } else if (!absl::IsNotFound(text.status())) {
        return text.status();
      }
      const uint64_t period = a.cpu_period_us.value_or(current.period_us);
      double limit = 0;
      if (a.cpu_limit_cores.has_value()) {
        limit = *a.cpu_limit_cores;
      } else if (current.quota_us.has_value()) {
        limit = static_cast<double>(*current.quota_us) / static_cast<double>(current.period_us);
      }
      std::string value;
      if (limit == 0) {
        value = absl::StrCat("max ", period);
      } else {
        const int64_t quota = std::llround(limit * static_cast<double>(period));
        if (quota < 1000) {
          return absl::InvalidArgumentError(absl::StrCat("cpu_limit_cores ", limit, " with period ",
                                                         period, " us gives a quota of ", quota,
                                                         " us; the kernel's minimum is 1000 us"));
        }
        value = absl::StrCat(quota, " ", period);
      }
      RCBENCH_RETURN_IF_ERROR(Write(path, dir, "cpu.max", value, "cpu"));
    }
    if (a.memory_limit_bytes.has_value()) {
      RCBENCH_RETURN_IF_ERROR(Write(
          path, dir, "memory.max",
          *a.memory_limit_bytes == 0 ? std::string("max") : absl::StrCat(*a.memory_limit_bytes),
          "memory"));
    }
    if (a.pids_limit.has_value()) {
      RCBENCH_RETURN_IF_ERROR(
          Write(path, dir, "pids.max",
                *a.pids_limit == 0 ? std::string("max") : absl::StrCat(*a.pids_limit), "pids"));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<Attributes> GetAttributes(absl::string_view path) const override {
    const std::string dir = Dir(layout_.Primary(), path);
    Attributes a;
    RCBENCH_ASSIGN_OR_RETURN(std::optional<std::string> weight, ReadOptional(dir + "/cpu.weight"));
    if (weight.has_value()) {
      RCBENCH_ASSIGN_OR_RETURN(uint64_t w, ParseUint(*weight, dir + "/cpu.weight"));
      a.cpu_weight = static_cast<uint32_t>(w);
    }
    RCBENCH_ASSIGN_OR_RETURN(std::optional<std::string> max, ReadOptional(dir + "/cpu.max"));
    if (max.has_value()) {
      RCBENCH_ASSIGN_OR_RETURN(CpuMax m, ParseCpuMax(*max, dir + "/cpu.max"));
      a.cpu_period_us = static_cast<uint32_t>(m.period_us);
      a.cpu_limit_cores = m.quota_us.has_value()
                              ? static_cast<double>(*m.quota_us) / static_cast<double>(m.period_us)
                              : 0.0;
    }
    RCBENCH_ASSIGN_OR_RETURN(std::optional<std::string> mem, ReadOptional(dir + "/memory.max"));
    if (mem.has_value()) {
      RCBENCH_ASSIGN_OR_RETURN(std::optional<uint64_t> v,
                               ParseUintOrMax(*mem, dir + "/memory.max"));
      a.memory_limit_bytes = v.value_or(0);
    }
    RCBENCH_ASSIGN_OR_RETURN(std::optional<std::string> pids, ReadOptional(dir + "/pids.max"));
    if (pids.has_value()) {
      RCBENCH_ASSIGN_OR_RETURN(std::optional<uint64_t> v, ParseUintOrMax(*pids, dir + "/pids.max"));
      a.pids_limit = v.value_or(0);
    }
    return a;
  }

  absl::Status BindThread(absl::string_view path, pid_t tid) override {
    RCBENCH_RETURN_IF_ERROR(RecordOriginal(tid));
    absl::Status s =
        fs_->WriteFile(Dir(layout_.Primary(), path) + "/cgroup.threads", absl::StrCat(tid));
    if (absl::IsFailedPrecondition(s) || absl::IsInvalidArgument(s)) {
      return absl::FailedPreconditionError(absl::StrCat(
          s.message(),
          " (binding a single thread on cgroup v2 needs a threaded container, "
          "CreateOptions::threaded, whose threaded domain holds the thread's process)"));
    }
    return s;
  }

  absl::Status BindProcess(absl::string_view path, pid_t pid) override {
    absl::Status s =
        fs_->WriteFile(Dir(layout_.Primary(), path) + "/cgroup.procs", absl::StrCat(pid));
    if (absl::IsFailedPrecondition(s)) {
      return absl::FailedPreconditionError(
          absl::StrCat(s.message(),
                       " (cgroup v2 keeps processes out of containers that have children with "
                       "controllers: bind processes to leaves)"));
    }
    return s;
  }

  absl::StatusOr<std::vector<pid_t>> Members(absl::string_view path, bool threads) const override {
    const std::string file =
        Dir(layout_.Primary(), path) + (threads ? "/cgroup.threads" : "/cgroup.procs");
    RCBENCH_ASSIGN_OR_RETURN(std::string t, fs_->ReadFile(file));
    RCBENCH_ASSIGN_OR_RETURN(std::vector<int> ids, ParseIdList(t, file));
    return std::vector<pid_t>(ids.begin(), ids.end());
  }

  absl::Status MoveMembers(absl::string_view from, const std::string* to) override {
    const Hierarchy& h = layout_.Primary();
    const bool threaded = IsThreaded(from);
    const std::string kind = threaded ? "/cgroup.threads" : "/cgroup.procs";
    const std::string src = Dir(h, from) + kind;
    const std::string dst_dir = to != nullptr ? Dir(h, *to) : ParentDir(h, from);
    for (int round = 0; round < 8; ++round) {
      RCBENCH_ASSIGN_OR_RETURN(std::string t, fs_->ReadFile(src));
      RCBENCH_ASSIGN_OR_RETURN(std::vector<int> ids, ParseIdList(t, src));
      if (ids.empty()) return absl::OkStatus();
      for (int id : ids) {
        absl::Status s = fs_->WriteFile(dst_dir + kind, absl::StrCat(id));
        if (absl::IsFailedPrecondition(s) && to == nullptr) {
          // The parent has children with controllers ("no internal processes"): the
          // hierarchy root takes anyone.
          s = fs_->WriteFile(h.mount_point + "/cgroup.procs", absl::StrCat(id));
        }
        if (!s.ok() && !absl::IsNotFound(s)) return s;
      }
    }
    return absl::FailedPreconditionError(absl::StrCat(src, ": members keep arriving"));
  }

  absl::Status MoveThreadTo(
      pid_t tid, const std::vector<std::pair<const Hierarchy*, std::string>>& dirs) override {
    for (const auto& [h, dir] : dirs) {
      RCBENCH_RETURN_IF_ERROR(fs_->WriteFile(dir + "/cgroup.threads", absl::StrCat(tid)));
    }
    return absl::OkStatus();
  }

 private:
  absl::StatusOr<std::optional<std::string>> ReadOptional(const std::string& file) const {
    return ReadOptionalFile(*fs_, file);
  }

  absl::Status Write(absl::string_view path, const std::string& dir, absl::string_view file,
                     const std::string& value, absl::string_view controller) {
    absl::Status s = fs_->WriteFile(absl::StrCat(dir, "/", file), value);
    if (absl::IsNotFound(s)) {
      return absl::FailedPreconditionError(
          absl::StrCat(s.message(), ": the ", controller,
                       " controller is not enabled for container '", path, "'",
                       IsThreaded(path) && controller != "cpu" && controller != "pids"
                           ? " (threaded containers only get threaded controllers)"
                           : " (see its parent's cgroup.controllers)"));
    }
    return s;
  }

  // Enables the wanted controllers in `dir`/cgroup.subtree_control (those `dir` has).
  absl::Status Enable(const std::string& dir, bool threaded, absl::string_view what) {
    const std::string controllers_file = dir + "/cgroup.controllers";
    const std::string subtree_file = dir + "/cgroup.subtree_control";
    RCBENCH_ASSIGN_OR_RETURN(std::string available, fs_->ReadFile(controllers_file));
    auto subtree = fs_->ReadFile(subtree_file);
    std::vector<std::string> enabled =
        subtree.ok() ? ParseWords(*subtree) : std::vector<std::string>();
    std::vector<std::string> have = ParseWords(available);
    auto contains = [](const std::vector<std::string>& v, absl::string_view x) {
      return std::find(v.begin(), v.end(), x) != v.end();
    };
    if (threaded) {
      for (const std::string& c : enabled) {
        if (!contains({"cpu", "pids", "cpuset", "perf_event"}, c)) {
          return absl::FailedPreconditionError(absl::StrCat(
              "cannot create a threaded container under ", what, ": its ", subtree_file,
              " enables the domain controller '", c, "' for other children"));
        }
      }
    }
    std::vector<std::string> add;
    auto consider = [&](absl::string_view c) {
      if (contains(have, c) && !contains(enabled, c)) add.push_back(absl::StrCat("+", c));
    };
    if (threaded) {
      for (absl::string_view c : kThreadedControllers) consider(c);
    } else {
      for (absl::string_view c : kDomainControllers) consider(c);
    }
    if (add.empty()) return absl::OkStatus();
    absl::Status s = fs_->WriteFile(subtree_file, absl::StrJoin(add, " "));
    if (absl::IsFailedPrecondition(s)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "cannot enable controllers for children of ", what, ": ", s.message(),
          " (cgroup v2 forbids children with controllers under a container that has member "
          "processes)"));
    }
    return s;
  }
};

}  // namespace

std::unique_ptr<Backend> MakeV2Backend(std::shared_ptr<CgroupFs> fs, HostLayout layout) {
  return std::make_unique<V2Backend>(std::move(fs), std::move(layout));
}

}  // namespace rcbench::rc::internal
