#!/usr/bin/env bash
# rcbench-server (event arch, one core) against nginx (1 worker) on the same 1 KiB file, driven
# alternately by the same generator (wrk), keep-alive and one request per connection; plus
# rcbench-server with containers on vs off. Server pinned to core 0, wrk to core 1 (ANCHORS.md).
# Prints medians of requests/s and requests per server CPU-second and the ratios.
#
# Usage: benchmarks/server_vs_nginx.sh   (env: DURATION=10s PAIRS=5 CONNECTIONS=50)
# Writes nothing outside a temp dir; everything it starts is stopped on exit.
set -euo pipefail

DURATION=${DURATION:-10s}
PAIRS=${PAIRS:-5}
CONNECTIONS=${CONNECTIONS:-50}
BIN=${RCBENCH_BIN_DIR:-$(cd "$(dirname "$0")/.." && pwd)/build/bin}
SERVER_CORE=0
CLIENT_CORE=1

for tool in wrk nginx taskset; do
  if ! command -v "$tool" >/dev/null; then
    echo "installing $tool" >&2
    pkg=$tool; [ "$tool" = nginx ] && pkg=nginx-light
    [ "$tool" = taskset ] && pkg=util-linux
    apt-get install -y -qq "$pkg" >/dev/null
  fi
done
[ -x "$BIN/rcbench-server" ] || { echo "build rcbench-server first ($BIN)" >&2; exit 1; }

tmp=$(mktemp -d /tmp/rcbench-server-vs-nginx.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

mkdir -p "$tmp/www"
head -c 1024 /dev/zero | tr '\0' 'a' > "$tmp/www/index.html"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

nginx_port=$(free_port)
cat > "$tmp/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $tmp/nginx.pid;
error_log $tmp/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path $tmp; proxy_temp_path $tmp; fastcgi_temp_path $tmp;
  uwsgi_temp_path $tmp; scgi_temp_path $tmp;
  server { listen 127.0.0.1:$nginx_port backlog=4096; root $tmp/www; }
}
CONF
taskset -c $SERVER_CORE nginx -c "$tmp/nginx.conf" &
pids+=($!)
nginx_pid=$!

start_rcbench() {  # name, extra flags...
  local name=$1; shift
  taskset -c $SERVER_CORE "$BIN/rcbench-server" --listen 127.0.0.1:0 --docroot "$tmp/www" \
    --arch event --backlog 4096 --log-level warning --ready-file "$tmp/$name.ready" "$@" &
  pids+=($!)
  for _ in $(seq 100); do [ -f "$tmp/$name.ready" ] && break; sleep 0.05; done
  [ -f "$tmp/$name.ready" ] || { echo "rcbench-server ($name) did not start" >&2; exit 1; }
}
start_rcbench off --containers off
servers=(nginx off)
if [ "$(id -u)" = 0 ]; then
  start_rcbench on --containers on --container-root "rcbench-bench-$$"
  servers+=(on)
else
  echo "not root: skipping --containers on" >&2
fi
sleep 0.5

url_of() {
  case $1 in
    nginx) echo "http://127.0.0.1:$nginx_port/index.html" ;;
    *) echo "http://$(grep '^http=' "$tmp/$1.ready" | cut -d= -f2)/index.html" ;;
  esac
}
pid_of() {
  case $1 in
    nginx) echo "$nginx_pid $(pgrep -P "$nginx_pid" | tr '\n' ' ')" ;;
    *) grep '^pid=' "$tmp/$1.ready" | cut -d= -f2 ;;
  esac
}
# CPU time of every thread of the given processes, in ns (/proc/PID/task/TID/schedstat: far
# finer than the 10 ms ticks of /proc/PID/stat, which matters when a loaded machine gives a
# server only a second of CPU per run).
cpu_ns() {
  local total=0
  for p in $1; do
    for t in /proc/"$p"/task/*/schedstat; do
      total=$((total + $(awk '{print $1}' "$t")))
    done
  done
  echo "$total"
}

echo "# server_vs_nginx: wrk -t1 -c$CONNECTIONS -d$DURATION, $PAIRS rounds, server core $SERVER_CORE, wrk core $CLIENT_CORE"
echo "mode server round req_per_s server_cpu_s req_per_cpu_s"
for mode in keepalive close; do
  header=()
  [ $mode = close ] && header=(-H "Connection: close")
  for round in $(seq "$PAIRS"); do
    for s in "${servers[@]}"; do
      procs=$(pid_of "$s")
      before=$(cpu_ns "$procs")
      out=$(taskset -c $CLIENT_CORE wrk -t1 -c"$CONNECTIONS" -d"$DURATION" "${header[@]}" "$(url_of "$s")")
      after=$(cpu_ns "$procs")
      rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
      reqs=$(awk '/requests in/ {print $1}' <<<"$out")
      errors=$(grep -E 'Non-2xx|Socket errors' <<<"$out" || true)
      [ -n "$errors" ] && echo "# $s $mode: $errors" >&2
      cpu=$(awk -v t=$((after - before)) 'BEGIN {printf "%.3f", t / 1e9}')
      per_cpu=$(awk -v r="$reqs" -v c="$cpu" 'BEGIN {printf "%.0f", (c > 0 ? r / c : 0)}')
      echo "$mode $s $round $rps $cpu $per_cpu" | tee -a "$tmp/results"
    done
  done
done

echo
echo "# medians"
python3 - "$tmp/results" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
med = {}
for mode in ("keepalive", "close"):
    for server in ("nginx", "off", "on"):
        r = [row for row in rows if row[0] == mode and row[1] == server]
        if not r:
            continue
        med[(mode, server)] = (statistics.median(float(x[3]) for x in r),
                               statistics.median(float(x[5]) for x in r))
        print(f"{mode:9s} {server:5s} req/s {med[(mode, server)][0]:9.0f}   "
              f"req/server-CPU-s {med[(mode, server)][1]:9.0f}")
print()
for mode in ("keepalive", "close"):
    n, off = med.get((mode, "nginx")), med.get((mode, "off"))
    if n and off:
        print(f"{mode:9s} rcbench(off)/nginx: req/s {off[0] / n[0]:.2f}x, "
              f"req/CPU-s {off[1] / n[1]:.2f}x   (target >= 0.9x)")
    on = med.get((mode, "on"))
    if on and off:
        print(f"{mode:9s} containers on vs off: req/s {100 * (1 - on[0] / off[0]):+.1f}% overhead, "
              f"req/CPU-s {100 * (1 - on[1] / off[1]):+.1f}% overhead   (target <= 3%)")
PY
