#include "rc/cli.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/flags.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "rc/container.h"

namespace rcbench::rc {
namespace {

constexpr char kUsage[] =
    "usage: rcbench-rc [--root NAME] [--backend v1|v2] [--log-level L] COMMAND ...\n"
    "  probe | list [PATH] | get PATH | usage PATH | destroy PATH [--recursive]\n"
    "  create PATH [ATTRS] [--parents] [--exist-ok] [--threaded] | set PATH ATTRS\n"
    "  run PATH -- COMMAND [ARGS...]\n"
    "ATTRS: --cpu-weight N (1..10000) --cpu-limit 20%|0.2 --cpu-period 100ms\n"
    "       --memory-limit 64MiB --pids-limit N   (0 removes a limit)\n";

// Parsed command line: global flags, the command, positionals, command flags.
struct Parsed {
  std::string command;
  std::vector<std::string> positional;
  std::map<std::string, std::string> flags;  // "--x" -> value ("true" for switches)
  std::vector<std::string> exec;             // after "--"
};

constexpr FlagSpec kFlags[] = {
    {"root", '\0', true, false, "NAME"},
    {"backend", '\0', true, false, "v1 or v2"},
    {"log-level", '\0', true, false, "LEVEL"},
    {"cpu-weight", '\0', true, false, "N"},
    {"cpu-limit", '\0', true, false, "20%|0.2"},
    {"cpu-period", '\0', true, false, "a duration"},
    {"memory-limit", '\0', true, false, "a size"},
    {"pids-limit", '\0', true, false, "N"},
    {"parents", '\0', false},
    {"exist-ok", '\0', false},
    {"threaded", '\0', false},
    {"recursive", '\0', false},
    {"help", 'h', false},
};

absl::StatusOr<Parsed> Parse(const std::vector<std::string>& args) {
  RCBENCH_ASSIGN_OR_RETURN(ParsedFlags flags, ParseFlags(args, kFlags));
  Parsed p;
  for (const FlagSpec& f : kFlags) {
    if (flags.Has(f.name)) p.flags[absl::StrCat("--", f.name)] = flags.Get(f.name);
  }
  if (!flags.positional().empty()) {
    p.command = flags.positional()[0];
    p.positional.assign(flags.positional().begin() + 1, flags.positional().end());
  }
  p.exec = flags.rest();
  return p;
}

absl::StatusOr<Attributes> ParseAttributes(const Parsed& p) {
  Attributes a;
  auto get = [&](const char* name) -> std::optional<std::string> {
    auto it = p.flags.find(name);
    if (it == p.flags.end()) return std::nullopt;
    return it->second;
  };
  if (auto v = get("--cpu-weight")) {
    uint32_t w;
    if (!absl::SimpleAtoi(*v, &w) || w < 1 || w > 10000) {
      return absl::InvalidArgumentError(
          absl::StrCat("--cpu-weight: expected an integer 1..10000, got '", *v, "'"));
    }
    a.cpu_weight = w;
  }
  if (auto v = get("--cpu-limit")) {
    auto f = ParseFraction(*v, 4096.0);
    if (!f.ok())
      return absl::InvalidArgumentError(absl::StrCat("--cpu-limit: ", f.status().message()));
    a.cpu_limit_cores = *f;
  }
  if (auto v = get("--cpu-period")) {
    auto d = ParseDuration(*v);
    if (!d.ok())
      return absl::InvalidArgumentError(absl::StrCat("--cpu-period: ", d.status().message()));
    a.cpu_period_us = static_cast<uint32_t>(d->count() / 1000);
  }
  if (auto v = get("--memory-limit")) {
    auto s = ParseSize(*v);
    if (!s.ok())
      return absl::InvalidArgumentError(absl::StrCat("--memory-limit: ", s.status().message()));
    a.memory_limit_bytes = *s;
  }
  if (auto v = get("--pids-limit")) {
    uint64_t n;
    if (!absl::SimpleAtoi(*v, &n)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--pids-limit: expected a count, got '", *v, "'"));
    }
    a.pids_limit = n;
  }
  return a;
}

void PrintAttributes(const Attributes& a, std::ostream& out) {
  if (a.cpu_weight) out << "cpu_weight=" << *a.cpu_weight << "\n";
  if (a.cpu_limit_cores) out << "cpu_limit_cores=" << *a.cpu_limit_cores << "\n";
  if (a.cpu_period_us) out << "cpu_period_us=" << *a.cpu_period_us << "\n";
  if (a.memory_limit_bytes) out << "memory_limit_bytes=" << *a.memory_limit_bytes << "\n";
  if (a.pids_limit) out << "pids_limit=" << *a.pids_limit << "\n";
}

void PrintUsage(const Usage& u, std::ostream& out) {
  out << "cpu_usage_ns=" << u.cpu_usage_ns << "\ncpu_user_ns=" << u.cpu_user_ns
      << "\ncpu_system_ns=" << u.cpu_system_ns << "\ncpu_periods=" << u.cpu_periods
      << "\ncpu_throttled_periods=" << u.cpu_throttled_periods
      << "\ncpu_throttled_ns=" << u.cpu_throttled_ns << "\n";
  if (u.Has("memory")) {
    out << "memory_usage_bytes=" << u.memory_usage_bytes
        << "\nmemory_peak_bytes=" << u.memory_peak_bytes
        << "\nmemory_working_set_bytes=" << u.memory_working_set_bytes << "\n";
  }
  if (u.Has("pids")) out << "pids_current=" << u.pids_current << "\n";
  for (auto [name, p] : {std::pair{"cpu", &u.cpu_pressure}, std::pair{"memory", &u.memory_pressure},
                         std::pair{"io", &u.io_pressure}}) {
    if (p->has_value()) {
      out << name << "_pressure_some_us=" << (*p)->some_total_us << "\n"
          << name << "_pressure_full_us=" << (*p)->full_total_us << "\n";
    }
  }
  out << "available=" << absl::StrJoin(u.available, ",") << "\n";
}

int Fail(const absl::Status& s, std::ostream& err) {
  err << "rcbench-rc: " << s << "\n";
  return 1;
}

void PrintLayout(const HostLayout& l, std::ostream& out) {
  out << "mode=" << CgroupModeName(l.mode) << "\nbackend=" << BackendKindName(l.backend)
      << "\nroot=" << l.root_name << "\n";
  for (const auto& [controller, mount] : l.mounts)
    out << "mount." << controller << "=" << mount << "\n";
  for (const Hierarchy* h : l.Managed()) {
    out << "subtree." << absl::StrJoin(h->controllers, ",") << "=" << h->subtree_dir << "\n";
  }
}

int RunCommand(ContainerSystem& rc, const Parsed& p, std::ostream& out, std::ostream& err) {
  const std::string path = p.positional.empty() ? "" : p.positional[0];
  const std::string& cmd = p.command;
  if (cmd == "list") {
    auto all = rc.List(path);
    if (!all.ok()) return Fail(all.status(), err);
    for (const std::string& c : *all) out << c << "\n";
    return 0;
  }
  if (cmd == "create" || cmd == "set") {
    auto attrs = ParseAttributes(p);
    if (!attrs.ok()) {
      err << "rcbench-rc: " << attrs.status().message() << "\n";
      return 2;
    }
    absl::Status s;
    if (cmd == "create") {
      CreateOptions options;
      options.create_parents = p.flags.count("--parents") != 0;
      options.exist_ok = p.flags.count("--exist-ok") != 0;
      options.threaded = p.flags.count("--threaded") != 0;
      auto c = rc.Create(path, *attrs, options);
      s = c.status();
      if (s.ok()) out << "path=" << c->path() << "\ncgroup_id=" << c->cgroup_id() << "\n";
    } else {
      auto c = rc.OpenContainer(path);
      s = c.ok() ? c->SetAttributes(*attrs) : c.status();
    }
    return s.ok() ? 0 : Fail(s, err);
  }
  auto c = rc.OpenContainer(path);
  if (!c.ok()) return Fail(c.status(), err);
  if (cmd == "get") {
    auto a = c->GetAttributes();
    if (!a.ok()) return Fail(a.status(), err);
    PrintAttributes(*a, out);
    return 0;
  }
  if (cmd == "usage") {
    auto u = c->ReadUsage();
    if (!u.ok()) return Fail(u.status(), err);
    PrintUsage(*u, out);
    return 0;
  }
  if (cmd == "destroy") {
    absl::Status s = rc.Destroy(path, p.flags.count("--recursive") != 0);
    return s.ok() ? 0 : Fail(s, err);
  }
  // cmd == "run" (checked by the caller).
  out.flush();
  const pid_t child = fork();
  if (child < 0) return Fail(absl::InternalError("fork failed"), err);
  if (child == 0) {
    absl::Status s = c->BindProcess();
    if (!s.ok()) {
      err << "rcbench-rc: " << s << "\n";
      err.flush();
      _exit(126);
    }
    std::vector<char*> argv;
    for (const std::string& a : p.exec) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  int status = 0;
  while (waitpid(child, &status, 0) < 0) {
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

}  // namespace

int RunCli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
           const CliEnvironment& env) {
  auto parsed = Parse(args);
  if (!parsed.ok()) {
    err << "rcbench-rc: " << parsed.status().message() << "\n" << kUsage;
    return 2;
  }
  Parsed& p = *parsed;
  if (p.flags.count("--help") != 0) {
    out << kUsage;
    return 0;
  }
  static const char* const kCommands[] = {"probe",  "list", "get",     "usage",
                                          "create", "set",  "destroy", "run"};
  if (std::find(std::begin(kCommands), std::end(kCommands), p.command) == std::end(kCommands)) {
    err << "rcbench-rc: expected a command (probe, list, get, usage, create, set, destroy, run)"
        << (p.command.empty() ? "" : absl::StrCat(", got '", p.command, "'")) << "\n"
        << kUsage;
    return 2;
  }
  const bool needs_path = p.command != "probe" && p.command != "list";
  if (needs_path && p.positional.size() != 1) {
    err << "rcbench-rc: " << p.command << " expects exactly one container PATH\n" << kUsage;
    return 2;
  }
  if (p.command == "run" && p.exec.empty()) {
    err << "rcbench-rc: run expects '-- COMMAND [ARGS...]'\n";
    return 2;
  }
  if (auto it = p.flags.find("--log-level"); it != p.flags.end()) {
    auto level = ParseLogLevel(it->second);
    if (!level.ok()) {
      err << "rcbench-rc: --log-level: " << level.status().message() << "\n";
      return 2;
    }
    SetLogLevel(*level);
  }
  ContainerSystem::Options options;
  options.fs = env.fs;
  if (auto it = p.flags.find("--root"); it != p.flags.end()) options.probe.root_name = it->second;
  if (auto it = p.flags.find("--backend"); it != p.flags.end()) {
    if (it->second == "v1") {
      options.probe.force_backend = BackendKind::kV1;
    } else if (it->second == "v2") {
      options.probe.force_backend = BackendKind::kV2;
    } else {
      err << "rcbench-rc: --backend: expected v1 or v2, got '" << it->second << "'\n";
      return 2;
    }
  }
  if (p.command == "probe") {  // changes nothing on the host
    std::shared_ptr<CgroupFs> fs = env.fs != nullptr ? env.fs : std::make_shared<LocalCgroupFs>();
    auto layout = ProbeHost(*fs, options.probe);
    if (!layout.ok()) return Fail(layout.status(), err);
    PrintLayout(*layout, out);
    return 0;
  }
  auto rc = ContainerSystem::Open(options);
  if (!rc.ok()) return Fail(rc.status(), err);
  return RunCommand(**rc, p, out, err);
}

}  // namespace rcbench::rc
