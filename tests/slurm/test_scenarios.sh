#!/usr/bin/env bash
# The four SLURM scenarios of the real ranksweep on one private single-node cluster, each archive
# compared bit for bit (tests/e2e/compare_archives.py, /provenance excluded) with a reference made
# by plain `mpirun -np 3 ranksweep run JOB -o ref.h5` outside SLURM:
#   1  sbatch slurm/ranksweep.sbatch, 3 tasks: complete, never requeued, identical.
#   2  --time=1 --signal=USR1@10 on a sweep sized from the rate measured by the first reference to
#      need about 100 s on this machine as it is (scenario-timelimit.yaml with train.steps set by
#      this test, so a loaded machine gets fewer steps rather than a failure): SLURM's own warning
#      signal drains it, the template requeues it (SLURM_RESTART_COUNT >= 1), every later
#      run resumes the archive, and the last one completes it: identical. slurmctld looks at time
#      limits every 30 s and sends the warning at the first look with at most N + 30 s left, so
#      @10 lands 20-50 s into each one-minute run (measured 23-49 s) and the limit itself is
#      enforced one look (30 s) later; @40 would land 0-30 s in, possibly before ranksweep starts.
#   3  plain scancel mid-sweep (SIGTERM, SIGKILL after KillWait): ranksweep drains, the template does
#      not requeue; resubmitting the same script resumes and completes: identical.
#   4  slurm/ranksweep-array.sbatch with 3 slices, then `ranksweep merge` in an afterok job: identical.
# Runs the reference of 1, 3, 4 alone (timed), then 1, 3, 4 (while scenario 2's reference computes
# in the background), then 2 alone. No step has a wall-clock budget: a reference or a job is given
# up on only after RANKSWEEP_TEST_STALL seconds (default 300) without progress, and the failure says
# which one and how far it got. Prints "scenario N: ... s" per scenario and ends with "N passed,
# M failed"; exit 1 on any failure. About 6-8 minutes on 2 quiet cores, 15-25 under load.
# Usage: test_scenarios.sh [RANKSWEEP_BINARY]  (run as root)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bin="${1:-${RANKSWEEP_BUILD_ROOT:-$src_root/build}/src/cli/ranksweep}"
[[ -x "$bin" ]] || fail "no ranksweep binary at $bin (pass its path as the first argument)"
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
command -v mpirun >/dev/null || fail "mpirun not found (package openmpi-bin)"
py=/usr/bin/python3
compare="$src_root/tests/e2e/compare_archives.py"
single="$src_root/slurm/ranksweep.sbatch"
array_template="$src_root/slurm/ranksweep-array.sbatch"
job="$src_root/tests/slurm/scenario.yaml"
job_tl="$src_root/tests/slurm/scenario-timelimit.yaml"
for f in "$compare" "$single" "$array_template" "$job" "$job_tl"; do
  [[ -r "$f" ]] || fail "missing $f"
done
# The reference runs under plain mpirun, as root, with more ranks than cores; the jobs inherit this
# environment (sbatch --export=ALL), which srun ignores.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OPENBLAS_NUM_THREADS=1

start_cluster
cd "$work"

# ---- helpers (run inside a scenario's subshell; fail exits that scenario only) ----
# status_field ARCHIVE FIELD: one field of `ranksweep status --json ARCHIVE`.
status_field() {
  "$bin" status --json "$1" 2>/dev/null | "$py" -c "import json,sys; print(json.load(sys.stdin)['$2'])"
}
# same REF ARCHIVE: identical scientific content, else fail with the differences.
same() {
  local d
  d="$("$py" "$compare" "$1" "$2" 2>&1)" || fail "$2 differs from $1: $d"
  note "$d"
}
# submit ARGS...: sbatch --parsable, remembering the job id for the cleanup of a failed scenario.
submit() {
  local id
  id="$(sbatch --parsable "$@")" || fail "sbatch $* failed"
  echo "$id" >>jobs
  echo "$id"
}
# expect_done JOBID: the job COMPLETED with exit 0:0.
expect_done() {
  local final
  final="$(wait_job "$1")"
  [[ "$final" == COMPLETED && "$(job_field "$1" ExitCode)" == 0:0 ]] \
    || fail "job $1: expected COMPLETED 0:0, got $final $(job_field "$1" ExitCode) ($(job_field "$1" Reason))"
}
# resumes ARCHIVE: how many times the archive was resumed, from `ranksweep show` (provenance).
resumes() { "$bin" show "$1" | sed -nE 's/.*resumed ([0-9]+) times.*/\1/p' | head -n 1; }
has() { grep -qF -- "$2" "$1" || fail "$1 lacks the line: $2"; }
# The job's own milestones (template and engine), for the record.
milestones() {
  grep -E 'ranksweep(-array)?\.sbatch: |ranksweep: (drain requested|.*: (complete|drained|error) \()|CANCELLED|TIME LIMIT' "$1" \
    | sed 's/^/    | /' || true
}

# ---- references: plain mpirun, 3 ranks, outside SLURM ----
# Each reference is stopped only when its status file shows no progress for $stall seconds
# (tests/e2e/progress.sh), not on a clock budget. reference_check YAML OUT RC LOG [HOW]: keeps OUT
# only if mpirun succeeded and the sweep is complete; otherwise says in OUT.why which reference
# failed and how far it got, for the scenarios that need it.
reference_check() {
  local what why
  what="reference $(basename "$1") (mpirun -np 3${5:+, $5})"
  if (($3 != 0)) || [[ "$(status_field "$2" state 2>/dev/null)" != complete ]]; then
    if (($3 == 124)); then
      why="$what made no progress for $stall s and was stopped"
    else
      why="$what failed (mpirun exit $3)"
    fi
    why+=": $(status_words "$2.status")"
    echo "$why; the scenarios that need it fail" >&2
    tail -n 20 "$4" >&2
    rm -f "$2"
    echo "$why" >"$2.why"
    return 0
  fi
  echo "$what: $(sed -nE 's/^ranksweep: .*: complete \([0-9]+\/[0-9]+ runs done, ([0-9.]+) s\)$/\1/p' "$4") s"
}
# reference YAML OUT LOG [HOW]: runs and checks one reference.
reference() {
  local rc=0
  watched "reference $(basename "$1")" "$2.status" mpirun -np 3 "$bin" run "$1" -o "$2" >"$3" 2>&1 || rc=$?
  reference_check "$1" "$2" "$rc" "$3" "${4:-}"
}
# no_reference OUT: the scenario's failure when its reference is missing, with the reason.
no_reference() { fail "no reference archive $(basename "$1"): $(cat "$1.why" 2>/dev/null || echo "reason unknown")"; }

# Scenario 1-4's reference first, alone, timed: its rate sizes scenario 2's job below.
reference "$job" "$work/ref.h5" "$work/ref.log" "alone"

# Scenario 2 is about the time limit: its sweep must outlast the first SIGUSR1 (20-50 s into a
# one-minute run, plus the run's start-up) on this machine as it is now, and finish within the
# requeues allowed. So its length comes from the rate just measured (steps per second of the
# same model on 3 ranks, measurement included): 24 runs sized to take about tl_work seconds in
# all (default 100; RANKSWEEP_TEST_TL_WORK), each run about tl_work/12 s, short enough that the
# runs finished before each drain are kept. A machine 2-4x slower gets fewer steps, not a failure.
tl_work="${RANKSWEEP_TEST_TL_WORK:-100}"
[[ "$tl_work" =~ ^[1-9][0-9]*$ ]] || fail "RANKSWEEP_TEST_TL_WORK must be a positive number of seconds"
read -r ref_steps ref_secs < <("$py" - "$work/ref.h5.status" <<'PY'
import json, sys
try:
    s = json.load(open(sys.argv[1]))
    print(int(s["steps_done"]), float(s["elapsed_seconds"]))
except Exception:
    print(0, 0)
PY
)
tl_runs=24
if [[ "$ref_steps" -gt 0 ]] && "$py" -c "import sys; sys.exit(not float('$ref_secs') > 1)"; then
  tl_steps="$("$py" -c "print(max(5000, round($ref_steps / $ref_secs * $tl_work / $tl_runs / 1000) * 1000))")"
  how="measured $ref_steps steps in $ref_secs s ($("$py" -c "print(round($ref_steps / $ref_secs))") steps/s)"
else
  tl_steps=400000
  how="no rate measured (the reference failed), default"
fi
tl_state=$(((tl_steps / 20 + 99) / 100 * 100))
job_tl_sized="$work/scenario-timelimit.yaml"
sed -e "s/^  steps: [0-9]*$/  steps: $tl_steps/" -e "s/^  state_every: [0-9]*$/  state_every: $tl_state/" \
  "$job_tl" >"$job_tl_sized"
grep -q "^  steps: $tl_steps$" "$job_tl_sized" && grep -q "^  state_every: $tl_state$" "$job_tl_sized" \
  || fail "could not size train.steps in a copy of $job_tl"
"$bin" plan "$job_tl_sized" >/dev/null 2>"$work/plan.err" || fail "ranksweep plan $job_tl_sized: $(cat "$work/plan.err")"
echo "scenario 2's job: $tl_runs runs x $tl_steps steps (state every $tl_state): about $tl_work s on 3 ranks" \
  "at the rate of the reference above ($how)"
job_tl="$job_tl_sized"
# A cap, not a target: each one-minute run gets 20-50 s minus its start-up, so a machine slower than
# it was during the reference needs more runs; the test checks the requeues it did see.
max_restarts=30

# Scenario 2's reference runs in the background alongside scenarios 1, 3 and 4, which leave cores
# idle while SLURM schedules and launches; scenario 2 itself runs alone, since how far each of its
# one-minute runs gets depends on the machine's speed. On exit the background reference is stopped
# with everything it started (watched's process group).
(
  trap 'kill -TERM $(jobs -p) 2>/dev/null; exit 143' TERM
  reference "$job_tl" "$work/ref-timelimit.h5" "$work/ref-timelimit.log" \
    "in the background during scenarios 1, 3 and 4" >"$work/ref-timelimit.check" 2>&1
) &
ref_pid=$!
trap 'rc=$?; [[ $BASHPID != "$$" ]] && exit $rc; set +e; [[ -n "${ref_pid:-}" ]] && kill -TERM "$ref_pid" 2>/dev/null && wait "$ref_pid"; (exit $rc); cleanup' EXIT
# wait_reference_tl: collects the background reference.
wait_reference_tl() {
  wait "$ref_pid" || true
  ref_pid=""
  cat "$work/ref-timelimit.check"
}

# ---- scenarios ----
scenario_1() {
  [[ -s "$work/ref.h5" ]] || no_reference "$work/ref.h5"
  local jid out
  jid="$(submit --job-name=s1 --ntasks=3 --time=10 --output="$PWD/s1-%j.out" \
    --export="ALL,RANKSWEEP=$bin,JOB=$job,ARCHIVE=sweep.h5" "$single")"
  note "scenario 1: job $jid"
  expect_done "$jid"
  out="s1-$jid.out"
  milestones "$out"
  [[ "$(job_field "$jid" Restarts)" == 0 ]] || fail "job $jid was requeued"
  has "$out" "ranksweep.sbatch: job $jid run 1 (SLURM_RESTART_COUNT=0,"
  has "$out" "ranksweep.sbatch: sweep complete: sweep.h5 (exit 0)"
  [[ "$(status_field sweep.h5 state)" == complete ]] || fail "status: $(status_field sweep.h5 state)"
  [[ "$(resumes sweep.h5)" == 0 ]] || fail "archive resumed $(resumes sweep.h5) times in a single run"
  same "$work/ref.h5" sweep.h5
}

scenario_2() {
  [[ -s "$work/ref-timelimit.h5" ]] || no_reference "$work/ref-timelimit.h5"
  local jid out restarts drains kept i counts
  jid="$(submit --job-name=s2 --ntasks=3 --time=1 --signal=USR1@10 --output="$PWD/s2-%j.out" \
    --export="ALL,RANKSWEEP=$bin,JOB=$job_tl,ARCHIVE=sweep.h5,MAX_RESTARTS=$max_restarts" "$single")"
  note "scenario 2: job $jid (--time=1 --signal=USR1@10)"
  expect_done "$jid"
  out="s2-$jid.out"
  milestones "$out"
  restarts="$(job_field "$jid" Restarts)"
  ((restarts >= 1)) || fail "Restarts=$restarts: the job never drained and requeued"
  grep -q "TIME LIMIT" "$out" && fail "a run reached its time limit instead of draining on SIGUSR1"
  has "$out" "ranksweep.sbatch: job $jid run 2 (SLURM_RESTART_COUNT=1,"
  has "$out" "ranksweep: drain requested: stopping the hand-out, workers persist their state"
  has "$out" "ranksweep.sbatch: requeueing job $jid (restart 1 of at most $max_restarts)"
  drains="$(grep -c "ranksweep.sbatch: ranksweep drained: work remains in sweep.h5 (exit 3)" "$out" || true)"
  [[ "$drains" == "$restarts" ]] || fail "$drains drains but $restarts requeues"
  # Finished runs survive every requeue: the count at each drain never falls, and some drain had
  # finished runs to keep (so a later run resumed from them rather than from scratch).
  kept="$(sed -nE 's/^ranksweep: sweep\.h5: drained \(([0-9]+)\/[0-9]+ runs done.*/\1/p' "$out" | tr '\n' ' ')"
  read -ra counts <<<"$kept"
  ((${#counts[@]} == restarts)) || fail "$restarts requeues but engine drain lines: '$kept'"
  for ((i = 1; i < ${#counts[@]}; i++)); do
    ((counts[i] >= counts[i - 1])) || fail "finished runs at the drains went down: $kept"
  done
  ((counts[${#counts[@]} - 1] >= 1)) || fail "no drain had a finished run to keep: $kept"
  has "$out" "ranksweep.sbatch: sweep complete: sweep.h5 (exit 0)"
  [[ "$(resumes sweep.h5)" == "$restarts" ]] \
    || fail "archive resumed $(resumes sweep.h5) times, job requeued $restarts times"
  [[ "$(status_field sweep.h5 state)" == complete ]] || fail "status: $(status_field sweep.h5 state)"
  note "scenario 2: $restarts requeue(s); runs done at each drain: $kept"
  same "$work/ref-timelimit.h5" sweep.h5
}

scenario_3() {
  [[ -s "$work/ref.h5" ]] || no_reference "$work/ref.h5"
  local jid jid2 out out2 done_at final
  jid="$(submit --job-name=s3 --ntasks=3 --time=10 --output="$PWD/s3-%j.out" \
    --export="ALL,RANKSWEEP=$bin,JOB=$job,ARCHIVE=sweep.h5" "$single")"
  out="s3-$jid.out"
  # Cancel once some runs are finished and others still train: in the middle of the sweep.
  mid_sweep() {
    local d t
    d="$(status_field sweep.h5 runs_done 2>/dev/null)" && t="$(status_field sweep.h5 runs_training)" \
      && [[ "$d" =~ ^[0-9]+$ && "$t" =~ ^[0-9]+$ ]] && ((d >= 1 && d < 6 && t >= 1))
  }
  wait_for "job $jid to finish a run" mid_sweep
  scancel "$jid"
  note "scenario 3: scancel $jid at $(status_field sweep.h5 runs_done)/6 runs done"
  wait_for "job $jid's template to decide" grep -qE \
    "ranksweep.sbatch: job $jid is [A-Z_]+ \(reason [^)]*\): cancelled, not requeueing" "$out"
  final="$(wait_job "$jid")"
  [[ "$final" == CANCELLED ]] || fail "job $jid ended $final, expected CANCELLED"
  no_processes() { [[ -z "$(squeue -h -j "$jid" -o %i 2>/dev/null)" ]]; }
  wait_for "job $jid's processes to end" no_processes
  milestones "$out"
  [[ "$(job_field "$jid" Restarts)" == 0 ]] || fail "the cancelled job was requeued"
  has "$out" "ranksweep: drain requested: stopping the hand-out, workers persist their state"
  has "$out" "ranksweep.sbatch: ranksweep drained: work remains in sweep.h5 (exit 3)"
  [[ "$(status_field sweep.h5 state)" == drained ]] || fail "status after scancel: $(status_field sweep.h5 state)"
  done_at="$(status_field sweep.h5 runs_done)"
  ((done_at >= 1 && done_at < 6)) || fail "after scancel $done_at/6 runs done"

  jid2="$(submit --job-name=s3 --ntasks=3 --time=10 --output="$PWD/s3-%j.out" \
    --export="ALL,RANKSWEEP=$bin,JOB=$job,ARCHIVE=sweep.h5" "$single")"
  note "scenario 3: resubmitted as job $jid2"
  expect_done "$jid2"
  out2="s3-$jid2.out"
  milestones "$out2"
  has "$out2" "ranksweep.sbatch: sweep complete: sweep.h5 (exit 0)"
  [[ "$(resumes sweep.h5)" == 1 ]] || fail "archive resumed $(resumes sweep.h5) times, expected 1"
  [[ "$(status_field sweep.h5 state)" == complete ]] || fail "status: $(status_field sweep.h5 state)"
  same "$work/ref.h5" sweep.h5
}

scenario_4() {
  [[ -s "$work/ref.h5" ]] || no_reference "$work/ref.h5"
  local arr merge i n
  arr="$(submit --job-name=s4 --array=0-2 --ntasks=2 --time=10 --output="$PWD/array-%A_%a.out" \
    --export="ALL,RANKSWEEP=$bin,JOB=$job" "$array_template")"
  merge="$(submit --job-name=s4-merge --dependency=afterok:"$arr" --ntasks=1 --time=10 \
    --output="$PWD/merge-%j.out" --wrap "'$bin' merge sweep.h5 slice-0.h5 slice-1.h5 slice-2.h5")"
  note "scenario 4: array $arr (3 slices), merge job $merge"
  expect_done "$merge"
  n=0
  for i in 0 1 2; do
    milestones "array-${arr}_$i.out"
    [[ "$(job_field "${arr}_$i" JobState)" == COMPLETED ]] || fail "array task $i: $(job_field "${arr}_$i" JobState)"
    has "array-${arr}_$i.out" "ranksweep-array.sbatch: array job $arr task $i: slice $i/3 -> slice-$i.h5"
    has "array-${arr}_$i.out" "ranksweep-array.sbatch: sweep complete: slice-$i.h5 (exit 0)"
    n=$((n + $(status_field "slice-$i.h5" runs_total)))
  done
  ((n == 6)) || fail "the slices hold $n runs, the job has 6"
  "$bin" show sweep.h5 | grep -qE '^complete +yes' || fail "merged archive not complete"
  same "$work/ref.h5" sweep.h5
}

# ---- driver: each scenario in its own subshell and directory; a failure ends that scenario only ----
npass=0
nfail=0
run_scenario() { # N DESCRIPTION
  local n="$1" what="$2" t0 rc dt id f
  mkdir -p "$work/s$n"
  t0=$(date +%s)
  set +e
  (
    set -e
    cd "$work/s$n"
    "scenario_$n"
  )
  rc=$?
  set -e
  dt=$(($(date +%s) - t0))
  if ((rc == 0)); then
    npass=$((npass + 1))
    echo "scenario $n: passed, $what: $dt s"
    return 0
  fi
  nfail=$((nfail + 1))
  echo "scenario $n: FAILED, $what: $dt s"
  for f in "$work/s$n"/*.out; do
    [[ -f "$f" ]] || continue
    echo "---- $f (last 40 lines) ----"
    tail -n 40 "$f"
  done
  # Leave the cluster idle for the next scenario.
  if [[ -s "$work/s$n/jobs" ]]; then
    while read -r id; do scancel "$id" 2>/dev/null || true; done <"$work/s$n/jobs"
    for ((t = 0; t < 120; t++)); do
      [[ -z "$(squeue -h -o %i 2>/dev/null)" ]] && break
      sleep 0.5
    done
  fi
}

run_scenario 1 "sbatch ranksweep.sbatch, 3 tasks, complete and identical"
run_scenario 3 "scancel mid-sweep, resubmit, complete and identical"
run_scenario 4 "array of 3 slices + afterok ranksweep merge, identical"
wait_reference_tl
run_scenario 2 "--time=1 --signal=USR1@10: drain, requeue, resume, identical"
note "all scenarios done"
# Stop the cluster and remove the files now, in this shell (lib.sh's teardown; a subshell's
# cleanup would stop nothing: its guard lets only the main shell act), its output on stderr, so that
# the summary is the last line. Anything left behind fails the test.
trap - EXIT
rc=$((nfail > 0 ? 1 : 0))
teardown "$rc" >&2 || { rc=1; echo "the cluster left something behind (above)"; }
echo "$npass passed, $nfail failed"
exit "$rc"
