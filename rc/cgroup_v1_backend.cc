// The cgroup v1 backend: one directory per container in each of the cpu, cpuacct, memory and
// pids hierarchies that are mounted (co-mounted controllers share a directory).

#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "rc/backend.h"
#include "rc/cgroup_files.h"
#include "rc/names.h"

namespace rcbench::rc::internal {
namespace {

// memory.limit_in_bytes reads back as PAGE_COUNTER_MAX pages when unlimited.
constexpr uint64_t kV1Unlimited = uint64_t{1} << 62;

class V1Backend : public Backend {
 public:
  using Backend::Backend;

  absl::Status EnsureSubtree() override {
    for (const Hierarchy* h : layout_.Managed()) {
      absl::Status s = fs_->MakeDir(h->subtree_dir);
      if (!s.ok() && !absl::IsAlreadyExists(s)) return s;
    }
    return absl::OkStatus();
  }

  absl::Status CreateNode(absl::string_view path, bool /*threaded*/) override {
    std::vector<std::string> made;
    for (const Hierarchy* h : layout_.Managed()) {
      const std::string dir = Dir(*h, path);
      absl::Status s = fs_->MakeDir(dir);
      if (!s.ok()) {
        for (const std::string& d : made) fs_->RemoveDir(d).IgnoreError();
        if (absl::IsAlreadyExists(s)) {
          return absl::AlreadyExistsError(
              absl::StrCat("container '", path, "' exists (", dir, ")"));
        }
        return s;
      }
      made.push_back(dir);
    }
    return absl::OkStatus();
  }

  bool IsThreaded(absl::string_view) const override { return false; }

  absl::Status SetAttributes(absl::string_view path, const Attributes& a) override {
    RCBENCH_RETURN_IF_ERROR(ValidateAttributes(a));
    const std::string cpu = Dir(*layout_.ForController("cpu"), path);
    if (a.cpu_weight.has_value()) {
      const uint64_t shares = std::max<uint64_t>(2, uint64_t{*a.cpu_weight} * 1024 / 100);
      RCBENCH_RETURN_IF_ERROR(fs_->WriteFile(cpu + "/cpu.shares", absl::StrCat(shares)));
    }
    if (a.cpu_limit_cores.has_value() || a.cpu_period_us.has_value()) {
      RCBENCH_ASSIGN_OR_RETURN(Attributes current, GetCpuLimit(cpu));
      const uint64_t period = a.cpu_period_us.value_or(*current.cpu_period_us);
      const double limit = a.cpu_limit_cores.value_or(*current.cpu_limit_cores);
      const int64_t quota = limit == 0 ? -1 : std::llround(limit * static_cast<double>(period));
      if (quota != -1 && quota < 1000) {
        return absl::InvalidArgumentError(absl::StrCat("cpu_limit_cores ", limit, " with period ",
                                                       period, " us gives a quota of ", quota,
                                                       " us; the kernel's minimum is 1000 us"));
      }
      if (period != *current.cpu_period_us) {
        // Lift the quota first so no intermediate (quota, period) pair is rejected.
        RCBENCH_RETURN_IF_ERROR(fs_->WriteFile(cpu + "/cpu.cfs_quota_us", "-1"));
        RCBENCH_RETURN_IF_ERROR(fs_->WriteFile(cpu + "/cpu.cfs_period_us", absl::StrCat(period)));
      }
      RCBENCH_RETURN_IF_ERROR(fs_->WriteFile(cpu + "/cpu.cfs_quota_us", absl::StrCat(quota)));
    }
    if (a.memory_limit_bytes.has_value()) {
      const Hierarchy* h = layout_.ForController("memory");
      if (h == nullptr) return Missing("memory limit", "memory");
      RCBENCH_RETURN_IF_ERROR(fs_->WriteFile(
          Dir(*h, path) + "/memory.limit_in_bytes",
          *a.memory_limit_bytes == 0 ? std::string("-1") : absl::StrCat(*a.memory_limit_bytes)));
    }
    if (a.pids_limit.has_value()) {
      const Hierarchy* h = layout_.ForController("pids");
      if (h == nullptr) return Missing("pids limit", "pids");
      RCBENCH_RETURN_IF_ERROR(
          fs_->WriteFile(Dir(*h, path) + "/pids.max",
                         *a.pids_limit == 0 ? std::string("max") : absl::StrCat(*a.pids_limit)));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<Attributes> GetAttributes(absl::string_view path) const override {
    const std::string cpu = Dir(*layout_.ForController("cpu"), path);
    RCBENCH_ASSIGN_OR_RETURN(Attributes a, GetCpuLimit(cpu));
    const std::string shares_file = cpu + "/cpu.shares";
    RCBENCH_ASSIGN_OR_RETURN(std::string text, fs_->ReadFile(shares_file));
    RCBENCH_ASSIGN_OR_RETURN(uint64_t shares, ParseUint(text, shares_file));
    a.cpu_weight =
        static_cast<uint32_t>(std::clamp<uint64_t>((shares * 100 + 512) / 1024, 1, 10000));
    if (const Hierarchy* h = layout_.ForController("memory")) {
      const std::string file = Dir(*h, path) + "/memory.limit_in_bytes";
      RCBENCH_ASSIGN_OR_RETURN(std::string t, fs_->ReadFile(file));
      RCBENCH_ASSIGN_OR_RETURN(uint64_t v, ParseUint(t, file));
      a.memory_limit_bytes = v >= kV1Unlimited ? 0 : v;
    }
    if (const Hierarchy* h = layout_.ForController("pids")) {
      const std::string file = Dir(*h, path) + "/pids.max";
      RCBENCH_ASSIGN_OR_RETURN(std::string t, fs_->ReadFile(file));
      RCBENCH_ASSIGN_OR_RETURN(std::optional<uint64_t> v, ParseUintOrMax(t, file));
      a.pids_limit = v.value_or(0);
    }
    return a;
  }

  absl::Status BindThread(absl::string_view path, pid_t tid) override {
    RCBENCH_RETURN_IF_ERROR(RecordOriginal(tid));
    for (const Hierarchy* h : layout_.Managed()) {
      if (h->Has("memory") && !h->Has("cpu")) continue;  // memory is charged per mm, not thread
      RCBENCH_RETURN_IF_ERROR(fs_->WriteFile(Dir(*h, path) + "/tasks", absl::StrCat(tid)));
    }
    return absl::OkStatus();
  }

  absl::Status BindProcess(absl::string_view path, pid_t pid) override {
    for (const Hierarchy* h : layout_.Managed()) {
      RCBENCH_RETURN_IF_ERROR(fs_->WriteFile(Dir(*h, path) + "/cgroup.procs", absl::StrCat(pid)));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<pid_t>> Members(absl::string_view path, bool threads) const override {
    const std::string file = Dir(layout_.Primary(), path) + (threads ? "/tasks" : "/cgroup.procs");
    RCBENCH_ASSIGN_OR_RETURN(std::string t, fs_->ReadFile(file));
    RCBENCH_ASSIGN_OR_RETURN(std::vector<int> ids, ParseIdList(t, file));
    return std::vector<pid_t>(ids.begin(), ids.end());
  }

  absl::Status MoveMembers(absl::string_view from, const std::string* to) override {
    for (const Hierarchy* h : layout_.Managed()) {
      const std::string src = Dir(*h, from) + "/tasks";
      const std::string dst = (to != nullptr ? Dir(*h, *to) : ParentDir(*h, from)) + "/tasks";
      // Threads can be created while we move; a few rounds catch them.
      if (!fs_->IsDir(Dir(*h, from))) continue;  // partially created or removed node
      for (int round = 0; round < 8; ++round) {
        RCBENCH_ASSIGN_OR_RETURN(std::string t, fs_->ReadFile(src));
        RCBENCH_ASSIGN_OR_RETURN(std::vector<int> tids, ParseIdList(t, src));
        if (tids.empty()) break;
        for (int tid : tids) {
          absl::Status s = fs_->WriteFile(dst, absl::StrCat(tid));
          if (!s.ok() && !absl::IsNotFound(s)) return s;  // NOT_FOUND: the thread exited
        }
        if (round == 7) {
          return absl::FailedPreconditionError(absl::StrCat(src, ": members keep arriving"));
        }
      }
    }
    return absl::OkStatus();
  }

  absl::Status MoveThreadTo(
      pid_t tid, const std::vector<std::pair<const Hierarchy*, std::string>>& dirs) override {
    for (const auto& [h, dir] : dirs) {
      if (h->Has("memory") && !h->Has("cpu")) continue;
      RCBENCH_RETURN_IF_ERROR(fs_->WriteFile(dir + "/tasks", absl::StrCat(tid)));
    }
    return absl::OkStatus();
  }

 private:
  absl::StatusOr<uint64_t> ReadUint(const std::string& file) const {
    RCBENCH_ASSIGN_OR_RETURN(std::string t, fs_->ReadFile(file));
    return ParseUint(t, file);
  }

  // cpu_limit_cores (0 = none) and cpu_period_us from cfs_quota_us / cfs_period_us.
  absl::StatusOr<Attributes> GetCpuLimit(const std::string& cpu_dir) const {
    const std::string quota_file = cpu_dir + "/cpu.cfs_quota_us";
    const std::string period_file = cpu_dir + "/cpu.cfs_period_us";
    RCBENCH_ASSIGN_OR_RETURN(std::string qt, fs_->ReadFile(quota_file));
    RCBENCH_ASSIGN_OR_RETURN(int64_t quota, ParseInt(qt, quota_file));
    RCBENCH_ASSIGN_OR_RETURN(uint64_t period, ReadUint(period_file));
    if (period == 0) return absl::InvalidArgumentError(absl::StrCat(period_file, ": period 0"));
    Attributes a;
    a.cpu_period_us = static_cast<uint32_t>(period);
    a.cpu_limit_cores = quota < 0 ? 0.0 : static_cast<double>(quota) / static_cast<double>(period);
    return a;
  }

  static absl::Status Missing(absl::string_view what, absl::string_view controller) {
    return absl::FailedPreconditionError(
        absl::StrCat(what, " needs the ", controller,
                     " controller, which no v1 hierarchy on this host carries"));
  }
};

}  // namespace

std::unique_ptr<Backend> MakeV1Backend(std::shared_ptr<CgroupFs> fs, HostLayout layout) {
  return std::make_unique<V1Backend>(std::move(fs), std::move(layout));
}

}  // namespace rcbench::rc::internal
