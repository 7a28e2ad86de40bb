#pragma once

// The rcbench-loadgen command line: subcommands `http` (a wrk-compatible subset), `sclient`,
// `syn`, `classes --config FILE` and `serve`. Documented in loadgen/README.md.
// Exit codes: 0 success (also when stopped by SIGINT/SIGTERM), 1 runtime error (including a
// target refused by the allow-list), 2 bad flags.

#include "loadgen/cli_output.h"  // FormatJsonResult

namespace rcbench::loadgen {

int RunCli(int argc, char** argv);

}  // namespace rcbench::loadgen
