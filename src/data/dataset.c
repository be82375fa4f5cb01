/* rs_dataset_create: checks that a run's configuration fits its data, builds
 * the train and held-out sets (synthetic or from IDX files) and picks the
 * local-rank evaluation points from the held-out set with RS_STREAM_EVAL. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ranksweep/rs_data.h"
#include "ranksweep/rs_error.h"
#include "ranksweep/rs_rng.h"
#include "data_internal.h"

/* Guards against sizes whose products overflow or that no machine holds. */
#define RS__MAX_VALUES ((int64_t)1 << 36)

#define RS__BIG (1 << 30)

static int rs__check_int(const char *key, int v, int lo, int hi) {
  if (v >= lo && v <= hi) return RS_OK;
  if (hi == RS__BIG)
    return rs_error(RS_EDATA, "%s: %d (expected an integer >= %d)", key, v, lo);
  return rs_error(RS_EDATA, "%s: %d (expected an integer from %d to %d)", key, v,
                  lo, hi);
}

static int rs__check_real(const char *key, double v, double lo, double hi) {
  if (isfinite(v) && v >= lo && v <= hi) return RS_OK;
  if (isinf(lo) && isinf(hi))
    return rs_error(RS_EDATA, "%s: %g (expected a finite number)", key, v);
  if (isinf(hi))
    return rs_error(RS_EDATA, "%s: %g (expected a finite number >= %g)", key, v, lo);
  return rs_error(RS_EDATA, "%s: %g (expected a number from %g to %g)", key, v,
                  lo, hi);
}

static int rs__check_config(const rs_config *cfg) {
  const int big = RS__BIG;
  RS_CALL(rs__check_int("data.train_size", cfg->data.train_size, 1, big));
  RS_CALL(rs__check_int("data.heldout_size", cfg->data.heldout_size, 1, big));
  RS_CALL(rs__check_int("measure.points", cfg->measure.points, 0, big));
  if (cfg->measure.points > cfg->data.heldout_size)
    return rs_error(RS_EDATA,
                    "measure.points: %d exceeds data.heldout_size %d (expected "
                    "at most %d: evaluation points are drawn from the held-out "
                    "set)",
                    cfg->measure.points, cfg->data.heldout_size,
                    cfg->data.heldout_size);
  switch (cfg->data.kind) {
  case RS_DATA_GAUSSIAN_MIXTURE:
    RS_CALL(rs__check_int("data.dim", cfg->data.dim, 1, big));
    RS_CALL(rs__check_int("data.classes", cfg->data.classes, 2, big));
    RS_CALL(rs__check_real("data.mean_scale", cfg->data.mean_scale, 0, HUGE_VAL));
    RS_CALL(rs__check_real("data.noise", cfg->data.noise, 0, HUGE_VAL));
    break;
  case RS_DATA_TEACHER:
    RS_CALL(rs__check_int("data.dim", cfg->data.dim, 1, big));
    RS_CALL(rs__check_int("data.teacher_rank", cfg->data.teacher_rank, 1,
                          cfg->data.dim));
    RS_CALL(rs__check_int("data.teacher_width", cfg->data.teacher_width, 1, big));
    RS_CALL(rs__check_int("data.outputs", cfg->data.outputs, 1, big));
    RS_CALL(rs__check_real("data.noise", cfg->data.noise, 0, HUGE_VAL));
    break;
  case RS_DATA_GAUSSIAN_IB:
    RS_CALL(rs__check_int("data.dim", cfg->data.dim, 1, big));
    RS_CALL(rs__check_int("data.rho (count)", cfg->data.nrho, 1,
                          cfg->data.dim < RS_MAX_RHO ? cfg->data.dim : RS_MAX_RHO));
    for (int i = 0; i < cfg->data.nrho; i++) {
      char key[32];
      snprintf(key, sizeof key, "data.rho[%d]", i);
      RS_CALL(rs__check_real(key, cfg->data.rho[i], -1, 1));
    }
    break;
  case RS_DATA_IDX:
    if (cfg->data.images[0] == '\0' || cfg->data.labels[0] == '\0')
      return rs_error(RS_EDATA, "data.%s: empty (expected the path of an IDX "
                      "file, gzip or raw)",
                      cfg->data.images[0] == '\0' ? "images" : "labels");
    if ((cfg->data.heldout_images[0] == '\0') != (cfg->data.heldout_labels[0] == '\0'))
      return rs_error(RS_EDATA,
                      "data.%s: empty while data.%s is set (expected both "
                      "held-out files or neither)",
                      cfg->data.heldout_images[0] == '\0' ? "heldout_images"
                                                          : "heldout_labels",
                      cfg->data.heldout_images[0] == '\0' ? "heldout_labels"
                                                          : "heldout_images");
    RS_CALL(rs__check_real("data.mean", cfg->data.mean, -HUGE_VAL, HUGE_VAL));
    if (!isfinite(cfg->data.std) || cfg->data.std <= 0)
      return rs_error(RS_EDATA, "data.std: %g (expected a number > 0)",
                      cfg->data.std);
    break;
  default:
    return rs_error(RS_EDATA, "data.kind: %d (expected gaussian_mixture, "
                    "teacher, gaussian_ib or idx)", (int)cfg->data.kind);
  }
  return RS_OK;
}

static void *rs__alloc(int64_t rows, int64_t cols, size_t elem, int *err) {
  if (*err != RS_OK) return NULL;
  if (rows == 0 || cols == 0) return NULL;
  if (rows * cols > RS__MAX_VALUES) {
    *err = rs_error(RS_EDATA, "%lld x %lld values is too large (expected at "
                    "most 2^36 values per array)", (long long)rows, (long long)cols);
    return NULL;
  }
  void *p = calloc((size_t)(rows * cols), elem);
  if (p == NULL)
    *err = rs_error(RS_ENOMEM, "out of memory allocating %lld x %lld values",
                    (long long)rows, (long long)cols);
  return p;
}

static int rs__dataset_alloc(rs_dataset *d) {
  int err = RS_OK;
  d->xtrain = rs__alloc(d->ntrain, d->dim, sizeof(double), &err);
  d->xheld = rs__alloc(d->nheld, d->dim, sizeof(double), &err);
  d->xeval = rs__alloc(d->neval, d->dim, sizeof(double), &err);
  d->eval_index = rs__alloc(d->neval, 1, sizeof(int64_t), &err);
  if (d->classification) {
    d->ltrain = rs__alloc(d->ntrain, 1, sizeof(int), &err);
    d->lheld = rs__alloc(d->nheld, 1, sizeof(int), &err);
  } else {
    d->ytrain = rs__alloc(d->ntrain, d->outputs, sizeof(double), &err);
    d->yheld = rs__alloc(d->nheld, d->outputs, sizeof(double), &err);
  }
  return err;
}

void rs_dataset_destroy(rs_dataset **d) {
  if (d == NULL || *d == NULL) return;
  rs_dataset *p = *d;
  free(p->xtrain);
  free(p->ltrain);
  free(p->ytrain);
  free(p->xheld);
  free(p->lheld);
  free(p->yheld);
  free(p->xeval);
  free(p->eval_index);
  free(p);
  *d = NULL;
}

int rs__idx_subsets(uint64_t seed, int64_t navail, int separate,
                    int64_t nheld_avail, int64_t ntrain, int64_t nheld,
                    int64_t *train_idx, int64_t *held_idx) {
  RS_ASSERT(separate ? ntrain <= navail && nheld <= nheld_avail
                     : ntrain + nheld <= navail);
  int64_t nperm = separate && nheld_avail > navail ? nheld_avail : navail;
  int64_t *perm = malloc((size_t)nperm * sizeof *perm);
  if (perm == NULL) return rs_error(RS_ENOMEM, "out of memory (subset choice)");
  rs_rng r;
  rs_rng_init(&r, seed, RS_STREAM_DATA, 2);
  rs_rng_permutation(&r, navail, perm);
  memcpy(train_idx, perm, (size_t)ntrain * sizeof *perm);
  if (separate) {
    rs_rng_permutation(&r, nheld_avail, perm);
    memcpy(held_idx, perm, (size_t)nheld * sizeof *perm);
  } else {
    memcpy(held_idx, perm + ntrain, (size_t)nheld * sizeof *perm);
  }
  free(perm);
  return RS_OK;
}

typedef struct {
  const char *ipath, *lpath;
  int64_t n, itemsize;
  rs__idx_buf *ib, *lb;
  const unsigned char *img, *lab;
  int maxlabel;
} rs__idx_pair;

static int rs__idx_pair_load(const char *ipath, const char *lpath,
                             rs__idx_pair *p) {
  p->ipath = ipath;
  p->lpath = lpath;
  RS_CALL(rs__idx_get(ipath, 3, &p->ib));
  p->n = p->ib->n;
  p->itemsize = p->ib->itemsize;
  p->img = p->ib->bytes;
  RS_CALL(rs__idx_get(lpath, 1, &p->lb));
  p->lab = p->lb->bytes;
  int64_t nl = p->lb->n;
  if (nl != p->n)
    return rs_error(RS_EDATA, "%s: %lld labels but %s holds %lld images "
                    "(expected one label per image)",
                    lpath, (long long)nl, ipath, (long long)p->n);
  p->maxlabel = 0;
  for (int64_t i = 0; i < nl; i++)
    if (p->lab[i] > p->maxlabel) p->maxlabel = p->lab[i];
  return RS_OK;
}

static void rs__idx_pair_free(rs__idx_pair *p) {
  rs__idx_put(&p->ib);
  rs__idx_put(&p->lb);
  p->img = p->lab = NULL;
}

static void rs__idx_copy(const rs__idx_pair *p, const double *table,
                         const int64_t *idx, int64_t n, double *x, int *l) {
  for (int64_t s = 0; s < n; s++) {
    const unsigned char *src = p->img + idx[s] * p->itemsize;
    double *dst = x + s * p->itemsize;
    for (int64_t i = 0; i < p->itemsize; i++) dst[i] = table[src[i]];
    l[s] = p->lab[idx[s]];
  }
}

static int rs__idx_build(const rs_config *cfg, uint64_t seed, rs_dataset *d) {
  rs__idx_pair tr = {0}, he = {0};
  int64_t *tidx = NULL, *hidx = NULL;
  int err = RS_OK;
  int separate = cfg->data.heldout_images[0] != '\0';
#define RS__TRY(expr)                                                    \
  do {                                                                   \
    err = (expr);                                                        \
    if (err != RS_OK) {                                                  \
      rs__error_trace(__FILE__, __LINE__, __func__);                     \
      goto done;                                                         \
    }                                                                    \
  } while (0)
  RS__TRY(rs__idx_pair_load(cfg->data.images, cfg->data.labels, &tr));
  int maxlabel = tr.maxlabel;
  if (separate) {
    RS__TRY(rs__idx_pair_load(cfg->data.heldout_images, cfg->data.heldout_labels,
                              &he));
    if (he.itemsize != tr.itemsize) {
      err = rs_error(RS_EDATA, "%s: images of %lld pixels but %s has %lld "
                     "(expected the same image size)",
                     he.ipath, (long long)he.itemsize, tr.ipath,
                     (long long)tr.itemsize);
      goto done;
    }
    if (he.maxlabel > maxlabel) maxlabel = he.maxlabel;
    if (cfg->data.train_size > tr.n) {
      err = rs_error(RS_EDATA, "%s: data.train_size %d exceeds the %lld images "
                     "in the file (expected at most %lld)",
                     tr.ipath, cfg->data.train_size, (long long)tr.n,
                     (long long)tr.n);
      goto done;
    }
    if (cfg->data.heldout_size > he.n) {
      err = rs_error(RS_EDATA, "%s: data.heldout_size %d exceeds the %lld "
                     "images in the file (expected at most %lld)",
                     he.ipath, cfg->data.heldout_size, (long long)he.n,
                     (long long)he.n);
      goto done;
    }
  } else if ((int64_t)cfg->data.train_size + cfg->data.heldout_size > tr.n) {
    err = rs_error(RS_EDATA, "%s: data.train_size %d + data.heldout_size %d "
                   "exceeds the %lld images in the file (expected at most %lld: "
                   "without held-out files both sets are disjoint subsets of "
                   "this file)",
                   tr.ipath, cfg->data.train_size, cfg->data.heldout_size,
                   (long long)tr.n, (long long)tr.n);
    goto done;
  }
  if (maxlabel < 1) {
    err = rs_error(RS_EDATA, "%s: every label is 0 (expected at least two "
                   "classes, labels 0..K-1)", tr.lpath);
    goto done;
  }
  d->dim = (int)tr.itemsize;
  d->outputs = maxlabel + 1;
  d->classification = true;
  d->ntrain = cfg->data.train_size;
  d->nheld = cfg->data.heldout_size;
  d->neval = cfg->measure.points;
  RS__TRY(rs__dataset_alloc(d));
  tidx = malloc((size_t)d->ntrain * sizeof *tidx);
  hidx = malloc((size_t)d->nheld * sizeof *hidx);
  if (tidx == NULL || hidx == NULL) {
    err = rs_error(RS_ENOMEM, "out of memory (subset indices)");
    goto done;
  }
  RS__TRY(rs__idx_subsets(seed, tr.n, separate, separate ? he.n : 0, d->ntrain,
                          d->nheld, tidx, hidx));
  double table[256];
  for (int v = 0; v < 256; v++)
    table[v] = ((double)v / 255.0 - cfg->data.mean) / cfg->data.std;
  rs__idx_copy(&tr, table, tidx, d->ntrain, d->xtrain, d->ltrain);
  rs__idx_copy(separate ? &he : &tr, table, hidx, d->nheld, d->xheld, d->lheld);
#undef RS__TRY
done:
  free(tidx);
  free(hidx);
  rs__idx_pair_free(&tr);
  rs__idx_pair_free(&he);
  return err;
}

static int rs__eval_points(uint64_t seed, rs_dataset *d) {
  if (d->neval == 0) return RS_OK;
  int64_t *perm = malloc((size_t)d->nheld * sizeof *perm);
  if (perm == NULL) return rs_error(RS_ENOMEM, "out of memory (evaluation points)");
  rs_rng r;
  rs_rng_init(&r, seed, RS_STREAM_EVAL, 0);
  rs_rng_permutation(&r, d->nheld, perm);
  for (int i = 0; i < d->neval; i++) {
    d->eval_index[i] = perm[i];
    memcpy(d->xeval + (size_t)i * d->dim, d->xheld + (size_t)perm[i] * d->dim,
           (size_t)d->dim * sizeof(double));
  }
  free(perm);
  return RS_OK;
}

static int rs__dataset_build(const rs_config *cfg, rs_dataset *d) {
  uint64_t seed = rs__data_seed(cfg);
  if (cfg->data.kind == RS_DATA_IDX) {
    RS_CALL(rs__idx_build(cfg, seed, d));
  } else {
    d->dim = cfg->data.dim;
    d->classification = cfg->data.kind == RS_DATA_GAUSSIAN_MIXTURE;
    d->outputs = cfg->data.kind == RS_DATA_GAUSSIAN_MIXTURE ? cfg->data.classes
                 : cfg->data.kind == RS_DATA_TEACHER        ? cfg->data.outputs
                                                            : cfg->data.nrho;
    d->ntrain = cfg->data.train_size;
    d->nheld = cfg->data.heldout_size;
    d->neval = cfg->measure.points;
    RS_CALL(rs__dataset_alloc(d));
    RS_CALL(rs__synthetic_fill(cfg, seed, d));
  }
  RS_CALL(rs__eval_points(seed, d));
  return RS_OK;
}

int rs_dataset_create(const rs_config *cfg, rs_dataset **out) {
  RS_ASSERT(cfg != NULL && out != NULL);
  *out = NULL;
  RS_CALL(rs__check_config(cfg));
  rs_dataset *d = calloc(1, sizeof *d);
  if (d == NULL) return rs_error(RS_ENOMEM, "out of memory (dataset)");
  int err = rs__dataset_build(cfg, d);
  if (err != RS_OK) {
    rs_dataset_destroy(&d);
    rs__error_trace(__FILE__, __LINE__, __func__);
    return err;
  }
  *out = d;
  return RS_OK;
}
