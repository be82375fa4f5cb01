# Shared by the tests in tests/slurm/ (sourced, not run): a private single-node cluster per test in
# a temporary directory, stopped and removed on exit whatever happens, and bounded polling of jobs.
# Every wait here has a timeout; nothing trusts `sbatch --wait`.

src_root="${RANKSWEEP_SOURCE_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
cluster="$src_root/scripts/slurm-cluster.sh"
t_start=$(date +%s)

fail() { echo "FAIL: $*" >&2; exit 1; }
note() { echo "[$(($(date +%s) - t_start))s] $*"; }
passed=0
# ok WHAT: one check passed (a failed check exits through fail).
ok() { passed=$((passed + 1)); note "ok $passed - $*"; }
# The closing line test harnesses read; only reached when every check passed.
summary() { echo "$1: $passed passed, 0 failed"; }

[[ $(id -u) -eq 0 ]] || fail "the SLURM tests start munged and slurmd and must run as root"
for prog in mpicc sbatch scontrol scancel sacct; do
  command -v "$prog" >/dev/null || fail "$prog not found (packages: libopenmpi-dev slurm-client)"
done

work="$(mktemp -d /tmp/ranksweep-slurm-test.XXXXXX)"
state="$work/cluster"

# On exit: show the evidence if the test failed, stop this test's cluster, remove its files.
cleanup() {
  local rc=$?
  trap - EXIT
  if ((rc != 0)); then
    echo "---- test failed (exit $rc); diagnostics from $work ----" >&2
    local f
    for f in "$work"/*.out "$state"/log/slurmctld.log "$state"/log/slurmd.log "$state"/jobcomp.txt; do
      [[ -f "$f" ]] || continue
      echo "---- $f (last 40 lines) ----" >&2
      tail -n 40 "$f" >&2
    done
  fi
  bash "$cluster" stop "$state" || echo "warning: stopping the cluster failed" >&2
  [[ -n "${RANKSWEEP_SLURM_KEEP:-}" ]] && echo "kept $work" >&2 || rm -rf "$work"
  note "total $(($(date +%s) - t_start))s"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_cluster() {
  local t0 exports
  t0=$(date +%s)
  exports="$(bash "$cluster" start "$state")" || fail "cluster did not start"
  [[ "$exports" == "export SLURM_CONF=$state/slurm.conf" ]] || fail "unexpected start output: $exports"
  eval "$exports"
  note "cluster up in $(($(date +%s) - t0))s"
}

job_field() { scontrol show job "$1" 2>/dev/null | grep -oE "(^|[[:space:]])$2=[^[:space:]]*" | head -n 1 | cut -d= -f2-; }

# wait_job JOBID TIMEOUT: polls until the job reaches a final state (not requeued); echoes it.
wait_job() {
  local jid="$1" limit="$2" t s
  for ((t = 0; t < limit * 2; t++)); do
    s="$(job_field "$jid" JobState)"
    case "$s" in
      COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE|PREEMPTED)
        echo "$s"; return 0 ;;
    esac
    sleep 0.5
  done
  fail "job $jid not finished within ${limit}s (state ${s:-unknown})"
}

# wait_for LIMIT DESCRIPTION COMMAND...: polls COMMAND until it succeeds.
wait_for() {
  local limit="$1" what="$2" t
  shift 2
  for ((t = 0; t < limit * 4; t++)); do
    "$@" && return 0
    sleep 0.25
  done
  fail "timed out after ${limit}s waiting for $what"
}

# The jobcomp (filetxt) records of a job, one line per run; sacct -c reads the same file.
jobcomp_lines() { grep -E "^JobId=$1 " "$state/jobcomp.txt" || true; }
