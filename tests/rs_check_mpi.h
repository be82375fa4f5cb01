/* Shared by the Check test programs that run under mpirun: every rank runs
 * the suite in-process (MPI does not survive Check's fork), and the ranks
 * agree on the worst rank's failure count, so all of them exit alike. */
#ifndef RS_CHECK_MPI_H
#define RS_CHECK_MPI_H

#include <check.h>
#include <mpi.h>

/* mode: CK_NORMAL on every rank that reports its own failures; CK_SILENT
 * on ranks that should stay quiet. Returns the failures of the worst rank. */
static inline int rs_check_run_mpi(Suite *s, enum print_output mode) {
  SRunner *sr = srunner_create(s);
  srunner_set_fork_status(sr, CK_NOFORK);
  srunner_run_all(sr, mode);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  MPI_Allreduce(MPI_IN_PLACE, &failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  return failed;
}

#endif
