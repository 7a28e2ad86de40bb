#pragma once

// `rcbench-rc`: a small command-line front end to rc/, for trying containers by hand and for
// scripts (output is one key=value per line).
//
//   rcbench-rc [--root NAME] [--backend v1|v2] [--log-level L] COMMAND ...
//     probe                          mode, backend, mounts, subtree dirs
//     create PATH [ATTRS] [--parents] [--exist-ok] [--threaded]
//     set PATH ATTRS                 ATTRS: --cpu-weight N --cpu-limit 20%|0.2
//     get PATH                              --cpu-period 100ms --memory-limit 64MiB
//     usage PATH                            --pids-limit N   (0 removes a limit)
//     list [PATH]
//     destroy PATH [--recursive]
//     run PATH -- COMMAND [ARGS...]  runs COMMAND bound to the container; exits with its status
//
// Exit codes: 0 success, 1 operation failed (message on stderr), 2 bad usage (message naming
// the flag and what was expected).

#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "rc/cgroup_fs.h"

namespace rcbench::rc {

struct CliEnvironment {
  // Filesystem seam; nullptr = the real one.
  std::shared_ptr<CgroupFs> fs;
};

// `args` excludes the program name.
int RunCli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
           const CliEnvironment& env = {});

}  // namespace rcbench::rc
