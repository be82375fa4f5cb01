/* What a job will cost before it runs (`ranksweep plan`), and the key
 * reference generated from the key table (docs/reference/keys.md is checked against
 * it by a test, so the documentation cannot drift from the parser). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job_internal.h"
#include "ranksweep/rs_error.h"
#include "ranksweep/rs_job.h"

/* Stated in the plan's output; rough single-core rates of this machine kind. */
#define RS__TRAIN_FLOPS_F32 30e9
#define RS__TRAIN_FLOPS_F64 15e9
#define RS__MEASURE_FLOPS 5e9

static void human_time(double s, char *buf, size_t len) {
  if (s < 120)
    snprintf(buf, len, "%.1f s", s);
  else if (s < 7200)
    snprintf(buf, len, "%.1f min", s / 60);
  else if (s < 3 * 86400)
    snprintf(buf, len, "%.1f h", s / 3600);
  else
    snprintf(buf, len, "%.1f days", s / 86400);
}

/* FLOPs of one evaluation point's measurement: forming every measured
 * layer's Jacobian (J_l = W_l D J_{l-1}) and its SVD. */
static double point_flops(const rs_config *c, int *nlayers) {
  int d0, w[RS_MAX_LAYERS + 1];
  int L = rs__config_measured(c, &d0, w);
  double f = 0;
  for (int l = 0; l < L; l++) {
    double n = w[l], m = n < d0 ? n : d0;
    if (l > 0) f += 2.0 * n * w[l - 1] * d0;
    f += 4.0 * n * d0 * m;
  }
  *nlayers = L;
  return f;
}

/* Mirrors the archive's datasets (src/engine/archive.c, rs__dsets) at the
 * padded dimensions, the maxima over runs. Two figures are approximations:
 * the training state (parameters plus two optimiser moments) and the
 * weight-norm rows (one per weight layer). */
int64_t rs_job_archive_bytes(const rs_job *job) {
  int R = rs_job_nruns(job);
  double C = 1, L = 0, P = 0, E = 0, K = 0, W = 0, NP = 0, SB = 0;
  bool all = false;
  rs_config *c = malloc(sizeof *c);
  if (!c) return INT64_MAX;
  for (int r = 0; r < R; r++) {
    rs__job_run_into(job, r, c);
    int d0, w[RS_MAX_LAYERS + 1];
    int nl = rs__config_measured(c, &d0, w);
    double nck = rs_config_checkpoints(c, NULL, 0), np = (double)rs__config_nparams(c);
    double es = c->train.precision == RS_PREC_FLOAT64 ? 8 : 4;
    if (nck > C) C = nck;
    if (nl > L) L = nl;
    for (int l = 0; l < nl; l++)
      if ((w[l] < d0 ? w[l] : d0) > K) K = w[l] < d0 ? w[l] : d0;
    if (c->measure.points > P) P = c->measure.points;
    if (c->measure.neps > E) E = c->measure.neps;
    if (nl + 1 > W) W = nl + 1;
    if (c->measure.save_weights != RS_SAVE_NONE && np > NP) NP = np;
    if (c->measure.save_weights == RS_SAVE_ALL) all = true;
    if (3 * np * es + 256 > SB) SB = 3 * np * es + 256;
  }
  free(c);
  double e1 = E + 1, b = 0;
  b += R * C * L * e1 * 8;                  /* lr/mean */
  b += R * C * L * P * e1 * 4;              /* lr/counts */
  b += R * C * L * P * K * 4;               /* lr/spectra */
  b += R * C * L * P * 8 * 2;               /* lr/effrank, lr/stablerank */
  b += R * C * 8 * 6;                       /* the six scalar metrics */
  b += R * C * W * 8 * 2 + R * C * W * E * 4; /* weight norms and ranks */
  b += R * NP * 8 + (all ? R * C * NP * 8 : 0); /* weights */
  b += R * 2 * SB + R * 2 * 4 * 8;          /* training states */
  b += R * C * P + R * C * 2 + R * 4 + R * 8; /* masks, run status */
  b += R * (C * 8 + 64 + L * 8 + E * 8);    /* the run tables */
  return b > (double)INT64_MAX / 2 ? INT64_MAX / 2 : (int64_t)b;
}

static void human_bytes(double b, char *buf, size_t len) {
  if (b < 1e6)
    snprintf(buf, len, "%.0f kB", b / 1e3);
  else if (b < 1e9)
    snprintf(buf, len, "%.1f MB", b / 1e6);
  else
    snprintf(buf, len, "%.2f GB", b / 1e9);
}

int rs_job_plan_print(const rs_job *job, FILE *out) {
  int R = rs_job_nruns(job), A = rs_job_naxes(job);
  size_t wname = strlen("name");
  int *wax = calloc((size_t)(A > 0 ? A : 1), sizeof(int));
  if (!wax) return rs_error(RS_ENOMEM, "out of memory");
  for (int r = 0; r < R; r++) {
    size_t n = strlen(rs_job_run_name(job, r));
    if (n > wname) wname = n;
    for (int a = 0; a < A; a++) {
      int v = (int)strlen(rs_job_run_value(job, r, a));
      if (v > wax[a]) wax[a] = v;
    }
  }
  for (int a = 0; a < A; a++) {
    int k = (int)strlen(rs_job_axis_key(job, a));
    if (k > wax[a]) wax[a] = k;
  }
  fprintf(out, "job     %s\norigin  %s\nsha256  %s\n\n", rs_job_name(job), rs_job_origin(job),
          rs_job_hash(job));
  /* The last column is not padded: no trailing blanks. */
  fprintf(out, "%5s  %-*s", "index", A ? (int)wname : 0, "name");
  for (int a = 0; a < A; a++)
    fprintf(out, "  %-*s", a < A - 1 ? wax[a] : 0, rs_job_axis_key(job, a));
  fputc('\n', out);

  rs_config *c = malloc(sizeof *c);
  if (!c) {
    free(wax);
    return rs_error(RS_ENOMEM, "out of memory");
  }
  double steps = 0, ckpts = 0, svds = 0, train_s = 0, measure_s = 0;
  int64_t pmin = INT64_MAX, pmax = 0;
  for (int r = 0; r < R; r++) {
    fprintf(out, "%5d  %-*s", r, A ? (int)wname : 0, rs_job_run_name(job, r));
    for (int a = 0; a < A; a++)
      fprintf(out, "  %-*s", a < A - 1 ? wax[a] : 0, rs_job_run_value(job, r, a));
    fputc('\n', out);
    rs__job_run_into(job, r, c);
    int64_t np = rs__config_nparams(c);
    if (np < pmin) pmin = np;
    if (np > pmax) pmax = np;
    int nck = rs_config_checkpoints(c, NULL, 0), nl;
    double pf = point_flops(c, &nl);
    steps += (double)c->train.steps;
    ckpts += nck;
    svds += (double)nck * c->measure.points * nl;
    train_s += 6.0 * (double)np * c->train.batch * (double)c->train.steps /
               (c->train.precision == RS_PREC_FLOAT64 ? RS__TRAIN_FLOPS_F64 : RS__TRAIN_FLOPS_F32);
    measure_s += pf * nck * c->measure.points / RS__MEASURE_FLOPS;
  }
  free(wax);
  free(c);
  char tt[32], tm[32], tsum[32];
  human_time(train_s, tt, sizeof tt);
  human_time(measure_s, tm, sizeof tm);
  human_time(train_s + measure_s, tsum, sizeof tsum);
  fprintf(out, "\ntotals\n");
  fprintf(out, "  runs                 %d\n", R);
  fprintf(out, "  training steps       %.0f\n", steps);
  fprintf(out, "  checkpoints          %.0f (including step 0 and the last step of each run)\n",
          ckpts);
  fprintf(out, "  Jacobian SVDs        %.0f (checkpoints x points x measured layers)\n", svds);
  if (pmin == pmax)
    fprintf(out, "  parameters per run   %" PRId64 "\n", pmin);
  else
    fprintf(out, "  parameters per run   %" PRId64 " to %" PRId64 "\n", pmin, pmax);
  fprintf(out, "  time on one core     %s (training %s, measurement %s)\n", tsum, tt, tm);
  char ab[32];
  human_bytes((double)rs_job_archive_bytes(job), ab, sizeof ab);
  fprintf(out, "  archive size         about %s (allocated when the sweep starts; `run` checks the\n"
               "                       free space first)\n", ab);
  fprintf(out,
          "assumptions (rough; small networks run well below these rates):\n"
          "  training: 6 x parameters x batch FLOPs per step, at %.0f GFLOP/s in float32 or\n"
          "    %.0f GFLOP/s in float64;\n"
          "  measurement, per point and measured layer l: 2 x n_l x n_(l-1) x d0 FLOPs to form\n"
          "    the Jacobian and 4 x n_l x d0 x min(n_l, d0) for its SVD, at %.0f GFLOP/s;\n"
          "  data, I/O and communication are ignored; idx input is taken as 784 pixels and\n"
          "    10 classes.\n",
          RS__TRAIN_FLOPS_F32 / 1e9, RS__TRAIN_FLOPS_F64 / 1e9, RS__MEASURE_FLOPS / 1e9);
  return ferror(out) ? rs_error(RS_EIO, "cannot write the plan") : RS_OK;
}

/* Markdown cells: a '|' would end the cell. */
static void cell(FILE *out, const char *s, bool code) {
  fputs(code ? " `" : " ", out);
  for (; *s; s++) {
    if (*s == '|') fputc('\\', out);
    fputc(*s, out);
  }
  fputs(code ? "` |" : " |", out);
}

int rs_job_describe_keys(FILE *out) {
  fprintf(out, "| Key | Type | Default | Allowed | Meaning |\n|---|---|---|---|---|\n");
  for (int i = 0; i < rs__nkeys; i++) {
    const rs__key *k = &rs__keys[i];
    char allowed[512];
    rs__key_allowed(k, allowed, sizeof allowed);
    if (k->no_grid) snprintf(allowed + strlen(allowed), sizeof allowed - strlen(allowed),
                             "%s(not a grid axis)", allowed[0] ? " " : "");
    fputc('|', out);
    cell(out, k->key, true);
    cell(out, rs__key_type_name(k), false);
    cell(out, k->def, true);
    cell(out, allowed, false);
    cell(out, k->doc, false);
    fputc('\n', out);
  }
  return ferror(out) ? rs_error(RS_EIO, "cannot write the key reference") : RS_OK;
}
