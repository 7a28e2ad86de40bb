#!/usr/bin/env bash
# Static checks of deploy/ansible: `ansible-playbook --syntax-check` of every playbook and
# `ansible-lint` (production profile, offline) of the whole directory, including the roles.
# Exits 77 (skipped) when ansible or ansible-lint is not installed.
set -uo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
dir="$src/deploy/ansible"
for tool in ansible-playbook ansible-lint; do
  command -v "$tool" >/dev/null 2>&1 || { echo "skipped: $tool is not installed"; exit 77; }
done
# Keep ansible's and ansible-lint's caches out of the source tree and away from the user's.
tmp=$(mktemp -d /tmp/rcbench-ansible-lint.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
export HOME="$tmp" ANSIBLE_LOCAL_TEMP="$tmp/ansible-tmp" XDG_CACHE_HOME="$tmp/cache"
cd "$dir" || exit 1
failed=0
for playbook in site.yml run-experiment.yml; do
  if ! out=$(ansible-playbook -i inventory/hosts.yml --syntax-check "$playbook" 2>&1); then
    echo "FAIL: ansible-playbook --syntax-check $playbook:"; echo "$out"; failed=1
  fi
done
if ! out=$(ansible-lint --nocolor 2>&1); then
  echo "FAIL: ansible-lint:"; echo "$out"; failed=1
else
  echo "$out" | tail -1
fi
[ "$failed" -eq 0 ] && echo "syntax-check and ansible-lint passed"
exit "$failed"
