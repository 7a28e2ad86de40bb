#!/usr/bin/env bash
# Two builds of benchmarks/agent_overhead (e.g. before and after a change to the agent's
# sampling) measured in one run: ROUNDS rounds, each running A and B with --pairs 1 (A B, then
# B A, alternately), so both see the same machine. Prints, per interval, the medians over
# rounds of each side's agent CPU per container-sample (with and without its sock_diag dumps)
# and of its ratio to the bare pread floor measured in the same invocation, then B / A.
#
#   benchmarks/agent_overhead_compare.sh A_BIN B_BIN [agent_overhead args, e.g. --duration 5s]
#
# ROUNDS (default 3) sets the rounds. Pinned to core 1 like agent_overhead.sh.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 A_BIN B_BIN [agent_overhead args]" >&2; exit 2; }
a="$1" b="$2"
shift 2
for bin in "$a" "$b"; do
  [ -x "$bin" ] || { echo "agent_overhead_compare: $bin is not an executable" >&2; exit 2; }
done
rounds="${ROUNDS:-3}"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
for ((r = 1; r <= rounds; r++)); do
  # A B, then B A: on a machine whose load drifts, the side run second is not always the same.
  order="A B"
  [ $((r % 2)) -eq 0 ] && order="B A"
  for side in $order; do
    bin="$a"
    [ "$side" = B ] && bin="$b"
    echo "round $r/$rounds: $side ($bin)" >&2
    # Table rows start with the interval ("1s", "100ms"); keep side, interval and the columns.
    # agent_overhead exits 1 when the agent missed an interval boundary: shown, not fatal here.
    status=0
    taskset -c 1 "$bin" --containers 1000 --intervals 1s,100ms "$@" --pairs 1 >"$out/run" || status=$?
    cat "$out/run" >&2
    [ "$status" -le 1 ] || { echo "agent_overhead_compare: $bin failed (exit $status)" >&2; exit 1; }
    awk -v side="$side" '$1 ~ /^[0-9.]+(ms|s)$/ && NF >= 12 {print side, $1, $2, $3, $4, $5, $6}' \
      "$out/run" >>"$out/rows"
  done
done
echo "A: $a"
echo "B: $b"
echo "$rounds rounds; medians over rounds; us per container-sample; ratio = agent / raw pread floor"
awk '
  function median(s,   n, v, i, j, t) {
    n = split(s, v, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
    return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
  }
  { key = $1 SUBSEP $2; agent[key] = agent[key] " " $4; ratio[key] = ratio[key] " " $5
    files[key] = files[key] " " $6; fratio[key] = fratio[key] " " $7
    if (!($2 in seen)) { seen[$2] = 1; order[++n] = $2 } }
  END {
    printf "%-9s %12s %12s %8s %8s %12s %12s %8s %8s %10s %10s\n", "interval", "A_agent_us", "B_agent_us",
      "A_ratio", "B_ratio", "A_files_us", "B_files_us", "A_fratio", "B_fratio", "B/A agent", "B/A files"
    for (i = 1; i <= n; i++) {
      iv = order[i]; ka = "A" SUBSEP iv; kb = "B" SUBSEP iv
      aa = median(agent[ka]); ba = median(agent[kb]); af = median(files[ka]); bf = median(files[kb])
      printf "%-9s %12.2f %12.2f %8.2f %8.2f %12.2f %12.2f %8.2f %8.2f %10.3f %10.3f\n", iv, aa, ba,
        median(ratio[ka]), median(ratio[kb]), af, bf, median(fratio[ka]), median(fratio[kb]), ba / aa, bf / af
    }
  }' "$out/rows"
