/* Benchmark of the fast local-rank path: time per evaluation of npoints x
 * nmeasure layers (eps ladder + NumPy-tolerance count + full spectra), with
 * the OpenBLAS build and kernel recorded; optional check against the naive
 * reference and export of weights/points/results for bench/torch_localrank.py. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

#include "lr_io.h"
#include "lr_nets.h"
#include "measure_internal.h"
#include "ranksweep/rs_error.h"

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double cpu_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static void usage(void) {
  fprintf(stderr,
          "usage: bench_localrank [--kind random|lowrank] [--act relu|tanh|gelu|identity]\n"
          "                       [--sizes 784,200,200,200,200,10] [--points 128] [--threads N]\n"
          "                       [--reps R] [--seed S] [--check] [--export DIR] [--compress-ratio F]\n");
}

int main(int argc, char **argv) {
  const char *kind = "random", *act_s = "relu", *sizes_s = "784,200,200,200,200,10", *exp_dir = NULL;
  int npoints = 128, threads = 1, reps = 5, check = 0;
  uint64_t seed = 1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--check")) { check = 1; continue; }
    if (!v) { usage(); return 2; }
    if (!strcmp(a, "--kind")) kind = v;
    else if (!strcmp(a, "--act")) act_s = v;
    else if (!strcmp(a, "--sizes")) sizes_s = v;
    else if (!strcmp(a, "--points")) npoints = atoi(v);
    else if (!strcmp(a, "--threads")) threads = atoi(v);
    else if (!strcmp(a, "--reps")) reps = atoi(v);
    else if (!strcmp(a, "--seed")) seed = strtoull(v, NULL, 10);
    else if (!strcmp(a, "--export")) exp_dir = v;
    else if (!strcmp(a, "--compress-ratio")) rs__lr_compress_ratio = atof(v);
    else { usage(); return 2; }
    i++;
  }
  int sizes[RS_MAX_LAYERS + 3], ns = 0;
  for (const char *p = sizes_s; *p && ns < RS_MAX_LAYERS + 2;) {
    sizes[ns++] = (int)strtol(p, (char **)&p, 10);
    if (*p == ',') p++;
  }
  rs_activation act = !strcmp(act_s, "tanh") ? RS_ACT_TANH : !strcmp(act_s, "gelu") ? RS_ACT_GELU
                      : !strcmp(act_s, "identity") ? RS_ACT_IDENTITY : RS_ACT_RELU;
  lr_init init = !strcmp(kind, "lowrank") ? LR_INIT_LOWRANK : LR_INIT_FANIN;
  if (ns < 3 || npoints < 1 || reps < 1 || threads < 1) { usage(); return 2; }
  int nlayers = ns - 1, L = nlayers - 1;
  lr_net net;
  int rc = lr_net_make(&net, nlayers, sizes, L, act, init, 0.0, seed);
  if (rc != RS_OK) { fprintf(stderr, "bench_localrank: cannot build the network\n"); return 1; }
  double *x = malloc(sizeof(double) * (size_t)npoints * sizes[0]);
  lr_points(x, npoints, sizes[0], seed);
  double eps[3] = {0.1, 0.01, 0.001};
  size_t nspec = 0;
  for (int l = 1; l <= L; l++) nspec += (size_t)npoints * rs_spectrum_len(&net.view, l);
  rs_lr_points out = {3, eps, malloc(sizeof(int32_t) * (size_t)L * npoints * 4),
                      malloc(sizeof(double) * nspec), malloc(sizeof(double) * (size_t)L * npoints),
                      malloc(sizeof(double) * (size_t)L * npoints)};
  double *t = malloc(sizeof(double) * (size_t)reps), *tc = malloc(sizeof(double) * (size_t)reps);
  for (int r = 0; r < reps; r++) {
    double t0 = now(), c0 = cpu_now();
    rc = rs_localrank_points_mt(&net.view, x, npoints, threads, &out);
    t[r] = now() - t0;
    tc[r] = cpu_now() - c0;
    if (rc != RS_OK) { rs_error_print(rc); return 1; }
  }
  /* The split an engine can use: one plan per set of weights, then shards. */
  double tp0 = cpu_now();
  rs_lr_plan *plan = NULL;
  rc = rs_lr_plan_create(&net.view, &plan);
  double tplan = cpu_now() - tp0;
  if (rc != RS_OK) { rs_error_print(rc); return 1; }
  double *tq = malloc(sizeof(double) * (size_t)reps);
  for (int r = 0; r < reps; r++) {
    double c0 = cpu_now();
    rc = rs_lr_plan_points(plan, x, npoints, threads, &out);
    tq[r] = cpu_now() - c0;
    if (rc != RS_OK) { rs_error_print(rc); return 1; }
  }
  rs_lr_plan_destroy(&plan);
  qsort(tq, (size_t)reps, sizeof(double), cmp_double);
  qsort(t, (size_t)reps, sizeof(double), cmp_double);
  qsort(tc, (size_t)reps, sizeof(double), cmp_double);
  const char *ct = getenv("OPENBLAS_CORETYPE");
  printf("openblas_config %s\nopenblas_core %s\nOPENBLAS_CORETYPE %s\n", openblas_get_config(),
         openblas_get_corename(), ct ? ct : "(unset)");
  printf("network %s %s sizes %s points %d layers %d threads %d reps %d\n", kind, act_s, sizes_s,
         npoints, L, threads, reps);
  printf("ranksweep_time_s %.6f (min %.6f, max %.6f)\n", t[reps / 2], t[0], t[reps - 1]);
  printf("ranksweep_cpu_s %.6f (min %.6f; all threads)\n", tc[reps / 2], tc[0]);
  printf("plan_create_cpu_s %.6f plan_points_cpu_s %.6f\n", tplan, tq[reps / 2]);
  for (int l = 1; l <= L; l++) {
    double m[4] = {0};
    for (int p = 0; p < npoints; p++)
      for (int e = 0; e < 4; e++) m[e] += out.counts[((size_t)(l - 1) * npoints + p) * 4 + e];
    printf("layer %d mean counts eps0.1 %.4f eps0.01 %.4f eps0.001 %.4f numpy %.4f\n", l,
           m[0] / npoints, m[1] / npoints, m[2] / npoints, m[3] / npoints);
  }
  int status = 0;
  if (check) {
    rs_lr_points ref = {3, eps, malloc(sizeof(int32_t) * (size_t)L * npoints * 4),
                        malloc(sizeof(double) * nspec), NULL, NULL};
    double t0 = now();
    rc = rs__localrank_points_naive(&net.view, x, npoints, &ref);
    double tn = now() - t0;
    if (rc != RS_OK) { rs_error_print(rc); return 1; }
    long diff = 0;
    for (size_t i = 0; i < (size_t)L * npoints * 4; i++) diff += out.counts[i] != ref.counts[i];
    double worst = 0.0;
    size_t off = 0;
    for (int l = 1; l <= L; l++) {
      int len = rs_spectrum_len(&net.view, l);
      for (int p = 0; p < npoints; p++, off += len) {
        double smax = ref.spectra[off] > 0 ? ref.spectra[off] : 1.0;
        for (int i = 0; i < len; i++) {
          double e = fabs(out.spectra[off + i] - ref.spectra[off + i]) / smax;
          if (e > worst) worst = e;
        }
      }
    }
    printf("naive_time_s %.6f\ncheck counts_differing %ld max_rel_spectrum_error %.3e\n", tn, diff, worst);
    status = diff != 0 || worst > 1e-12;
    free(ref.counts);
    free(ref.spectra);
  }
  if (exp_dir) {
    char label[256];
    snprintf(label, sizeof label, "bench-%s-%s", kind, act_s);
    rc = lr_export(exp_dir, &net.view, x, npoints, &out, label);
    if (rc != RS_OK) { rs_error_print(rc); return 1; }
  }
  free(t); free(tc); free(tq); free(x); free(out.counts); free(out.spectra); free(out.effrank); free(out.stablerank);
  lr_net_free(&net);
  return status;
}
