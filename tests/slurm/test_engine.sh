#!/usr/bin/env bash
# The real ranksweep through slurm/ranksweep.sbatch on a private one-node cluster: jobs/quick.yaml
# with longer training (so runs are in flight when the signal comes) on 3 ranks; SIGUSR1 mid-sweep
# (scancel --signal=USR1, what --signal=USR1@T does at the time limit) must drain it (exit 3), the
# template requeues it, the second run resumes the archive and completes it; `ranksweep status`
# then reports the sweep complete. Alongside, the array path: slurm/ranksweep-array.sbatch runs
# jobs/quick.yaml as 2 slices, and a job with --dependency=afterok merges them with `ranksweep merge`.
# Usage: test_engine.sh [RANKSWEEP_BINARY]   (default $RANKSWEEP_BUILD_ROOT/src/cli/ranksweep)
# Run as root.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bin="${1:-${RANKSWEEP_BUILD_ROOT:-$src_root/build}/src/cli/ranksweep}"
[[ -x "$bin" ]] || fail "no ranksweep binary at $bin (pass its path as the first argument)"
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
start_cluster
cd "$work"

steps=300000
sed "s/^  steps: [0-9]*$/  steps: $steps/" "$src_root/jobs/quick.yaml" >job.yaml
grep -q "^  steps: $steps$" job.yaml || fail "could not set train.steps in a copy of jobs/quick.yaml"
"$bin" plan job.yaml >plan.txt || fail "ranksweep plan job.yaml failed"

jid="$(sbatch --parsable --job-name=engine --ntasks=3 --time=10 --output="$work/engine-%j.out" \
  --export="ALL,RANKSWEEP=$bin,JOB=job.yaml,ARCHIVE=sweep.h5,MAX_RESTARTS=2" "$src_root/slurm/ranksweep.sbatch")"
mkdir arr
cp "$src_root/jobs/quick.yaml" arr/job.yaml
array="$(cd arr && sbatch --parsable --array=0-1 --ntasks=2 --time=10 --output="$work/arr/array-%A_%a.out" \
  --export="ALL,RANKSWEEP=$bin,JOB=job.yaml" "$src_root/slurm/ranksweep-array.sbatch")"
merge="$(cd arr && sbatch --parsable --dependency=afterok:"$array" --ntasks=1 --time=10 \
  --output="$work/arr/merge-%j.out" --wrap "'$bin' merge sweep.h5 slice-0.h5 slice-1.h5 && '$bin' show sweep.h5")"
note "submitted job $jid, array $array (2 slices of jobs/quick.yaml) and merge $merge"

status_field() { # FIELD: from `ranksweep status --json sweep.h5`
  "$bin" status --json sweep.h5 2>/dev/null | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"
}
training_started() { local s; s="$(status_field steps_done 2>/dev/null)" && [[ "$s" =~ ^[0-9]+$ ]] && ((s > 0)); }
wait_for "training progress in sweep.h5.status" training_started
scancel --signal=USR1 "$jid"
note "SIGUSR1 -> job $jid at $(status_field steps_done) steps"

final="$(wait_job "$jid")"
out="engine-$jid.out"
echo "---- job log ----"; cat "$out"; echo "----"
[[ "$final" == COMPLETED && "$(job_field "$jid" ExitCode)" == 0:0 ]] \
  || fail "expected COMPLETED 0:0, got $final $(job_field "$jid" ExitCode)"
((restarts = $(job_field "$jid" Restarts), restarts >= 1)) || fail "the job was never requeued"
grep -q "ranksweep.sbatch: ranksweep drained: work remains in sweep.h5 (exit 3)" "$out" || fail "ranksweep did not exit 3"
grep -q "ranksweep.sbatch: job $jid run 2 (SLURM_RESTART_COUNT=1," "$out" || fail "no second run"
grep -q "ranksweep.sbatch: sweep complete: sweep.h5 (exit 0)" "$out" || fail "no completion"
ok "drain on SIGUSR1 (exit 3), requeue, resume, complete ($restarts requeue(s))"

[[ "$(status_field state)" == complete ]] || fail "status says $(status_field state)"
[[ "$(status_field runs_done)" == "$(status_field runs_total)" ]] \
  || fail "status: $(status_field runs_done) of $(status_field runs_total) runs done"
ok "ranksweep status: complete, $(status_field runs_done)/$(status_field runs_total) runs"

fm="$(wait_job "$merge")"
[[ "$fm" == COMPLETED ]] || fail "merge job ended $fm ($(job_field "$merge" Reason))"
for i in 0 1; do
  grep -q "ranksweep-array.sbatch: sweep complete: slice-$i.h5 (exit 0)" "arr/array-${array}_$i.out" \
    || fail "slice $i did not complete"
done
grep -qE '^complete +yes' "arr/merge-$merge.out" || fail "merged archive not complete: $(head -5 "arr/merge-$merge.out")"
ok "array of 2 slices, then afterok merge: ranksweep show reports the merged archive complete"

summary slurm-engine
