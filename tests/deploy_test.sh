#!/usr/bin/env bash
# The Ansible deployment, for real, on this machine: builds the .deb packages (`package`
# target), applies deploy/ansible/site.yml with an inventory of network-namespace addresses
# (one host under test, one client host, the controller and monitoring in the root namespace;
# every host ansible_connection=local), checks the installed credentials, applies it again
# (nothing may change), then starts the installed /usr/bin daemons inside the namespaces the way
# their units would (ExecStart with the options of /etc/default/*; systemd is not PID 1 here),
# runs a short smoke matrix with run-experiment.yml (rcbench run from the controller side with
# the installed certificates and token) and checks every run completed and the report came back.
# On every path: daemons killed, packages purged, /etc/rcbench, /etc/default/rcbench-*,
# /var/lib/rcbench*, /var/cache/rcbench, the namespaces and the cgroup root removed.
#
# Environment: RCBENCH_BUILD_DIR (the build tree; its `package` target is built), or
# RCBENCH_PACKAGE_DIR (a directory that already holds the four .deb files).
# Exits 77 (skipped) when not root, without ansible/ip/nsenter/netns, or when rcbench is already
# installed or configured on this machine (it is not ours to purge).
set -uo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
skip() { echo "skipped: $*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || skip "needs root (packages, network namespaces, cgroups)"
for tool in ansible-playbook ip nsenter dpkg python3; do
  command -v "$tool" >/dev/null 2>&1 || skip "$tool is not installed"
done
ip netns list >/dev/null 2>&1 || skip "no iproute2 with netns support"
[ -d /sys/fs/cgroup ] || skip "no cgroup filesystem"
packages=(rcbench rcbench-agent rcbench-loadgen rcbench-server)
for p in "${packages[@]}"; do
  if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'installed'; then
    skip "package $p is already installed on this machine; this test installs and purges it"
  fi
done
for path in /etc/rcbench /etc/default/rcbench-agent /etc/default/rcbench-loadgen \
    /var/lib/rcbench /var/lib/rcbench-agent /var/cache/rcbench; do
  [ -e "$path" ] && skip "$path exists: rcbench is deployed on this machine; not touching it"
done
exec 9>/run/lock/rcbench-deploy-test.lock
flock -n 9 || skip "another deploy test holds /run/lock/rcbench-deploy-test.lock"

id=$$
ns_srv="rcbds$id" ns_cli="rcbdc$id" root_cg="rcbench-deploy$id"
tmp=$(mktemp -d /tmp/rcbench-deploy.XXXXXX)
pids=()
start_time=$(date +%s)

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  done
  # Servers the agent started carry this test's container root in their arguments.
  pkill -KILL -f -- "--container-root $root_cg" 2>/dev/null
  dpkg --purge "${packages[@]}" >"$tmp/purge.log" 2>&1 || { echo "dpkg --purge:"; cat "$tmp/purge.log"; }
  rm -rf /etc/rcbench /etc/default/rcbench-agent /etc/default/rcbench-loadgen \
    /var/lib/rcbench /var/lib/rcbench-agent /var/cache/rcbench
  ip netns del "$ns_srv" 2>/dev/null; ip netns del "$ns_cli" 2>/dev/null
  ip link del "rcbdrs$id" 2>/dev/null; ip link del "rcbdrc$id" 2>/dev/null
  for h in /sys/fs/cgroup/*/"$root_cg" /sys/fs/cgroup/"$root_cg"; do
    [ -d "$h" ] && find "$h" -depth -type d -exec rmdir {} + 2>/dev/null
  done
  rm -rf "$tmp"
  echo "deploy test took $(( $(date +%s) - start_time )) s"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- packages -------------------------------------------------------------------------------
debs="$tmp/debs"
mkdir -p "$debs"
if [ -n "${RCBENCH_PACKAGE_DIR:-}" ]; then
  pkgsrc=$RCBENCH_PACKAGE_DIR
else
  build=${RCBENCH_BUILD_DIR:?RCBENCH_BUILD_DIR or RCBENCH_PACKAGE_DIR must be set}
  if ! nice -n 10 cmake --build "$build" --target package >"$tmp/package.log" 2>&1; then
    tail -20 "$tmp/package.log"; fail "cmake --build $build --target package failed"
  fi
  pkgsrc=$build/packages
fi
for p in "${packages[@]}"; do
  found=$(find "$pkgsrc" -maxdepth 2 -path '*/_CPack_Packages' -prune -o -name "${p}_*.deb" -print \
    | sort | tail -1)
  [ -n "$found" ] || fail "no ${p}_*.deb under $pkgsrc (is packaging built? see docs/DEPLOYMENT.md)"
  cp "$found" "$debs/"
done
echo "packages: $(cd "$debs" && echo *.deb)"

# --- topology (as tests/multihost_fixture.h, with addresses of its own) ---------------------
topo=(
  "ip netns add $ns_srv" "ip netns add $ns_cli"
  "ip link add rcbdrs$id type veth peer name rcbds0$id netns $ns_srv"
  "ip link add rcbdrc$id type veth peer name rcbdc0$id netns $ns_cli"
  "ip -n $ns_srv link add rcbdsl$id type veth peer name rcbdcl$id netns $ns_cli"
  "ip addr add 10.232.0.1/30 dev rcbdrs$id" "ip link set rcbdrs$id up"
  "ip addr add 10.232.0.5/30 dev rcbdrc$id" "ip link set rcbdrc$id up"
  "ip -n $ns_srv addr add 10.232.0.2/30 dev rcbds0$id" "ip -n $ns_srv link set rcbds0$id up"
  "ip -n $ns_srv addr add 10.232.0.9/29 dev rcbdsl$id" "ip -n $ns_srv link set rcbdsl$id up"
  "ip -n $ns_srv link set lo up"
  "ip -n $ns_cli addr add 10.232.0.6/30 dev rcbdc0$id" "ip -n $ns_cli link set rcbdc0$id up"
  "ip -n $ns_cli addr add 10.232.0.10/29 dev rcbdcl$id"
  "ip -n $ns_cli addr add 10.232.0.11/29 dev rcbdcl$id" "ip -n $ns_cli link set rcbdcl$id up"
  "ip -n $ns_cli link set lo up"
)
for cmd in "${topo[@]}"; do $cmd || fail "$cmd"; done

# --- the playbook ---------------------------------------------------------------------------
inventory="$tmp/inventory.yml"
# Where systemd is PID 1 the roles would start the units in the root namespace, where these
# addresses do not exist: the test starts the daemons itself in any case.
manage=""
[ -d /run/systemd/system ] && manage="rcbench_manage_services: false"
cat >"$inventory" <<INVENTORY
all:
  vars:
    $manage
    ansible_connection: local
    ansible_python_interpreter: /usr/bin/python3
    ansible_become: false             # already root, and there is no sudo here
    rcbench_package_dir: $debs
    rcbench_agent_root: $root_cg
    rcbench_monitoring_install_prometheus: false
    rcbench_prometheus_dir: $tmp/prometheus
    rcbench_grafana_provisioning_dir: $tmp/grafana/provisioning
    rcbench_grafana_dashboards_dir: $tmp/grafana/dashboards
  children:
    rcbench_servers:
      hosts:
        srv: {rcbench_address: 10.232.0.2, rcbench_data_address: 10.232.0.9}
    rcbench_clients:
      hosts:
        cli: {rcbench_address: 10.232.0.6, rcbench_source_addresses: [10.232.0.10, 10.232.0.11]}
    rcbench_controller:
      hosts:
        ctl: {rcbench_address: 10.232.0.1}
    rcbench_monitoring:
      hosts:
        ctl:
INVENTORY
export ANSIBLE_CONFIG="$src/deploy/ansible/ansible.cfg" ANSIBLE_LOCAL_TEMP="$tmp/ansible-tmp" \
  ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0
play() {  # play LOG PLAYBOOK [ARGS...]
  local log=$1; shift
  if ! (cd "$src/deploy/ansible" && ansible-playbook -i "$inventory" "$@") >"$log" 2>&1; then
    grep -E -B2 -A12 'fatal:|ERROR!' "$log" | head -60; tail -15 "$log"
    fail "ansible-playbook $* failed (log above)"
  fi
}
t0=$(date +%s)
play "$tmp/site.log" site.yml
echo "site.yml applied in $(( $(date +%s) - t0 )) s"
grep -q 'systemd is not the service manager here' "$tmp/site.log" \
  || fail "site.yml did not say it skipped the service manager"
if [ -z "$manage" ] && grep -q 'ansible_service_mgr is unknown' "$tmp/site.log"; then
  fail "site.yml skipped the service manager without knowing it (no ansible_service_mgr fact)"
fi

for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' \
    || fail "package $p is not installed after site.yml"
done
check_mode() {  # check_mode MODE PATH...
  local want=$1; shift
  for f in "$@"; do
    [ -e "$f" ] || fail "$f is missing after site.yml"
    [ "$(stat -c %a "$f")" = "$want" ] || fail "$f has mode $(stat -c %a "$f"), expected $want"
  done
}
check_mode 700 /etc/rcbench /etc/rcbench/tls /var/lib/rcbench-agent /var/lib/rcbench/pki
check_mode 600 /etc/rcbench/token /etc/rcbench/tls/{ca,agent,agent-key,loadgen,loadgen-key,controller,controller-key}.pem
/usr/bin/rcbench certs show /etc/rcbench/tls/agent.pem | grep -q 10.232.0.2 \
  || fail "the agent's certificate does not name its address 10.232.0.2"
/usr/bin/rcbench certs show /etc/rcbench/tls/loadgen.pem | grep -q 10.232.0.6 \
  || fail "the load generator's certificate does not name its address 10.232.0.6"
grep -q '"10.232.0.2:9101"' "$tmp/prometheus/targets/agent.json" \
  || fail "agent.json does not list the agent's metrics address: $(cat "$tmp/prometheus/targets/agent.json")"
grep -q '"10.232.0.6:9102"' "$tmp/prometheus/targets/loadgen.json" \
  || fail "loadgen.json does not list the load generator's metrics address"
[ "$(ls "$tmp/grafana/dashboards"/*.json | wc -l)" -eq "$(ls "$src"/dashboards/grafana/*.json | wc -l)" ] \
  || fail "not every dashboard was installed in $tmp/grafana/dashboards"

t0=$(date +%s)
play "$tmp/site2.log" site.yml
recap=$(grep -E '^(srv|cli|ctl) +:' "$tmp/site2.log")
[ "$(echo "$recap" | grep -c 'changed=0 ')" -eq 3 ] \
  || fail "site.yml changed something when applied a second time (not idempotent): $recap"
echo "site.yml applied again in $(( $(date +%s) - t0 )) s: nothing changed"

# --- the daemons, as their units would start them -------------------------------------------
start_unit() {  # start_unit UNIT NAMESPACE
  local unit=$1 ns=$2 file="/lib/systemd/system/$1.service" exec_start envfile var
  [ -f "$file" ] || fail "$file is not installed"
  exec_start=$(sed -n 's/^ExecStart=//p' "$file")
  envfile=$(sed -n 's/^EnvironmentFile=-\{0,1\}//p' "$file")
  [ -n "$exec_start" ] && [ -n "$envfile" ] || fail "$file has no ExecStart or EnvironmentFile"
  # systemd splits an unbraced $VAR at whitespace; so does an unquoted expansion here.
  local -a argv
  eval "argv=($(set -a; . "$envfile"; set +a
    eval "for a in $exec_start; do printf '%q ' \"\$a\"; done"))"
  echo "$unit: ${argv[*]}"
  nsenter --net="/run/netns/$ns" "${argv[@]}" --ready-file "$tmp/$unit.ready" --die-with-parent \
    >"$tmp/$unit.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do grep -q '^grpc=' "$tmp/$unit.ready" 2>/dev/null && return 0; sleep 0.1; done
  cat "$tmp/$unit.log"; fail "$unit did not become ready in 10 s"
}
start_unit rcbench-agent "$ns_srv"
start_unit rcbench-loadgen "$ns_cli"

# --- the experiment -------------------------------------------------------------------------
t0=$(date +%s)
play "$tmp/run.log" run-experiment.yml -e rcbench_experiment_name=deploy-smoke \
  -e '{"rcbench_experiment_repetitions": 1, "rcbench_experiment_low_clients": [2, 6]}' \
  -e rcbench_fetch_dir="$tmp/reports" -e rcbench_prometheus_sd_dir="$tmp/prometheus/targets"
echo "run-experiment.yml ran in $(( $(date +%s) - t0 )) s; what it showed:"
sed -n '/^TASK \[Show how the experiment ran\]/,/^TASK/p' "$tmp/run.log" | sed '1d;$d'
for f in report.md report.html plots/deploy-smoke-high_latency.svg plots/deploy-smoke-low_throughput.png; do
  [ -s "$tmp/reports/deploy-smoke/$f" ] || fail "run-experiment.yml did not fetch $f"
done
# The controller wrote its own targets beside the inventory's and left those alone.
[ -f "$tmp/prometheus/targets/controller.json" ] || fail "no controller.json from --prometheus-sd-dir"
grep -q '"10.232.0.2:9101"' "$tmp/prometheus/targets/agent.json" \
  || fail "the controller overwrote agent.json: $(cat "$tmp/prometheus/targets/agent.json")"
/usr/bin/rcbench report --db /var/lib/rcbench/results.db --experiment deploy-smoke --format json \
  --out "$tmp/report-json" --no-plots >/dev/null 2>&1 || fail "rcbench report --format json failed"
python3 - "$tmp/report-json/report.json" <<'PY' || fail "the experiment's runs did not all complete"
import json, sys
runs = json.load(open(sys.argv[1]))
if len(runs) != 4: sys.exit("expected 4 runs, got %d" % len(runs))
for r in runs:
    if r["status"] != "completed": sys.exit("run %s is %s: %s" % (r["run_id"], r["status"], r["error"]))
    for cls in ("high", "low"):
        if not r["metrics"].get("throughput_rps{class=%s}" % cls):
            sys.exit("run %s has no throughput for class %s" % (r["run_id"], cls))
print("4 runs completed across the namespaces, both classes measured")
PY
grep -q 'srv' "$tmp/reports/deploy-smoke/report.md" || fail "report.md does not name the host srv"
echo "passed"
