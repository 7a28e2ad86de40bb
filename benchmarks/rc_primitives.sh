#!/usr/bin/env bash
# The paper's Table 1 primitives on this host (rc/ on real cgroups), medians of 5 repetitions,
# pinned to CPU 1, printed next to the paper's figures. The same-run peer for "change thread
# binding" is kernel migration vs the user-level switch. Needs root for the kernel operations
# (they report "kernel containers need root" otherwise). Writes nothing outside its own cgroup
# subtree (rcbench-bench-<pid>), which the program removes on exit.
set -euo pipefail
bin=${RCBENCH_BIN_DIR:-build/bin}/rc_primitives
[ -x "$bin" ] || { echo "rc_primitives: $bin not built (cmake --build build --target rc_primitives)" >&2; exit 2; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
taskset -c 1 "$bin" --benchmark_repetitions=5 --benchmark_report_aggregates_only=true \
  --benchmark_min_time=0.2 --benchmark_format=json --benchmark_out="$out/r.json" \
  --benchmark_out_format=json >/dev/null
python3 - "$out/r.json" <<'PY'
import json, sys
paper = {  # µs, Banga et al. OSDI '99, §5.4
    "BM_Create": 2.36, "BM_Destroy": 2.10, "BM_ChangeThreadBinding_Kernel": 1.04,
    "BM_ChangeThreadBinding_UserLevel": 1.04, "BM_ReadUsage": 2.04, "BM_SetAttributes": 2.10,
    "BM_GetAttributes": 2.10, "BM_MoveBetweenProcesses": 3.15, "BM_ObtainHandle": 1.90,
}
rows, cpu = {}, {}
data = json.load(open(sys.argv[1]))
print(f"# load average at start: {data['context'].get('load_avg', '?')}")
for b in data["benchmarks"]:
    if b.get("aggregate_name") == "median":
        rows[b["run_name"]] = b["real_time"] / 1000.0  # ns -> µs
        cpu[b["run_name"]] = b["cpu_time"] / 1000.0
print(f"{'operation':40} {'wall µs':>9} {'cpu µs':>9} {'paper µs':>9}")
for name, us in rows.items():
    p = paper.get(name)
    print(f"{name:40} {us:9.3f} {cpu[name]:9.3f} {p if p is not None else '':>9}")
k, u = rows.get("BM_ChangeThreadBinding_Kernel"), rows.get("BM_ChangeThreadBinding_UserLevel")
if k and u:
    print(f"kernel migration / user-level switch: {k / u:.0f}x")
PY
