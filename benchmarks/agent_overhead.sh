#!/usr/bin/env bash
# The agent's CPU per container-sample vs the raw pread cost of the same cgroup files, measured
# in the same run, for 1,000 containers at 1 s and 100 ms (real cgroups when run as root, a fake
# tree otherwise). Pinned to core 1. Writes nothing outside temp dirs; the benchmark removes its
# cgroups on exit. Extra arguments go to the program (e.g. --duration 5s --pairs 3).
set -euo pipefail
bin="${RCBENCH_BIN_DIR:-build/bin}/agent_overhead"
[ -x "$bin" ] || { echo "agent_overhead: build it first (cmake --build build --target agent_overhead)" >&2; exit 1; }
exec taskset -c 1 "$bin" --containers 1000 --intervals 1s,100ms "$@"
