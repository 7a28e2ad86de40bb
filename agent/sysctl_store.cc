#include "agent/sysctl_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/logging.h"

namespace rcbench::agent {

absl::Status ValidateSysctlName(absl::string_view name) {
  if (name.empty() || name.size() > 128 || name.front() == '.' || name.back() == '.' ||
      name.find("..") != absl::string_view::npos ||
      name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_.-") !=
          absl::string_view::npos) {
    std::string shown(name.substr(0, 80));
    for (char& c : shown) {
      if (static_cast<unsigned char>(c) < 0x20) c = '?';
    }
    return absl::InvalidArgumentError(
        absl::StrCat("sysctl name '", shown, "' is invalid (expected e.g. net.core.somaxconn)"));
  }
  return absl::OkStatus();
}

SysctlStore::SysctlStore(std::string proc_sys_dir, std::vector<std::string> allow)
    : dir_(std::move(proc_sys_dir)), allow_(allow.begin(), allow.end()) {}

std::string SysctlStore::PathOf(absl::string_view name) const {
  return absl::StrCat(dir_, "/", absl::StrReplaceAll(name, {{".", "/"}}));
}

absl::StatusOr<std::string> SysctlStore::Read(absl::string_view name) const {
  if (absl::Status s = ValidateSysctlName(name); !s.ok()) return s;
  std::ifstream in(PathOf(name));
  if (!in) return absl::NotFoundError(absl::StrCat("sysctl ", name, " does not exist"));
  std::stringstream ss;
  ss << in.rdbuf();
  return std::string(absl::StripTrailingAsciiWhitespace(ss.str()));
}

absl::StatusOr<std::string> SysctlStore::ReadPublic(absl::string_view name) const {
  if (absl::Status s = ValidateSysctlName(name); !s.ok()) return s;
  struct stat st {};
  if (stat(PathOf(name).c_str(), &st) != 0) {
    return absl::NotFoundError(absl::StrCat("sysctl ", name, " does not exist"));
  }
  if ((st.st_mode & S_IROTH) == 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("sysctl ", name, " is readable only by root; it is not shown"));
  }
  return Read(name);
}

absl::StatusOr<SysctlStore::Change> SysctlStore::Set(absl::string_view name,
                                                     absl::string_view value) {
  if (absl::Status s = ValidateSysctlName(name); !s.ok()) return s;
  if (value.size() > 4096 ||
      value.find_first_of(std::string("\n\0", 2)) != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("value for sysctl ", name, " must be one line of at most 4 KiB"));
  }
  if (!allow_.count(std::string(name))) {
    return absl::PermissionDeniedError(
        absl::StrCat("sysctl ", name, " is not on the agent config's sysctls.allow list"));
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto previous = Read(name);
  if (!previous.ok()) return previous.status();
  int fd = open(PathOf(name).c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot open sysctl ", name, " for writing: ", std::strerror(errno)));
  }
  ssize_t n = write(fd, value.data(), value.size());
  int err = errno;
  close(fd);
  if (n != static_cast<ssize_t>(value.size())) {
    return absl::InvalidArgumentError(
        absl::StrCat("writing '", value, "' to sysctl ", name, " failed: ", std::strerror(err)));
  }
  auto [it, inserted] = originals_.emplace(std::string(name), *previous);
  return Change{*previous, it->second};
}

std::map<std::string, std::string> SysctlStore::Restore() {
  std::lock_guard<std::mutex> lock(mu_);
  std::map<std::string, std::string> restored;
  for (const auto& [name, value] : originals_) {
    int fd = open(PathOf(name).c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
    bool ok =
        fd >= 0 && write(fd, value.data(), value.size()) == static_cast<ssize_t>(value.size());
    if (fd >= 0) close(fd);
    if (ok) {
      restored[name] = value;
    } else {
      RCBENCH_LOG(ERROR) << "could not restore sysctl " << name << " to '" << value << "'";
    }
  }
  originals_.clear();
  return restored;
}

}  // namespace rcbench::agent
