#!/usr/bin/env bash
# SLURM smoke test: a private one-node cluster runs an sbatch job whose srun --mpi=pmix step is an
# MPI hello-world on 3 tasks (more than this machine's 2 cores, as config_overrides allows); checks
# one MPI world of 3 distinct ranks, the job's final state, and its record in jobcomp / `sacct -c`.
# Also checks that the cluster script's start is idempotent. Run as root.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

mpicc -O1 -o "$work/mpi_hello" "$src_root/tests/slurm/mpi_hello.c"
start_cluster
# A second start must notice the running cluster and change nothing.
again="$(bash "$cluster" start "$state" 2>"$work/second-start.err")"
[[ "$again" == "export SLURM_CONF=$state/slurm.conf" ]] || fail "second start printed '$again'"
grep -q "already running" "$work/second-start.err" || fail "second start did not find the running cluster"
bash "$cluster" status "$state" >/dev/null || fail "status says the cluster is down"
ok "cluster start is idempotent and status sees it"

cat >"$work/hello.sbatch" <<EOF
#!/bin/bash
#SBATCH --job-name=mpi-hello
#SBATCH --ntasks=3
#SBATCH --time=2
#SBATCH --output=$work/hello-%j.out
set -euo pipefail
echo "batch shell on \$(hostname -s), SLURM_NTASKS=\$SLURM_NTASKS"
srun --mpi=pmix "$work/mpi_hello"
EOF
jid="$(sbatch --parsable "$work/hello.sbatch")"
[[ "$jid" =~ ^[0-9]+$ ]] || fail "sbatch printed '$jid', not a job id"
note "submitted job $jid"
final="$(wait_job "$jid")"
note "job $jid: $final"
[[ "$final" == COMPLETED ]] || fail "job $jid ended $final"
[[ "$(job_field "$jid" ExitCode)" == 0:0 ]] || fail "job $jid exit code $(job_field "$jid" ExitCode)"
ok "job $jid COMPLETED with exit code 0:0"

out="$work/hello-$jid.out"
[[ -s "$out" ]] || fail "no output file $out"
grep -q "SLURM_NTASKS=3" "$out" || fail "batch shell did not see 3 tasks"
n_lines="$(grep -c '^hello rank ' "$out" || true)"
n_ranks="$(grep -oE '^hello rank [0-9]+ of 3 on [^ ]+ rank_sum 3$' "$out" | awk '{print $3}' | sort -u | wc -l)"
[[ "$n_lines" == 3 && "$n_ranks" == 3 ]] \
  || fail "expected 3 distinct ranks of one 3-rank world, got $n_lines lines and $n_ranks ranks"
[[ "$(grep -oE '^hello rank [0-9]+' "$out" | awk '{print $3}' | sort -n | tr '\n' ' ')" == "0 1 2 " ]] \
  || fail "ranks are not 0 1 2"
ok "3 distinct ranks (0 1 2) in one MPI world of 3"

# The job completion record: the filetxt file and sacct -c (which reads it without slurmdbd).
wait_for "jobcomp record of job $jid" grep -qE "^JobId=$jid .*JobState=COMPLETED" "$state/jobcomp.txt"
jobcomp_lines "$jid" | grep -q "ExitCode=0:0" || fail "jobcomp record lacks ExitCode=0:0"
jobcomp_lines "$jid" | grep -q "ProcCnt=3" || fail "jobcomp record lacks ProcCnt=3"
sacct_line="$(sacct -c -n -P -j "$jid" -o JobID,JobName,State,ExitCode 2>&1)"
echo "sacct -c: $sacct_line"
[[ "$sacct_line" == *"$jid|mpi-hello|COMPLETED|0:0"* ]] || fail "sacct -c shows '$sacct_line'"
ok "jobcomp file and sacct -c record the job as COMPLETED 0:0 on 3 CPUs"

summary slurm-smoke
