#!/usr/bin/env bash
# The MPICH check of CI (.ci/run runs it after the gate): ranksweep built
# against MPICH (-Dmpich=true, in build-mpich/) passes the MPI unit tests, and
# one end-to-end sweep under MPICH's own launcher, killed mid-sweep and
# resumed, and drained by SIGUSR1 sent to the launcher and resumed, ends equal
# in every scientific dataset to the same job's archive made with Open MPI
# (the default build, build/). See docs/mpich.md for what differs.
# Usage: bash scripts/mpich-check.sh   (after scripts/setup.sh has built build/)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
B="${RANKSWEEP_MPICH_BUILD:-build-mpich}"
REF="${RANKSWEEP_BUILD:-build}"
# MPICH's launcher by its own name: mpirun/mpiexec are the system alternative (Open MPI here).
MPIEXEC=/usr/bin/mpiexec.mpich
export OPENBLAS_NUM_THREADS=1
# For the Open MPI reference only; MPICH's Hydra needs neither root nor oversubscription flags.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
t0=$(date +%s)
say() { echo "mpich-check: [$(( $(date +%s) - t0 )) s] $*"; }
fail() { echo "mpich-check: FAIL: $*" >&2; exit 1; }

[[ -x $MPIEXEC ]] || fail "$MPIEXEC not found (packages mpich, libmpich-dev: scripts/setup.sh)"
[[ -x $REF/src/cli/ranksweep ]] || fail "$REF/src/cli/ranksweep not built: run scripts/setup.sh first (the Open MPI reference)"
if [[ ! -f "$B/build.ninja" ]]; then
  meson setup "$B" --buildtype=release -Dmpich=true -Dslurm_tests=false -Dtorch_tests=false \
    > /tmp/ranksweep-mpich-setup.log 2>&1 || { cat /tmp/ranksweep-mpich-setup.log; exit 1; }
fi
ninja -C "$B" > /dev/null
RS="$root/$B/src/cli/ranksweep"
# The binary must link MPICH's stack and nothing of Open MPI's (Debian's scalapack-mpich.pc
# would pull Open MPI in through the mpi alternative; meson.build avoids it).
libs="$(ldd "$RS")"
grep -q 'libmpich\.so' <<<"$libs" || fail "$RS does not link libmpich"
grep -q 'libhdf5_mpich' <<<"$libs" || fail "$RS does not link MPICH's parallel HDF5"
grep -q 'libscalapack-mpich' <<<"$libs" || fail "$RS does not link MPICH's ScaLAPACK"
if grep -qE 'libmpi\.so|openmpi' <<<"$libs"; then fail "$RS also links Open MPI: $(grep -E 'libmpi\.so|openmpi' <<<"$libs")"; fi
"$RS" version | grep -q '^MPI: MPICH' || fail "ranksweep version does not name MPICH: $("$RS" version)"
say "MPICH build ready ($B): $("$RS" version | sed -n 's/^MPI: //p' | tr -s '\t ' ' ')"

# The MPI unit tests, launched by mpiexec.mpich (meson passes RANKSWEEP_MPIRUN). spectrum-pdsvd-np4
# is not among them: under MPICH 4.0.2 with Debian's ScaLAPACK 2.2.1, pdgesvd on 3 or more ranks
# deadlocks (docs/mpich.md); the np1 and np2 grids run.
meson test -C "$B" --num-processes 1 --print-errorlogs archive-mpi-np1 archive-mpi-np2 archive-mpi-np3 \
  archive-h5py engine-dispatcher spectrum-pdsvd-np1 spectrum-pdsvd-np2
say "MPI unit tests passed under mpiexec.mpich (spectrum-pdsvd-np4 left out: ScaLAPACK deadlock on >2 ranks)"

W="$(mktemp -d /tmp/ranksweep-mpich.XXXXXX)"
trap '[[ $BASHPID != "$$" ]] || rm -rf "$W"' EXIT # this shell only, not a child killed before its exec
# tests/e2e/small.yaml, long enough (4 runs x 400000 steps, 10-20 s per sweep on 2 idle cores
# with the libxsmm products; a shorter job finished half its steps before the first status
# file) that a kill lands inside training, with a state every 40000 steps.
TOTAL=1600000
sed 's/steps: 1500/steps: 400000/; s/state_every: 200/state_every: 40000/' tests/e2e/small.yaml > "$W/job.yaml"
grep -q 'steps: 400000' "$W/job.yaml" || fail "tests/e2e/small.yaml changed: no 'steps: 1500' to lengthen"
timeout 600 mpirun -np 3 "$root/$REF/src/cli/ranksweep" run "$W/job.yaml" -o "$W/ref.h5" --quiet
say "Open MPI reference archive written (mpirun -np 3, $REF)"

# steps FILE.status: steps done so far (0 while there is no status file yet).
steps() { sed -nE 's/.*"steps_done": ([0-9]+).*/\1/p' "$1" 2>/dev/null | head -n 1 | grep . || echo 0; }
# start ARCHIVE ARGS...: a sweep under mpiexec.mpich in the background; sets LPID (the launcher).
start() {
  local a="$1"; shift
  "$MPIEXEC" -np 3 "$RS" run "$W/job.yaml" -o "$a" --quiet "$@" > "$W/launch.out" 2>&1 &
  LPID=$!
}
# mid_training ARCHIVE: waits (at most 300 s) until the sweep's status shows training under way,
# and checks that it is in the first half of its steps, so that what follows lands mid-training.
mid_training() {
  local i n
  for ((i = 0; i < 3000; i++)); do
    kill -0 "$LPID" 2>/dev/null || fail "the sweep ended before it showed progress: $(cat "$W/launch.out")"
    n=$(steps "$1.status")
    if ((n > 0)); then
      ((n <= TOTAL / 2)) || fail "first progress seen at $n of $TOTAL steps: too late to test a kill mid-training"
      return 0
    fi
    sleep 0.1
  done
  fail "no progress in 300 s: $(cat "$1.status" 2>/dev/null)"
}

# Kill: every process of the job at once, as a node losing power would. Hydra starts its proxy
# and each rank in sessions of their own, so the launcher's process group does not hold them:
# they are found as the launcher's children (the proxy) and the proxy's children (the ranks).
start "$W/k.h5"
mid_training "$W/k.h5"
proxy="$(pgrep -P "$LPID" || true)"
ranks="$(for p in $proxy; do pgrep -P "$p" || true; done)"
[[ $(wc -w <<<"$ranks") -eq 3 ]] || fail "expected 3 ranks under hydra's proxy, found: $ranks"
at=$(steps "$W/k.h5.status")
# This shell reports a child killed by a signal on its own stderr: silenced until it is reaped.
exec 3>&2 2>/dev/null
# shellcheck disable=SC2086 # pid lists
kill -KILL "$LPID" $proxy $ranks
wait "$LPID" || true
exec 2>&3 3>&-
say "sweep killed (SIGKILL to launcher, proxy and ranks) at $at of $TOTAL steps; resuming under mpiexec.mpich"
timeout 600 "$MPIEXEC" -np 3 "$RS" run "$W/job.yaml" -o "$W/k.h5" --resume --quiet
/usr/bin/python3 tests/e2e/compare_archives.py "$W/ref.h5" "$W/k.h5" \
  || fail "MPICH kill + resume differs from the Open MPI archive"
say "MPICH kill + resume equals the Open MPI archive in every scientific dataset"

# Drain: SIGUSR1 to the launcher only (as SLURM's --signal reaches mpirun in a batch script).
# Hydra passes it on to the ranks; the sweep must drain and exit 3, then resume to the end.
start "$W/d.h5"
mid_training "$W/d.h5"
at=$(steps "$W/d.h5.status")
kill -USR1 "$LPID"
rc=0; wait "$LPID" || rc=$?
[[ $rc -eq 3 ]] || fail "SIGUSR1 to mpiexec.mpich: exit $rc, expected 3 (drained): $(cat "$W/launch.out")"
"$RS" status "$W/d.h5" | grep -q 'drained' || fail "status after the drain: $("$RS" status "$W/d.h5")"
timeout 600 "$MPIEXEC" -np 3 "$RS" run "$W/job.yaml" -o "$W/d.h5" --resume --quiet
/usr/bin/python3 tests/e2e/compare_archives.py "$W/ref.h5" "$W/d.h5" \
  || fail "MPICH drain + resume differs from the Open MPI archive"
say "SIGUSR1 to mpiexec.mpich at $at of $TOTAL steps drained the sweep (exit 3); its resume equals the Open MPI archive"

# Provenance names the MPI the sweep ran with.
lib="$(/usr/bin/python3 -c 'import h5py, sys; print(h5py.File(sys.argv[1], "r")["provenance"].attrs["mpi_library"])' "$W/d.h5")"
[[ $lib == MPICH* ]] || fail "provenance mpi_library is '$lib', expected MPICH"
say "provenance mpi_library: $(tr -s '\t ' ' ' <<<"$lib")"
say "MPICH check passed"
