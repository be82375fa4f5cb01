# Shared by the tests in tests/slurm/ (sourced, not run): a private single-node cluster per test in
# a temporary directory, stopped and removed on exit whatever happens, and polling of jobs. Every
# wait here is bounded by progress, not by the clock (tests/e2e/progress.sh): it fails when neither
# the cluster's jobs nor this test's sweeps have moved for RANKSWEEP_TEST_STALL seconds (default
# 300), so a machine 2-4x slower than usual makes the tests slower, not failed. Nothing trusts
# `sbatch --wait`.

src_root="${RANKSWEEP_SOURCE_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
cluster="$src_root/scripts/slurm-cluster.sh"
t_start=$(date +%s)
source "$src_root/tests/e2e/progress.sh"

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

# The multi-node tests set slurm_work_base outside /tmp before sourcing this: each emulated node
# mounts a /tmp of its own, so the work directory (the cluster's shared file system) lives elsewhere.
work="$(mktemp -d "${slurm_work_base:-/tmp}/ranksweep-slurm-test.XXXXXX")"
state="$work/cluster"
# Whether a munged ran before this test: if not, none may run after it.
munged_before=0
pgrep -x munged >/dev/null && munged_before=1

# leftovers: what this test's cluster left behind after its stop (one line each; nothing when clean):
# a process started from its state directory, a namespace, link or bridge it created, a munged
# this test started.
leftovers() {
  local p cmd kind name
  for p in /proc/[0-9]*; do
    cmd="$(tr '\0' ' ' 2>/dev/null <"$p/cmdline")" || continue # (gone meanwhile)
    [[ "$cmd" == *"$state/"* ]] && echo "process ${p#/proc/}: $cmd"
  done
  if [[ -f "$state/run/net" ]]; then
    while read -r kind name; do
      case "$kind" in
        netns) [[ -e "/var/run/netns/$name" ]] && echo "network namespace $name" ;;
        link|bridge) ip link show "$name" >/dev/null 2>&1 && echo "$kind $name" ;;
      esac
    done <"$state/run/net"
  fi
  ((munged_before)) || ! pgrep -x munged >/dev/null || echo "munged (pid $(pgrep -x munged | tr '\n' ' '))"
  return 0
}

# teardown RC: shows the evidence if RC says the test failed, stops this test's cluster, checks
# that it left nothing behind (else returns 1) and removes its files. Called by the EXIT trap, or
# directly by a test that wants its summary printed after it.
teardown() {
  local rc="$1" left
  if ((rc != 0)); then
    echo "---- test failed (exit $rc); diagnostics from $work ----" >&2
    local f
    for f in "$work"/*.out "$work"/*/*.out "$state"/log/slurmctld.log "$state"/log/slurmd.log "$state"/jobcomp.txt; do
      [[ -f "$f" ]] || continue
      echo "---- $f (last 40 lines) ----" >&2
      tail -n 40 "$f" >&2
    done
  fi
  bash "$cluster" stop "$state" || echo "warning: stopping the cluster failed" >&2
  left="$(leftovers)"
  if [[ -n "$left" ]]; then
    echo "FAIL: the cluster's stop left behind:" >&2
    sed 's/^/  /' <<<"$left" >&2
    rc=1
  fi
  [[ -n "${RANKSWEEP_SLURM_KEEP:-}" ]] && echo "kept $work" >&2 || rm -rf "$work"
  note "total $(($(date +%s) - t_start))s"
  return "$rc"
}

# On exit: teardown, and the exit status says whether the test passed and left nothing behind.
cleanup() {
  local rc=$?
  # Only this shell: bash runs the EXIT trap also in a background child killed between its
  # fork and its exec, which must not stop the cluster or remove the files (tests/e2e/lib.sh).
  [[ $BASHPID == "$$" ]] || exit "$rc"
  trap - EXIT
  teardown "$rc" || rc=$?
  ((rc != 0)) || echo "no daemon, namespace or link left behind"
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

# cluster_progress: one line that changes whenever this test's cluster or sweeps move on: the
# state of every job in the queue, and the progress of every status file, state file and archive
# in the work directory (one level down too). Job output files are left out: ranksweep prints its
# progress line every few seconds even when nothing moves.
cluster_progress() {
  squeue -h -o '%i %T' 2>/dev/null | sort | tr '\n' ' ' || true
  local f
  for f in "$work"/*.status "$work"/*/*.status "$work"/*.state "$work"/*/*.state "$work"/*.h5 "$work"/*/*.h5; do
    [[ -e "$f" ]] && printf '%s=%s ' "${f#"$work"/}" "$(progress_of "$f")"
  done
  return 0
}

# stalled: the bookkeeping of the waits below (sets seen and t_seen); true when the
# progress line has not changed for $stall seconds.
# Looked at every 2 s at most, so a wait still reacts within a fraction of a second to its condition
# (the tests signal running jobs whose work lasts only several seconds).
seen=""
t_seen=0
t_looked=-10
stalled() {
  local now
  ((SECONDS - t_looked >= 2)) || return 1
  t_looked=$SECONDS
  now="$(cluster_progress)"
  if [[ "$now" != "$seen" ]]; then
    seen="$now"
    t_seen=$SECONDS
    return 1
  fi
  ((SECONDS - t_seen >= stall))
}

# sweeps_in_words: how far every sweep of this test got, from the status files (for failure messages).
sweeps_in_words() {
  local f
  for f in "$work"/*.status "$work"/*/*.status; do
    [[ -e "$f" ]] && echo "  ${f#"$work"/}: $(status_words "$f")"
  done
  return 0
}

# wait_job JOBID: polls until the job reaches a final state (not requeued); echoes it. Fails when
# nothing moved for $stall seconds, saying where the job and the sweeps were.
wait_job() {
  local jid="$1" s
  seen=""
  t_looked=-10
  while :; do
    s="$(job_field "$jid" JobState)"
    case "$s" in
      COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE|PREEMPTED)
        echo "$s"; return 0 ;;
    esac
    if stalled; then
      fail "job $jid: no progress for ${stall} s (state ${s:-unknown}, restarts $(job_field "$jid" Restarts)," \
        "reason $(job_field "$jid" Reason))"$'\n'"$(sweeps_in_words)"
    fi
    sleep 0.5
  done
}

# wait_for DESCRIPTION COMMAND...: polls COMMAND until it succeeds; fails when nothing moved for
# $stall seconds.
wait_for() {
  local what="$1"
  shift
  seen=""
  t_looked=-10
  while :; do
    "$@" && return 0
    stalled && fail "no progress for ${stall} s while waiting for $what"$'\n'"$(sweeps_in_words)"
    sleep 0.25
  done
}

# The jobcomp (filetxt) records of a job, one line per run; sacct -c reads the same file.
jobcomp_lines() { grep -E "^JobId=$1 " "$state/jobcomp.txt" || true; }
