/* rs_dataset_create: checks that a run's configuration fits its data, builds
 * the train and held-out sets (synthetic, or from IDX or .npy files with their
 * labels or targets and the input normalisation) and picks the
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

/* The bounds are the key table's (rs_config.h): a configuration made by hand
 * meets the same rules as a job file. Only measure.points may be 0 here (a
 * data set without evaluation points), which a job file cannot ask for. */
static int rs__check_config(const rs_config *cfg) {
  const int big = RS__BIG;
  RS_CALL(rs__check_int("data.train_size", cfg->data.train_size, RS_MIN_EXAMPLES, big));
  RS_CALL(rs__check_int("data.heldout_size", cfg->data.heldout_size, RS_MIN_EXAMPLES, big));
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
    RS_CALL(rs__check_int("data.dim", cfg->data.dim, RS_MIN_DIM, big));
    RS_CALL(rs__check_int("data.classes", cfg->data.classes, RS_MIN_CLASSES, big));
    RS_CALL(rs__check_real("data.mean_scale", cfg->data.mean_scale, RS_MIN_SPREAD, HUGE_VAL));
    RS_CALL(rs__check_real("data.noise", cfg->data.noise, RS_MIN_SPREAD, HUGE_VAL));
    break;
  case RS_DATA_TEACHER:
    RS_CALL(rs__check_int("data.dim", cfg->data.dim, RS_MIN_DIM, big));
    RS_CALL(rs__check_int("data.teacher_rank", cfg->data.teacher_rank, RS_MIN_TEACHER_RANK,
                          cfg->data.dim));
    RS_CALL(rs__check_int("data.teacher_width", cfg->data.teacher_width, RS_MIN_TEACHER_WIDTH,
                          big));
    RS_CALL(rs__check_int("data.outputs", cfg->data.outputs, RS_MIN_OUTPUTS, big));
    RS_CALL(rs__check_real("data.noise", cfg->data.noise, RS_MIN_SPREAD, HUGE_VAL));
    break;
  case RS_DATA_GAUSSIAN_IB:
    RS_CALL(rs__check_int("data.dim", cfg->data.dim, RS_MIN_DIM, big));
    RS_CALL(rs__check_int("data.rho (count)", cfg->data.nrho, RS_MIN_RHO_COUNT,
                          cfg->data.dim < RS_MAX_RHO ? cfg->data.dim : RS_MAX_RHO));
    for (int i = 0; i < cfg->data.nrho; i++) {
      char key[32];
      snprintf(key, sizeof key, "data.rho[%d]", i);
      if (!rs_rho_in_range(cfg->data.rho[i]))
        return rs_error(RS_EDATA, "%s: %g (expected a number in (%g, %g))", key,
                        cfg->data.rho[i], RS_RHO_LO, RS_RHO_HI);
    }
    break;
  case RS_DATA_IDX:
  case RS_DATA_NPY: {
    const char *fmt = cfg->data.kind == RS_DATA_IDX ? "an IDX file, gzip or raw" : "a .npy file";
    if (cfg->data.images[0] == '\0' || cfg->data.labels[0] == '\0')
      return rs_error(RS_EDATA, "data.%s: empty (expected the path of %s)",
                      cfg->data.images[0] == '\0' ? "images" : "labels", fmt);
    if ((cfg->data.heldout_images[0] == '\0') != (cfg->data.heldout_labels[0] == '\0'))
      return rs_error(RS_EDATA,
                      "data.%s: empty while data.%s is set (expected both "
                      "held-out files or neither)",
                      cfg->data.heldout_images[0] == '\0' ? "heldout_images"
                                                          : "heldout_labels",
                      cfg->data.heldout_images[0] == '\0' ? "heldout_labels"
                                                          : "heldout_images");
    if ((unsigned)cfg->data.normalize > RS_NORM_PER_FEATURE)
      return rs_error(RS_EDATA, "data.normalize: %d (expected auto, none, fixed, global or "
                      "per_feature)", (int)cfg->data.normalize);
    if (rs_data_normalize_mode(cfg) == RS_NORM_FIXED) {
      RS_CALL(rs__check_real("data.mean", cfg->data.mean, -HUGE_VAL, HUGE_VAL));
      if (!isfinite(cfg->data.std) || cfg->data.std <= RS_STD_LO)
        return rs_error(RS_EDATA, "data.std: %g (expected a number > %g)", cfg->data.std,
                        RS_STD_LO);
    }
    break;
  }
  default:
    return rs_error(RS_EDATA, "data.kind: %d (expected gaussian_mixture, "
                    "teacher, gaussian_ib, idx or npy)", (int)cfg->data.kind);
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

/* Class labels above this are refused: they would make an output layer of
 * that many units, which is never what a user meant. */
#define RS__MAX_CLASSES 65536

/* One inputs file and its labels file, IDX or .npy. */
typedef struct {
  const char *ipath, *lpath;
  bool npy;
  int64_t n, itemsize;
  rs__idx_buf *ib, *lb;
  bool classes;   /* integer labels (else float targets) */
  int64_t outputs; /* targets per example (float labels) */
  int maxlabel;
} rs__file_pair;

static int64_t rs__int_at(const rs__idx_buf *b, int64_t k) {
  const void *p = b->bytes + k * b->elemsize;
  if (b->dtype == 'u') {
    switch (b->elemsize) {
    case 1: return *(const uint8_t *)p;
    case 2: return *(const uint16_t *)p;
    case 4: return *(const uint32_t *)p;
    default: {
      uint64_t v = *(const uint64_t *)p;
      return v > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v;
    }
    }
  }
  switch (b->elemsize) {
  case 1: return *(const int8_t *)p;
  case 2: return *(const int16_t *)p;
  case 4: return *(const int32_t *)p;
  default: return *(const int64_t *)p;
  }
}

static double rs__real_at(const rs__idx_buf *b, int64_t k) {
  return b->elemsize == 4 ? (double)((const float *)(void *)b->bytes)[k]
                          : ((const double *)(void *)b->bytes)[k];
}

static int rs__pair_load(const char *ipath, const char *lpath, bool npy, rs__file_pair *p) {
  p->ipath = ipath;
  p->lpath = lpath;
  p->npy = npy;
  const char *noun = npy ? "examples" : "images";
  if (npy) {
    RS_CALL(rs__npy_get(ipath, &p->ib));
    if (!(p->ib->dtype == 'f' || (p->ib->dtype == 'u' && p->ib->elemsize == 1)))
      return rs_error(RS_EDATA, "%s: dtype '%s' for inputs (expected uint8, float32 or "
                      "float64)", ipath, p->ib->descr);
    RS_CALL(rs__npy_get(lpath, &p->lb));
  } else {
    RS_CALL(rs__idx_get(ipath, 3, &p->ib));
    RS_CALL(rs__idx_get(lpath, 1, &p->lb));
  }
  p->n = p->ib->n;
  p->itemsize = p->ib->itemsize;
  int64_t nl = p->lb->n;
  if (nl != p->n)
    return rs_error(RS_EDATA, "%s: %lld labels but %s holds %lld %s "
                    "(expected one label per %s)",
                    lpath, (long long)nl, ipath, (long long)p->n, noun,
                    npy ? "example" : "image");
  p->classes = p->lb->dtype != 'f';
  p->outputs = p->lb->itemsize;
  p->maxlabel = 0;
  if (!p->classes) return RS_OK;
  if (p->lb->itemsize != 1)
    return rs_error(RS_EDATA, "%s: integer labels of shape (%lld, %lld) (expected one class "
                    "index per example, shape (%lld,); float labels are regression targets)",
                    lpath, (long long)nl, (long long)p->lb->itemsize, (long long)nl);
  for (int64_t i = 0; i < nl; i++) {
    int64_t v = rs__int_at(p->lb, i);
    if (v < 0 || v >= RS__MAX_CLASSES)
      return rs_error(RS_EDATA, "%s: label %lld of example %lld is out of range (expected "
                      "class indices from 0 to %d)", lpath, (long long)v, (long long)i,
                      RS__MAX_CLASSES - 1);
    if (v > p->maxlabel) p->maxlabel = (int)v;
  }
  return RS_OK;
}

static void rs__pair_free(rs__file_pair *p) {
  rs__idx_put(&p->ib);
  rs__idx_put(&p->lb);
}

/* Input normalisation: x = (raw - shift[j]) * scale[j] after raw = v/255 for
 * bytes; the fixed recipe keeps the IDX table's exact arithmetic. */
typedef struct {
  rs_normalize mode;
  double mean, std;          /* fixed */
  const double *fm, *fs;     /* per_feature */
  double gm, gs;             /* global */
  double table[256];         /* bytes: the whole map, fixed or raw */
} rs__norm;

static double rs__norm_apply(const rs__norm *nm, double raw, int64_t j) {
  switch (nm->mode) {
  case RS_NORM_FIXED: return (raw - nm->mean) / nm->std;
  case RS_NORM_GLOBAL: return (raw - nm->gm) / nm->gs;
  case RS_NORM_PER_FEATURE: return (raw - nm->fm[j]) / (nm->fs[j] > 0 ? nm->fs[j] : 1.0);
  default: return raw;
  }
}

static void rs__pair_copy(const rs__file_pair *p, const rs__norm *nm, const int64_t *idx,
                          int64_t n, double *x, int *l, double *y) {
  const rs__idx_buf *b = p->ib;
  bool bytes = b->dtype == 'u' && b->elemsize == 1;
  for (int64_t s = 0; s < n; s++) {
    double *dst = x + s * p->itemsize;
    int64_t base = idx[s] * p->itemsize;
    if (bytes && (nm->mode == RS_NORM_FIXED || nm->mode == RS_NORM_NONE)) {
      const unsigned char *src = b->bytes + base;
      for (int64_t i = 0; i < p->itemsize; i++) dst[i] = nm->table[src[i]];
    } else if (bytes) {
      const unsigned char *src = b->bytes + base;
      for (int64_t i = 0; i < p->itemsize; i++) dst[i] = rs__norm_apply(nm, src[i] / 255.0, i);
    } else {
      for (int64_t i = 0; i < p->itemsize; i++)
        dst[i] = rs__norm_apply(nm, rs__real_at(b, base + i), i);
    }
    if (p->classes) {
      l[s] = (int)rs__int_at(p->lb, idx[s]);
    } else {
      for (int64_t o = 0; o < p->outputs; o++)
        y[s * p->outputs + o] = rs__real_at(p->lb, idx[s] * p->outputs + o);
    }
  }
}

static int rs__file_build(const rs_config *cfg, uint64_t seed, rs_dataset *d) {
  rs__file_pair tr = {0}, he = {0};
  int64_t *tidx = NULL, *hidx = NULL;
  int err = RS_OK;
  bool npy = cfg->data.kind == RS_DATA_NPY;
  const char *noun = npy ? "examples" : "images";
  int separate = cfg->data.heldout_images[0] != '\0';
  RS_TRY(err, rs__pair_load(cfg->data.images, cfg->data.labels, npy, &tr), done);
  int maxlabel = tr.maxlabel;
  if (separate) {
    RS_TRY(err, rs__pair_load(cfg->data.heldout_images, cfg->data.heldout_labels, npy, &he), done);
    if (he.itemsize != tr.itemsize) {
      err = rs_error(RS_EDATA, "%s: %s of %lld %s but %s has %lld "
                     "(expected the same %s size)",
                     he.ipath, noun, (long long)he.itemsize, npy ? "values" : "pixels",
                     tr.ipath, (long long)tr.itemsize, npy ? "example" : "image");
      goto done;
    }
    if (he.classes != tr.classes || (!tr.classes && he.outputs != tr.outputs)) {
      err = rs_error(RS_EDATA, "%s: %s labels (%s, %lld per example) but %s has %s labels "
                     "(%s, %lld per example) (expected the same kind of labels)",
                     he.lpath, he.classes ? "class" : "target", he.lb->descr,
                     (long long)he.outputs, tr.lpath, tr.classes ? "class" : "target",
                     tr.lb->descr, (long long)tr.outputs);
      goto done;
    }
    if (he.maxlabel > maxlabel) maxlabel = he.maxlabel;
    if (cfg->data.train_size > tr.n) {
      err = rs_error(RS_EDATA, "%s: data.train_size %d exceeds the %lld %s "
                     "in the file (expected at most %lld)",
                     tr.ipath, cfg->data.train_size, (long long)tr.n, noun,
                     (long long)tr.n);
      goto done;
    }
    if (cfg->data.heldout_size > he.n) {
      err = rs_error(RS_EDATA, "%s: data.heldout_size %d exceeds the %lld "
                     "%s in the file (expected at most %lld)",
                     he.ipath, cfg->data.heldout_size, (long long)he.n, noun,
                     (long long)he.n);
      goto done;
    }
  } else if ((int64_t)cfg->data.train_size + cfg->data.heldout_size > tr.n) {
    err = rs_error(RS_EDATA, "%s: data.train_size %d + data.heldout_size %d "
                   "exceeds the %lld %s in the file (expected at most %lld: "
                   "without held-out files both sets are disjoint subsets of "
                   "this file)",
                   tr.ipath, cfg->data.train_size, cfg->data.heldout_size,
                   (long long)tr.n, noun, (long long)tr.n);
    goto done;
  }
  if (tr.classes && maxlabel < 1) {
    err = rs_error(RS_EDATA, "%s: every label is 0 (expected at least two "
                   "classes, labels 0..K-1)", tr.lpath);
    goto done;
  }
  if (tr.itemsize > INT32_MAX || tr.outputs > INT32_MAX) {
    err = rs_error(RS_EDATA, "%s: %lld values per example is too many", tr.ipath,
                   (long long)tr.itemsize);
    goto done;
  }
  d->dim = (int)tr.itemsize;
  d->classification = tr.classes;
  d->outputs = tr.classes ? maxlabel + 1 : (int)tr.outputs;
  d->ntrain = cfg->data.train_size;
  d->nheld = cfg->data.heldout_size;
  d->neval = cfg->measure.points;
  RS_TRY(err, rs__dataset_alloc(d), done);
  tidx = malloc((size_t)d->ntrain * sizeof *tidx);
  hidx = malloc((size_t)d->nheld * sizeof *hidx);
  if (tidx == NULL || hidx == NULL) {
    err = rs_error(RS_ENOMEM, "out of memory (subset indices)");
    goto done;
  }
  RS_TRY(err, rs__idx_subsets(seed, tr.n, separate, separate ? he.n : 0, d->ntrain,
                          d->nheld, tidx, hidx), done);
  rs__norm nm = {.mode = rs_data_normalize_mode(cfg), .mean = cfg->data.mean,
                 .std = cfg->data.std};
  /* Statistics of the training inputs file, whole file: they do not depend
   * on the subset, so every run and the spectrum pass agree. */
  if (nm.mode == RS_NORM_GLOBAL || nm.mode == RS_NORM_PER_FEATURE) {
    RS_TRY(err, rs__data_stats(tr.ipath, tr.ib), done);
    nm.fm = tr.ib->fmean;
    nm.fs = tr.ib->fstd;
    nm.gm = tr.ib->gmean;
    nm.gs = tr.ib->gstd > 0 ? tr.ib->gstd : 1.0;
  }
  for (int v = 0; v < 256; v++)
    nm.table[v] = nm.mode == RS_NORM_FIXED ? ((double)v / 255.0 - cfg->data.mean) / cfg->data.std
                                           : (double)v / 255.0;
  rs__pair_copy(&tr, &nm, tidx, d->ntrain, d->xtrain, d->ltrain, d->ytrain);
  rs__pair_copy(separate ? &he : &tr, &nm, hidx, d->nheld, d->xheld, d->lheld, d->yheld);
done:
  free(tidx);
  free(hidx);
  rs__pair_free(&tr);
  rs__pair_free(&he);
  return err;
}

rs_normalize rs_data_normalize_mode(const rs_config *cfg) {
  if (cfg->data.normalize != RS_NORM_AUTO) return cfg->data.normalize;
  return cfg->data.kind == RS_DATA_NPY ? RS_NORM_PER_FEATURE : RS_NORM_FIXED;
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
  if (cfg->data.kind == RS_DATA_IDX || cfg->data.kind == RS_DATA_NPY) {
    RS_CALL(rs__file_build(cfg, seed, d));
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
  if (err != RS_OK) rs_dataset_destroy(&d);
  RS_CALL(err);
  *out = d;
  return RS_OK;
}
