#pragma once

// The agent's file-descriptor budget. The sampler keeps about seven cgroup files open per
// container; at the common RLIMIT_NOFILE soft limit of 1,024 that ran out at ~128 containers and
// then nothing else (deleting a container, accepting a connection) could open a file. So the
// agent raises its soft limit to the hard one at start, and the sampler keeps open only a
// budget of files (by default half the soft limit), reading the rest with open/read/close.
// Thread-safe (process-wide state only).

#include <cstdint>

#include "absl/status/statusor.h"

namespace rcbench::agent {

struct OpenFileLimit {
  uint64_t previous_soft = 0;
  uint64_t soft = 0;
  uint64_t hard = 0;
};

// Raises the soft RLIMIT_NOFILE to the hard limit. INTERNAL when getrlimit/setrlimit fail.
absl::StatusOr<OpenFileLimit> RaiseOpenFileLimit();

// Half of the current soft RLIMIT_NOFILE (capped at 2^24 when unlimited): how many cgroup files
// the sampler keeps open when the config does not say.
uint64_t DefaultOpenFileBudget();

}  // namespace rcbench::agent
