#!/usr/bin/env bash
# Drain/requeue rehearsal of slurm/ranksweep.sbatch with a stand-in for ranksweep (fake_sweep.c:
# same command line and exit codes). Three jobs share a private one-node cluster:
#   A  SIGUSR1 mid-run (scancel --signal=USR1, as --signal=USR1@T would send it): the ranks drain and
#      exit 3, the template requeues the job, the next run (SLURM_RESTART_COUNT=1) resumes and
#      completes; every unit done exactly once.
#   B  the stand-in fails (exit 1): the template propagates 1, no requeue.
#   C  MAX_RESTARTS=0 and SIGUSR1: drains, no requeue, job exits 3; resubmitting the same script
#      resumes the state file and completes.
#   D  a plain `scancel` (SIGTERM to everything): the ranks drain and exit 3, but the job was
#      cancelled, so the template must not requeue it.
# Run as root.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

template="$src_root/slurm/ranksweep.sbatch"
mpicc -O1 -std=c11 -D_GNU_SOURCE -o "$work/fake_sweep" "$src_root/tests/slurm/fake_sweep.c"
start_cluster
cd "$work"

# Enough units that each job works for 12-18 s: the test signals jobs once they have started, and
# on a loaded machine the signal can take a few seconds to reach the ranks.
units=90
want_sum=$((units * (units - 1) / 2))
printf 'units %d\nunit_ms 400\n' "$units" >job.txt
printf 'units %d\nunit_ms 100\nfail_at 7\n' "$units" >fail.txt

submit() { # NAME NTASKS KEY=VALUE... -> job id
  local name="$1" ntasks="$2"
  shift 2
  local exports="ALL,RANKSWEEP=$work/fake_sweep"
  local kv
  for kv in "$@"; do exports+=",$kv"; done
  sbatch --parsable --job-name="$name" --ntasks="$ntasks" --time=5 --output="$work/$name-%j.out" \
    --export="$exports" "$template"
}
progress_started() { grep -qE '^done [1-9]' "$1" 2>/dev/null; }

t_a0=$(date +%s)
ja="$(submit drain 3 JOB=job.txt ARCHIVE=a.state MAX_RESTARTS=3)"
jb="$(submit fail 2 JOB=fail.txt ARCHIVE=b.state MAX_RESTARTS=3)"
jc="$(submit limit 2 JOB=job.txt ARCHIVE=c.state MAX_RESTARTS=0)"
jd="$(submit cancel 2 JOB=job.txt ARCHIVE=d.state MAX_RESTARTS=3)"
note "submitted A=$ja B=$jb C=$jc D=$jd"

# Signal only once the ranks are working, so the signal reaches a running job step.
wait_for "job A progress" progress_started a.state
scancel --signal=USR1 "$ja"
note "SIGUSR1 -> job A"
wait_for "job C progress" progress_started c.state
scancel --signal=USR1 "$jc"
note "SIGUSR1 -> job C"

# --- B: error propagates, no requeue
fb="$(wait_job "$jb")"
[[ "$fb" == FAILED && "$(job_field "$jb" ExitCode)" == 1:0 ]] \
  || fail "job B: expected FAILED 1:0, got $fb $(job_field "$jb" ExitCode)"
[[ "$(job_field "$jb" Restarts)" == 0 ]] || fail "job B was requeued"
grep -q "ranksweep failed with exit code 1; not requeueing" "fail-$jb.out" || fail "job B log lacks the failure line"
ok "B: exit 1 propagates (FAILED 1:0), no requeue"

# --- C: MAX_RESTARTS=0: drained, exit 3, then a resubmission resumes
fc="$(wait_job "$jc")"
[[ "$fc" == FAILED && "$(job_field "$jc" ExitCode)" == 3:0 ]] \
  || fail "job C: expected FAILED 3:0, got $fc $(job_field "$jc" ExitCode)"
[[ "$(job_field "$jc" Restarts)" == 0 ]] || fail "job C was requeued despite MAX_RESTARTS=0"
grep -q "MAX_RESTARTS=0 reached" "limit-$jc.out" || fail "job C log lacks the MAX_RESTARTS line"
read -r _ c_done _ _ _ _ _ _ <c.state
((c_done > 0 && c_done < units)) || fail "job C state after drain: $(cat c.state)"
ok "C: MAX_RESTARTS=0 drains to exit 3 (FAILED 3:0) at unit $c_done/$units"
jc2="$(submit limit 2 JOB=job.txt ARCHIVE=c.state MAX_RESTARTS=0)"

# --- D: scancel drains but does not requeue (D starts once B has freed its CPUs)
wait_for "job D progress" progress_started d.state
scancel "$jd"
note "scancel job D"
wait_for "job D's template to decide" grep -qE "ranksweep.sbatch: job $jd is (COMPLETING|CANCELLED) \(reason None\): cancelled, not requeueing" "cancel-$jd.out"
grep -qE "fake_sweep: got SIGTERM; drained at unit [1-9][0-9]*/$units" "cancel-$jd.out" || fail "job D did not drain on SIGTERM"
read -r _ d_done _ _ _ _ _ _ <d.state
((d_done > 0 && d_done < units)) || fail "job D state after scancel: $(cat d.state)"

# --- A: drained, requeued, resumed, complete
fa="$(wait_job "$ja")"
t_a=$(($(date +%s) - t_a0))
out_a="drain-$ja.out"
[[ "$fa" == COMPLETED && "$(job_field "$ja" ExitCode)" == 0:0 ]] \
  || fail "job A: expected COMPLETED 0:0, got $fa $(job_field "$ja" ExitCode)"
restarts="$(job_field "$ja" Restarts)"
((restarts >= 1)) || fail "job A: Restarts=$restarts, expected a requeue"
grep -qE "fake_sweep: got SIGUSR1; drained at unit [1-9][0-9]*/$units, work remains \(exit 3\)" "$out_a" \
  || fail "job A log lacks the drain line"
grep -q "ranksweep.sbatch: ranksweep drained: work remains" "$out_a" || fail "job A: template did not see exit 3"
grep -q "ranksweep.sbatch: requeueing job $ja (restart 1 of at most 3)" "$out_a" || fail "job A: no requeue line"
grep -q "ranksweep.sbatch: job $ja run 2 (SLURM_RESTART_COUNT=1," "$out_a" || fail "job A: no run with SLURM_RESTART_COUNT=1"
grep -qE "fake_sweep: run 2: resuming at unit [1-9][0-9]*/$units .*SLURM_RESTART_COUNT=1\)" "$out_a" \
  || fail "job A: the second run did not resume"
grep -q "ranksweep.sbatch: sweep complete" "$out_a" || fail "job A: no completion line"
[[ "$(cat a.state)" == "done $units total $units sum $want_sum runs $((restarts + 1))" ]] \
  || fail "job A state: $(cat a.state) (want every unit once: sum $want_sum, runs $((restarts + 1)))"
[[ "$(jobcomp_lines "$ja" | wc -l)" -ge 2 ]] || fail "job A: expected one jobcomp record per run"
jobcomp_lines "$ja" | tail -n 1 | grep -q "JobState=COMPLETED.*ExitCode=0:0" || fail "job A: last jobcomp record"
ok "A: SIGUSR1 -> drain (exit 3) -> requeue -> resume -> complete; all $units units once; ${t_a}s"
echo "---- job A log ----"; cat "$out_a"; echo "----"

fc2="$(wait_job "$jc2")"
[[ "$fc2" == COMPLETED ]] || fail "resubmitted job C ($jc2) ended $fc2"
[[ "$(cat c.state)" == "done $units total $units sum $want_sum runs 2" ]] \
  || fail "job C state after resubmission: $(cat c.state)"
grep -qE "fake_sweep: run 2: resuming at unit $c_done/$units" "limit-$jc2.out" || fail "job C resubmission did not resume"
ok "C: resubmission resumed at unit $c_done and completed; all $units units once"

# Long after its cancel, D must still be cancelled and never requeued.
[[ "$(job_field "$jd" JobState)" == CANCELLED && "$(job_field "$jd" Restarts)" == 0 ]] \
  || fail "job D: $(job_field "$jd" JobState) Restarts=$(job_field "$jd" Restarts) after scancel"
ok "D: scancel -> drain (exit 3) at unit $d_done, job stays CANCELLED, no requeue"

summary slurm-requeue
