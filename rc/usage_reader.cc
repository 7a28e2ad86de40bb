#include "rc/usage_reader.h"

#include <errno.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "rc/cgroup_files.h"
#include "rc/container.h"

namespace rcbench::rc {
namespace {

absl::StatusOr<std::string> Require(const std::optional<std::string>& content,
                                    const std::string& file) {
  if (!content.has_value()) return absl::NotFoundError(absl::StrCat(file, " does not exist"));
  return *content;
}

}  // namespace

absl::StatusOr<std::optional<std::string>> ReadOptionalFile(const CgroupFs& fs,
                                                            const std::string& file) {
  auto t = fs.ReadFile(file);
  if (t.ok()) return std::optional<std::string>(*std::move(t));
  if (absl::IsNotFound(t.status()) || absl::IsFailedPrecondition(t.status())) {
    return std::optional<std::string>();
  }
  return t.status();
}

absl::StatusOr<Usage> ReadUsageFiles(
    const HostLayout& layout, const UsageFiles& f,
    absl::FunctionRef<absl::StatusOr<std::optional<std::string>>(const std::string&)> read) {
  Usage u;
  auto uint_file = [&](const std::string& file, bool required,
                       uint64_t* out) -> absl::StatusOr<bool> {
    if (file.empty()) return false;
    RCBENCH_ASSIGN_OR_RETURN(std::optional<std::string> t, read(file));
    if (!t.has_value()) {
      if (required) return absl::NotFoundError(absl::StrCat(file, " does not exist"));
      return false;
    }
    RCBENCH_ASSIGN_OR_RETURN(*out, ParseUint(*t, file));
    return true;
  };
  RCBENCH_ASSIGN_OR_RETURN(std::optional<std::string> cpu_stat_text, read(f.cpu_stat));
  RCBENCH_ASSIGN_OR_RETURN(std::string cpu_stat_content, Require(cpu_stat_text, f.cpu_stat));
  RCBENCH_ASSIGN_OR_RETURN(auto stat, ParseFlatKeyed(cpu_stat_content, f.cpu_stat));
  auto get = [&](const char* key) {
    auto it = stat.find(key);
    return it == stat.end() ? uint64_t{0} : it->second;
  };
  if (layout.backend == BackendKind::kV2) {
    RCBENCH_ASSIGN_OR_RETURN(uint64_t usage, RequireKey(stat, "usage_usec", f.cpu_stat));
    RCBENCH_ASSIGN_OR_RETURN(uint64_t user, RequireKey(stat, "user_usec", f.cpu_stat));
    RCBENCH_ASSIGN_OR_RETURN(uint64_t system, RequireKey(stat, "system_usec", f.cpu_stat));
    u.cpu_usage_ns = usage * 1000;
    u.cpu_user_ns = user * 1000;
    u.cpu_system_ns = system * 1000;
    // Throttling keys exist only where the cpu controller is enabled.
    u.cpu_periods = get("nr_periods");
    u.cpu_throttled_periods = get("nr_throttled");
    u.cpu_throttled_ns = get("throttled_usec") * 1000;
    u.available.push_back("cpu");
  } else {
    RCBENCH_ASSIGN_OR_RETURN(u.cpu_periods, RequireKey(stat, "nr_periods", f.cpu_stat));
    RCBENCH_ASSIGN_OR_RETURN(u.cpu_throttled_periods, RequireKey(stat, "nr_throttled", f.cpu_stat));
    RCBENCH_ASSIGN_OR_RETURN(u.cpu_throttled_ns, RequireKey(stat, "throttled_time", f.cpu_stat));
    if (!f.cpuacct_usage.empty()) {
      RCBENCH_RETURN_IF_ERROR(uint_file(f.cpuacct_usage, true, &u.cpu_usage_ns).status());
      RCBENCH_RETURN_IF_ERROR(uint_file(f.cpuacct_usage_user, true, &u.cpu_user_ns).status());
      RCBENCH_RETURN_IF_ERROR(uint_file(f.cpuacct_usage_sys, true, &u.cpu_system_ns).status());
      u.available.push_back("cpu");
    }
  }
  const bool v1 = layout.backend == BackendKind::kV1;
  RCBENCH_ASSIGN_OR_RETURN(bool has_memory, uint_file(f.memory_current, v1, &u.memory_usage_bytes));
  if (has_memory) {
    RCBENCH_RETURN_IF_ERROR(uint_file(f.memory_peak, v1, &u.memory_peak_bytes).status());
    u.memory_working_set_bytes = u.memory_usage_bytes;
    std::optional<std::string> mstat;
    if (!f.memory_stat.empty()) {
      RCBENCH_ASSIGN_OR_RETURN(mstat, read(f.memory_stat));
    }
    if (mstat.has_value()) {
      RCBENCH_ASSIGN_OR_RETURN(auto m, ParseFlatKeyed(*mstat, f.memory_stat));
      RCBENCH_ASSIGN_OR_RETURN(
          uint64_t inactive,
          RequireKey(m, v1 ? "total_inactive_file" : "inactive_file", f.memory_stat));
      u.memory_working_set_bytes =
          u.memory_usage_bytes > inactive ? u.memory_usage_bytes - inactive : 0;
    }
    u.available.push_back("memory");
  }
  RCBENCH_ASSIGN_OR_RETURN(bool has_pids, uint_file(f.pids_current, v1, &u.pids_current));
  if (has_pids) u.available.push_back("pids");
  bool psi = false;
  for (auto [file, field] : {std::pair{&f.cpu_pressure, &u.cpu_pressure},
                             std::pair{&f.memory_pressure, &u.memory_pressure},
                             std::pair{&f.io_pressure, &u.io_pressure}}) {
    if (file->empty()) continue;
    RCBENCH_ASSIGN_OR_RETURN(std::optional<std::string> t, read(*file));
    if (!t.has_value()) continue;
    RCBENCH_ASSIGN_OR_RETURN(PressureTotals p, ParsePressure(*t, *file));
    *field = Pressure{p.some_total_us, p.full_total_us.value_or(0)};
    psi = true;
  }
  if (psi) u.available.push_back("psi");
  return u;
}

absl::StatusOr<std::unique_ptr<UsageReader>> UsageReader::Open(const CgroupFs& fs,
                                                               const HostLayout& layout,
                                                               absl::string_view path,
                                                               Options options) {
  UsageFiles files = layout.UsageFilesFor(path);
  if (!options.working_set) files.memory_stat.clear();
  std::unique_ptr<UsageReader> reader(new UsageReader(layout, files));
  const UsageFiles& f = reader->files_;
  for (const std::string* file :
       {&f.cpu_stat, &f.cpuacct_usage, &f.cpuacct_usage_user, &f.cpuacct_usage_sys,
        &f.memory_current, &f.memory_peak, &f.memory_stat, &f.pids_current, &f.cpu_pressure,
        &f.memory_pressure, &f.io_pressure}) {
    if (file->empty()) continue;
    auto fd = fs.OpenFile(*file);
    if (absl::IsNotFound(fd.status())) continue;  // Read decides whether it was required
    RCBENCH_RETURN_IF_ERROR(fd.status());
    reader->open_.push_back(File{*file, *fd});
  }
  // Reading once up front reports missing or malformed files at Open.
  RCBENCH_RETURN_IF_ERROR(reader->Read().status());
  return reader;
}

absl::StatusOr<std::unique_ptr<UsageReader>> UsageReader::Open(const ContainerSystem& rc,
                                                               absl::string_view path,
                                                               Options options) {
  if (!rc.Exists(path)) {
    return absl::NotFoundError(absl::StrCat("container '", path, "' does not exist"));
  }
  return Open(rc.fs(), rc.layout(), path, options);
}

UsageReader::~UsageReader() {
  for (const File& f : open_) close(f.fd);
}

size_t UsageReader::open_files() const { return open_.size(); }

absl::StatusOr<Usage> UsageReader::Read() const {
  return ReadUsageFiles(
      layout_, files_,
      [this](const std::string& file) -> absl::StatusOr<std::optional<std::string>> {
        for (const File& f : open_) {
          if (f.path != file) continue;
          std::string content;
          char buf[8192];
          for (;;) {  // memory.stat can exceed one buffer
            const ssize_t n = pread(f.fd, buf, sizeof(buf), static_cast<off_t>(content.size()));
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) {
              if (errno == EOPNOTSUPP) return std::optional<std::string>();
              return ErrnoStatus(errno, "pread", file);
            }
            if (n == 0) break;
            content.append(buf, static_cast<size_t>(n));
            if (content.size() > (1 << 20)) {
              return absl::InvalidArgumentError(absl::StrCat(file, ": larger than 1 MiB"));
            }
          }
          return std::optional<std::string>(std::move(content));
        }
        return std::optional<std::string>();
      });
}

}  // namespace rcbench::rc
