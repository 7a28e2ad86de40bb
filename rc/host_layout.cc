#include "rc/host_layout.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "rc/cgroup_files.h"
#include "rc/names.h"

namespace rcbench::rc {
namespace {

constexpr absl::string_view kV1Controllers[] = {
    "cpu",   "cpuacct",    "cpuset",   "memory",  "devices", "freezer", "net_cls",
    "blkio", "perf_event", "net_prio", "hugetlb", "pids",    "rdma",    "misc"};

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string Unescape(absl::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '7' && s[i + 2] >= '0' &&
        s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
      out.push_back(
          static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0')));
      i += 3;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

bool IsV1Controller(absl::string_view opt) {
  if (absl::StartsWith(opt, "name=")) return true;
  return std::find(std::begin(kV1Controllers), std::end(kV1Controllers), opt) !=
         std::end(kV1Controllers);
}

}  // namespace

absl::string_view CgroupModeName(CgroupMode mode) {
  switch (mode) {
    case CgroupMode::kV1:
      return "v1";
    case CgroupMode::kV2:
      return "v2";
    case CgroupMode::kHybrid:
      return "hybrid";
  }
  return "unknown";
}

absl::string_view BackendKindName(BackendKind kind) {
  return kind == BackendKind::kV2 ? "v2" : "v1";
}

bool Hierarchy::Has(absl::string_view controller) const {
  return std::find(controllers.begin(), controllers.end(), controller) != controllers.end();
}

const Hierarchy* HostLayout::Unified() const {
  for (const Hierarchy& h : hierarchies) {
    if (h.version == 2) return &h;
  }
  return nullptr;
}

const Hierarchy* HostLayout::ForController(absl::string_view controller) const {
  if (backend == BackendKind::kV2) {
    const Hierarchy* u = Unified();
    return u != nullptr && u->Has(controller) ? u : nullptr;
  }
  for (const Hierarchy& h : hierarchies) {
    if (h.version == 1 && h.Has(controller)) return &h;
  }
  return nullptr;
}

const Hierarchy& HostLayout::Primary() const {
  const Hierarchy* h = backend == BackendKind::kV2 ? Unified() : ForController("cpu");
  // ProbeHost only returns layouts whose backend has its primary hierarchy.
  return h != nullptr ? *h : hierarchies.front();
}

std::vector<const Hierarchy*> HostLayout::Managed() const {
  std::vector<const Hierarchy*> out;
  if (backend == BackendKind::kV2) {
    out.push_back(&Primary());
    return out;
  }
  for (absl::string_view c : {"cpu", "cpuacct", "memory", "pids"}) {
    const Hierarchy* h = ForController(c);
    if (h != nullptr && std::find(out.begin(), out.end(), h) == out.end()) out.push_back(h);
  }
  return out;
}

std::string HostLayout::ContainerDir(const Hierarchy& h, absl::string_view path) const {
  if (path.empty()) return h.subtree_dir;
  return absl::StrCat(h.subtree_dir, "/", path);
}

UsageFiles HostLayout::UsageFilesFor(absl::string_view path) const {
  UsageFiles f;
  auto file = [&](absl::string_view controller, absl::string_view name) -> std::string {
    const Hierarchy* h = ForController(controller);
    if (h == nullptr) return "";
    return absl::StrCat(ContainerDir(*h, path), "/", name);
  };
  f.procs = absl::StrCat(ContainerDir(Primary(), path), "/cgroup.procs");
  if (backend == BackendKind::kV2) {
    const std::string dir = ContainerDir(Primary(), path);
    f.cpu_stat = absl::StrCat(dir, "/cpu.stat");  // present even without the cpu controller
    f.memory_current = file("memory", "memory.current");
    f.memory_peak = file("memory", "memory.peak");
    f.memory_stat = file("memory", "memory.stat");
    f.pids_current = file("pids", "pids.current");
    f.io_stat = file("io", "io.stat");
    f.cpu_pressure = absl::StrCat(dir, "/cpu.pressure");
    f.memory_pressure = absl::StrCat(dir, "/memory.pressure");
    f.io_pressure = absl::StrCat(dir, "/io.pressure");
  } else {
    f.cpu_stat = file("cpu", "cpu.stat");
    f.cpuacct_usage = file("cpuacct", "cpuacct.usage");
    f.cpuacct_usage_user = file("cpuacct", "cpuacct.usage_user");
    f.cpuacct_usage_sys = file("cpuacct", "cpuacct.usage_sys");
    f.cpuacct_stat = file("cpuacct", "cpuacct.stat");
    f.memory_current = file("memory", "memory.usage_in_bytes");
    f.memory_peak = file("memory", "memory.max_usage_in_bytes");
    f.memory_stat = file("memory", "memory.stat");
    f.pids_current = file("pids", "pids.current");
    f.blkio_bytes = file("blkio", "blkio.throttle.io_service_bytes_recursive");
    f.blkio_ops = file("blkio", "blkio.throttle.io_serviced_recursive");
    // PSI exists only in cgroup2.
    if (const Hierarchy* unified = Unified(); unified != nullptr) {
      const std::string dir = ContainerDir(*unified, path);
      f.cpu_pressure = absl::StrCat(dir, "/cpu.pressure");
      f.memory_pressure = absl::StrCat(dir, "/memory.pressure");
      f.io_pressure = absl::StrCat(dir, "/io.pressure");
    }
  }
  return f;
}

HostLayout LayoutBelowDirectory(CgroupMode mode, const std::string& base,
                                const std::string& root_name) {
  HostLayout layout;
  layout.mode = mode;
  layout.root_name = root_name;
  auto add = [&](int version, std::string mount, std::vector<std::string> controllers) {
    Hierarchy h;
    h.version = version;
    h.mount_point = std::move(mount);
    h.controllers = std::move(controllers);
    h.subtree_dir = root_name.empty() ? h.mount_point : absl::StrCat(h.mount_point, "/", root_name);
    if (version == 2) {
      layout.mounts["unified"] = h.mount_point;
    } else {
      for (const std::string& c : h.controllers) layout.mounts[c] = h.mount_point;
    }
    layout.hierarchies.push_back(std::move(h));
  };
  if (mode == CgroupMode::kV2) {
    layout.backend = BackendKind::kV2;
    add(2, base, {"cpu", "memory", "pids", "io"});
    return layout;
  }
  layout.backend = BackendKind::kV1;
  for (const char* c : {"cpu", "cpuacct", "memory", "pids", "blkio"}) {
    add(1, absl::StrCat(base, "/", c), {c});
  }
  if (mode == CgroupMode::kHybrid) add(2, absl::StrCat(base, "/unified"), {});
  return layout;
}

absl::StatusOr<HostLayout> ProbeHost(const CgroupFs& fs, const ProbeOptions& options) {
  RCBENCH_RETURN_IF_ERROR(ValidateName(options.root_name));
  RCBENCH_ASSIGN_OR_RETURN(std::string mountinfo, fs.ReadFile(options.mountinfo_path));
  HostLayout layout;
  layout.root_name = options.root_name;
  bool have_v1 = false;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(mountinfo, '\n', absl::SkipEmpty())) {
    ++line_no;
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    auto sep = std::find(f.begin(), f.end(), "-");
    if (f.size() < 10 || sep == f.end() || sep - f.begin() < 6 || f.end() - sep < 4) {
      return absl::InvalidArgumentError(
          absl::StrCat(options.mountinfo_path, ": line ", line_no,
                       ": expected 'ID PARENT MAJ:MIN ROOT MOUNT OPTIONS ... - TYPE SOURCE "
                       "SUPEROPTIONS', got '",
                       line.substr(0, 120), "'"));
    }
    absl::string_view fstype = sep[1];
    if (fstype != "cgroup" && fstype != "cgroup2") continue;
    Hierarchy h;
    h.version = fstype == "cgroup2" ? 2 : 1;
    h.mount_point = Unescape(f[4]);
    for (absl::string_view opt : absl::StrSplit(f[5], ',')) {
      if (opt == "ro") h.read_only = true;
    }
    if (h.version == 1) {
      for (absl::string_view opt : absl::StrSplit(sep[3], ',')) {
        if (IsV1Controller(opt)) h.controllers.emplace_back(opt);
      }
      bool duplicate = false;
      for (const Hierarchy& other : layout.hierarchies) {
        if (other.version == 1 && other.controllers == h.controllers) duplicate = true;
      }
      if (duplicate || h.controllers.empty()) continue;
      have_v1 = true;
    } else {
      if (layout.Unified() != nullptr) continue;  // a bind mount of the same hierarchy
      const std::string controllers_file = absl::StrCat(h.mount_point, "/cgroup.controllers");
      RCBENCH_ASSIGN_OR_RETURN(std::string controllers, fs.ReadFile(controllers_file));
      if (!controllers.empty() && controllers.back() != '\n') {
        return absl::InvalidArgumentError(
            absl::StrCat(controllers_file, ": truncated (no final newline)"));
      }
      h.controllers = ParseWords(controllers);
      for (const std::string& c : h.controllers) {
        if (!IsV1Controller(c) && c != "io") {
          return absl::InvalidArgumentError(
              absl::StrCat(controllers_file, ": unknown controller '", c.substr(0, 40), "'"));
        }
      }
    }
    h.subtree_dir = absl::StrCat(h.mount_point, "/", options.root_name);
    layout.hierarchies.push_back(std::move(h));
  }
  const Hierarchy* unified = layout.Unified();
  if (layout.hierarchies.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("no cgroup filesystem is mounted (no cgroup or cgroup2 entry in ",
                     options.mountinfo_path, ")"));
  }
  layout.mode =
      !have_v1 ? CgroupMode::kV2 : (unified != nullptr ? CgroupMode::kHybrid : CgroupMode::kV1);
  for (const Hierarchy& h : layout.hierarchies) {
    if (h.version == 2) {
      layout.mounts["unified"] = h.mount_point;
    } else {
      for (const std::string& c : h.controllers) layout.mounts.emplace(c, h.mount_point);
    }
  }
  bool v1_cpu = false;
  for (const Hierarchy& h : layout.hierarchies) {
    if (h.version == 1 && h.Has("cpu")) v1_cpu = true;
  }
  const bool v2_cpu = unified != nullptr && unified->Has("cpu");
  BackendKind backend;
  if (options.force_backend.has_value()) {
    backend = *options.force_backend;
  } else {
    backend = v2_cpu ? BackendKind::kV2 : BackendKind::kV1;
  }
  if (backend == BackendKind::kV2 && unified == nullptr) {
    return absl::FailedPreconditionError("cgroup v2 backend requested but no cgroup2 mount");
  }
  if (backend == BackendKind::kV2 && !v2_cpu && options.require_cpu) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the cgroup v2 hierarchy at ", unified->mount_point, " lacks the cpu controller (",
        unified->mount_point, "/cgroup.controllers: '", absl::StrJoin(unified->controllers, " "),
        "')", v1_cpu ? "; it is bound to a v1 hierarchy" : ""));
  }
  if (backend == BackendKind::kV1 && !v1_cpu) {
    return absl::FailedPreconditionError(absl::StrCat(
        "no usable cgroup hierarchy with the cpu controller: ",
        unified != nullptr ? absl::StrCat("the v2 mount at ", unified->mount_point, " offers '",
                                          absl::StrJoin(unified->controllers, " "), "'")
                           : std::string("no cgroup2 mount"),
        " and no v1 hierarchy carries cpu"));
  }
  layout.backend = backend;
  for (const Hierarchy* h : layout.Managed()) {
    if (h->read_only) {
      return absl::FailedPreconditionError(
          absl::StrCat("cgroup hierarchy at ", h->mount_point, " is mounted read-only"));
    }
  }
  return layout;
}

absl::StatusOr<std::vector<ProcCgroupEntry>> ParseProcCgroup(absl::string_view content,
                                                             absl::string_view source) {
  std::vector<ProcCgroupEntry> out;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(content, '\n', absl::SkipEmpty())) {
    ++line_no;
    std::vector<absl::string_view> f = absl::StrSplit(line, absl::MaxSplits(':', 2));
    ProcCgroupEntry e;
    if (f.size() != 3 || !absl::SimpleAtoi(f[0], &e.hierarchy_id) || f[2].empty() ||
        f[2][0] != '/') {
      return absl::InvalidArgumentError(absl::StrCat(source, ": line ", line_no,
                                                     ": expected 'ID:CONTROLLERS:/PATH', got '",
                                                     line.substr(0, 120), "'"));
    }
    if (!f[1].empty()) e.controllers = absl::StrSplit(f[1], ',');
    e.path = std::string(f[2]);
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace rcbench::rc
