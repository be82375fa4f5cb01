/* The synthetic tasks: Gaussian-mixture classification, low-rank teacher
 * regression and the Gaussian information-bottleneck pair. The task comes from
 * RS_STREAM_TEACHER, the samples from RS_STREAM_DATA (index 0 train, 1 held
 * out), in a fixed per-sample draw order documented in docs/guide.md, "Data sets". */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ranksweep/rs_data.h"
#include "ranksweep/rs_error.h"
#include "data_internal.h"

uint64_t rs__data_seed(const rs_config *cfg) {
  return cfg->data.seed >= 0 ? (uint64_t)cfg->data.seed : (uint64_t)cfg->seed;
}

void rs__mixture_means(const rs_config *cfg, uint64_t seed, double *mu) {
  rs_rng r;
  rs_rng_init(&r, seed, RS_STREAM_TEACHER, 0);
  size_t len = (size_t)cfg->data.classes * (size_t)cfg->data.dim;
  for (size_t i = 0; i < len; i++) mu[i] = cfg->data.mean_scale * rs_rng_normal(&r);
}

int rs__teacher_create(const rs_config *cfg, uint64_t seed, rs__teacher **out) {
  rs__teacher *t = calloc(1, sizeof *t);
  if (t == NULL) return rs_error(RS_ENOMEM, "out of memory (teacher)");
  t->dim = cfg->data.dim;
  t->rank = cfg->data.teacher_rank;
  t->width = cfg->data.teacher_width;
  t->outputs = cfg->data.outputs;
  size_t np = (size_t)t->dim * t->rank, n1 = (size_t)t->width * t->rank,
         n2 = (size_t)t->outputs * t->width;
  t->P = malloc(np * sizeof *t->P);
  t->W1 = malloc(n1 * sizeof *t->W1);
  t->W2 = malloc(n2 * sizeof *t->W2);
  if (!t->P || !t->W1 || !t->W2) {
    rs__teacher_destroy(&t);
    return rs_error(RS_ENOMEM, "out of memory (teacher)");
  }
  /* Order: P, W1, W2, each row-major; scales 1/sqrt(fan_in). */
  rs_rng r;
  rs_rng_init(&r, seed, RS_STREAM_TEACHER, 0);
  double s = 1.0 / sqrt((double)t->dim);
  for (size_t i = 0; i < np; i++) t->P[i] = s * rs_rng_normal(&r);
  s = 1.0 / sqrt((double)t->rank);
  for (size_t i = 0; i < n1; i++) t->W1[i] = s * rs_rng_normal(&r);
  s = 1.0 / sqrt((double)t->width);
  for (size_t i = 0; i < n2; i++) t->W2[i] = s * rs_rng_normal(&r);
  *out = t;
  return RS_OK;
}

void rs__teacher_destroy(rs__teacher **t) {
  if (t == NULL || *t == NULL) return;
  free((*t)->P);
  free((*t)->W1);
  free((*t)->W2);
  free(*t);
  *t = NULL;
}

void rs__teacher_eval(const rs__teacher *t, const double *x, double *y,
                      double *work) {
  double *u = work, *h = work + t->rank;
  for (int j = 0; j < t->rank; j++) u[j] = 0.0;
  for (int i = 0; i < t->dim; i++) {
    const double *pi = t->P + (size_t)i * t->rank;
    for (int j = 0; j < t->rank; j++) u[j] += pi[j] * x[i];
  }
  for (int a = 0; a < t->width; a++) {
    const double *w = t->W1 + (size_t)a * t->rank;
    double acc = 0.0;
    for (int j = 0; j < t->rank; j++) acc += w[j] * u[j];
    h[a] = tanh(acc);
  }
  for (int o = 0; o < t->outputs; o++) {
    const double *w = t->W2 + (size_t)o * t->width;
    double acc = 0.0;
    for (int a = 0; a < t->width; a++) acc += w[a] * h[a];
    y[o] = acc;
  }
}

/* One set (train: index 0, held out: index 1) of n samples. */
static void rs__mixture_set(const rs_config *cfg, const double *mu, rs_rng *r,
                            int n, double *x, int *l) {
  int dim = cfg->data.dim, K = cfg->data.classes;
  for (int s = 0; s < n; s++) {
    int k = (int)rs_rng_below(r, (uint64_t)K);
    l[s] = k;
    double *xs = x + (size_t)s * dim;
    const double *m = mu + (size_t)k * dim;
    for (int i = 0; i < dim; i++) xs[i] = m[i] + cfg->data.noise * rs_rng_normal(r);
  }
}

static void rs__teacher_set(const rs_config *cfg, const rs__teacher *t,
                            rs_rng *r, int n, double *x, double *y,
                            double *work) {
  int dim = t->dim, out = t->outputs;
  for (int s = 0; s < n; s++) {
    double *xs = x + (size_t)s * dim, *ys = y + (size_t)s * out;
    for (int i = 0; i < dim; i++) xs[i] = rs_rng_normal(r);
    rs__teacher_eval(t, xs, ys, work);
    /* Drawn even when noise is 0, so x does not depend on the noise level. */
    for (int o = 0; o < out; o++) ys[o] += cfg->data.noise * rs_rng_normal(r);
  }
}

static void rs__ib_set(const rs_config *cfg, rs_rng *r, int n, double *x,
                       double *y) {
  int dim = cfg->data.dim, nr = cfg->data.nrho;
  double c[RS_MAX_RHO];
  for (int i = 0; i < nr; i++) c[i] = sqrt(1.0 - cfg->data.rho[i] * cfg->data.rho[i]);
  for (int s = 0; s < n; s++) {
    double *xs = x + (size_t)s * dim, *ys = y + (size_t)s * nr;
    for (int i = 0; i < nr; i++) ys[i] = rs_rng_normal(r);
    for (int i = 0; i < dim; i++) {
      double z = rs_rng_normal(r);
      xs[i] = i < nr ? cfg->data.rho[i] * ys[i] + c[i] * z : z;
    }
  }
}

int rs__synthetic_fill(const rs_config *cfg, uint64_t seed, rs_dataset *d) {
  rs_rng rt, rh;
  rs_rng_init(&rt, seed, RS_STREAM_DATA, 0);
  rs_rng_init(&rh, seed, RS_STREAM_DATA, 1);
  switch (cfg->data.kind) {
  case RS_DATA_GAUSSIAN_MIXTURE: {
    double *mu = malloc((size_t)cfg->data.classes * cfg->data.dim * sizeof *mu);
    if (mu == NULL) return rs_error(RS_ENOMEM, "out of memory (class means)");
    rs__mixture_means(cfg, seed, mu);
    rs__mixture_set(cfg, mu, &rt, d->ntrain, d->xtrain, d->ltrain);
    rs__mixture_set(cfg, mu, &rh, d->nheld, d->xheld, d->lheld);
    free(mu);
    return RS_OK;
  }
  case RS_DATA_TEACHER: {
    rs__teacher *t = NULL;
    RS_CALL(rs__teacher_create(cfg, seed, &t));
    double *work = malloc(((size_t)t->rank + t->width) * sizeof *work);
    if (work == NULL) {
      rs__teacher_destroy(&t);
      return rs_error(RS_ENOMEM, "out of memory (teacher)");
    }
    rs__teacher_set(cfg, t, &rt, d->ntrain, d->xtrain, d->ytrain, work);
    rs__teacher_set(cfg, t, &rh, d->nheld, d->xheld, d->yheld, work);
    free(work);
    rs__teacher_destroy(&t);
    return RS_OK;
  }
  case RS_DATA_GAUSSIAN_IB:
    rs__ib_set(cfg, &rt, d->ntrain, d->xtrain, d->ytrain);
    rs__ib_set(cfg, &rh, d->nheld, d->xheld, d->yheld);
    return RS_OK;
  case RS_DATA_IDX:
  case RS_DATA_NPY:
    break;
  }
  RS_ASSERT(0 && "not a synthetic kind");
  return RS_EINTERNAL;
}
