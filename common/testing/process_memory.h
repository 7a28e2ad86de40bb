#pragma once

// This process's resident set size, for tests that bound memory growth.

#include <unistd.h>

#include <cstdint>
#include <fstream>

namespace rcbench::testing {

// Resident set size of this process, in bytes (from /proc/self/statm).
inline int64_t ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  int64_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

}  // namespace rcbench::testing
