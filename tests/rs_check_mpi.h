/* Shared by the Check test programs that run under mpirun: every rank runs
 * the suite in-process (MPI does not survive Check's fork), and the ranks
 * agree on the worst rank's failure count, so all of them exit alike. */
#ifndef RS_CHECK_MPI_H
#define RS_CHECK_MPI_H

#include <check.h>
#include <mpi.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* A rank that waits in a collective another rank never reaches waits
 * forever: the watchdog ends the program instead, with a message, after
 * RS_TEST_WATCHDOG seconds (default 600, far above any of these programs'
 * normal time; 0 turns it off), so a broken test fails within a bounded time
 * whoever runs it (meson's own timeout may be scaled up or absent). A thread,
 * not alarm(): Check takes SIGALRM for itself. */
static void *rs__check_watchdog(void *arg) {
  struct timespec t = {(time_t)(unsigned long)arg, 0};
  while (nanosleep(&t, &t) != 0) {
  }
  static const char msg[] = "rs_check_run_mpi: watchdog: the suite did not finish in "
                            "RS_TEST_WATCHDOG seconds (a rank is probably stuck in a "
                            "collective the others never reach); aborting\n";
  ssize_t w = write(2, msg, sizeof msg - 1);
  (void)w;
  _exit(70); /* EX_SOFTWARE; not 124, which timeout(1) uses */
  return NULL;
}

/* mode: CK_NORMAL on every rank that reports its own failures; CK_SILENT
 * on ranks that should stay quiet. Returns the failures of the worst rank. */
static inline int rs_check_run_mpi(Suite *s, enum print_output mode) {
  const char *w = getenv("RS_TEST_WATCHDOG");
  unsigned long secs = w && *w ? strtoul(w, NULL, 10) : 600;
  pthread_t dog;
  if (secs && pthread_create(&dog, NULL, rs__check_watchdog, (void *)secs) == 0)
    pthread_detach(dog); /* ends with the process */
  SRunner *sr = srunner_create(s);
  srunner_set_fork_status(sr, CK_NOFORK);
  srunner_run_all(sr, mode);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  MPI_Allreduce(MPI_IN_PLACE, &failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  return failed;
}

#endif
