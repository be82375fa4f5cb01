/* Late-phase training benchmark: the step time of a real job's first run at
 * the start of training and after LATE steps (when gradients and optimiser
 * moments reach subnormal magnitudes), with flush-to-zero off and on, from the
 * same saved training state. Prints key-value lines for bench/late-phase.sh.
 * Usage: bench_late JOB.yaml [late_step=120000] [window=2000] [threads=1] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>
#include <xmmintrin.h>

#include "ranksweep/rs_config.h"
#include "ranksweep/rs_data.h"
#include "ranksweep/rs_error.h"
#include "ranksweep/rs_fpenv.h"
#include "ranksweep/rs_job.h"
#include "ranksweep/rs_model.h"

static double clock_s(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Trains `window` steps from the state in blob with the given flush setting;
 * returns CPU ms per step (process CPU time: all BLAS threads, none of the
 * time other processes held the core) and the MXCSR subnormal flags seen. */
static double timed_window(rs_trainer *t, const void *blob, int64_t window, bool flush,
                           double *wall_ms, unsigned *flags) {
  bool div = false;
  if (rs_trainer_state_load(t, blob) != RS_OK) return -1;
  rs_fpenv_flush_denormals(flush);
  int64_t s0 = rs_trainer_step(t);
  _mm_setcsr(_mm_getcsr() & ~0x3fu); /* clear the sticky exception flags */
  double c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID), w0 = clock_s(CLOCK_MONOTONIC);
  if (rs_trainer_run_to(t, s0 + window, &div) != RS_OK || div) return -1;
  double c1 = clock_s(CLOCK_PROCESS_CPUTIME_ID), w1 = clock_s(CLOCK_MONOTONIC);
  *flags = _mm_getcsr() & 0x12u; /* DE (denormal operand) | UE (underflow) */
  *wall_ms = 1e3 * (w1 - w0) / (double)window;
  return 1e3 * (c1 - c0) / (double)window;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: bench_late JOB.yaml [late_step=120000] [window=2000] [threads=1]\n");
    return 2;
  }
  int64_t late = argc > 2 ? atoll(argv[2]) : 120000;
  int64_t window = argc > 3 ? atoll(argv[3]) : 2000;
  int threads = argc > 4 ? atoi(argv[4]) : 1;
  if (late < 1 || window < 10 || threads < 1) {
    fprintf(stderr, "bench_late: late_step >= 1, window >= 10, threads >= 1 expected\n");
    return 2;
  }
  openblas_set_num_threads(threads);
  rs_job *job = NULL;
  rs_dataset *data = NULL;
  rs_trainer *t = NULL;
  int rc = rs_job_load(argv[1], &job);
  rs_config cfg;
  if (rc == RS_OK) {
    cfg = *rs_job_run(job, 0);
    cfg.train.flush_denormals = true; /* reach the late phase quickly */
    rc = rs_dataset_create(&cfg, &data);
  }
  if (rc == RS_OK) rc = rs_trainer_create(&cfg, data, &t);
  if (rc != RS_OK) {
    rs_error_print(rc);
    return 1;
  }
  size_t n = rs_trainer_state_size(t);
  void *early = malloc(n), *blob = malloc(n);
  if (!early || !blob) return 1;
  rs_trainer_state_save(t, early);
  printf("job %s\nkernel %s\ncpu_isa %s\nthreads %d\nwindow %lld\nlate_step %lld\n",
         argv[1], rs_blas_kernel(), rs_cpu_best_isa(), threads, (long long)window,
         (long long)late);
  double w;
  unsigned fl;
  for (int f = 0; f < 2; f++) {
    double ms = timed_window(t, early, window, f == 1, &w, &fl);
    printf("early_%s_cpu_ms %.4f\nearly_%s_wall_ms %.4f\nearly_%s_subnormal_flags %u\n",
           f ? "ftz" : "ieee", ms, f ? "ftz" : "ieee", w, f ? "ftz" : "ieee", fl);
  }
  bool div = false;
  rs_trainer_state_load(t, early);
  rs_fpenv_flush_denormals(true);
  double c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
  if (rs_trainer_run_to(t, late, &div) != RS_OK || div) {
    fprintf(stderr, "bench_late: training to step %lld failed\n", (long long)late);
    return 1;
  }
  printf("to_late_cpu_s %.1f\nlate_loss %.3g\n", clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0,
         rs_trainer_last_loss(t));
  rs_trainer_state_save(t, blob);
  /* Alternate, three rounds each, so a burst of load hits both sides. */
  double best[2] = {1e30, 1e30}, bestw[2] = {1e30, 1e30};
  unsigned flags[2] = {0, 0};
  for (int round = 0; round < 3; round++)
    for (int f = 0; f < 2; f++) {
      double ms = timed_window(t, blob, window, f == 1, &w, &fl);
      if (ms < best[f]) best[f] = ms;
      if (w < bestw[f]) bestw[f] = w;
      flags[f] |= fl;
    }
  for (int f = 0; f < 2; f++)
    printf("late_%s_cpu_ms %.4f\nlate_%s_wall_ms %.4f\nlate_%s_subnormal_flags %u\n",
           f ? "ftz" : "ieee", best[f], f ? "ftz" : "ieee", bestw[f], f ? "ftz" : "ieee",
           flags[f]);
  free(early);
  free(blob);
  rs_trainer_destroy(&t);
  rs_dataset_destroy(&data);
  rs_job_destroy(&job);
  return 0;
}
