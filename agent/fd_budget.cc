#include "agent/fd_budget.h"

#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace rcbench::agent {

namespace {
constexpr uint64_t kMaxBudget = 1ull << 24;
}

absl::StatusOr<OpenFileLimit> RaiseOpenFileLimit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
    return absl::InternalError(absl::StrCat("getrlimit(RLIMIT_NOFILE): ", std::strerror(errno)));
  }
  OpenFileLimit out;
  out.previous_soft = rl.rlim_cur;
  out.hard = rl.rlim_max;
  if (rl.rlim_cur != rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
      return absl::InternalError(
          absl::StrCat("setrlimit(RLIMIT_NOFILE, ", rl.rlim_max, "): ", std::strerror(errno)));
    }
  }
  out.soft = rl.rlim_cur;
  return out;
}

uint64_t DefaultOpenFileBudget() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 512;  // half of the common default
  if (rl.rlim_cur == RLIM_INFINITY) return kMaxBudget;
  return std::min<uint64_t>(rl.rlim_cur / 2, kMaxBudget);
}

}  // namespace rcbench::agent
