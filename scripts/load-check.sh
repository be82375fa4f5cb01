#!/usr/bin/env bash
# The load check: README command 2's test suite (the `meson test` step of `scripts/setup.sh test`)
# while a CPU hog runs on every core, started and stopped by this script, then the suite's time and
# its slowest tests. It shows that no test fails only because the machine is busy: the tests wait
# on progress rather than on wall-clock budgets (docs/testing.md).
#
# Usage: bash scripts/load-check.sh [--hogs N | --idle] [TEST ...]
#   --hogs N  start N busy loops (default: one per core, `nproc`)
#   --idle    start none: the same run, for comparison
#   TEST ...  only these tests (names from `meson test -C build --list`); default: the whole suite
# Builds first through scripts/setup.sh build (RANKSWEEP_BUILD names the build directory, default
# build). Exit status: meson test's. The per-test times of the run are kept in
# BUILD/meson-logs/load-check-{loaded,idle}.json (meson's own testlog.json of the run).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
build="${RANKSWEEP_BUILD:-build}"
py=/usr/bin/python3

hogs="$(nproc)"
while (($#)); do
  case "$1" in
    --hogs)
      [[ "${2:-}" =~ ^[0-9]+$ ]] || { echo "load-check: --hogs needs a number, got '${2:-}'" >&2; exit 2; }
      hogs="$2"
      shift 2 ;;
    --idle) hogs=0; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    -*) echo "load-check: unknown option '$1' (see --help)" >&2; exit 2 ;;
    *) break ;;
  esac
done
tests=("$@")
if ((hogs > 0)); then mode=loaded; else mode=idle; fi

bash scripts/setup.sh build

# The hogs: plain busy loops, one process each, at the same priority as the tests. They end with
# this script whatever happens (the EXIT trap), and only they are killed (by their own pids).
hog_pids=()
stop_hogs() {
  [[ $BASHPID == "$$" ]] || return 0 # not in a child killed before its exec (bash runs EXIT traps there)
  ((${#hog_pids[@]})) || return 0
  kill "${hog_pids[@]}" 2>/dev/null || true
  wait "${hog_pids[@]}" 2>/dev/null || true
  hog_pids=()
}
trap stop_hogs EXIT
trap 'exit 130' INT TERM
for ((i = 0; i < hogs; i++)); do
  bash -c 'while :; do :; done' &
  hog_pids+=($!)
done

echo "load-check: $hogs CPU hog(s) on $(nproc) core(s); load average before the tests: $(cut -d' ' -f1-3 /proc/loadavg)"
t0=$SECONDS
rc=0
meson test -C "$build" -v --print-errorlogs --num-processes 1 "${tests[@]}" || rc=$?
elapsed=$((SECONDS - t0))
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"
stop_hogs

log="$build/meson-logs/testlog.json"
keep="$build/meson-logs/load-check-$mode.json"
cp "$log" "$keep"
echo
echo "load-check: ${#tests[@]} test(s) named (0: the whole suite), $hogs hog(s): meson test exit $rc," \
  "$((elapsed / 60)) min $((elapsed % 60)) s; load average at the end: $load_after"
"$py" - "$keep" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
rows.sort(key=lambda r: -r["duration"])
bad = [r for r in rows if r["result"] not in ("OK", "SKIP", "EXPECTEDFAIL")]
print("load-check: %d tests, %d not OK, %.0f s in tests; slowest:" % (
    len(rows), len(bad), sum(r["duration"] for r in rows)))
for r in rows[:10]:
    print("  %-26s %-8s %7.1f s" % (r["name"], r["result"], r["duration"]))
for r in bad:
    print("  not OK: %s (%s, %.1f s)" % (r["name"], r["result"], r["duration"]))
PY
echo "load-check: per-test times in $keep"
exit "$rc"
