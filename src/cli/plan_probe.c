/* `plan`'s calibration on the machine it runs on. The cost model's rates were
 * fitted on one CPU; another CPU's matrix products can be several times slower
 * or faster, and not by the same factor for every shape (on an AMD EPYC of the
 * Zen generation, the model was 2x to 5x low), nor by the same factor for the
 * training step, the local-rank measurement (LAPACK, float64) and the
 * checkpoint metrics. So for every distinct run shape of the job (up to a
 * time budget) the plan trains a copy of the run on random data of the same
 * dimensions for a fraction of a second, one BLAS thread, then measures the
 * local rank of two points and the checkpoint metrics on a small data set of
 * those weights, and scales that run's three modelled costs each by its own
 * measured / modelled ratio. Shapes beyond the budget, or whose step would
 * take too long to time, take the median ratios of the measured ones; small
 * shapes keep the model. */
#include "plan_probe.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ranksweep/rs_data.h"
#include "ranksweep/rs_error.h"
#include "ranksweep/rs_fpenv.h"
#include "ranksweep/rs_measure.h"
#include "ranksweep/rs_model.h"
#include "ranksweep/rs_rng.h"

/* Per shape: at least this much CPU time and this many timed steps. */
#define PROBE_MIN_S 0.08
#define PROBE_MIN_STEPS 3
#define PROBE_MAX_STEPS 20000
/* Untimed first: page faults, BLAS buffers, caches. */
#define PROBE_WARM_S 0.02
/* Evaluation points whose local rank is timed per shape. */
#define PROBE_POINTS 2
/* All shapes together; the modelled steps timed: from the shortest whose
 * cost is mostly matrix products (below, a step is mostly per-call overhead,
 * which these short runs measured up to twice too high on Zen while the model
 * stayed within 2x) to the longest that fits the budget. */
#define PROBE_BUDGET_S 2.0
#define PROBE_MIN_STEP_S 100e-6
#define PROBE_MAX_STEP_S 0.25

static double cpu_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Random inputs of the run's dimensions: the step's cost does not depend on
 * the values (subnormals aside, which the run's own flush setting governs). */
static int probe_data(const rs_config *c, const rs_run_io *iop, rs_dataset **out) {
  rs_run_io io;
  if (iop) io = *iop;
  else rs_config_io(c, &io);
  rs_dataset *d = *out = calloc(1, sizeof *d);
  if (!d) return rs_error(RS_ENOMEM, "plan: out of memory for the calibration data");
  d->dim = io.d0;
  d->outputs = io.outputs;
  d->classification = io.classification;
  d->ntrain = c->train.batch * 4;
  d->nheld = c->train.batch * 2; /* for the checkpoint metrics: a copy of the first rows */
  size_t n = (size_t)d->ntrain, nh = (size_t)d->nheld, dim = (size_t)d->dim;
  size_t nout = (size_t)d->outputs;
  d->xtrain = malloc(n * dim * sizeof(double));
  d->xheld = malloc(nh * dim * sizeof(double));
  if (io.classification) {
    d->ltrain = malloc(n * sizeof(int));
    d->lheld = malloc(nh * sizeof(int));
  } else {
    d->ytrain = calloc(n * nout, sizeof(double));
    d->yheld = calloc(nh * nout, sizeof(double));
  }
  if (!d->xtrain || !d->xheld ||
      (io.classification ? !d->ltrain || !d->lheld : !d->ytrain || !d->yheld))
    return rs_error(RS_ENOMEM, "plan: out of memory for the calibration data");
  rs_rng r;
  rs_rng_init(&r, 1, RS_STREAM_DATA, 0);
  for (size_t i = 0; i < n * dim; i++) d->xtrain[i] = rs_rng_normal(&r);
  for (size_t i = 0; i < n && d->ltrain; i++) d->ltrain[i] = (int)(i % nout);
  memcpy(d->xheld, d->xtrain, nh * dim * sizeof(double));
  if (d->lheld) memcpy(d->lheld, d->ltrain, nh * sizeof(int));
  return RS_OK;
}

/* CPU seconds of the local rank of one evaluation point of v's weights,
 * with the weight factorisations shared by the run's points, as in a
 * checkpoint; negative when it could not be timed. */
static double probe_point(const rs_netview *v, const rs_config *c, const rs_dataset *d) {
  if (v->nmeasure < 1) return -1;
  int L = v->nmeasure, P = PROBE_POINTS < d->ntrain ? PROBE_POINTS : d->ntrain;
  size_t spec = 0;
  for (int l = 1; l <= L; l++) spec += (size_t)P * rs_spectrum_len(v, l);
  int32_t *counts = malloc(sizeof(int32_t) * (size_t)L * P * (c->measure.neps + 1));
  double *spectra = malloc(sizeof(double) * spec);
  double *er = malloc(sizeof(double) * (size_t)L * P), *sr = malloc(sizeof(double) * (size_t)L * P);
  double sec = -1;
  if (counts && spectra && er && sr) {
    rs_lr_points res = {.neps = c->measure.neps, .eps = c->measure.eps, .counts = counts,
                        .spectra = spectra, .effrank = er, .stablerank = sr};
    rs_lr_plan *plan = NULL;
    double t0 = cpu_now();
    if (rs_lr_plan_create(v, &plan) == RS_OK) {
      double create = cpu_now() - t0;
      /* untimed first: the first LAPACK calls' workspaces and page faults,
       * which a checkpoint's many points share */
      if (rs_lr_plan_points(plan, d->xtrain, 1, 1, &res) == RS_OK) {
        double t1 = cpu_now();
        if (rs_lr_plan_points(plan, d->xtrain, P, 1, &res) == RS_OK) {
          int points = c->measure.points > 0 ? c->measure.points : 1;
          sec = (cpu_now() - t1) / P + create / points;
        }
      }
    }
    rs_lr_plan_destroy(&plan);
  }
  free(counts);
  free(spectra);
  free(er);
  free(sr);
  return sec;
}

/* CPU seconds of one checkpoint's metrics for c's data sizes: the weight
 * part (norms and ranks) as timed, the evaluation part scaled from the
 * probe's small data set by the number of points evaluated (the training
 * and held-out sets alike; a VIB draws eval_samples latents for every point
 * of both, here as in the run); negative when it could not be timed. */
static double probe_ckpt(rs_trainer *t, const rs_netview *v, const rs_config *c,
                         const rs_dataset *d) {
  rs_ckpt_metrics m;
  double t0 = cpu_now();
  if (rs_checkpoint_weight_metrics(v, c->measure.neps, c->measure.eps, &m) != RS_OK) return -1;
  double t1 = cpu_now();
  /* the whole checkpoint, the weight part again: the difference is the evaluation */
  if (rs_trainer_metrics(t, c, d, &m) != RS_OK) return -1;
  double weights = t1 - t0, evals = cpu_now() - t1 - weights;
  if (evals < 0) evals = 0;
  return weights + evals * ((double)c->data.train_size + c->data.heldout_size) /
                       ((double)d->ntrain + d->nheld);
}

/* CPU seconds of one training step of c's shape on this thread, then of one
 * evaluation point's measurement and one checkpoint's metrics with the
 * weights it reached (each negative when it could not be timed: out of
 * memory, divergence). */
static void probe_run(const rs_config *c0, const rs_run_io *io, double *step, double *point,
                      double *ckpt) {
  rs_config c = *c0;
  c.train.steps = INT64_MAX / 2; /* schedules stay in their first phase */
  rs_dataset *d = NULL;
  rs_trainer *t = NULL;
  *step = *point = *ckpt = -1;
  if (probe_data(&c, io, &d) == RS_OK && rs_trainer_create(&c, d, &t) == RS_OK) {
    bool div = false;
    int64_t s = 0;
    double w0 = cpu_now();
    for (int chunk = 1; !div && (s < 2 || cpu_now() - w0 < PROBE_WARM_S); chunk *= 2)
      rs_trainer_run_to(t, s += chunk, &div);
    /* in chunks that double, so that reading the clock costs nothing */
    double t0 = cpu_now(), el = 0;
    int n = 0, chunk = 1;
    while (!div && (n < PROBE_MIN_STEPS || el < PROBE_MIN_S) && n < PROBE_MAX_STEPS) {
      s += chunk;
      n += chunk;
      rs_trainer_run_to(t, s, &div);
      el = cpu_now() - t0;
      chunk *= 2;
    }
    rs_netview v;
    if (!div && n > 0) {
      *step = el / n;
      if (rs_trainer_view(t, &v) == RS_OK) { /* valid until the next call on t */
        if (c.measure.points > 0) *point = probe_point(&v, &c, d);
        *ckpt = probe_ckpt(t, &v, &c, d);
      }
    }
  }
  rs_trainer_destroy(&t);
  rs_dataset_destroy(&d);
  rs_error_clear();
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The median of the timed shapes' factors for cost w; 0 when none. */
static double median_factor(const rs_plan_probe *p, int w) {
  double f[RS_PLAN_PROBE_MAX];
  int n = 0;
  for (int i = 0; i < p->n; i++)
    if (p->e[i].factor[w] > 0) f[n++] = p->e[i].factor[w];
  if (n == 0) return 0;
  qsort(f, (size_t)n, sizeof f[0], cmp_double);
  return n % 2 ? f[n / 2] : 0.5 * (f[n / 2 - 1] + f[n / 2]);
}

/* The factor for cost w of a run whose shape is e: its own where timed; the
 * model for a small shape; else the timed shapes' median, and for a point or
 * a checkpoint timed nowhere, the training step's factor (the shape's own,
 * else the median). */
static double factor_for(const rs_plan_probe *p, const rs_plan_probe_entry *e, int w) {
  if (e && e->factor[RS_PROBE_STEP] < 0) return 1.0;
  if (e && e->factor[w] > 0) return e->factor[w];
  double m = median_factor(p, w);
  if (m > 0) return m;
  if (e && e->factor[RS_PROBE_STEP] > 0) return e->factor[RS_PROBE_STEP];
  m = median_factor(p, RS_PROBE_STEP);
  return m > 0 ? m : 1.0;
}

/* Runs of the same shape have the same modelled costs, which serve as key. */
static rs_plan_probe_entry *find(rs_plan_probe *p, const rs_run_cost *k) {
  for (int i = 0; i < p->n; i++)
    if (p->e[i].model.step == k->step && p->e[i].model.point == k->point &&
        p->e[i].model.ckpt == k->ckpt)
      return &p->e[i];
  return NULL;
}

int rs_plan_probe_calibrate(void *ctx, const rs_config *c, const rs_run_io *io, rs_run_cost *k) {
  rs_plan_probe *p = ctx;
  rs_plan_probe_entry *e = find(p, k);
  if (!e && p->n < RS_PLAN_PROBE_MAX) {
    e = &p->e[p->n++];
    e->model = *k;
    for (int w = 0; w < RS_PROBE_COSTS; w++) e->factor[w] = 0;
    if (k->step < PROBE_MIN_STEP_S) {
      for (int w = 0; w < RS_PROBE_COSTS; w++) e->factor[w] = -1; /* small: the model */
    } else if (p->spent < PROBE_BUDGET_S && k->step <= PROBE_MAX_STEP_S) {
      int threads = rs_blas_threads();
      rs_blas_set_threads(1);
      double t0 = cpu_now(), m[RS_PROBE_COSTS];
      probe_run(c, io, &m[RS_PROBE_STEP], &m[RS_PROBE_POINT], &m[RS_PROBE_CKPT]);
      rs_blas_set_threads(threads);
      p->spent += cpu_now() - t0;
      if (m[RS_PROBE_STEP] > 0 && k->step > 0) {
        e->factor[RS_PROBE_STEP] = m[RS_PROBE_STEP] / k->step;
        if (m[RS_PROBE_POINT] > 0 && k->point > 0)
          e->factor[RS_PROBE_POINT] = m[RS_PROBE_POINT] / k->point;
        if (m[RS_PROBE_CKPT] > 0 && k->ckpt > 0)
          e->factor[RS_PROBE_CKPT] = m[RS_PROBE_CKPT] / k->ckpt;
        p->nmeasured++;
      }
    }
  }
  k->step *= factor_for(p, e, RS_PROBE_STEP);
  k->point *= factor_for(p, e, RS_PROBE_POINT);
  k->ckpt *= factor_for(p, e, RS_PROBE_CKPT);
  return RS_OK;
}

/* "0.44" or "0.41 to 0.47": cost w's factor over the timed shapes. */
static void print_range(const rs_plan_probe *p, int w, FILE *out) {
  double lo = INFINITY, hi = 0;
  for (int i = 0; i < p->n; i++)
    if (p->e[i].factor[w] > 0) {
      if (p->e[i].factor[w] < lo) lo = p->e[i].factor[w];
      if (p->e[i].factor[w] > hi) hi = p->e[i].factor[w];
    }
  if (hi == 0) fprintf(out, "not timed");
  else if (hi / lo < 1.005) fprintf(out, "%.2f", lo);
  else fprintf(out, "%.2f to %.2f", lo, hi);
}

void rs_plan_probe_print(const rs_plan_probe *p, FILE *out) {
  if (p->n == 0) return;
  int small = 0;
  for (int i = 0; i < p->n; i++) small += p->e[i].factor[RS_PROBE_STEP] < 0;
  fprintf(out, "calibrated on this machine: ");
  if (p->nmeasured == 0) {
    fprintf(out, "%s\n", small == p->n ? "not needed (every run's step is under 0.1 ms)"
                                        : "no training step could be timed; the model as it is");
    return;
  }
  fprintf(out, "%d of the job's %d run shape%s timed for %.1f s of CPU in all (training on\n"
               "  random data, then %d points' local rank and one checkpoint's metrics, 1 BLAS\n"
               "  thread); measured / modelled step time ",
          p->nmeasured, p->n, p->n == 1 ? "" : "s", p->spent, PROBE_POINTS);
  print_range(p, RS_PROBE_STEP, out);
  fprintf(out, ", per point ");
  print_range(p, RS_PROBE_POINT, out);
  fprintf(out, ", per checkpoint ");
  print_range(p, RS_PROBE_CKPT, out);
  fprintf(out, ",\n  which scale each run's training, measurement and checkpoint costs above%s\n",
          p->nmeasured + small < p->n ? " (the shapes not timed: by the medians)" : "");
  if (small)
    fprintf(out, "  (%d shape%s with steps under 0.1 ms: the model as it is)\n", small,
            small == 1 ? "" : "s");
}
