# Shared helpers of the end-to-end tests (sourced). Each test runs in its own
# temporary directory, removed on exit.
set -euo pipefail
: "${RANKSWEEP_BUILD_ROOT:?run through meson test}"
: "${RANKSWEEP_SOURCE_ROOT:?run through meson test}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OPENBLAS_NUM_THREADS=1
RS="$RANKSWEEP_BUILD_ROOT/src/cli/ranksweep"
# The same command with the test-only fault hooks compiled in (tests/meson.build): only the
# runs that inject a fault (RANKSWEEP_TEST_*) use it, e.g. RS="$RS_HOOKS" sweep ...
RS_HOOKS="$RANKSWEEP_BUILD_ROOT/tests/ranksweep-hooks"
# The launcher of the MPI the build links (tests/meson.build): Open MPI's mpirun or MPICH's
# mpiexec.mpich. A bare `mpirun` is the system alternative, possibly the other MPI.
MPIRUN="${RANKSWEEP_MPIRUN:-mpirun}"
# forward VAR... : the launcher options that hand these environment variables to the ranks
# (Open MPI: -x VAR; MPICH's Hydra passes the whole environment by default, so none).
forward() {
  [[ ${RANKSWEEP_MPI:-openmpi} == mpich ]] && return 0
  local v
  for v in "$@"; do printf -- '-x %s ' "$v"; done
}
E2E="$RANKSWEEP_SOURCE_ROOT/tests/e2e"
PY=/usr/bin/python3
WORK="$(mktemp -d /tmp/ranksweep-e2e.XXXXXX)"
# Only this shell removes WORK: bash runs an EXIT trap also in a background child that is
# killed between its fork and its exec (watched's one-second sleeper, a sweep killed at once),
# and that child would remove WORK under the test's feet. $$ is this shell, $BASHPID the one running.
trap '[[ $BASHPID != "$$" ]] || rm -rf "$WORK"' EXIT
npass=0
nfail=0
ok() { echo "ok: $*"; npass=$((npass + 1)); }
bad() { echo "FAIL: $*"; nfail=$((nfail + 1)); }
finish() {
  echo "$npass passed, $nfail failed"
  [[ $nfail -eq 0 ]]
}
source "$E2E/progress.sh"
# sweep NRANKS ARGS... : mpirun the sweep, quietly; stopped (exit 124) only when its status file
# shows no progress for $stall seconds, never on a fixed clock budget.
sweep() {
  local n="$1" a="" prev="" x
  shift
  for x in "$@"; do
    [[ "$prev" == -o ]] && a="$x"
    prev="$x"
  done
  watched "sweep on $n rank(s) -> ${a:-?}" "${a:-/nonexistent}.status" "$MPIRUN" -np "$n" "$RS" run "$@" --quiet
}
same() { # same A B : identical scientific content
  "$PY" "$E2E/compare_archives.py" "$1" "$2"
}
