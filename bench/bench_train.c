/* Training-step benchmark on the paper's MNIST shape (784-200-200-200-200-10,
 * ReLU, batch 64, AdamW): time per full step against the floor, the same
 * products the step makes, timed alone on the same buffers, for each product
 * backend (train.gemm) side by side in one run, rounds alternating; with the
 * core's measured peak (a 2048^3 OpenBLAS sgemm/dgemm) and each product alone.
 * Usage: bench_train [threads=1] [steps=2000] [float32|float64] [both|step|floor]
 *                    [adamw|sgd] [rows=1000] [backends=openblas,libxsmm] [mlp|vib]
 * (step / floor: run only that part, e.g. under `perf stat -e cycles:u`;
 * sgd: plain SGD instead of the paper's AdamW, to separate the optimiser's
 * share of the step from the rest of the non-GEMM work; rows: the training
 * set's size, 60000 for MNIST's, whose batch rows come from main memory;
 * vib: the step of jobs/vib-mnist.yaml instead, encoder 784-1024-1024, K 256,
 * batch 100, Adam, beta 1e-3; "adamw|sgd" is then ignored). */
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

typedef struct {
  const char *name;
  rs_trainer *t;
  double st[64], ft[64], sc[64], fc[64]; /* per round: step/floor wall and CPU, s */
} side;

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof(double), cmp);
  return v[n / 2];
}

/* The core's practical peak: best of 3 OpenBLAS products of 2048^3. */
static double peak_gflops(bool f64) {
  const int n = 2048;
  size_t es = f64 ? sizeof(double) : sizeof(float), nn = (size_t)n * n;
  void *a = malloc(nn * es), *b = malloc(nn * es), *c = malloc(nn * es);
  if (!a || !b || !c) return 0;
  for (size_t i = 0; i < nn; i++) {
    if (f64) {
      ((double *)a)[i] = 1e-3 * (double)(i % 1000);
      ((double *)b)[i] = 1e-3 * (double)(i % 997);
    } else {
      ((float *)a)[i] = 1e-3f * (float)(i % 1000);
      ((float *)b)[i] = 1e-3f * (float)(i % 997);
    }
  }
  double best = 1e30;
  for (int r = 0; r < 3; r++) {
    double c0 = cpu();
    if (f64)
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0, a, n, b, n, 0.0, c, n);
    else
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c,
                  n);
    double d = cpu() - c0;
    best = d < best ? d : best;
  }
  free(a);
  free(b);
  free(c);
  return 2.0 * n * (double)nn / best / 1e9;
}

/* Each planned product of a step alone (CPU time, median of 9 rounds of 50),
 * on buffers of the right sizes; returns their sum in seconds. */
static double products_alone(rs_trainer *t, const char *name, bool print, double *flops) {
  const rs__gemm *plans[RS__MAX_PRODUCTS];
  rs__model *m = rs__trainer_model(t);
  int np = m->ops->plans(m, plans);
  double sum = 0;
  *flops = 0;
  for (int i = 0; i < np; i++) {
    const rs__gemm_shape *s = &plans[i]->s;
    size_t es = s->prec == RS_PREC_FLOAT64 ? 8 : 4;
    size_t na = (size_t)(s->ta ? s->k : s->m) * (size_t)s->lda;
    size_t nb = (size_t)(s->tb ? s->n : s->k) * (size_t)s->ldb;
    size_t nc = (size_t)s->m * (size_t)s->ldc;
    char *A = calloc(na, es), *B = calloc(nb, es), *C = calloc(nc, es);
    if (!A || !B || !C) return 0;
    for (size_t j = 0; j < na + nb; j++) { /* values of the order of activations */
      double v = 0.1 * (double)(j % 13) - 0.6;
      char *p = j < na ? A + j * es : B + (j - na) * es;
      if (es == 4) *(float *)(void *)p = (float)v;
      else *(double *)(void *)p = v;
    }
    double r[9];
    for (int k = 0; k < 9; k++) {
      double c0 = cpu();
      for (int j = 0; j < 50; j++) rs__gemm_run(plans[i], s->m, s->n, s->k, A, B, C);
      r[k] = (cpu() - c0) / 50;
    }
    double med = median(r, 9), f = 2.0 * s->m * (double)s->n * s->k;
    if (print)
      printf("product %-8s %2d: %4d x %4d x %4d %c%c %8.1f us %6.1f GFLOP/s (%s)\n", name, i,
             s->m, s->n, s->k, s->ta ? 'T' : 'N', s->tb ? 'T' : 'N', 1e6 * med, f / med / 1e9,
             rs__gemm_name(plans[i]));
    sum += med;
    *flops += f;
    free(A);
    free(B);
    free(C);
  }
  return sum;
}

int main(int argc, char **argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 1;
  int steps = argc > 2 ? atoi(argv[2]) : 2000;
  bool f64 = argc > 3 && strcmp(argv[3], "float64") == 0;
  const char *mode = argc > 4 ? argv[4] : "both";
  bool sgd = argc > 5 && strcmp(argv[5], "sgd") == 0;
  int rows = argc > 6 ? atoi(argv[6]) : 1000;
  char list[128];
  snprintf(list, sizeof list, "%s", argc > 7 ? argv[7] : "openblas,libxsmm");
  bool vib = argc > 8 && strcmp(argv[8], "vib") == 0;
  bool do_step = strcmp(mode, "floor") != 0, do_floor = strcmp(mode, "step") != 0;
  if (threads < 1 || steps < 10 || rows < 64) {
    fprintf(stderr, "usage: bench_train [threads>=1] [steps>=10] [float32|float64] "
                    "[both|step|floor] [adamw|sgd] [rows>=64] [backends=openblas,libxsmm] "
                    "[mlp|vib]\n");
    return 2;
  }
  openblas_set_num_threads(threads);
  const int widths[4] = {200, 200, 200, 200}, vw[2] = {1024, 1024};
  rs_config c;
  if (vib) { /* jobs/vib-mnist.yaml */
    fixture_config(&c, 2, vw);
    c.model.kind = RS_MODEL_VIB;
    c.model.latent = 256;
    c.model.eval_samples = 12;
    c.train.optimizer = RS_OPT_ADAM;
    c.train.beta1 = 0.5;
    c.train.weight_decay = 0;
    c.train.beta = 1e-3;
    c.train.batch = 100;
  } else {
    fixture_config(&c, 4, widths);
    c.train.optimizer = sgd ? RS_OPT_SGD : RS_OPT_ADAMW;
    c.train.weight_decay = 0.01;
    c.train.batch = 64;
  }
  c.train.lr = 1e-4;
  c.train.steps = 1000000;
  c.train.precision = f64 ? RS_PREC_FLOAT64 : RS_PREC_FLOAT32;
  c.train.flush_denormals = true; /* as every job by default (the fixture zeroes it) */
  rs_dataset *d = fixture_data(1, rows, 784, 10, 0, 1.0);
  enum { MAXS = 3, ROUNDS = 21 };
  static side sides[MAXS];
  int ns = 0;
  for (char *tok = strtok(list, ","); tok && ns < MAXS; tok = strtok(NULL, ",")) {
    if (!strcmp(tok, "openblas")) c.train.gemm = RS_GEMM_OPENBLAS;
    else if (!strcmp(tok, "libxsmm")) c.train.gemm = RS_GEMM_LIBXSMM;
    else if (!strcmp(tok, "auto")) c.train.gemm = RS_GEMM_AUTO;
    else {
      fprintf(stderr, "bench_train: backends: expected openblas, libxsmm or auto, got %s\n", tok);
      return 2;
    }
    sides[ns].name = tok;
    int rc = rs_trainer_create(&c, d, &sides[ns].t);
    if (rc != RS_OK) {
      rs_error_print(rc);
      return 1;
    }
    ns++;
  }
  bool div = false;
  int64_t done = 200;
  for (int i = 0; i < ns; i++) { /* warm-up */
    bool dv;
    rs_trainer_run_to(sides[i].t, done, &dv);
    div |= dv;
    for (int j = 0; j < 200; j++) rs__trainer_gemm_only(sides[i].t);
  }
  /* Alternate rounds (and sides within a round) so that every measurement
   * sees the same machine state. */
  int per = steps / ROUNDS > 0 ? steps / ROUNDS : 1;
  for (int r = 0; r < ROUNDS; r++) {
    done += per;
    for (int i0 = 0; i0 < ns; i0++) {
      side *S = &sides[(i0 + r) % ns];
      bool dv = false;
      double t0 = now(), c0 = cpu();
      if (do_step) rs_trainer_run_to(S->t, done, &dv);
      double t1 = now(), c1 = cpu();
      for (int i = 0; i < per && do_floor; i++) rs__trainer_gemm_only(S->t);
      double t2 = now(), c2 = cpu();
      div |= dv;
      S->st[r] = (t1 - t0) / per;
      S->ft[r] = (t2 - t1) / per;
      S->sc[r] = (c1 - c0) / per;
      S->fc[r] = (c2 - c1) / per;
    }
  }
  if (div) {
    fprintf(stderr, "bench_train: training diverged\n");
    return 1;
  }
  const char *core = getenv("OPENBLAS_CORETYPE");
  if (vib)
    printf("ranksweep train step: vib 784-1024-1024-(256) relu batch 100 adam %s\n",
           f64 ? "float64" : "float32");
  else
    printf("ranksweep train step: 784-200x4-10 relu batch 64 %s %s\n", sgd ? "sgd" : "adamw",
           f64 ? "float64" : "float32");
  printf("threads %d\n", threads);
  printf("training_rows %d\n", rows);
  printf("openblas_get_config %s\n", openblas_get_config());
  printf("openblas_get_corename %s\n", openblas_get_corename());
  printf("OPENBLAS_CORETYPE %s\n", core ? core : "(unset)");
  printf("libxsmm_target %s\n", rs_gemm_libxsmm_arch());
  printf("loadavg_1min %.2f\n", loadavg());
  double peak = peak_gflops(f64);
  printf("peak_%s_2048_openblas_gflops %.1f\n", f64 ? "dgemm" : "sgemm", peak);
  double xsmm_floor = 0, flops = 0;
  for (int i = 0; i < ns; i++) {
    double fl, sum = products_alone(sides[i].t, sides[i].name, true, &fl);
    printf("products_alone_%s_us %.1f (%.1f GFLOP/s)\n", sides[i].name, 1e6 * sum,
           fl / sum / 1e9);
    flops = fl;
  }
  for (int i = 0; i < ns; i++)
    if (!strcmp(sides[i].name, "libxsmm")) xsmm_floor = median(sides[i].fc, ROUNDS);
  printf("step_flops %.0f (the products of one step)\n", flops);
  for (int i = 0; i < ns; i++) {
    side *S = &sides[i];
    char b[96];
    rs_trainer_gemm_backend(S->t, b, sizeof b);
    double smin = S->st[0], fmin = S->ft[0];
    for (int r = 1; r < ROUNDS; r++) {
      smin = S->st[r] < smin ? S->st[r] : smin;
      fmin = S->ft[r] < fmin ? S->ft[r] : fmin;
    }
    double st = median(S->st, ROUNDS), ft = median(S->ft, ROUNDS);
    double sc = median(S->sc, ROUNDS), fc = median(S->fc, ROUNDS);
    printf("== train.gemm %s (%s)\n", S->name, b);
    printf("step_ms %.4f\n", 1e3 * st);
    printf("floor_ms %.4f\n", 1e3 * ft);
    printf("ratio_step_over_floor %.3f\n", st / ft);
    /* The fastest round of each: the least disturbed by other processes. */
    printf("step_min_ms %.4f\n", 1e3 * smin);
    printf("floor_min_ms %.4f\n", 1e3 * fmin);
    printf("ratio_min_step_over_floor %.3f\n", smin / fmin);
    printf("step_cpu_ms %.4f\n", 1e3 * sc);
    printf("floor_cpu_ms %.4f\n", 1e3 * fc);
    printf("ratio_cpu_step_over_floor %.3f\n", sc / fc);
    if (xsmm_floor > 0)
      printf("ratio_cpu_step_over_libxsmm_floor %.3f (target <= 1.3)\n", sc / xsmm_floor);
    if (do_step) /* (a floor-only run has no step time) */
      printf("step_gflops %.1f (products' FLOPs / step CPU time), %.0f%% of peak\n",
             flops / sc / 1e9, 100 * flops / sc / 1e9 / peak);
    printf("products_gflops %.1f (in the floor), %.0f%% of peak (target >= 60%%)\n",
           flops / fc / 1e9, 100 * flops / fc / 1e9 / peak);
    printf("final_loss %.6f\n", rs_trainer_last_loss(S->t));
  }
  for (int i = 0; i < ns; i++) rs_trainer_destroy(&sides[i].t);
  fixture_data_free(&d);
  return 0;
}
