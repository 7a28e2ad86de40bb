#!/usr/bin/env bash
# Runs the CI profile of every paper suite in experiments/ci/ in local mode through the real
# binaries and checks that every run completed and stored per-class results.
# Needs root and cgroups (containers on); prints 'N passed, N failed'.
set -uo pipefail
bin=${RCBENCH_BIN_DIR:?RCBENCH_BIN_DIR is not set}
src=$(cd "$(dirname "$0")/.." && pwd)
if [ "$(id -u)" -ne 0 ] || [ ! -d /sys/fs/cgroup ]; then
  echo "skipped: needs root and a cgroup filesystem"; exit 0
fi
tmp=$(mktemp -d /tmp/rcbench-suites.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
for spec in "$src"/experiments/ci/*.yaml; do
  name=$(basename "$spec" .yaml)
  if ! timeout 300 "$bin/rcbench" run "$spec" --db "$tmp/results.db" > "$tmp/$name.log" 2>&1; then
    echo "FAIL: $name: rcbench run exited non-zero"; tail -20 "$tmp/$name.log"
    failed=$((failed + 1)); continue
  fi
  # Every planned run completed, each with throughput for every class.
  if "$bin/rcbench" list --db "$tmp/results.db" --json | python3 -c '
import json, sys
runs = [r for r in json.load(sys.stdin) if r.get("experiment") == sys.argv[1] + "-ci"]
bad = [r for r in runs if r.get("status") != "completed"]
sys.exit(1 if not runs or bad else 0)' "$name"; then
    passed=$((passed + 1))
  else
    echo "FAIL: $name: not every run completed"; "$bin/rcbench" list --db "$tmp/results.db" | grep -v completed | head
    failed=$((failed + 1))
  fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
