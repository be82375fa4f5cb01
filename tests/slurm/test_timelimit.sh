#!/usr/bin/env bash
# The real time-limit path of slurm/ranksweep.sbatch, with nobody sending signals by hand: a job
# with --time=1 and --signal=USR1@50 whose work (about 50 s on 3 ranks) outlasts the point where
# SLURM sends SIGUSR1, so SLURM itself makes the stand-in drain; the template requeues it until the
# work is done. SLURM checks time limits about every 30 s, so the signal lands 10-40 s into each run
# and a run can drain more than once. Alongside, a second job runs a copy of the template without
# --signal: it meets the limit itself (about 100 s of work), drains on SLURM's SIGTERM within
# KillWait, and the template must still requeue it (Reason=TimeLimit, unlike a scancel).
# The amounts of work come from a rate measured first, on this cluster as it is: a short job of the
# stand-in, timed; a loaded machine gets fewer units, not a failure. The test takes 2-3 minutes.
# Run as root.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

template="$src_root/slurm/ranksweep.sbatch"
mpicc -O1 -std=c11 -D_GNU_SOURCE -o "$work/fake_sweep" "$src_root/tests/slurm/fake_sweep.c"
start_cluster
cd "$work"

# Calibration: units per second of the stand-in through the template on 3 tasks (its log lines carry
# a timestamp), and how long its start-up takes after SLURM starts the job.
printf 'units %d\nunit_ms 1000\n' 30 >calib.txt
jcal="$(sbatch --parsable --job-name=calibrate --ntasks=3 --time=5 --output="$work/calibrate-%j.out" \
  --export="ALL,RANKSWEEP=$work/fake_sweep,JOB=calib.txt,ARCHIVE=cal.state,MAX_RESTARTS=0" "$template")"
final="$(wait_job "$jcal")"
[[ "$final" == COMPLETED ]] || fail "calibration job $jcal ended $final"
stamp() { date -d "$(sed -nE "s#^\[([0-9T:-]+)\] fake_sweep: $1.*#\1#p" "calibrate-$jcal.out" | head -n 1)" +%s; }
t_job="$(date -d "$(job_field "$jcal" StartTime)" +%s)"
t_first="$(stamp "run 1: starting")"
t_last="$(stamp "complete: 30/30")"
((t_last > t_first)) || fail "calibration: no timed progress in calibrate-$jcal.out"
# units = rate x seconds, rounded up to whole steps of 3 units (one per rank).
units_for() { echo $(((30 * $1 + 3 * (t_last - t_first) - 1) / (3 * (t_last - t_first)) * 3)); }
units="$(units_for 50)"
units_n="$(units_for 100)"
note "calibration: 30 units in $((t_last - t_first)) s after a start-up of $((t_first - t_job)) s:" \
  "$units units for the signalled job, $units_n for the one without --signal"
want_sum=$((units * (units - 1) / 2))
printf 'units %d\nunit_ms 1000\n' "$units" >job.txt
jid="$(sbatch --parsable --job-name=timelimit --ntasks=3 --time=1 --signal=USR1@50 \
  --output="$work/timelimit-%j.out" \
  --export="ALL,RANKSWEEP=$work/fake_sweep,JOB=job.txt,ARCHIVE=t.state,MAX_RESTARTS=20" "$template")"
grep -v -- '^#SBATCH --signal' "$template" >nosignal.sbatch
printf 'units %d\nunit_ms 1000\n' "$units_n" >long.txt
jt="$(sbatch --parsable --job-name=nosignal --ntasks=3 --time=1 --output="$work/nosignal-%j.out" \
  --export="ALL,RANKSWEEP=$work/fake_sweep,JOB=long.txt,ARCHIVE=n.state,MAX_RESTARTS=20" nosignal.sbatch)"
note "submitted job $jid (--time=1 --signal=USR1@50) and job $jt (--time=1, no --signal)"
final="$(wait_job "$jid")"
out="timelimit-$jid.out"
echo "---- job log ----"; cat "$out"; echo "----"
[[ "$final" == COMPLETED && "$(job_field "$jid" ExitCode)" == 0:0 ]] \
  || fail "expected COMPLETED 0:0, got $final $(job_field "$jid" ExitCode)"
restarts="$(job_field "$jid" Restarts)"
((restarts >= 1)) || fail "Restarts=$restarts: SLURM's SIGUSR1 never made the job drain"
grep -q "TIME LIMIT" "$out" && fail "a run hit the time limit instead of draining before it"
n_drains="$(grep -c "fake_sweep: got SIGUSR1; drained" "$out" || true)"
[[ "$n_drains" == "$restarts" ]] || fail "$n_drains drains but $restarts requeues"
grep -q "ranksweep.sbatch: job $jid run 2 (SLURM_RESTART_COUNT=1," "$out" || fail "no run with SLURM_RESTART_COUNT=1"
[[ "$(cat t.state)" == "done $units total $units sum $want_sum runs $((restarts + 1))" ]] \
  || fail "state $(cat t.state): want every unit once (sum $want_sum) over $((restarts + 1)) runs"
ok "SLURM's own SIGUSR1 before the time limit: $restarts drain(s) and requeue(s), all $units units once"

final="$(wait_job "$jt")"
out="nosignal-$jt.out"
echo "---- job log ----"; cat "$out"; echo "----"
[[ "$final" == COMPLETED && "$(job_field "$jt" ExitCode)" == 0:0 ]] \
  || fail "no-signal job: expected COMPLETED 0:0, got $final $(job_field "$jt" ExitCode)"
grep -q "DUE TO TIME LIMIT" "$out" || fail "the no-signal job never reached its time limit"
grep -qE "fake_sweep: got SIGTERM; drained at unit [1-9][0-9]*/$units_n" "$out" || fail "no drain on SIGTERM"
grep -q "ranksweep.sbatch: requeueing job $jt (restart 1 of at most 20)" "$out" || fail "not requeued after the limit"
[[ "$(cat n.state)" == "done $units_n total $units_n sum $((units_n * (units_n - 1) / 2)) runs $(($(job_field "$jt" Restarts) + 1))" ]] \
  || fail "no-signal job state $(cat n.state)"
ok "no --signal: SIGTERM at the limit drains within KillWait, the job still requeues (Reason=TimeLimit) and completes"

summary slurm-timelimit
