#!/usr/bin/env bash
# The job-array path on a private one-node cluster: slurm/ranksweep-array.sbatch as a 3-task array,
# each task 2 ranks launched with LAUNCHER=mpirun (the srun path is covered by test_requeue.sh),
# running the stand-in fake_sweep.c on its slice. Every slice drains once (drain_at in the job file),
# so each array task requeues itself; a "merge" job submitted with --dependency=afterok on the array
# must start only after every task's final run, and sees every unit of the sweep exactly once.
# Alongside, a single job with LAUNCHER=mpirun and --signal=B:USR1 gets SIGUSR1 in its batch shell
# only (scancel --batch): the template must forward it through mpirun to the ranks.
# Run as root.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

template="$src_root/slurm/ranksweep-array.sbatch"
mpicc -O1 -std=c11 -D_GNU_SOURCE -o "$work/fake_sweep" "$src_root/tests/slurm/fake_sweep.c"
start_cluster
cd "$work"

units=30
slices=3
printf 'units %d\nunit_ms 300\ndrain_at 2\n' "$units" >job.txt
array="$(sbatch --parsable --array=0-$((slices - 1)) --ntasks=2 --time=5 --output="$work/array-%A_%a.out" \
  --export="ALL,RANKSWEEP=$work/fake_sweep,JOB=job.txt,LAUNCHER=mpirun,MAX_RESTARTS=2,OMPI_ALLOW_RUN_AS_ROOT=1,OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1" \
  "$template")"
[[ "$array" =~ ^[0-9]+$ ]] || fail "sbatch printed '$array'"
# The stand-in merge: concatenates the slice states, stamping when it ran.
merge="$(sbatch --parsable --dependency=afterok:"$array" --ntasks=1 --time=2 --output="$work/merge-%j.out" \
  --wrap "date +%s.%N >merge.start; cat slice-*.h5 >merged.txt")"
# The single job works for about 12 s, so SIGUSR1 finds it running even when it takes a few
# seconds to arrive on a loaded machine.
units_b=80
printf 'units %d\nunit_ms 300\n' "$units_b" >single.txt
jb="$(sbatch --parsable --job-name=batchsig --ntasks=2 --time=5 --signal=B:USR1@120 --output="$work/batchsig-%j.out" \
  --export="ALL,RANKSWEEP=$work/fake_sweep,JOB=single.txt,ARCHIVE=b.state,LAUNCHER=mpirun,MAX_RESTARTS=1,OMPI_ALLOW_RUN_AS_ROOT=1,OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1" \
  "$src_root/slurm/ranksweep.sbatch")"
note "submitted array $array (${slices} tasks), merge $merge (afterok) and mpirun job $jb (B:USR1)"
wait_for "mpirun job progress" grep -qE '^done [1-9]' b.state
scancel --batch --signal=USR1 "$jb"

final="$(wait_job "$merge")"
[[ "$final" == COMPLETED ]] || fail "merge job ended $final ($(job_field "$merge" Reason))"
sum_all=0
for ((i = 0; i < slices; i++)); do
  id="${array}_$i"
  [[ "$(job_field "$id" JobState)" == COMPLETED && "$(job_field "$id" ExitCode)" == 0:0 ]] \
    || fail "task $id: $(job_field "$id" JobState) $(job_field "$id" ExitCode)"
  [[ "$(job_field "$id" Restarts)" == 1 ]] || fail "task $id: Restarts=$(job_field "$id" Restarts), want 1"
  out="array-${array}_$i.out"
  grep -q "ranksweep-array.sbatch: array job $array task $i: slice $i/$slices -> slice-$i.h5" "$out" \
    || fail "task $i log lacks its slice line"
  grep -q "ranksweep-array.sbatch: requeueing job ${array}_$i (restart 1 of at most 2)" "$out" || fail "task $i did not requeue itself"
  grep -qE "fake_sweep: run 2: resuming at unit 2/10 on 2 ranks \(slice $i/$slices, SLURM_RESTART_COUNT=1\)" "$out" \
    || fail "task $i did not resume its slice"
  read -r _ done _ total _ sum _ runs <"slice-$i.h5"
  [[ "$done" == "$total" && "$total" == $(((units - i + slices - 1) / slices)) && "$runs" == 2 ]] \
    || fail "slice $i state: $(cat "slice-$i.h5")"
  sum_all=$((sum_all + sum))
done
[[ "$sum_all" == $((units * (units - 1) / 2)) ]] || fail "slices cover unit sum $sum_all"
ok "$slices array tasks (mpirun launcher): each drained, requeued once, resumed and completed its slice; together every unit once"

last_end=0
for ((i = 0; i < slices; i++)); do
  e="$(date -d "$(job_field "${array}_$i" EndTime)" +%s)"
  ((e > last_end)) && last_end=$e
done
m="$(cut -d. -f1 merge.start)"
((m >= last_end)) || fail "merge started at $m, before the last task ended at $last_end"
[[ "$(wc -l <merged.txt)" == "$slices" ]] || fail "merge saw $(wc -l <merged.txt) slice files"
ok "afterok merge ran only after every task's final run ($((m - last_end))s later) and saw all $slices slices"

fb="$(wait_job "$jb")"
out="batchsig-$jb.out"
[[ "$fb" == COMPLETED && "$(job_field "$jb" Restarts)" == 1 ]] \
  || fail "mpirun job: $fb Restarts=$(job_field "$jb" Restarts)"
grep -q "ranksweep.sbatch: SIGUSR1 reached the batch shell; forwarding to the launcher" "$out" || fail "no forward"
grep -qE "fake_sweep: got SIGUSR1; drained at unit [1-9][0-9]*/$units_b" "$out" || fail "ranks did not drain"
[[ "$(cat b.state)" == "done $units_b total $units_b sum $((units_b * (units_b - 1) / 2)) runs 2" ]] \
  || fail "mpirun job state $(cat b.state)"
ok "mpirun with --signal=B:USR1: the batch shell forwards SIGUSR1 through mpirun, ranks drain, job requeues and completes"

summary slurm-array
