#include "agent/host_facts.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/version.h"

namespace rcbench::agent {
namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

rcbench::v1::HostFacts CollectHostFacts(const HostFactsSources& sources, const CgroupLayout& layout,
                                        const SysctlStore& sysctls,
                                        const std::vector<std::string>& sysctl_names) {
  rcbench::v1::HostFacts f;
  utsname u;
  if (uname(&u) == 0) {
    f.set_hostname(u.nodename);
    f.set_kernel_release(u.release);
    f.set_kernel_version(u.version);
  }
  f.set_boot_cmdline(std::string(absl::StripAsciiWhitespace(Slurp(sources.proc_dir + "/cmdline"))));
  for (absl::string_view line : absl::StrSplit(Slurp(sources.proc_dir + "/cpuinfo"), '\n')) {
    if (absl::StartsWith(line, "model name")) {
      f.set_cpu_model(std::string(absl::StripAsciiWhitespace(line.substr(line.find(':') + 1))));
      break;
    }
  }
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  f.set_cpu_count(cpus > 0 ? static_cast<uint32_t>(cpus) : 0);
  for (absl::string_view line : absl::StrSplit(Slurp(sources.proc_dir + "/meminfo"), '\n')) {
    if (absl::ConsumePrefix(&line, "MemTotal:")) {
      line = absl::StripAsciiWhitespace(line);
      uint64_t kb = 0;
      if (absl::ConsumeSuffix(&line, " kB") && absl::SimpleAtoi(line, &kb)) {
        f.set_memory_bytes(kb * 1024);
      }
      break;
    }
  }
  f.set_cgroup_mode(layout.mode);
  for (const auto& [controller, mount] : layout.mounts)
    (*f.mutable_cgroup_mounts())[controller] = mount;
  for (const std::string& name : sysctl_names) {
    auto v = sysctls.ReadPublic(name);
    if (v.ok()) (*f.mutable_sysctls())[name] = *v;
  }
  for (absl::string_view line : absl::StrSplit(Slurp(sources.os_release), '\n')) {
    if (absl::ConsumePrefix(&line, "PRETTY_NAME=")) {
      f.set_os_release(std::string(absl::StripSuffix(absl::StripPrefix(line, "\""), "\"")));
    }
  }
  f.set_rcbench_version(kVersion);
  auto now = std::chrono::system_clock::now().time_since_epoch();
  f.mutable_collected_at()->set_seconds(
      std::chrono::duration_cast<std::chrono::seconds>(now).count());
  f.mutable_collected_at()->set_nanos(static_cast<int32_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(now).count() % 1'000'000'000));
  return f;
}

}  // namespace rcbench::agent
