/* What a job will cost before it runs (`ranksweep plan`), and the key
 * reference generated from the key table (docs/reference/keys.md is checked against
 * it by a test, so the documentation cannot drift from the parser). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job_internal.h"
#include "ranksweep/rs_error.h"
#include "ranksweep/rs_fpenv.h"
#include "ranksweep/rs_job.h"


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

static void human_bytes(double b, char *buf, size_t len) {
  if (b < 1e6)
    snprintf(buf, len, "%.0f kB", b / 1e3);
  else if (b < 1e9)
    snprintf(buf, len, "%.1f MB", b / 1e6);
  else
    snprintf(buf, len, "%.2f GB", b / 1e9);
}

/* ---- the time estimate: a per-unit cost model calibrated on this machine ----
 * Single-core CPU seconds per training step, per evaluation point measured
 * (all measured layers, one checkpoint) and per checkpoint's metrics: fixed
 * overheads plus FLOPs at a rate, with terms fitted to short measured runs of
 * every shipped job's shape (bench/plan-calibrate.sh; docs/benchmarks.md,
 * "Plan and ETA" gives the method and the plan-vs-measured tables). Two sets
 * of rates, both measured with Debian's OpenBLAS 0.3.21 on AVX-512 Xeons: its
 * generic Prescott kernel (SSE3), and its SkylakeX kernel (AVX-512), used for
 * every kernel of AVX2 or later; the one that matches the kernel OpenBLAS
 * runs now is taken. */
typedef struct {
  const char *name;
  double step_fixed;  /* s per step: optimiser bookkeeping, batch gather, calls */
  double step_f32;    /* FLOP/s of the GEMMs of a float32 step */
  double step_f64;    /* FLOP/s of the GEMMs of a float64 step */
  double vib_unit;    /* s per example and unit of a VIB step (sampling, softplus) */
  double point_layer; /* s per point and measured layer beyond the first */
  double point_nn;    /* s per point and weight n_l x n_(l-1) */
  double point_nnm;   /* s per point and n_l x n_(l-1) x min(n_l, d0) */
  double ckpt_fixed;  /* s per checkpoint: archive writes, weight spectra */
  double ckpt_flops;  /* FLOP/s of a checkpoint's loss/accuracy passes */
  double vib_eval;    /* s per VIB evaluation sample beyond the FLOPs */
} rs__rates;

static const rs__rates rs__rates_generic = {"generic kernel (Prescott)", 20e-6, 20e9, 10e9,
                                            25e-9, 10e-6, 27e-9, 70e-12, 1e-3, 9e9, 0.8e-6};
static const rs__rates rs__rates_vector = {"AVX2/AVX-512 kernel (SkylakeX)", 10e-6, 75e9, 37e9,
                                           25e-9, 10e-6, 17e-9, 45e-12, 1e-3,
                                           9e9, 0.8e-6};

static const rs__rates *rs__rates_now(void) {
  return rs_blas_kernel_is_generic() ? &rs__rates_generic : &rs__rates_vector;
}
/* SLURM --time: the estimate times this, plus a fixed margin. */
#define RS__SLURM_FACTOR 1.5
#define RS__SLURM_MARGIN 600.0

void rs_config_cost(const rs_config *c, rs_run_cost *out) { rs_config_cost_io(c, NULL, out); }

void rs_config_cost_io(const rs_config *c, const rs_run_io *io, rs_run_cost *out) {
  rs_run_shape sh;
  rs_config_shape(c, io, &sh);
  int d0 = sh.io.d0, L = sh.nmeasured;
  const int *w = sh.widths;
  double np = (double)sh.nparams;
  bool f64 = c->train.precision == RS_PREC_FLOAT64, vib = c->model.kind == RS_MODEL_VIB;
  double batch = c->train.batch;
  /* forward + backward: about 6 FLOPs per parameter and example */
  const rs__rates *k = rs__rates_now();
  out->step = k->step_fixed + 6.0 * np * batch / (f64 ? k->step_f64 : k->step_f32);
  if (vib) {
    double units = 3.0 * c->model.latent + 10;
    for (int i = 0; i < c->model.nwidths; i++) units += c->model.widths[i];
    out->step += k->vib_unit * batch * units;
  }
  /* The first measured layer's Jacobian is W_1 at every point: its spectrum
   * is computed once per checkpoint. Each later one goes through the
   * compressed factors of the local-rank plan. */
  out->point = 0;
  for (int l = 1; l < L; l++) {
    double nn = (double)w[l] * w[l - 1], m = w[l] < d0 ? w[l] : d0;
    out->point += k->point_layer + k->point_nn * nn + k->point_nnm * nn * m;
  }
  double evals = (double)c->data.train_size + c->data.heldout_size;
  if (vib && c->model.eval_samples > 1)
    evals = c->data.train_size + (double)c->data.heldout_size * c->model.eval_samples;
  out->ckpt = k->ckpt_fixed + 2.0 * np * evals / k->ckpt_flops + (vib ? k->vib_eval * evals : 0);
}

static void slurm_time(double s, char *buf, size_t len) {
  long t = (long)ceil(s / 60.0) * 60; /* whole minutes */
  long d = t / 86400, h = t % 86400 / 3600, m = t % 3600 / 60;
  if (d > 0) snprintf(buf, len, "%ld-%02ld:%02ld:00", d, h, m);
  else snprintf(buf, len, "%02ld:%02ld:00", h, m);
}

/* Run r's data dimensions: the files' own (o->io) where known, else NULL
 * (rs_config_io's estimate). */
static const rs_run_io *rs__plan_io(const rs_plan_opts *o, int r, const rs_config *c,
                                    rs_run_io *buf) {
  return o && o->io && o->io(o->io_ctx, r, c, buf) ? buf : NULL;
}

/* Runs an archive already holds (o->reused) cost nothing. */
static bool rs__plan_reused(const rs_plan_opts *o, int r) { return o && o->reused && o->reused[r]; }

static int rs__plan_time_print(const rs_job *job, const rs_plan_opts *o, FILE *out) {
  int R = rs_job_nruns(job);
  rs_config *c = malloc(sizeof *c);
  if (!c) return rs_error(RS_ENOMEM, "out of memory");
  double train_s = 0, measure_s = 0, ckpt_s = 0, longest = 0;
  for (int r = 0; r < R; r++) {
    if (rs__plan_reused(o, r)) continue;
    rs__job_run_into(job, r, c);
    rs_run_cost k;
    rs_run_io iob;
    const rs_run_io *io = rs__plan_io(o, r, c, &iob);
    rs_config_cost_io(c, io, &k);
    if (o && o->calibrate) {
      int rc = o->calibrate(o->calibrate_ctx, c, io, &k);
      if (rc != RS_OK) {
        free(c);
        return rc;
      }
    }
    int nck = rs_config_checkpoints(c, NULL, 0);
    double tr = k.step * (double)c->train.steps, ck = k.ckpt * nck;
    train_s += tr;
    ckpt_s += ck;
    measure_s += k.point * nck * c->measure.points;
    if (tr + ck > longest) longest = tr + ck;
  }
  free(c);
  double total = train_s + measure_s + ckpt_s;
  char tt[32], tm[32], tc[32], tsum[32];
  human_time(train_s, tt, sizeof tt);
  human_time(measure_s, tm, sizeof tm);
  human_time(ckpt_s, tc, sizeof tc);
  human_time(total, tsum, sizeof tsum);
  fprintf(out, "  time on one core     %s (training %s, measurement %s, checkpoint metrics %s)\n",
          tsum, tt, tm, tc);
  int ranks = o && o->ranks > 1 ? o->ranks : 1;
  if (ranks > 1) {
    /* One dispatcher, ranks - 1 workers; a run trains on one worker, so the
     * longest run bounds the wall time from below. */
    double wall = total / (ranks - 1);
    if (wall < longest) wall = longest;
    char tw[32], tl[32], ts[32];
    human_time(wall, tw, sizeof tw);
    human_time(longest, tl, sizeof tl);
    slurm_time(wall * RS__SLURM_FACTOR + RS__SLURM_MARGIN, ts, sizeof ts);
    fprintf(out, "  wall time on %d ranks %s (%d workers, one core each; the longest run alone "
                 "trains %s)\n", ranks, tw, ranks - 1, tl);
    fprintf(out, "  SLURM --time         %s (%.1fx the wall time + %.0f min)\n", ts,
            RS__SLURM_FACTOR, RS__SLURM_MARGIN / 60);
  }
  const rs__rates *k = rs__rates_now();
  fprintf(out,
          "assumptions (CPU time of one core, calibrated with Debian's OpenBLAS 0.3.21 on\n"
          "  AVX-512 Xeons, docs/benchmarks.md; rates for its %s,\n"
          "  as OpenBLAS runs '%s' now):\n"
          "  training step: %.0f us + 6 x parameters x batch FLOPs at %.0f GFLOP/s (float32)\n"
          "    or %.0f GFLOP/s (float64), VIB: + %.0f ns per example and unit;\n"
          "  measurement, per point and measured layer after the first: %.0f us + %.0f ns x\n"
          "    n_l x n_(l-1) + %.0f ps x n_l x n_(l-1) x min(n_l, d0);\n"
          "  checkpoint metrics: %.0f ms + 2 x parameters FLOPs per training and held-out\n"
          "    example at %.0f GFLOP/s; data loading and communication are ignored; data\n"
          "    files give their own dimensions (784 pixels and 10 classes where one cannot\n"
          "    be read yet).\n",
          k->name, rs_blas_kernel(), k->step_fixed * 1e6, k->step_f32 / 1e9, k->step_f64 / 1e9,
          k->vib_unit * 1e9, k->point_layer * 1e6, k->point_nn * 1e9, k->point_nnm * 1e12,
          k->ckpt_fixed * 1e3, k->ckpt_flops / 1e9);
  return RS_OK;
}

int rs_job_plan_print(const rs_job *job, FILE *out) {
  rs_plan_opts o = {.ranks = 1};
  return rs_job_plan_print_opts(job, &o, out);
}

int rs_job_plan_print_opts(const rs_job *job, const rs_plan_opts *o, FILE *out) {
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
  double steps = 0, ckpts = 0, svds = 0;
  int64_t pmin = INT64_MAX, pmax = 0;
  int nreused = 0;
  rs__archive_dims dims;
  rs__archive_dims_init(&dims);
  for (int r = 0; r < R; r++) {
    bool reused = rs__plan_reused(o, r);
    nreused += reused;
    fprintf(out, "%5d  %-*s", r, A ? (int)wname : 0, rs_job_run_name(job, r));
    for (int a = 0; a < A; a++)
      fprintf(out, "  %-*s", a < A - 1 || reused ? wax[a] : 0, rs_job_run_value(job, r, a));
    fputs(reused ? "  (reused)\n" : "\n", out);
    rs__job_run_into(job, r, c);
    rs_run_io iob;
    const rs_run_io *io = rs__plan_io(o, r, c, &iob);
    rs_run_shape sh;
    rs_config_shape(c, io, &sh);
    rs__archive_dims_add_io(&dims, c, io);
    int64_t np = sh.nparams;
    if (np < pmin) pmin = np;
    if (np > pmax) pmax = np;
    if (reused) continue;
    int nck = rs_config_checkpoints(c, NULL, 0);
    steps += (double)c->train.steps;
    ckpts += nck;
    svds += (double)nck * c->measure.points * sh.nmeasured;
  }
  free(wax);
  free(c);
  fprintf(out, "\ntotals%s\n", nreused ? " (without the reused runs)" : "");
  if (nreused)
    fprintf(out, "  runs                 %d (%d more reused from %s)\n", R - nreused, nreused,
            o->reused_from ? o->reused_from : "the old archive");
  else
    fprintf(out, "  runs                 %d\n", R);
  fprintf(out, "  training steps       %.0f\n", steps);
  fprintf(out, "  checkpoints          %.0f (including step 0 and the last step of each run)\n",
          ckpts);
  fprintf(out, "  Jacobian SVDs        %.0f (checkpoints x points x measured layers)\n", svds);
  if (pmin == pmax)
    fprintf(out, "  parameters per run   %" PRId64 "\n", pmin);
  else
    fprintf(out, "  parameters per run   %" PRId64 " to %" PRId64 "\n", pmin, pmax);
  char ab[32];
  human_bytes((double)rs__archive_dims_bytes(&dims), ab, sizeof ab);
  fprintf(out, "  archive size         about %s (allocated when the sweep starts; `run` checks the\n"
               "                       free space first)\n", ab);
  RS_CALL(rs__plan_time_print(job, o, out));
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
