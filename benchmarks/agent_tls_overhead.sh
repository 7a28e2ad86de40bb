#!/usr/bin/env bash
# The agent's CPU with a usage subscriber over plaintext (loopback) and over mutual TLS with a
# token, in the same run: CONTAINERS real cgroups (default 1,000) under a root subtree of this
# script's, 1 s interval, alternating pairs (plaintext, TLS, plaintext, TLS, ...). The agent is
# pinned to core 1, the subscriber to core 0. CPU is the agent process's utime+stime over the
# measured window. Prints per-pair figures, medians and the TLS/plaintext ratio (target <= 1.1).
# Needs root (cgroups). Removes its cgroups, processes and temp dir on every exit.
set -euo pipefail
bin="${RCBENCH_BIN_DIR:-build/bin}"
N="${CONTAINERS:-1000}"; D="${DURATION:-20}"; PAIRS="${PAIRS:-3}"; WARM="${WARMUP:-3}"
for b in rcbench rcbench-agent usage_subscriber; do
  [ -x "$bin/$b" ] || { echo "agent_tls_overhead: build $b first" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "agent_tls_overhead: needs root (cgroups)" >&2; exit 1; }
root="rcbench-tlsbench-$$"
tmp=$(mktemp -d)
agent_pid=""
hier=()
for h in cpu cpuacct memory pids; do [ -d "/sys/fs/cgroup/$h" ] && hier+=("/sys/fs/cgroup/$h"); done
[ -d /sys/fs/cgroup/unified ] || [ ${#hier[@]} -gt 0 ] || hier+=("/sys/fs/cgroup")
cleanup() {
  [ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null || true
  for h in "${hier[@]}"; do
    [ -d "$h/$root" ] && find "$h/$root" -mindepth 1 -depth -type d -exec rmdir {} + 2>/dev/null
    rmdir "$h/$root" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
for h in "${hier[@]}"; do
  mkdir -p "$h/$root"
  for i in $(seq "$N"); do mkdir "$h/$root/c$i"; done
done
"$bin/rcbench" certs init --dir "$tmp/ca" >/dev/null
"$bin/rcbench" certs issue --dir "$tmp/ca" --name agent --host 127.0.0.1 >/dev/null
"$bin/rcbench" certs issue --dir "$tmp/ca" --name client --client-only >/dev/null
"$bin/rcbench" certs token "$tmp/token" >/dev/null
tls_agent=(--tls-cert "$tmp/ca/agent.pem" --tls-key "$tmp/ca/agent-key.pem" --tls-ca "$tmp/ca/ca.pem")
tls_client=(--tls-cert "$tmp/ca/client.pem" --tls-key "$tmp/ca/client-key.pem" --tls-ca "$tmp/ca/ca.pem")
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
run_one() {  # $1 = plaintext|tls; prints the agent's CPU seconds per second
  local extra=() cextra=()
  [ "$1" = tls ] && extra=("${tls_agent[@]}") && cextra=("${tls_client[@]}")
  rm -f "$tmp/ready"
  taskset -c 1 "$bin/rcbench-agent" --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 --root "$root" \
    --interval 1s --token-file "$tmp/token" --ready-file "$tmp/ready" --log-level warning \
    "${extra[@]}" 2>"$tmp/agent.log" &
  agent_pid=$!
  for _ in $(seq 100); do [ -f "$tmp/ready" ] && break; sleep 0.1; done
  local addr; addr=$(sed -n 's/^grpc=//p' "$tmp/ready")
  taskset -c 0 "$bin/usage_subscriber" --address "$addr" --token-file "$tmp/token" \
    --seconds $((D + WARM + 1)) "${cextra[@]}" >"$tmp/sub.out" &
  local sub=$!
  sleep "$WARM"
  local t0; t0=$(ticks "$agent_pid"); local s0; s0=$(date +%s.%N)
  sleep "$D"
  local t1; t1=$(ticks "$agent_pid"); local s1; s1=$(date +%s.%N)
  wait "$sub" || { echo "subscriber failed: $(cat "$tmp/sub.out")" >&2; cat "$tmp/agent.log" >&2; exit 1; }
  kill "$agent_pid"; wait "$agent_pid" 2>/dev/null || true; agent_pid=""
  awk -v a="$t0" -v b="$t1" -v hz="$hz" -v s0="$s0" -v s1="$s1" \
    'BEGIN { printf "%.5f\n", (b - a) / hz / (s1 - s0) }'
  echo "  $1: $(cat "$tmp/sub.out")" >&2
}
plain=(); tls=()
for p in $(seq "$PAIRS"); do
  plain+=("$(run_one plaintext)")
  tls+=("$(run_one tls)")
  echo "pair $p: plaintext ${plain[-1]} CPU-s/s, TLS ${tls[-1]} CPU-s/s"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
mp=$(median "${plain[@]}"); mt=$(median "${tls[@]}")
echo "containers=$N interval=1s window=${D}s pairs=$PAIRS"
echo "agent CPU, median: plaintext $mp CPU-s/s, mutual TLS + token $mt CPU-s/s"
awk -v p="$mp" -v t="$mt" 'BEGIN { printf "ratio TLS/plaintext: %.3f (target <= 1.1)\n", t / p }'
