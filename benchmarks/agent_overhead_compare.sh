#!/usr/bin/env bash
# Two builds of benchmarks/agent_overhead (e.g. before and after a change to the agent's
# sampling) measured in one run: ROUNDS rounds, each running A and B with --pairs 1 (A B, then
# B A, alternately), so both see the same machine. Prints, per interval, the medians over
# rounds of each side's agent CPU per container-sample (with and without its sock_diag dumps)
# and of its ratio to the bare pread floor measured in the same invocation, then B / A.
# Then the paired view, which a drifting machine disturbs less: each round's own B / A (and the
# same normalised by each side's floor), their median, and a distribution-free interval for
# that median from order statistics (binomial coverage printed beside it). Compare A with
# itself (A_BIN twice) to see what resolution the machine allows.
#
#   benchmarks/agent_overhead_compare.sh A_BIN B_BIN [agent_overhead args, e.g. --duration 5s]
#
# ROUNDS (default 3) sets the rounds, INTERVALS (default 1s,100ms) the sampling intervals.
# Pinned to core 1 like agent_overhead.sh.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 A_BIN B_BIN [agent_overhead args]" >&2; exit 2; }
a="$1" b="$2"
shift 2
for bin in "$a" "$b"; do
  [ -x "$bin" ] || { echo "agent_overhead_compare: $bin is not an executable" >&2; exit 2; }
done
rounds="${ROUNDS:-3}"
intervals="${INTERVALS:-1s,100ms}"
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
    taskset -c 1 "$bin" --containers 1000 --intervals "$intervals" "$@" --pairs 1 >"$out/run" || status=$?
    cat "$out/run" >&2
    [ "$status" -le 1 ] || { echo "agent_overhead_compare: $bin failed (exit $status)" >&2; exit 1; }
    awk -v side="$side" -v r="$r" '$1 ~ /^[0-9.]+(ms|s)$/ && NF >= 12 {print side, $1, $2, $3, $4, $5, $6, r}' \
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
echo
echo "paired: each round's B / A; median over rounds, and an interval for that median (order statistics)"
awk '
  function sorted(s, v,   n, i, j, t) {
    n = split(s, v, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
    return n
  }
  function median(s,   n, v) { n = sorted(s, v); return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2 }
  # P(Binomial(n, 1/2) <= k - 1): the chance that the k-th smallest of n lies above the median.
  function below(n, k,   i, p, c) { p = 0; c = 1; for (i = 0; i < k; i++) { p += c; c = c * (n - i) / (i + 1) } return p / 2 ^ n }
  # The widest-inset pair (v[k], v[n+1-k]) still covering the median with at least 90%.
  function interval(s,   n, v, k, cover) {
    n = sorted(s, v)
    if (n < 5) return "(too few rounds for an interval)"
    for (k = int(n / 2); k >= 1; k--) {
      cover = 1 - 2 * below(n, k)
      if (cover >= 0.90) return sprintf("[%.3f, %.3f] (%.0f%%)", v[k], v[n + 1 - k], 100 * cover)
    }
    return sprintf("[%.3f, %.3f]", v[1], v[n])
  }
  { k = $1 SUBSEP $2 SUBSEP $8; agent[k] = $4; floor[k] = $5 > 0 ? $4 / $5 : 0; files[k] = $6
    if (!($2 in seen)) { seen[$2] = 1; order[++n] = $2 }
    rounds[$8] = 1 }
  END {
    printf "%-9s %6s  %-34s %s\n", "interval", "rounds", "B/A agent: median [interval]", "B/A of ratio to floor: median [interval]"
    for (i = 1; i <= n; i++) {
      iv = order[i]; ra = ""; rn = ""; c = 0
      for (r in rounds) {
        ka = "A" SUBSEP iv SUBSEP r; kb = "B" SUBSEP iv SUBSEP r
        if (!(ka in agent) || !(kb in agent) || agent[ka] <= 0 || floor[ka] <= 0 || floor[kb] <= 0) continue
        ra = ra " " agent[kb] / agent[ka]
        rn = rn " " (agent[kb] / floor[kb]) / (agent[ka] / floor[ka])
        c++
      }
      printf "%-9s %6d  %.3f %-28s %.3f %s\n", iv, c, median(ra), interval(ra), median(rn), interval(rn)
    }
  }' "$out/rows"
