#!/usr/bin/env bash
# The MPI test programs fail within a bounded time instead of hanging: a
# suite stuck in a collective (mpi_watchdog.c) ends by itself, non-zero, with
# the watchdog's message, well before the outer timeout.
set -euo pipefail
prog="$1"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
start=$(date +%s)
rc=0
RS_TEST_WATCHDOG=5 timeout 120 mpirun -x RS_TEST_WATCHDOG -np 2 "$prog" > out.txt 2>&1 || rc=$?
took=$(($(date +%s) - start))
if [[ $rc -ne 0 && $rc -ne 124 && $took -lt 100 ]] && grep -q 'watchdog: the suite did not finish' out.txt; then
  echo "ok: a hung MPI suite ended by itself after ${took} s (exit $rc) with the watchdog's message"
  rm -f out.txt
  exit 0
fi
echo "FAIL: hung MPI suite: exit $rc after ${took} s (124 = killed by the outer timeout)"
cat out.txt
rm -f out.txt
exit 1
