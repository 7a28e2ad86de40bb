#pragma once

// Reads and changes sysctls under a /proc/sys directory, only those on the config's
// allow-list. The first change of each records its original value; Restore writes all
// originals back (the agent calls it on RestoreSysctls and at exit). Thread-safe.

#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rcbench::agent {

// INVALID_ARGUMENT unless `name` is a dotted sysctl name ([a-z0-9_-] components).
absl::Status ValidateSysctlName(absl::string_view name);

class SysctlStore {
 public:
  SysctlStore(std::string proc_sys_dir, std::vector<std::string> allow);

  // Any valid name, read-only. NOT_FOUND when it does not exist.
  absl::StatusOr<std::string> Read(absl::string_view name) const;
  // As Read, but PERMISSION_DENIED for a sysctl that only root may read (its file is not
  // readable by others, e.g. kernel.cad_pid): what is shown to RPC callers.
  absl::StatusOr<std::string> ReadPublic(absl::string_view name) const;

  struct Change {
    std::string previous_value;
    std::string original_value;
  };
  // INVALID_ARGUMENT for a malformed name or value (newline/NUL, > 4 KiB), PERMISSION_DENIED
  // when not allow-listed, NOT_FOUND when the sysctl does not exist, and the write's error
  // (e.g. INVALID_ARGUMENT for a value the kernel rejects).
  absl::StatusOr<Change> Set(absl::string_view name, absl::string_view value);

  // Writes back every recorded original; returns name -> value written. Failures are logged
  // and skipped (the rest are still restored); the records are cleared.
  std::map<std::string, std::string> Restore();

 private:
  std::string PathOf(absl::string_view name) const;
  const std::string dir_;
  const std::set<std::string> allow_;
  mutable std::mutex mu_;
  std::map<std::string, std::string> originals_;
};

}  // namespace rcbench::agent
