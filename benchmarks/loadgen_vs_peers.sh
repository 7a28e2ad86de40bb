#!/usr/bin/env bash
# rcbench-loadgen against the generators users would pick instead (ANCHORS.md set-ups):
#   1. keep-alive HTTP, -c50, nginx (1 worker, 1 KiB file):   requests per generator CPU-second vs wrk
#      (rcbench with each socket engine: epoll, io_uring, io_uring with completion batching)
#   2. connection-per-request, -c50:                           vs wrk -H 'Connection: close' and httperf
#   3. SYN pps on one core over a veth pair into a namespace:  vs trafgen (TX_RING) and hping3 --flood
# Peer and rcbench alternate (A B A B ...), PAIRS pairs each (default 3); medians and ratios are
# printed at the end. Generator pinned to core 1, nginx to core 0. Everything lives in a temp dir;
# namespaces, veths and processes are removed on every exit path. Traffic goes to 127.0.0.1 and
# into namespaces this script makes only.
#
# Environment: RCBENCH_BIN_DIR (default build/bin), PAIRS (3), DURATION (seconds per HTTP run, 5),
# SYN_DURATION (5), SECTIONS ("http close syn"), SYN_RPS (0; 1 = the receiving veth steers its
# receive work to core SRV_CPU with RPS, so the sender's core carries only the send path),
# SYN_BOUND (1: after the pairs, one more rcbench flood with the receive work steered to core
# SRV_CPU measures what the receiver alone costs per packet, and so how far any sender on the
# receiver's core can get ahead of hping3).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
bin=${RCBENCH_BIN_DIR:-$here/build/bin}/rcbench-loadgen
pairs=${PAIRS:-3}
dur=${DURATION:-5}
syn_dur=${SYN_DURATION:-5}
sections=${SECTIONS:-"http close syn"}
syn_rps=${SYN_RPS:-0}
syn_bound=${SYN_BOUND:-1}
gen_cpu=${GEN_CPU:-1}
srv_cpu=${SRV_CPU:-0}

[ -x "$bin" ] || { echo "loadgen_vs_peers: $bin not built" >&2; exit 1; }
"$here/scripts/bootstrap"
for tool in nginx wrk httperf hping3 trafgen ip python3; do
  command -v "$tool" >/dev/null || { echo "loadgen_vs_peers: $tool missing" >&2; exit 1; }
done

tmp=$(mktemp -d /tmp/rcbench-loadgen-bench.XXXXXX)
chmod 755 "$tmp"  # nginx workers run as nobody
ns_tx=rcbbs$$
ns_rx=rcbbr$$
nginx_pid=
cleanup() {
  [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null && wait "$nginx_pid" 2>/dev/null
  ip netns del "$ns_tx" 2>/dev/null || true
  ip netns del "$ns_rx" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

results=$tmp/results   # lines: "<metric> <tool> <value>"
: > "$results"
record() { echo "$1 $2 $3" >> "$results"; echo "  $1 $2: $3"; }

# CPU seconds (user + system) of a command, from /usr/bin/time; its stdout goes to $tmp/out.
timed() {
  /usr/bin/time -f '%U %S' -o "$tmp/time" "$@" > "$tmp/out" 2> "$tmp/err" || true
  awk '{print $1 + $2}' "$tmp/time" | tail -1
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_nginx() {
  port=$(free_port)
  mkdir -p "$tmp/www" "$tmp/ngx"
  head -c 1024 /dev/zero | tr '\0' 'a' > "$tmp/www/index.html"
  cat > "$tmp/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $tmp/ngx/nginx.pid;
error_log $tmp/ngx/error.log;
worker_rlimit_nofile 65536;
events { worker_connections 20000; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path $tmp/ngx; proxy_temp_path $tmp/ngx; fastcgi_temp_path $tmp/ngx;
  uwsgi_temp_path $tmp/ngx; scgi_temp_path $tmp/ngx;
  server { listen 127.0.0.1:$port backlog=4096; root $tmp/www; }
}
CONF
  taskset -c "$srv_cpu" nginx -c "$tmp/nginx.conf" -p "$tmp/ngx" &
  nginx_pid=$!
  for _ in $(seq 50); do
    curl --noproxy "*" -sf -o /dev/null "http://127.0.0.1:$port/index.html" && return 0
    sleep 0.1
  done
  echo "loadgen_vs_peers: nginx did not start" >&2; exit 1
}

wrk_requests() { sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$tmp/out"; }
# A percentile line of `wrk --latency` ("     99%    1.23ms") in microseconds.
wrk_percentile_us() {
  awk -v p="$1%" '$1 == p {v = $2; u = 1; if (v ~ /ms$/) u = 1000; else if (v ~ /us$/) u = 1; else if (v ~ /s$/) u = 1000000; sub(/[a-z]+$/, "", v); print v * u}' "$tmp/out"
}
rcbench_http() {  # $1 = tool name, $2 = metric, rest = extra loadgen args
  local tool=$1 metric=$2 url="http://127.0.0.1:$port/index.html" cpu n
  shift 2
  cpu=$(timed taskset -c "$gen_cpu" "$bin" http -t1 -c50 -d"${dur}s" --json "$@" "$url")
  n=$(json_field requests)
  record "$metric" "$tool" "$(python3 -c "print(round($n / $cpu))")"
  record "$metric.rps" "$tool" "$(python3 -c "print(round($n / $dur))")"
  for q in p50 p99; do
    record "$metric.${q}_us" "$tool" "$(python3 -c "import json; print(json.load(open('$tmp/out'))['latency_us']['$q'])")"
  done
}
json_field() { python3 -c "import json,sys; print(json.load(open('$tmp/out'))['$1'])"; }

http_pair() {  # $1 = metric (keepalive | close), $2 = extra loadgen args
  local url="http://127.0.0.1:$port/index.html" cpu n
  local wrk_args=()
  # wrk only recognises a header written "Name: value" (with the space).
  [ "$1" = close ] && wrk_args=(-H "Connection: close")
  cpu=$(timed taskset -c "$gen_cpu" wrk -t1 -c50 -d"${dur}s" --latency "${wrk_args[@]}" "$url")
  n=$(wrk_requests)
  record "$1" wrk "$(python3 -c "print(round($n / $cpu))")"
  record "$1.rps" wrk "$(python3 -c "print(round($n / $dur))")"
  record "$1.p50_us" wrk "$(wrk_percentile_us 50)"
  record "$1.p99_us" wrk "$(wrk_percentile_us 99)"
  # shellcheck disable=SC2086  # $2: extra flags, split on purpose
  rcbench_http rcbench "$1" $2
  if [ "$1" = keepalive ]; then
    rcbench_http rcbench-uring "$1" --io io_uring
    rcbench_http rcbench-uring16 "$1" --io io_uring --io-batch 16 --io-batch-wait 200us
  fi
}

httperf_run() {  # connection-per-request at a fixed rate httperf holds (ANCHORS: 10k/s)
  local rate=${HTTPERF_RATE:-8000} cpu n
  cpu=$(timed taskset -c "$gen_cpu" httperf --server 127.0.0.1 --port "$port" --uri /index.html \
        --rate "$rate" --num-conns $((rate * dur)) --num-calls 1 --timeout 5)
  n=$(sed -n 's/^Reply status: 1xx=[0-9]* 2xx=\([0-9]*\).*/\1/p' "$tmp/out")
  record close httperf "$(python3 -c "print(round(${n:-0} / $cpu))")"
}

# --- SYN floods: namespace pair, veth, blackholed spoofed prefix --------------------------
setup_syn() {
  ip netns add "$ns_tx"; ip netns add "$ns_rx"
  ip link add "rcbba$$" netns "$ns_tx" type veth peer name "rcbbb$$" netns "$ns_rx"
  ip -n "$ns_tx" link set lo up; ip -n "$ns_rx" link set lo up
  ip -n "$ns_tx" addr add 10.213.0.1/30 dev "rcbba$$"
  ip -n "$ns_rx" addr add 10.213.0.2/30 dev "rcbbb$$"
  ip -n "$ns_tx" link set "rcbba$$" up; ip -n "$ns_rx" link set "rcbbb$$" up
  ip -n "$ns_rx" route add 10.99.0.0/16 via 10.213.0.1
  ip -n "$ns_tx" route add blackhole 10.99.0.0/16
  mac_rx=$(ip -n "$ns_rx" -o link show "rcbbb$$" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
  mac_tx=$(ip -n "$ns_tx" -o link show "rcbba$$" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
  ip -n "$ns_tx" neigh replace 10.213.0.2 lladdr "$mac_rx" dev "rcbba$$" nud permanent
  if [ "$syn_rps" = 1 ]; then
    ip netns exec "$ns_rx" sh -c "printf '%x' $((1 << srv_cpu)) > /sys/class/net/rcbbb$$/queues/rx-0/rps_cpus"
  fi
  cat > "$tmp/syn.trafgen" <<CONF
{
  eth(da=$mac_rx, sa=$mac_tx, type=0x0800),
  ipv4(saddr=10.99.0.1, daddr=10.213.0.2, ttl=64, df),
  tcp(sp=drnd(), dp=8080, seq=drnd(), syn, window=64240)
}
CONF
}

rx_packets() {
  ip netns exec "$ns_rx" sh -c "sed -n 's/^ *rcbbb$$: *//p' /proc/net/dev" | awk '{print $2}'
}

# Packets the receiver got, per second and per CPU-second of the sender process (on a veth the
# receiver's work runs on the sender's core, inside its system time; on a shared, loaded machine
# the CPU-second figure is the one that does not depend on how much of the core we were given).
# Busy CPU time (user, system, irq, softirq; in USER_HZ) of the whole machine, or of CPU $1.
# Softirq work the kernel defers to ksoftirqd is in here but not in the sender's own CPU time.
busy_ticks() { awk -v c="cpu${1-}" '$1 == c {print $2 + $3 + $4 + $7 + $8}' /proc/stat; }
syn_run() {  # $1 = tool, rest = command run inside the sender namespace
  local tool=$1 before after cpu busy0 busy1
  shift
  before=$(rx_packets)
  busy0=$(busy_ticks)
  cpu=$(timed ip netns exec "$ns_tx" timeout -s INT $((syn_dur + 5)) taskset -c "$gen_cpu" "$@")
  busy1=$(busy_ticks)
  after=$(rx_packets)
  record syn.pps "$tool" "$(python3 -c "print(round(($after - $before) / $syn_dur))")"
  record syn "$tool" "$(python3 -c "print(round(($after - $before) / max($cpu, 0.01)))")"
  record syn.core "$tool" "$(python3 -c "print(round(($after - $before) / max(($busy1 - $busy0) / $(getconf CLK_TCK), 0.01)))")"
}

if [[ " $sections " == *" http "* || " $sections " == *" close "* ]]; then
  start_nginx
  echo "nginx on 127.0.0.1:$port (core $srv_cpu); generators on core $gen_cpu; $pairs pairs of ${dur}s"
fi
for i in $(seq "$pairs"); do
  echo "pair $i"
  [[ " $sections " == *" http "* ]] && http_pair keepalive ""
  if [[ " $sections " == *" close "* ]]; then
    http_pair close "-H Connection:close --linger-zero"
    httperf_run
  fi
done
if [[ " $sections " == *" syn "* ]]; then
  setup_syn
  echo "SYN floods into namespace $ns_rx over a veth, ${syn_dur}s each, core $gen_cpu$([ "$syn_rps" = 1 ] && echo ", receive work steered to core $srv_cpu (RPS)")"
  for i in $(seq "$pairs"); do
    echo "pair $i"
    syn_run hping3 timeout -s INT "$syn_dur" hping3 --flood -S -p 8080 -q 10.213.0.2
    syn_run trafgen timeout -s INT "$syn_dur" trafgen --dev "rcbba$$" --conf "$tmp/syn.trafgen" --cpus 1 -Q
    # Same packets as trafgen's (one spoofed source, random port and sequence number)...
    syn_run rcbench "$bin" syn --target 10.213.0.2:8080 --spoof 10.99.0.1/32 -d "${syn_dur}s" \
      --senders 1 --cpus "$gen_cpu" --interface "rcbba$$" --allow-target 10.213.0.0/30 --json
    # ...and with sources drawn from a /16, where every RST needs a fresh route on the receiver.
    syn_run rcbench-/16 "$bin" syn --target 10.213.0.2:8080 --spoof 10.99.0.0/16 \
      -d "${syn_dur}s" --senders 1 --cpus "$gen_cpu" --interface "rcbba$$" \
      --allow-target 10.213.0.0/30 --json
  done
  if [ "$syn_bound" = 1 ] && [ "$syn_rps" = 0 ]; then
    # The receiver's cost per packet: its work alone on core SRV_CPU (RPS), rcbench sending.
    rps_file=/sys/class/net/rcbbb$$/queues/rx-0/rps_cpus
    ip netns exec "$ns_rx" sh -c "printf '%x' $((1 << srv_cpu)) > $rps_file"
    before=$(rx_packets); r0=$(busy_ticks "$srv_cpu")
    ip netns exec "$ns_tx" taskset -c "$gen_cpu" "$bin" syn --target 10.213.0.2:8080 \
      --spoof 10.99.0.1/32 -d "${syn_dur}s" --senders 1 --cpus "$gen_cpu" --interface "rcbba$$" \
      --allow-target 10.213.0.0/30 --json > /dev/null
    r1=$(busy_ticks "$srv_cpu"); after=$(rx_packets)
    ip netns exec "$ns_rx" sh -c "printf 0 > $rps_file"
    record syn.receive_ns receiver \
      "$(python3 -c "print(round(($r1 - $r0) / $(getconf CLK_TCK) * 1e9 / max($after - $before, 1)))")"
  fi
fi

echo
echo "== medians over $pairs pairs (the machine is shared and noisy: compare ratios, not absolutes)"
python3 - "$results" <<'PY'
import statistics, sys, collections
vals = collections.defaultdict(list)
for line in open(sys.argv[1]):
    metric, tool, value = line.split()
    vals[(metric, tool)].append(float(value))
med = {k: statistics.median(v) for k, v in vals.items()}
OURS = ("rcbench", "rcbench-uring", "rcbench-uring16")
def show(metric, unit, peers, targets):
    for tool in OURS:
        if (metric, tool) not in med: continue
        ours = med[(metric, tool)]
        print(f"{metric}: {tool} {ours:,.0f} {unit}")
        for peer in peers:
            if (metric, peer) in med and med[(metric, peer)] > 0:
                r = ours / med[(metric, peer)]
                t = targets.get(peer)
                verdict = "" if t is None else (" (target >= %.1fx: %s)" % (t, "met" if r >= t else "NOT met"))
                print(f"  {peer:8s} {med[(metric, peer)]:,.0f} {unit}  ratio {r:.2f}x{verdict}")
show("keepalive", "req per generator CPU-s", ["wrk"], {"wrk": 1.2})
for m in ("keepalive", "close"):
    for tool in ("wrk",) + OURS:
        if (m + ".rps", tool) in med:
            print(f"{m} {tool:16s} {med[(m + '.rps', tool)]:9,.0f} req/s  p50 "
                  f"{med.get((m + '.p50_us', tool), 0):7.0f} us  p99 {med.get((m + '.p99_us', tool), 0):7.0f} us")
show("close", "conn per generator CPU-s", ["wrk", "httperf"], {"wrk": 1.0, "httperf": 1.0})
# "SYN pps per core": packets per busy core-second, counting every core's work for the flood
# (the receiver's too, wherever the kernel ran it). The sender-process figure leaves out
# softirq work deferred to ksoftirqd, which differs between tools.
show("syn.core", "SYNs received per busy core-second (all cores, ksoftirqd included)",
     ["trafgen", "hping3"], {"trafgen": 1.0, "hping3": 4.0})
show("syn", "SYNs received per sender CPU-second (the sender process alone)",
     ["trafgen", "hping3"], {})
show("syn.pps", "pps (wall clock, one core, shared machine)", ["trafgen", "hping3"], {})
if ("syn.receive_ns", "receiver") in med and ("syn.core", "hping3") in med:
    recv_us = med[("syn.receive_ns", "receiver")] / 1000
    hping_us = 1e6 / med[("syn.core", "hping3")]
    print(f"bound: the receiver alone costs {recv_us:.2f} us per packet (its work steered to its own "
          f"core); hping3 costs {hping_us:.2f} us per packet with the receiver on its core, so a "
          f"sender costing nothing would reach at most {hping_us / recv_us:.2f}x hping3 there")
for m in ("syn", "syn.core", "syn.pps"):
    if (m, "rcbench-/16") in med:
        print(f"{m} with sources from a /16: rcbench {med[(m, 'rcbench-/16')]:,.0f}")
PY
