/* Training-step benchmark on the paper's MNIST shape (784-200-200-200-200-10,
 * ReLU, batch 64, AdamW): time per full step against the floor, the same
 * BLAS calls the step makes, timed alone on the same buffers.
 * Usage: bench_train [threads=1] [steps=2000] [float32|float64] [both|step|floor]
 *                    [adamw|sgd] [rows=1000]
 * (step / floor: run only that part, e.g. under `perf stat -e cycles:u`;
 * sgd: plain SGD instead of the paper's AdamW, to separate the optimiser's
 * share of the step from the rest of the non-GEMM work; rows: the training
 * set's size, 60000 for MNIST's, whose batch rows come from main memory). */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ranksweep/rs_error.h"
#include "ranksweep/rs_model.h"
#include "src/model/model_internal.h"
#include "tests/model/model_fixture.h"

static double clock_s(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
static double now(void) { return clock_s(CLOCK_MONOTONIC); }
/* CPU time of the whole process (all BLAS threads): on a shared machine it
 * leaves out the time other processes held the core. */
static double cpu(void) { return clock_s(CLOCK_PROCESS_CPUTIME_ID); }

static double loadavg(void) {
  double l = -1;
  FILE *f = fopen("/proc/loadavg", "r");
  if (f) {
    if (fscanf(f, "%lf", &l) != 1) l = -1;
    fclose(f);
  }
  return l;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 1;
  int steps = argc > 2 ? atoi(argv[2]) : 2000;
  bool f64 = argc > 3 && strcmp(argv[3], "float64") == 0;
  const char *mode = argc > 4 ? argv[4] : "both";
  bool sgd = argc > 5 && strcmp(argv[5], "sgd") == 0;
  int rows = argc > 6 ? atoi(argv[6]) : 1000;
  bool do_step = strcmp(mode, "floor") != 0, do_floor = strcmp(mode, "step") != 0;
  if (threads < 1 || steps < 10 || rows < 64) {
    fprintf(stderr, "usage: bench_train [threads>=1] [steps>=10] [float32|float64] "
                    "[both|step|floor] [adamw|sgd] [rows>=64]\n");
    return 2;
  }
  openblas_set_num_threads(threads);
  const int widths[4] = {200, 200, 200, 200};
  rs_config c;
  fixture_config(&c, 4, widths);
  c.train.optimizer = sgd ? RS_OPT_SGD : RS_OPT_ADAMW;
  c.train.lr = 1e-4;
  c.train.weight_decay = 0.01;
  c.train.batch = 64;
  c.train.steps = 1000000;
  c.train.precision = f64 ? RS_PREC_FLOAT64 : RS_PREC_FLOAT32;
  c.train.flush_denormals = true; /* as every job by default (the fixture zeroes it) */
  rs_dataset *d = fixture_data(1, rows, 784, 10, 0, 1.0);
  rs_trainer *t;
  int rc = rs_trainer_create(&c, d, &t);
  if (rc != RS_OK) {
    rs_error_print(rc);
    return 1;
  }
  bool div;
  int64_t done = 0;
  done += 200;
  rs_trainer_run_to(t, done, &div); /* warm-up */
  for (int i = 0; i < 200; i++) rs__trainer_gemm_only(t);
  /* Alternate rounds so both measurements see the same machine state. */
  enum { ROUNDS = 21 };
  double step_t[ROUNDS], floor_t[ROUNDS], step_c[ROUNDS], floor_c[ROUNDS];
  int per = steps / ROUNDS > 0 ? steps / ROUNDS : 1;
  for (int r = 0; r < ROUNDS; r++) {
    double t0 = now(), c0 = cpu();
    done += per;
    if (do_step) rs_trainer_run_to(t, done, &div);
    double t1 = now(), c1 = cpu();
    for (int i = 0; i < per && do_floor; i++) rs__trainer_gemm_only(t);
    double t2 = now(), c2 = cpu();
    step_t[r] = (t1 - t0) / per;
    floor_t[r] = (t2 - t1) / per;
    step_c[r] = (c1 - c0) / per;
    floor_c[r] = (c2 - c1) / per;
  }
  if (div) {
    fprintf(stderr, "bench_train: training diverged\n");
    return 1;
  }
  qsort(step_t, ROUNDS, sizeof(double), cmp);
  qsort(floor_t, ROUNDS, sizeof(double), cmp);
  qsort(step_c, ROUNDS, sizeof(double), cmp);
  qsort(floor_c, ROUNDS, sizeof(double), cmp);
  double st = step_t[ROUNDS / 2], ft = floor_t[ROUNDS / 2];
  double sc = step_c[ROUNDS / 2], fc = floor_c[ROUNDS / 2];
  const char *core = getenv("OPENBLAS_CORETYPE");
  printf("ranksweep train step: 784-200x4-10 relu batch 64 %s %s\n", sgd ? "sgd" : "adamw",
         f64 ? "float64" : "float32");
  printf("threads %d\n", threads);
  printf("training_rows %d\n", rows);
  printf("openblas_get_config %s\n", openblas_get_config());
  printf("openblas_get_corename %s\n", openblas_get_corename());
  printf("OPENBLAS_CORETYPE %s\n", core ? core : "(unset)");
  printf("step_ms %.4f\n", 1e3 * st);
  printf("floor_ms %.4f\n", 1e3 * ft);
  printf("ratio_step_over_floor %.3f\n", st / ft);
  /* The fastest round of each: the least disturbed by other processes. */
  printf("step_min_ms %.4f\n", 1e3 * step_t[0]);
  printf("floor_min_ms %.4f\n", 1e3 * floor_t[0]);
  printf("ratio_min_step_over_floor %.3f\n", step_t[0] / floor_t[0]);
  printf("step_cpu_ms %.4f\n", 1e3 * sc);
  printf("floor_cpu_ms %.4f\n", 1e3 * fc);
  printf("ratio_cpu_step_over_floor %.3f\n", sc / fc);
  printf("loadavg_1min %.2f\n", loadavg());
  printf("final_loss %.6f\n", rs_trainer_last_loss(t));
  rs_trainer_destroy(&t);
  fixture_data_free(&d);
  return 0;
}
