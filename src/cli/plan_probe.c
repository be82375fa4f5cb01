/* `plan`'s calibration on the machine it runs on. The cost model's rates were
 * fitted on one CPU; another CPU's matrix products can be several times slower
 * or faster, and not by the same factor for every shape (on an AMD EPYC of the
 * Zen generation, the model was 2x to 5x low). So for every distinct training
 * shape of the job (up to a time budget) the plan trains a copy of the run on
 * random data of the same dimensions for a fraction of a second, one BLAS
 * thread, and scales that run's modelled costs (training step, measurement,
 * checkpoint metrics) by measured / modelled step time. Shapes beyond the
 * budget, or whose step would take too long to time, take the median factor
 * of the measured ones; small shapes keep the model. */
#include "plan_probe.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ranksweep/rs_data.h"
#include "ranksweep/rs_error.h"
#include "ranksweep/rs_fpenv.h"
#include "ranksweep/rs_model.h"
#include "ranksweep/rs_rng.h"

/* Per shape: at least this much CPU time and this many timed steps. */
#define PROBE_MIN_S 0.08
#define PROBE_MIN_STEPS 3
#define PROBE_MAX_STEPS 20000
/* Untimed first: page faults, BLAS buffers, caches. */
#define PROBE_WARM_S 0.02
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
  size_t n = (size_t)d->ntrain;
  d->xtrain = malloc(n * (size_t)d->dim * sizeof(double));
  if (io.classification) d->ltrain = malloc(n * sizeof(int));
  else d->ytrain = calloc(n * (size_t)d->outputs, sizeof(double));
  if (!d->xtrain || (io.classification ? !d->ltrain : !d->ytrain))
    return rs_error(RS_ENOMEM, "plan: out of memory for the calibration data");
  rs_rng r;
  rs_rng_init(&r, 1, RS_STREAM_DATA, 0);
  for (size_t i = 0; i < n * (size_t)d->dim; i++) d->xtrain[i] = rs_rng_normal(&r);
  for (size_t i = 0; i < n && d->ltrain; i++) d->ltrain[i] = (int)(i % (size_t)d->outputs);
  return RS_OK;
}

/* CPU seconds of one training step of c's shape on this thread, or a
 * negative value when it could not be timed (out of memory, divergence). */
static double probe_step(const rs_config *c0, const rs_run_io *io) {
  rs_config c = *c0;
  c.train.steps = INT64_MAX / 2; /* schedules stay in their first phase */
  rs_dataset *d = NULL;
  rs_trainer *t = NULL;
  double sec = -1;
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
    if (!div && n > 0) sec = el / n;
  }
  rs_trainer_destroy(&t);
  rs_dataset_destroy(&d);
  rs_error_clear();
  return sec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median_factor(const rs_plan_probe *p) {
  double f[RS_PLAN_PROBE_MAX];
  int n = 0;
  for (int i = 0; i < p->n; i++)
    if (p->e[i].factor > 0) f[n++] = p->e[i].factor;
  if (n == 0) return 1.0;
  qsort(f, (size_t)n, sizeof f[0], cmp_double);
  return n % 2 ? f[n / 2] : 0.5 * (f[n / 2 - 1] + f[n / 2]);
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
    e->factor = 0;
    if (k->step < PROBE_MIN_STEP_S) {
      e->factor = -1; /* small: the model as it is */
    } else if (p->spent < PROBE_BUDGET_S && k->step <= PROBE_MAX_STEP_S) {
      int threads = rs_blas_threads();
      rs_blas_set_threads(1);
      double t0 = cpu_now(), s = probe_step(c, io);
      rs_blas_set_threads(threads);
      p->spent += cpu_now() - t0;
      if (s > 0 && k->step > 0) {
        e->measured_step = s;
        e->factor = s / k->step;
        p->nmeasured++;
      }
    }
  }
  double f = e && e->factor > 0 ? e->factor : e && e->factor < 0 ? 1.0 : median_factor(p);
  k->step *= f;
  k->point *= f;
  k->ckpt *= f;
  return RS_OK;
}

void rs_plan_probe_print(const rs_plan_probe *p, FILE *out) {
  if (p->n == 0) return;
  double lo = INFINITY, hi = 0;
  for (int i = 0; i < p->n; i++)
    if (p->e[i].factor > 0) {
      if (p->e[i].factor < lo) lo = p->e[i].factor;
      if (p->e[i].factor > hi) hi = p->e[i].factor;
    }
  int small = 0;
  for (int i = 0; i < p->n; i++) small += p->e[i].factor < 0;
  fprintf(out, "calibrated on this machine: ");
  if (p->nmeasured == 0) {
    fprintf(out, "%s\n", small == p->n ? "not needed (every run's step is under 0.1 ms)"
                                        : "no training step could be timed; the model as it is");
    return;
  }
  fprintf(out, "%d of the job's %d run shape%s trained for %.1f s of CPU in all (random\n"
               "  data, 1 BLAS thread); measured / modelled step time ",
          p->nmeasured, p->n, p->n == 1 ? "" : "s", p->spent);
  if (hi / lo < 1.005) fprintf(out, "%.2f", lo);
  else fprintf(out, "%.2f to %.2f", lo, hi);
  fprintf(out, ", which scales each run's\n  training, measurement and checkpoint costs above%s\n",
          p->nmeasured + small < p->n ? " (the shapes not timed: by the median)" : "");
  if (small)
    fprintf(out, "  (%d shape%s with steps under 0.1 ms: the model as it is)\n", small,
            small == 1 ? "" : "s");
}
