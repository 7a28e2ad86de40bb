#!/usr/bin/env bash
# Checks the Debian packages and the systemd units (cmake/Packaging.cmake, deploy/,
# docs/DEPLOYMENT.md "Packages and systemd units").
#
#   package_test.sh debs    cpack of the current build into a scratch directory; the four
#                           packages by name; lintian (no E: line); each package extracted
#                           with dpkg-deb -x into one scratch root, every binary's --help from
#                           there, its man page against that --help, the conffiles; the shipped
#                           configuration started for real (loopback, ports 0, a CA, certificates
#                           and a token made by the packaged `rcbench certs`), and refused without
#                           the token; then the `units` checks on the extracted root.
#   package_test.sh units   the same unit checks on a scratch root made of the build's binaries
#                           and deploy/: systemd-analyze verify of each unit (no message at all),
#                           and systemd-analyze security --offline: both units "OK" or better,
#                           and the agent's exposure equal to the figure in docs/DEPLOYMENT.md.
#
# Needs RCBENCH_SOURCE_DIR and RCBENCH_BUILD_DIR. Exits 77 (ctest: skipped) with the reason when
# a tool is missing; prints 'N passed, N failed'.
set -uo pipefail
mode=${1:?usage: package_test.sh debs|units}
src=${RCBENCH_SOURCE_DIR:?RCBENCH_SOURCE_DIR is not set}
build=${RCBENCH_BUILD_DIR:?RCBENCH_BUILD_DIR is not set}

skip() { echo "skipped: $*"; exit 77; }
passed=0 failed=0
pass() { passed=$((passed + 1)); echo "ok: $*"; }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }

tmp=$(mktemp -d /tmp/rcbench-package.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT

# The binaries of each package, and its conffiles.
declare -A binaries=(
  [rcbench-agent]="rcbench-agent"
  [rcbench-loadgen]="rcbench-loadgen"
  [rcbench-server]="rcbench-server rcbench-cgi-spin"
  [rcbench]="rcbench rcbench-rc")
declare -A conffiles=(
  [rcbench-agent]="/etc/default/rcbench-agent /etc/rcbench/agent.yaml"
  [rcbench-loadgen]="/etc/default/rcbench-loadgen"
  [rcbench-server]=""
  [rcbench]="")
units=(rcbench-agent.service rcbench-loadgen.service)

# check_units ROOT: ROOT has usr/bin/* and lib/systemd/system/rcbench-*.service.
check_units() {
  local root=$1 unit out score rating documented
  command -v systemd-analyze > /dev/null || { echo "systemd-analyze is missing"; return 1; }
  # verify resolves the units' dependencies (sysinit.target, ...) and ExecStart under --root.
  mkdir -p "$root/lib/systemd/system"
  for f in /lib/systemd/system/*.target /lib/systemd/system/*.slice /lib/systemd/system/*.socket; do
    [ -e "$root/lib/systemd/system/$(basename "$f")" ] || cp -a "$f" "$root/lib/systemd/system/"
  done
  for unit in "${units[@]}"; do
    if [ ! -f "$root/lib/systemd/system/$unit" ]; then fail "$unit: not in $root"; continue; fi
    # Any message is a finding: verify exits 0 on unknown keys, which it only warns about.
    out=$(systemd-analyze verify --man=no --root="$root" "$root/lib/systemd/system/$unit" 2>&1)
    if [ $? -eq 0 ] && [ -z "$out" ]; then pass "$unit: systemd-analyze verify"; else
      fail "$unit: systemd-analyze verify: $out"; fi
    out=$(cd "$tmp" && systemd-analyze security --offline=true --no-pager \
      "$root/lib/systemd/system/$unit" 2>&1)
    score=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) \([A-Z]*\).*/\1/p')
    rating=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) \([A-Z]*\).*/\2/p')
    echo "$unit: exposure $score $rating"
    case $rating in
      OK | SAFE | PERFECT) pass "$unit: exposure $score $rating" ;;
      *) fail "$unit: exposure '$score $rating', expected OK or better"; printf '%s\n' "$out" | grep '✗' ;;
    esac
    # docs/DEPLOYMENT.md states each unit's figure; a change of the unit must update it.
    documented=$(sed -n "s/.*\`$unit\`: exposure \*\*\([0-9.]*\)\*\*.*/\1/p" "$src/docs/DEPLOYMENT.md" | head -1)
    if [ "$documented" = "$score" ]; then pass "$unit: exposure matches docs/DEPLOYMENT.md"; else
      fail "$unit: exposure $score, docs/DEPLOYMENT.md says '${documented:-nothing}'"; fi
  done
}

# wait_ready FILE PID: the daemon wrote its ready file (ends with a newline) within 20 s.
wait_ready() {
  local file=$1 pid=$2
  for _ in $(seq 200); do
    if [ -s "$file" ] && [ "$(tail -c1 "$file" | od -An -c | tr -d ' ')" = '\n' ]; then return 0; fi
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# stop PID: SIGTERM, exit status 0 expected.
stop() {
  local pid=$1 rc
  kill -TERM "$pid"
  wait "$pid"; rc=$?
  pids=("${pids[@]/$pid/}")
  return $rc
}

case $mode in
units)
  for b in rcbench-agent rcbench-loadgen; do
    [ -x "$build/bin/$b" ] || skip "$build/bin/$b is not built"
  done
  command -v systemd-analyze > /dev/null || skip "systemd-analyze is missing (apt-get install systemd)"
  root=$tmp/root
  mkdir -p "$root/usr/bin" "$root/lib/systemd/system" "$root/etc/default" "$root/etc/rcbench"
  cp "$build/bin/rcbench-agent" "$build/bin/rcbench-loadgen" "$root/usr/bin/"
  cp "$src"/deploy/systemd/*.service "$root/lib/systemd/system/"
  cp "$src"/deploy/etc/default/* "$root/etc/default/"
  cp "$src"/deploy/etc/rcbench/* "$root/etc/rcbench/"
  check_units "$root"
  ;;

debs)
  for tool in cpack dpkg-deb dpkg-shlibdeps lintian; do
    command -v "$tool" > /dev/null || skip "$tool is missing (scripts/bootstrap installs it)"
  done
  [ -f "$build/CPackConfig.cmake" ] || skip "$build/CPackConfig.cmake is missing (configure first)"
  arch=$(dpkg --print-architecture)
  version=$(sed -n 's/^set(CPACK_PACKAGE_VERSION "\(.*\)")$/\1/p' "$build/CPackConfig.cmake")
  release=$(sed -n 's/^set(CPACK_DEBIAN_PACKAGE_RELEASE "\(.*\)")$/\1/p' "$build/CPackConfig.cmake")
  out=$tmp/out
  if ! (cd "$build" && cpack -G DEB -B "$tmp/work" -D CPACK_OUTPUT_FILE_PREFIX="$out") \
      > "$tmp/cpack.log" 2>&1; then
    cat "$tmp/cpack.log"; fail "cpack"; echo "$passed passed, $failed failed"; exit 1
  fi
  debs=()
  for pkg in rcbench-agent rcbench-loadgen rcbench-server rcbench; do
    deb=$out/${pkg}_${version}-${release}_${arch}.deb
    if [ -f "$deb" ]; then pass "built $(basename "$deb")"; debs+=("$deb"); else
      fail "no $deb; cpack made: $(ls "$out")"; fi
  done
  n=$(ls "$out"/*.deb 2>/dev/null | wc -l)
  [ "$n" -eq 4 ] && pass "exactly 4 packages" || fail "$n packages in $out: $(ls "$out")"

  # lintian: errors fail; warnings are listed (docs/DEPLOYMENT.md says why each remains).
  lintian --tag-display-limit 0 "${debs[@]}" > "$tmp/lintian.log" 2> "$tmp/lintian.err"
  rc=$?
  grep -E '^[WIPNX]: ' "$tmp/lintian.log" | sed 's/^/lintian: /'
  if grep -q '^E: ' "$tmp/lintian.log"; then
    grep '^E: ' "$tmp/lintian.log"; fail "lintian reports errors"
  elif [ $rc -ne 0 ] || grep -qvE '^[WIPNX]: ' "$tmp/lintian.log"; then
    cat "$tmp/lintian.log" "$tmp/lintian.err"; fail "lintian exited $rc"
  else
    pass "lintian: no errors, $(grep -c '^W: ' "$tmp/lintian.log") warnings"
  fi

  root=$tmp/root
  mkdir -p "$root"
  for deb in "${debs[@]}"; do
    pkg=$(dpkg-deb -f "$deb" Package)
    dpkg-deb -x "$deb" "$root"
    dpkg-deb -e "$deb" "$tmp/control-$pkg"
    depends=$(dpkg-deb -f "$deb" Depends)
    [[ $depends == *libc6* ]] && pass "$pkg: Depends from shlibdeps" || \
      fail "$pkg: Depends '$depends' lacks libc6 (shlibdeps)"
    expected=$(printf '%s\n' ${conffiles[$pkg]} | sort)
    listed=$(sort "$tmp/control-$pkg/conffiles" 2>/dev/null)
    if [ "$listed" = "$expected" ]; then pass "$pkg: conffiles '${conffiles[$pkg]}'"; else
      fail "$pkg: conffiles '$listed', expected '$expected'"; fi
    for f in ${conffiles[$pkg]}; do
      [ -f "$root$f" ] || fail "$pkg: conffile $f is not in the package"
    done
    [ -f "$root/usr/share/doc/$pkg/copyright" ] || fail "$pkg: no /usr/share/doc/$pkg/copyright"
    for b in ${binaries[$pkg]}; do
      if ! "$root/usr/bin/$b" --help > "$tmp/$b.help" 2>&1; then
        fail "$b --help exited non-zero: $(head -3 "$tmp/$b.help")"; continue
      fi
      grep -qi 'usage' "$tmp/$b.help" && pass "$b --help from the package" || \
        fail "$b --help printed no usage: $(head -3 "$tmp/$b.help")"
      # The packaged man page is the one this --help makes.
      files=()
      [ -f "$src/packaging/man/$b.files" ] && files=("$src/packaging/man/$b.files")
      "$src/packaging/make-manpage" "$root/usr/bin/$b" "$b" "$version" "x" "$tmp/$b.1.gz" "${files[@]}"
      if cmp -s <(zcat "$tmp/$b.1.gz" | sed '/^\.SH NAME/,+1d') \
                <(zcat "$root/usr/share/man/man1/$b.1.gz" | sed '/^\.SH NAME/,+1d'); then
        pass "$b: man page matches --help"
      else
        fail "$b: /usr/share/man/man1/$b.1.gz does not match its --help"
      fi
    done
  done
  for pkg in rcbench-agent rcbench-loadgen; do
    cmp -s "$root/lib/systemd/system/$pkg.service" "$src/deploy/systemd/$pkg.service" || \
      fail "$pkg: packaged unit differs from deploy/systemd/$pkg.service"
  done
  [ -f "$root/usr/share/rcbench/experiments/smoke.yaml" ] && \
    [ -f "$root/usr/share/rcbench/dashboards/grafana/rcbench-overview.json" ] && \
    pass "rcbench: experiments and dashboards in /usr/share/rcbench" || \
    fail "rcbench: /usr/share/rcbench lacks experiments/smoke.yaml or the dashboards"

  # The maintainer scripts, with dpkg's environment, against the scratch root (DPKG_ROOT):
  # enabled at configure, masked at remove, nothing left after purge. On a host where systemd
  # runs they would also talk to it (daemon-reload, stop), so they are skipped there.
  if [ -d /run/systemd/system ]; then
    echo "skipped: maintainer scripts (systemd runs here; they would reload it)"
  else
    for pkg in rcbench-agent rcbench-loadgen; do
      unit=$pkg.service ctl=$tmp/control-$pkg wants=$root/etc/systemd/system/multi-user.target.wants
      mkdir -p "$root/var/lib/rcbench-agent"
      run() { DPKG_ROOT=$root DPKG_MAINTSCRIPT_PACKAGE=$pkg DPKG_MAINTSCRIPT_NAME=$1 sh "$ctl/$1" "${@:2}"; }
      if run postinst configure && [ -L "$wants/$unit" ]; then pass "$pkg: postinst enables $unit"; else
        fail "$pkg: postinst configure left no $wants/$unit"; fi
      if run prerm remove && run postrm remove && [ "$(readlink "$root/etc/systemd/system/$unit")" = /dev/null ]; then
        pass "$pkg: prerm and postrm remove mask $unit"; else fail "$pkg: remove did not mask $unit"; fi
      run postrm purge
      left=$(find "$root/etc/systemd/system" "$root/var/lib/systemd" -name "$pkg*" 2>/dev/null)
      [ "$pkg" = rcbench-agent ] && [ -e "$root/var/lib/rcbench-agent" ] && left="$left /var/lib/rcbench-agent"
      if [ -z "$left" ]; then pass "$pkg: postrm purge leaves nothing"; else
        fail "$pkg: after purge: $left"; fi
    done
  fi

  # The shipped configuration, for real: /etc/rcbench moved to $etc, ports to 0.
  etc=$tmp/etc
  bin=$root/usr/bin
  mkdir -p "$etc/tls"
  if "$bin/rcbench" certs init --dir "$etc/tls" > "$tmp/certs.log" 2>&1 &&
     "$bin/rcbench" certs issue --dir "$etc/tls" --name agent --host 127.0.0.1 >> "$tmp/certs.log" 2>&1 &&
     "$bin/rcbench" certs issue --dir "$etc/tls" --name loadgen --host 127.0.0.1 >> "$tmp/certs.log" 2>&1; then
    pass "rcbench certs makes the CA and the certificates the configuration names"
  else
    fail "rcbench certs: $(cat "$tmp/certs.log")"
  fi
  relocate() { sed -e "s#/etc/rcbench#$etc#g" -e "s#/var/lib/rcbench-agent#$tmp/state#g" \
                   -e 's#127\.0\.0\.1:[0-9][0-9]*#127.0.0.1:0#g' "$@"; }
  relocate "$root/etc/rcbench/agent.yaml" > "$etc/agent.yaml"
  agent_opts=$(. "$root/etc/default/rcbench-agent" && printf '%s' "$RCBENCH_AGENT_OPTS" | relocate)
  loadgen_opts=$(. "$root/etc/default/rcbench-loadgen" && printf '%s' "$RCBENCH_LOADGEN_OPTS" | relocate)
  # The units' command lines, as systemd runs them, before the token exists: a clear refusal.
  # shellcheck disable=SC2086
  "$bin/rcbench-agent" --config "$etc/agent.yaml" --state-dir "$tmp/state" $agent_opts \
    > "$tmp/agent-notoken.log" 2>&1
  rc=$?
  [ $rc -ne 0 ] && grep -q "$etc/token" "$tmp/agent-notoken.log" && \
    pass "agent without the token: exit $rc naming $etc/token" || \
    fail "agent without the token: exit $rc: $(cat "$tmp/agent-notoken.log")"
  # shellcheck disable=SC2086
  "$bin/rcbench-loadgen" serve $loadgen_opts > "$tmp/loadgen-notoken.log" 2>&1
  rc=$?
  [ $rc -ne 0 ] && grep -q "$etc/token" "$tmp/loadgen-notoken.log" && \
    pass "loadgen without the token: exit $rc naming $etc/token" || \
    fail "loadgen without the token: exit $rc: $(cat "$tmp/loadgen-notoken.log")"
  "$bin/rcbench" certs token "$etc/token" > /dev/null 2>&1 || fail "rcbench certs token"
  # shellcheck disable=SC2086
  "$bin/rcbench-agent" --config "$etc/agent.yaml" --state-dir "$tmp/state" $agent_opts \
    --ready-file "$tmp/agent.ready" > "$tmp/agent.log" 2>&1 &
  agent=$!; pids+=("$agent")
  # shellcheck disable=SC2086
  "$bin/rcbench-loadgen" serve $loadgen_opts --ready-file "$tmp/loadgen.ready" \
    > "$tmp/loadgen.log" 2>&1 &
  loadgen=$!; pids+=("$loadgen")
  if wait_ready "$tmp/agent.ready" "$agent" && stop "$agent"; then
    pass "agent runs with the shipped agent.yaml and RCBENCH_AGENT_OPTS (TLS, token), stops with 0"
  else
    fail "agent with the shipped configuration: $(tail -5 "$tmp/agent.log")"
  fi
  if wait_ready "$tmp/loadgen.ready" "$loadgen" && stop "$loadgen"; then
    pass "loadgen serve runs with the shipped RCBENCH_LOADGEN_OPTS (TLS, token), stops with 0"
  else
    fail "loadgen with the shipped configuration: $(tail -5 "$tmp/loadgen.log")"
  fi

  check_units "$root"
  ;;
*) echo "usage: package_test.sh debs|units" >&2; exit 2 ;;
esac

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
