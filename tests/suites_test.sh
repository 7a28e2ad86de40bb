#!/usr/bin/env bash
# Runs the CI profile of every suite in experiments/ci/ (the paper's, and loadgen-engines) in local mode through the real
# binaries and checks that every run completed and stored its results: per-class results for
# server/load suites, benchmark rows (and time_per_op_ns metrics) for micro-benchmark suites
# (a top-level `benchmark:` block, e.g. primitive-costs, which needs rc_primitives built).
# Needs root and cgroups (containers on); prints 'N passed, N failed'.
# Usage: suites_test.sh [NAME...]   (default: every experiments/ci/*.yaml; NAME without .yaml)
set -uo pipefail
bin=${RCBENCH_BIN_DIR:?RCBENCH_BIN_DIR is not set}
src=$(cd "$(dirname "$0")/.." && pwd)
if [ "$(id -u)" -ne 0 ] || [ ! -d /sys/fs/cgroup ]; then
  echo "skipped: needs root and a cgroup filesystem"; exit 0
fi
tmp=$(mktemp -d /tmp/rcbench-suites.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
specs=("$src"/experiments/ci/*.yaml)
if [ $# -gt 0 ]; then specs=(); for n in "$@"; do specs+=("$src/experiments/ci/$n.yaml"); done; fi
for spec in "${specs[@]}"; do
  name=$(basename "$spec" .yaml)
  if grep -q '^benchmark:' "$spec" && [ ! -x "$bin/rc_primitives" ]; then
    echo "skipped: $name: $bin/rc_primitives is not built (RCBENCH_BENCHMARKS=OFF?)"; continue
  fi
  if ! timeout 300 "$bin/rcbench" run "$spec" --db "$tmp/results.db" > "$tmp/$name.log" 2>&1; then
    echo "FAIL: $name: rcbench run exited non-zero"; tail -20 "$tmp/$name.log"
    failed=$((failed + 1)); continue
  fi
  # Every planned run completed, each with its results: a class throughput, or (benchmark
  # suites) stored benchmark entries and a time per operation.
  if ! "$bin/rcbench" report --db "$tmp/results.db" --experiment "$name-ci" --format json \
      --out "$tmp/report-$name" --no-plots > /dev/null 2>&1; then
    echo "FAIL: $name: rcbench report failed"; failed=$((failed + 1)); continue
  fi
  if why=$(python3 -c '
import json, sys
runs, micro = json.load(open(sys.argv[1])), sys.argv[2] == "yes"
if not runs: sys.exit("no runs stored")
for r in runs:
    rid, m = r["run_id"], r["metrics"]
    if r["status"] != "completed": sys.exit("run %s is %s: %s" % (rid, r["status"], r["error"]))
    if micro and not (r.get("benchmarks") and any(k.startswith("time_per_op_ns{") for k in m)):
        sys.exit("run %s stored no benchmark results" % rid)
    if not micro and not any(k.startswith("throughput_rps{") for k in m):
        sys.exit("run %s stored no class results" % rid)
' "$tmp/report-$name/report.json" "$(grep -q '^benchmark:' "$spec" && echo yes || echo no)" 2>&1); then
    passed=$((passed + 1))
  else
    echo "FAIL: $name: $why"
    failed=$((failed + 1))
  fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
