#!/usr/bin/env bash
# Checks the batch templates without a cluster: syntax, the #SBATCH conventions of docs/guide.md, "Running on a SLURM cluster"
# promises, the common part being identical in both templates, and the exit-code logic when run
# outside SLURM (LAUNCHER=mpirun with the stand-in fake_sweep.c): 0 complete, 3 drained (no
# requeue possible), 1 propagated, 2 for bad settings, one more launch after a start-up crash.
set -euo pipefail

src_root="${RANKSWEEP_SOURCE_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
main="$src_root/slurm/ranksweep.sbatch"
array="$src_root/slurm/ranksweep-array.sbatch"
passed=0
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { passed=$((passed + 1)); echo "ok $passed - $*"; }
command -v mpicc >/dev/null && command -v mpirun >/dev/null || fail "mpicc/mpirun not found (libopenmpi-dev openmpi-bin)"

work="$(mktemp -d /tmp/ranksweep-templates.XXXXXX)"
trap '[[ $BASHPID != "$$" ]] || rm -rf "$work"' EXIT # (this shell only: see tests/e2e/lib.sh)

for t in "$main" "$array"; do bash -n "$t" || fail "syntax error in $t"; done
ok "both templates parse"

for t in "$main" "$array"; do
  for want in '^#SBATCH --signal=USR1@[0-9]+$' '^#SBATCH --requeue$' '^#SBATCH --open-mode=append$' \
              '^#SBATCH --time=' '^#SBATCH --ntasks=' '^#SBATCH --job-name='; do
    grep -qE "$want" "$t" || fail "$(basename "$t") lacks a line matching $want"
  done
done
grep -qE '^#SBATCH --output=ranksweep-%j\.out$' "$main" || fail "main template output name"
grep -qE '^#SBATCH --output=ranksweep-%A_%a\.out$' "$array" || fail "array template output name"
grep -qE '^#SBATCH --array=0-[0-9]+' "$array" || fail "array template lacks --array=0-N"
ok "#SBATCH conventions (USR1 without B:, requeue, append, output names)"

common() { sed -n '/^# ==== common part/,$p' "$1"; }
[[ -n "$(common "$main")" ]] || fail "no common-part marker in $main"
diff <(common "$main") <(common "$array") >&2 || fail "the common parts of the two templates differ"
ok "common part identical in both templates ($(common "$main" | wc -l) lines)"

mpicc -O1 -std=c11 -D_GNU_SOURCE -o "$work/fake_sweep" "$src_root/tests/slurm/fake_sweep.c"
cd "$work"
printf 'units 6\nunit_ms 10\n' >done.txt
printf 'units 6\nunit_ms 10\ndrain_at 2\n' >drain.txt
printf 'units 6\nunit_ms 10\nfail_at 3\n' >fail.txt

# run_template TEMPLATE KEY=VALUE...: runs it as a plain script outside SLURM; sets rc and log.
run_template() {
  local t="$1"
  shift
  rc=0
  env -i PATH="$PATH" HOME="${HOME:-/root}" OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
    OMPI_MCA_rmaps_base_oversubscribe=1 LAUNCHER=mpirun RANKSWEEP="$work/fake_sweep" "$@" \
    bash "$t" >"$work/log" 2>&1 || rc=$?
}
expect() { # RC PATTERN WHAT
  [[ "$rc" == "$1" ]] || { cat "$work/log" >&2; fail "$3: exit $rc, expected $1"; }
  grep -qE "$2" "$work/log" || { cat "$work/log" >&2; fail "$3: log lacks /$2/"; }
}

run_template "$main" JOB=done.txt ARCHIVE=a.state
expect 0 'ranksweep.sbatch: sweep complete: a.state \(exit 0\)' "complete"
[[ "$(cat a.state)" == "done 6 total 6 sum 15 runs 1" ]] || fail "state after complete: $(cat a.state)"
ok "complete -> exit 0"

run_template "$main" JOB=drain.txt ARCHIVE=d.state
expect 3 'not running under SLURM \(no job id\): run this again to resume' "drain outside SLURM"
[[ "$(cat d.state)" == "done 2 total 6 sum 1 runs 1" ]] || fail "state after drain: $(cat d.state)"
run_template "$main" JOB=drain.txt ARCHIVE=d.state
expect 0 'fake_sweep: run 2: resuming at unit 2/6' "rerun after drain"
[[ "$(cat d.state)" == "done 6 total 6 sum 15 runs 2" ]] || fail "state after rerun: $(cat d.state)"
ok "drained -> exit 3 without SLURM; running again resumes and completes"

run_template "$main" JOB=fail.txt ARCHIVE=f.state
expect 1 'ranksweep failed with exit code 1; not requeueing' "failure"
grep -q 'resubmit this script to resume' "$work/log" && fail "a failed sweep was called resumable"
ok "failure -> exit 1 propagated"

# A rank that crashes before the sweep writes anything (as Open MPI 4.1 has under srun --mpi=pmix,
# in MPI_Init): launched once more, and it completes; twice: the crash is reported, exit 139; a
# crash after the sweep started (its status changed) is never relaunched.
printf 'units 6\nunit_ms 10\ncrash_starts 1\n' >crash1.txt
run_template "$main" JOB=crash1.txt ARCHIVE=c1.state
expect 0 'a rank died of signal 11 before the sweep started \(launcher exit 139; c1.state untouched\): a start-up failure, launching once more' "start-up crash once"
grep -q 'sweep complete: c1.state (exit 0)' "$work/log" || { cat "$work/log" >&2; fail "start-up crash once: not completed"; }
[[ "$(cat c1.state)" == "done 6 total 6 sum 15 runs 1" && "$(cat c1.state.crashes)" == 1 ]] \
  || fail "state after a start-up crash: $(cat c1.state), crashes $(cat c1.state.crashes)"
printf 'units 6\nunit_ms 10\ncrash_starts 2\n' >crash2.txt
run_template "$main" JOB=crash2.txt ARCHIVE=c2.state
expect 139 'ranksweep failed with exit code 139; not requeueing' "start-up crash twice"
[[ "$(grep -c 'launching once more' "$work/log")" == 1 && ! -e c2.state && "$(cat c2.state.crashes)" == 2 ]] \
  || { cat "$work/log" >&2; fail "start-up crash twice: relaunched other than once"; }
# The same on a resumed archive (a drained one, whose status does not change until the sweep runs).
run_template "$main" JOB=drain.txt ARCHIVE=r.state
expect 3 'not running under SLURM' "drain before a start-up crash"
printf 'units 6\nunit_ms 10\ncrash_starts 1\n' >crashr.txt
run_template "$main" JOB=crashr.txt ARCHIVE=r.state
expect 0 'r.state untouched\): a start-up failure, launching once more' "start-up crash on a resumed archive"
[[ "$(cat r.state)" == "done 6 total 6 sum 15 runs 2" ]] || fail "state after a resumed start-up crash: $(cat r.state)"
printf 'units 6\nunit_ms 10\nsegv_at 3\n' >segv.txt
run_template "$main" JOB=segv.txt ARCHIVE=s.state
expect 139 'ranksweep failed with exit code 139; not requeueing' "crash in the sweep"
grep -q 'launching once more' "$work/log" && { cat "$work/log" >&2; fail "a crash after the start was relaunched"; }
[[ "$(cat s.state)" == "done 2 total 6 sum 1 runs 1" ]] || fail "state after a crash in the sweep: $(cat s.state)"
ok "a crash before the sweep starts -> launched once more (completes, fresh or resumed; a second crash -> exit 139); a crash later -> exit 139, no relaunch"

# The launcher exits 0 with work remaining (as srun did after a node died): the archive's status,
# not the exit code, decides; outside SLURM nothing can requeue, so exit 3 and say so.
printf 'units 6\nunit_ms 10\nexit0_at 2\n' >exit0.txt
run_template "$main" JOB=exit0.txt ARCHIVE=z.state
expect 3 'the launcher exited 0 but z.state is not complete \(status: drained\)' "exit 0, work remains"
grep -q 'not running under SLURM (no job id): run this again to resume' "$work/log" || fail "exit 0 with work left: no advice"
grep -q 'sweep complete' "$work/log" && fail "exit 0 with work left was called complete"
run_template "$main" JOB=done.txt ARCHIVE=z.state
expect 0 'ranksweep.sbatch: sweep complete: z.state \(exit 0\)' "rerun after exit 0 with work left"
[[ "$(cat z.state)" == "done 6 total 6 sum 15 runs 2" ]] || fail "state after rerun: $(cat z.state)"
ok "launcher exit 0 with work remaining -> not complete (status decides), exit 3; rerun completes"

run_template "$main" JOB=missing.txt ARCHIVE=m.state
expect 2 "job file JOB='missing.txt' is not readable" "missing job file"
run_template "$main" JOB=done.txt ARCHIVE=m.state LAUNCHER=qsub
expect 2 "LAUNCHER must be srun or mpirun, got 'qsub'" "bad launcher"
run_template "$main" JOB=done.txt ARCHIVE=m.state RANKSWEEP=/nonexistent/ranksweep
expect 2 "RANKSWEEP='/nonexistent/ranksweep' is not an executable" "missing binary"
run_template "$main" JOB=done.txt ARCHIVE=m.state MAX_RESTARTS=many
expect 2 "MAX_RESTARTS must be a number, got 'many'" "bad MAX_RESTARTS"
[[ ! -e m.state ]] || fail "a settings error still started the run"
ok "bad settings -> exit 2 before anything runs"

run_template "$array" JOB=done.txt
expect 2 "not an array task" "array template outside an array"
run_template "$array" JOB=done.txt SLURM_ARRAY_TASK_ID=3 SLURM_ARRAY_TASK_COUNT=3
expect 2 "use --array=0-\(N-1\) for N slices, or set SLICES=N" "array index out of range"
run_template "$array" JOB=done.txt SLURM_ARRAY_TASK_ID=4 SLURM_ARRAY_TASK_COUNT=1 SLURM_ARRAY_TASK_MIN=4 \
  SLURM_ARRAY_TASK_MAX=4
expect 2 "array task 4 of indices 4-4 \(1 tasks\)" "one slice resubmitted without SLICES"
run_template "$array" JOB=done.txt SLURM_ARRAY_TASK_ID=4 SLURM_ARRAY_TASK_COUNT=1 SLURM_ARRAY_TASK_MIN=4 \
  SLURM_ARRAY_TASK_MAX=4 SLICES=4
expect 2 "array task 4 with SLICES='4': need a slice count above every task index" "SLICES too small"
run_template "$array" JOB=done.txt SLURM_ARRAY_TASK_ID=4 SLURM_ARRAY_TASK_COUNT=1 SLURM_ARRAY_TASK_MIN=4 \
  SLURM_ARRAY_TASK_MAX=4 SLICES=5 SLICE_PREFIX=r
expect 0 "slice 4/5 -> r-4.h5" "one slice resubmitted with SLICES"
[[ "$(cat r-4.h5)" == "done 1 total 1 sum 4 runs 1" ]] || fail "slice 4/5 state: $(cat r-4.h5)"
run_template "$array" JOB=done.txt SLURM_ARRAY_TASK_ID=1 SLURM_ARRAY_TASK_COUNT=3 SLICE_PREFIX=s
expect 0 "ranksweep-array.sbatch: sweep complete: s-1.h5" "array slice 1/3"
# Slice 1 of 3 over 6 units: global units 1 and 4.
[[ "$(cat s-1.h5)" == "done 2 total 2 sum 5 runs 1" ]] || fail "slice 1/3 state: $(cat s-1.h5)"
ok "array template: index checks (exit 2), slice 1/3 into s-1.h5, one slice rerun alone with SLICES"

echo "slurm-templates: $passed passed, 0 failed"
