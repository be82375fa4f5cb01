/* The MPI test programs' watchdog (tests/rs_check_mpi.h), on a suite that
 * hangs as a broken collective would: rank 0 waits in a barrier the other
 * ranks never reach. Run by tests/core/mpi_watchdog.sh, which expects the
 * program to end by itself, soon, with the watchdog's message. */
#include "../rs_check_mpi.h"

START_TEST(test_hang_on_rank0) {
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank == 0) MPI_Barrier(MPI_COMM_WORLD);
  else pause(); /* never reaches the barrier */
}
END_TEST

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  Suite *s = suite_create("watchdog");
  TCase *tc = tcase_create("hang");
  tcase_set_timeout(tc, 0);
  tcase_add_test(tc, test_hang_on_rank0);
  suite_add_tcase(s, tc);
  int failed = rs_check_run_mpi(s, CK_NORMAL);
  MPI_Finalize();
  return failed ? 1 : 0;
}
