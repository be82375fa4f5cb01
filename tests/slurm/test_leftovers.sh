#!/usr/bin/env bash
# Runs after every other SLURM test (lowest priority): fails if any of them left a SLURM daemon, a
# job step, munged, an emulated node's network namespace, link or bridge, or its work directory
# behind. Each test also checks its own cluster at teardown (tests/slurm/lib.sh); this catches a
# test whose teardown never ran or was skipped. A munged counts too (the tests start the only one on
# a CI machine), unless RANKSWEEP_MUNGED_EXPECTED=1 says this machine runs one of its own.
set -euo pipefail

[[ $(id -u) -eq 0 ]] || { echo "FAIL: must run as root, like the SLURM tests it checks after" >&2; exit 1; }
left=()
for name in slurmctld slurmd slurmstepd; do
  while read -r pid cmd; do
    [[ -n "$pid" ]] && left+=("process $pid: $cmd")
  done < <(pgrep -a -x "$name" || true)
done
# slurmstepd names itself "slurmstepd: [JOB.STEP]", which pgrep -x does not match.
while read -r pid cmd; do
  [[ -n "$pid" ]] && left+=("process $pid: $cmd")
done < <(pgrep -a -f '^slurmstepd: ' || true)
if [[ "${RANKSWEEP_MUNGED_EXPECTED:-0}" != 1 ]]; then
  while read -r pid cmd; do
    [[ -n "$pid" ]] && left+=("process $pid: $cmd (set RANKSWEEP_MUNGED_EXPECTED=1 if this machine runs its own)")
  done < <(pgrep -a -x munged || true)
fi
if command -v ip >/dev/null; then
  while read -r ns _; do
    [[ "$ns" =~ ^rs[0-9]+-node[0-9]+$ ]] && left+=("network namespace $ns")
  done < <(ip netns list 2>/dev/null || true)
  while read -r link _; do
    link="${link%%@*}"
    [[ "$link" =~ ^rs(br)?[0-9]+(v[0-9]+)?$ ]] && left+=("link $link")
  done < <(ip -br link 2>/dev/null || true)
fi
for d in /tmp/ranksweep-slurm-test.* /var/tmp/ranksweep-slurm-test.*; do
  [[ -e "$d" ]] && left+=("directory $d")
done
if ((${#left[@]})); then
  echo "FAIL: left behind by the SLURM tests:" >&2
  printf '  %s\n' "${left[@]}" >&2
  exit 1
fi
echo "ok 1 - no slurmctld, slurmd, slurmstepd, munged, emulated node namespace, link, bridge or test directory left"
echo "slurm-leftovers: 1 passed, 0 failed"
