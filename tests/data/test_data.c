/* Unit tests of the data module: determinism and stream separation, shapes,
 * the statistics each synthetic recipe promises, the teacher's dependence on
 * P^T x only, real Fashion-MNIST, every class of bad IDX file, .npy files
 * written by numpy (good and broken), and non-regular files. */
#include <check.h>

#include "../rs_check.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "data_internal.h"
#include "ranksweep/rs_data.h"
#include "ranksweep/rs_error.h"
#include "ranksweep/rs_rng.h"

#define FASHION "/usr/share/datasets/fashion-mnist/"

static rs_config base_config(rs_data_kind kind) {
  rs_config c;
  memset(&c, 0, sizeof c);
  c.seed = 5;
  c.data.kind = kind;
  c.data.seed = -1;
  c.data.train_size = 500;
  c.data.heldout_size = 300;
  c.measure.points = 64;
  c.data.noise = 1.0;
  switch (kind) {
  case RS_DATA_GAUSSIAN_MIXTURE:
    c.data.dim = 20;
    c.data.classes = 4;
    c.data.mean_scale = 1.0;
    break;
  case RS_DATA_TEACHER:
    c.data.dim = 30;
    c.data.teacher_rank = 3;
    c.data.teacher_width = 16;
    c.data.outputs = 2;
    c.data.noise = 0.1;
    break;
  case RS_DATA_GAUSSIAN_IB:
    c.data.dim = 8;
    c.data.nrho = 4;
    c.data.rho[0] = 0.9;
    c.data.rho[1] = 0.7;
    c.data.rho[2] = 0.5;
    c.data.rho[3] = 0.3;
    break;
  case RS_DATA_IDX:
    snprintf(c.data.images, sizeof c.data.images, "%s", FASHION "train-images-idx3-ubyte.gz");
    snprintf(c.data.labels, sizeof c.data.labels, "%s", FASHION "train-labels-idx1-ubyte.gz");
    c.data.mean = 0.2860;
    c.data.std = 0.3530;
    break;
  case RS_DATA_NPY: /* tests set the paths of the files they write */
    break;
  }
  return c;
}

static rs_dataset *make(const rs_config *c) {
  rs_dataset *d = NULL;
  int err = rs_dataset_create(c, &d);
  ck_assert_msg(err == RS_OK, "rs_dataset_create: %s: %s", rs_err_name(err),
                rs_error_message());
  ck_assert_ptr_nonnull(d);
  return d;
}

static bool same_bytes(const void *a, const void *b, size_t n) {
  if (a == NULL || b == NULL) return a == b;
  return memcmp(a, b, n) == 0;
}

static bool same_data(const rs_dataset *a, const rs_dataset *b) {
  if (a->dim != b->dim || a->outputs != b->outputs || a->ntrain != b->ntrain ||
      a->nheld != b->nheld || a->neval != b->neval ||
      a->classification != b->classification)
    return false;
  size_t d = (size_t)a->dim, o = (size_t)a->outputs;
  return same_bytes(a->xtrain, b->xtrain, a->ntrain * d * sizeof(double)) &&
         same_bytes(a->xheld, b->xheld, a->nheld * d * sizeof(double)) &&
         same_bytes(a->xeval, b->xeval, a->neval * d * sizeof(double)) &&
         same_bytes(a->eval_index, b->eval_index, a->neval * sizeof(int64_t)) &&
         same_bytes(a->ltrain, b->ltrain, a->ltrain ? a->ntrain * sizeof(int) : 0) &&
         same_bytes(a->lheld, b->lheld, a->lheld ? a->nheld * sizeof(int) : 0) &&
         same_bytes(a->ytrain, b->ytrain, a->ytrain ? a->ntrain * o * sizeof(double) : 0) &&
         same_bytes(a->yheld, b->yheld, a->yheld ? a->nheld * o * sizeof(double) : 0);
}

static const rs_data_kind all_kinds[] = {RS_DATA_GAUSSIAN_MIXTURE, RS_DATA_TEACHER,
                                         RS_DATA_GAUSSIAN_IB, RS_DATA_IDX};

START_TEST(determinism) {
  rs_config c = base_config(all_kinds[_i]);
  rs_dataset *a = make(&c), *b = make(&c);
  ck_assert_msg(same_data(a, b), "kind %d: same config, different data", _i);
  c.seed = 6;
  rs_dataset *e = make(&c);
  ck_assert_msg(!same_bytes(a->xtrain, e->xtrain, a->ntrain * a->dim * sizeof(double)),
                "kind %d: seed 5 and 6 give the same training inputs", _i);
  ck_assert_msg(!same_bytes(a->xheld, e->xheld, a->nheld * a->dim * sizeof(double)),
                "kind %d: seed 5 and 6 give the same held-out inputs", _i);
  ck_assert_msg(!same_bytes(a->eval_index, e->eval_index, a->neval * sizeof(int64_t)),
                "kind %d: seed 5 and 6 give the same evaluation points", _i);
  /* data.seed pins the data (and the evaluation points) across run seeds. */
  c.data.seed = 11;
  c.seed = 5;
  rs_dataset *f = make(&c);
  c.seed = 6;
  rs_dataset *g = make(&c);
  ck_assert_msg(same_data(f, g), "kind %d: data.seed does not fix the data", _i);
  ck_assert_msg(!same_bytes(a->xtrain, f->xtrain, a->ntrain * a->dim * sizeof(double)),
                "kind %d: data.seed 11 gives the run-seed-5 data", _i);
  rs_dataset_destroy(&a);
  rs_dataset_destroy(&b);
  rs_dataset_destroy(&e);
  rs_dataset_destroy(&f);
  rs_dataset_destroy(&g);
  ck_assert_ptr_null(a);
}
END_TEST

START_TEST(shapes) {
  rs_config c = base_config(all_kinds[_i]);
  rs_dataset *d = make(&c);
  int want_dim = c.data.kind == RS_DATA_IDX ? 784 : c.data.dim;
  int want_out = c.data.kind == RS_DATA_GAUSSIAN_MIXTURE ? c.data.classes
                 : c.data.kind == RS_DATA_TEACHER        ? c.data.outputs
                 : c.data.kind == RS_DATA_GAUSSIAN_IB    ? c.data.nrho
                                                         : 10;
  bool cls = c.data.kind == RS_DATA_GAUSSIAN_MIXTURE || c.data.kind == RS_DATA_IDX;
  ck_assert_int_eq(d->dim, want_dim);
  ck_assert_int_eq(d->outputs, want_out);
  ck_assert(d->classification == cls);
  ck_assert_int_eq(d->ntrain, c.data.train_size);
  ck_assert_int_eq(d->nheld, c.data.heldout_size);
  ck_assert_int_eq(d->neval, c.measure.points);
  ck_assert_ptr_nonnull(d->xtrain);
  ck_assert_ptr_nonnull(d->xheld);
  ck_assert_ptr_nonnull(d->xeval);
  if (cls) {
    ck_assert_ptr_nonnull(d->ltrain);
    ck_assert_ptr_nonnull(d->lheld);
    ck_assert_ptr_null(d->ytrain);
    ck_assert_ptr_null(d->yheld);
    for (int s = 0; s < d->ntrain; s++)
      ck_assert(d->ltrain[s] >= 0 && d->ltrain[s] < d->outputs);
    for (int s = 0; s < d->nheld; s++)
      ck_assert(d->lheld[s] >= 0 && d->lheld[s] < d->outputs);
  } else {
    ck_assert_ptr_null(d->ltrain);
    ck_assert_ptr_null(d->lheld);
    ck_assert_ptr_nonnull(d->ytrain);
    ck_assert_ptr_nonnull(d->yheld);
  }
  /* Evaluation points: distinct held-out indices, rows copied exactly. */
  char *seen = calloc((size_t)d->nheld, 1);
  for (int i = 0; i < d->neval; i++) {
    int64_t j = d->eval_index[i];
    ck_assert(j >= 0 && j < d->nheld);
    ck_assert_msg(!seen[j], "evaluation index %lld repeated", (long long)j);
    seen[j] = 1;
    ck_assert(memcmp(d->xeval + (size_t)i * d->dim, d->xheld + (size_t)j * d->dim,
                     (size_t)d->dim * sizeof(double)) == 0);
  }
  free(seen);
  for (size_t i = 0; i < (size_t)d->ntrain * d->dim; i++) ck_assert(isfinite(d->xtrain[i]));
  rs_dataset_destroy(&d);
}
END_TEST

/* The evaluation points are the first `points` entries of a permutation of
 * the held-out indices from RS_STREAM_EVAL index 0, so fewer points give a
 * prefix; the sample streams are separate, so sizes do not shift samples. */
START_TEST(streams_and_eval_points) {
  rs_config c = base_config(RS_DATA_GAUSSIAN_MIXTURE);
  rs_dataset *a = make(&c);
  int64_t *perm = malloc((size_t)a->nheld * sizeof *perm);
  rs_rng r;
  rs_rng_init(&r, (uint64_t)c.seed, RS_STREAM_EVAL, 0);
  rs_rng_permutation(&r, a->nheld, perm);
  for (int i = 0; i < a->neval; i++) ck_assert_int_eq(a->eval_index[i], perm[i]);
  free(perm);

  rs_config c2 = c;
  c2.measure.points = 10;
  c2.data.train_size = 800;
  rs_dataset *b = make(&c2);
  ck_assert(memcmp(a->eval_index, b->eval_index, 10 * sizeof(int64_t)) == 0);
  ck_assert(memcmp(a->xheld, b->xheld, (size_t)a->nheld * a->dim * sizeof(double)) == 0);
  ck_assert(memcmp(a->xtrain, b->xtrain, (size_t)a->ntrain * a->dim * sizeof(double)) == 0);
  ck_assert(memcmp(a->ltrain, b->ltrain, (size_t)a->ntrain * sizeof(int)) == 0);
  ck_assert(memcmp(a->xtrain, a->xheld, (size_t)a->dim * sizeof(double)) != 0);

  /* Noise is drawn even when it is zero: x does not depend on the noise. */
  rs_config t1 = base_config(RS_DATA_TEACHER), t0 = t1;
  t0.data.noise = 0.0;
  rs_dataset *n1 = make(&t1), *n0 = make(&t0);
  ck_assert(memcmp(n1->xtrain, n0->xtrain, (size_t)n1->ntrain * n1->dim * sizeof(double)) == 0);
  ck_assert(memcmp(n1->ytrain, n0->ytrain, (size_t)n1->ntrain * n1->outputs * sizeof(double)) != 0);

  c2.measure.points = 0;
  rs_dataset *z = make(&c2);
  ck_assert_int_eq(z->neval, 0);
  rs_dataset_destroy(&a);
  rs_dataset_destroy(&b);
  rs_dataset_destroy(&n1);
  rs_dataset_destroy(&n0);
  rs_dataset_destroy(&z);
}
END_TEST

START_TEST(mixture_statistics) {
  rs_config c = base_config(RS_DATA_GAUSSIAN_MIXTURE);
  c.data.dim = 50;
  c.data.classes = 8;
  c.data.mean_scale = 2.0;
  c.data.noise = 0.5;
  c.data.train_size = 16000;
  c.data.heldout_size = 4000;
  rs_dataset *d = make(&c);
  int K = c.data.classes, dim = c.data.dim;
  double *mu = malloc((size_t)K * dim * sizeof *mu);
  rs__mixture_means(&c, rs__data_seed(&c), mu);

  /* Class means: coordinates N(0, mean_scale^2). */
  double ss = 0;
  for (int i = 0; i < K * dim; i++) ss += mu[i] * mu[i];
  double var_mu = ss / (K * dim);
  ck_assert_msg(fabs(var_mu / 4.0 - 1.0) < 0.35, "class-mean variance %g, want 4", var_mu);

  for (int set = 0; set < 2; set++) {
    int n = set ? d->nheld : d->ntrain;
    const double *x = set ? d->xheld : d->xtrain;
    const int *l = set ? d->lheld : d->ltrain;
    double *sum = calloc((size_t)K * dim, sizeof *sum);
    int *cnt = calloc((size_t)K, sizeof *cnt);
    double resid = 0;
    for (int s = 0; s < n; s++) {
      cnt[l[s]]++;
      for (int i = 0; i < dim; i++) {
        sum[(size_t)l[s] * dim + i] += x[(size_t)s * dim + i];
        double e = x[(size_t)s * dim + i] - mu[(size_t)l[s] * dim + i];
        resid += e * e;
      }
    }
    /* Labels uniform: each count within 5 binomial sigmas of n/K. */
    double p = 1.0 / K, sd = sqrt(n * p * (1 - p));
    for (int k = 0; k < K; k++)
      ck_assert_msg(fabs(cnt[k] - n * p) < 5 * sd, "set %d class %d: %d of %d", set, k,
                    cnt[k], n);
    /* The sample mean per class recovers the generated mean. */
    double worst = 0;
    for (int k = 0; k < K; k++)
      for (int i = 0; i < dim; i++) {
        double m = sum[(size_t)k * dim + i] / cnt[k];
        double z = fabs(m - mu[(size_t)k * dim + i]) / (c.data.noise / sqrt(cnt[k]));
        if (z > worst) worst = z;
      }
    ck_assert_msg(worst < 5.5, "set %d: a class-mean coordinate is %.2f sigma off", set,
                  worst);
    /* Isotropic noise of std `noise` around the class mean. */
    double v = resid / ((double)n * dim);
    ck_assert_msg(fabs(v / 0.25 - 1.0) < 0.02, "set %d: noise variance %g, want 0.25", set,
                  v);
    free(sum);
    free(cnt);
  }
  free(mu);
  rs_dataset_destroy(&d);
}
END_TEST

START_TEST(gaussian_ib_correlations) {
  rs_config c = base_config(RS_DATA_GAUSSIAN_IB);
  c.data.train_size = 20000;
  rs_dataset *d = make(&c);
  int n = d->ntrain, dim = d->dim, r = d->outputs;
  ck_assert_int_eq(r, 4);
  double worst = 0;
  char where[64] = "";
  /* E[x_i y_j] = rho_i [i == j]; the product of two unit Gaussians with
   * correlation c has variance 1 + c^2, so the standard error is known. */
  for (int i = 0; i < dim; i++)
    for (int j = 0; j < r; j++) {
      double s = 0;
      for (int k = 0; k < n; k++) s += d->xtrain[(size_t)k * dim + i] * d->ytrain[(size_t)k * r + j];
      double want = i == j ? c.data.rho[i] : 0.0;
      double z = fabs(s / n - want) / sqrt((1 + want * want) / n);
      if (z > worst) {
        worst = z;
        snprintf(where, sizeof where, "C_xy[%d][%d] = %.4f, want %.4f", i, j, s / n, want);
      }
    }
  /* Sigma_x = I (extra dims included) and Sigma_y = I. */
  for (int i = 0; i < dim; i++)
    for (int j = 0; j <= i; j++) {
      double s = 0;
      for (int k = 0; k < n; k++) s += d->xtrain[(size_t)k * dim + i] * d->xtrain[(size_t)k * dim + j];
      double want = i == j ? 1.0 : 0.0;
      double z = fabs(s / n - want) / sqrt((1 + want * want) / n);
      if (z > worst) {
        worst = z;
        snprintf(where, sizeof where, "C_xx[%d][%d] = %.4f, want %.4f", i, j, s / n, want);
      }
    }
  for (int i = 0; i < r; i++)
    for (int j = 0; j <= i; j++) {
      double s = 0;
      for (int k = 0; k < n; k++) s += d->ytrain[(size_t)k * r + i] * d->ytrain[(size_t)k * r + j];
      double want = i == j ? 1.0 : 0.0;
      double z = fabs(s / n - want) / sqrt((1 + want * want) / n);
      if (z > worst) {
        worst = z;
        snprintf(where, sizeof where, "C_yy[%d][%d] = %.4f, want %.4f", i, j, s / n, want);
      }
    }
  ck_assert_msg(worst < 5.0, "worst entry %.2f standard errors off: %s", worst, where);
  rs_dataset_destroy(&d);
}
END_TEST

START_TEST(teacher_depends_on_projection_only) {
  rs_config c = base_config(RS_DATA_TEACHER);
  c.data.noise = 0.0;
  rs_dataset *d = make(&c);
  rs__teacher *t = NULL;
  ck_assert_int_eq(rs__teacher_create(&c, rs__data_seed(&c), &t), RS_OK);
  int dim = t->dim, k = t->rank, out = t->outputs;
  double *work = malloc((size_t)(k + t->width) * sizeof *work);
  double y[8], y2[8];
  /* Noise 0: the targets are exactly the teacher's outputs. */
  for (int s = 0; s < d->ntrain; s++) {
    rs__teacher_eval(t, d->xtrain + (size_t)s * dim, y, work);
    ck_assert(memcmp(y, d->ytrain + (size_t)s * out, (size_t)out * sizeof(double)) == 0);
  }
  /* Orthonormal basis Q of range(P) by Gram-Schmidt (twice for accuracy). */
  double *Q = malloc((size_t)dim * k * sizeof *Q);
  for (int j = 0; j < k; j++) {
    for (int i = 0; i < dim; i++) Q[(size_t)i * k + j] = t->P[(size_t)i * k + j];
    for (int pass = 0; pass < 2; pass++)
      for (int q = 0; q < j; q++) {
        double dot = 0;
        for (int i = 0; i < dim; i++) dot += Q[(size_t)i * k + q] * Q[(size_t)i * k + j];
        for (int i = 0; i < dim; i++) Q[(size_t)i * k + j] -= dot * Q[(size_t)i * k + q];
      }
    double nrm = 0;
    for (int i = 0; i < dim; i++) nrm += Q[(size_t)i * k + j] * Q[(size_t)i * k + j];
    nrm = sqrt(nrm);
    ck_assert(nrm > 1e-6);
    for (int i = 0; i < dim; i++) Q[(size_t)i * k + j] /= nrm;
  }
  rs_rng r;
  rs_rng_init(&r, 99, RS_STREAM_NOISE, 0);
  double *v = malloc((size_t)dim * sizeof *v), *xp = malloc((size_t)dim * sizeof *xp);
  for (int trial = 0; trial < 20; trial++) {
    const double *x = d->xtrain + (size_t)trial * dim;
    for (int i = 0; i < dim; i++) v[i] = 3.0 * rs_rng_normal(&r);
    for (int j = 0; j < k; j++) { /* v -= Q Q^T v: v in the null space of P^T */
      double dot = 0;
      for (int i = 0; i < dim; i++) dot += Q[(size_t)i * k + j] * v[i];
      for (int i = 0; i < dim; i++) v[i] -= dot * Q[(size_t)i * k + j];
    }
    double vn = 0;
    for (int i = 0; i < dim; i++) vn += v[i] * v[i];
    ck_assert(sqrt(vn) > 1.0); /* a large perturbation */
    for (int i = 0; i < dim; i++) xp[i] = x[i] + v[i];
    rs__teacher_eval(t, x, y, work);
    rs__teacher_eval(t, xp, y2, work);
    for (int o = 0; o < out; o++)
      ck_assert_msg(fabs(y[o] - y2[o]) < 1e-12, "null-space move changed f by %g",
                    fabs(y[o] - y2[o]));
    /* Control: a move along a column of P does change f. */
    for (int i = 0; i < dim; i++) xp[i] = x[i] + 3.0 * Q[(size_t)i * k + trial % k];
    rs__teacher_eval(t, xp, y2, work);
    double change = 0;
    for (int o = 0; o < out; o++) change += fabs(y[o] - y2[o]);
    ck_assert_msg(change > 1e-3, "moving along range(P) left f unchanged (%g)", change);
  }
  /* Noise 0.1: residuals y - f(x) have standard deviation 0.1. */
  c.data.noise = 0.1;
  c.data.train_size = 5000;
  rs_dataset *dn = make(&c);
  double ss = 0;
  for (int s = 0; s < dn->ntrain; s++) {
    rs__teacher_eval(t, dn->xtrain + (size_t)s * dim, y, work);
    for (int o = 0; o < out; o++) {
      double e = dn->ytrain[(size_t)s * out + o] - y[o];
      ss += e * e;
    }
  }
  double sd = sqrt(ss / ((double)dn->ntrain * out));
  ck_assert_msg(fabs(sd / 0.1 - 1) < 0.05, "noise std %g, want 0.1", sd);
  free(v);
  free(xp);
  free(Q);
  free(work);
  rs__teacher_destroy(&t);
  ck_assert_ptr_null(t);
  rs_dataset_destroy(&d);
  rs_dataset_destroy(&dn);
}
END_TEST

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* CPU time of this process: what the reader costs, whatever else the
 * machine is doing (meson runs tests in parallel). */
static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static void check_rows(const rs_dataset *d, const unsigned char *img,
                       const unsigned char *lab, const int64_t *idx, int n,
                       const double *x, const int *l, double mean, double std) {
  for (int s = 0; s < n; s++) {
    ck_assert_int_eq(l[s], lab[idx[s]]);
    for (int i = 0; i < d->dim; i++) {
      double want = ((double)img[idx[s] * 784 + i] / 255.0 - mean) / std;
      ck_assert(x[(size_t)s * d->dim + i] == want);
    }
  }
}

START_TEST(idx_fashion_mnist) {
  int64_t n, item, nl, one;
  unsigned char *img = NULL, *lab = NULL;
  double t0 = now(), c0 = cpu_now();
  ck_assert_int_eq(rs_idx_read(FASHION "train-images-idx3-ubyte.gz", 3, &n, &item, &img), RS_OK);
  double t_read = now() - t0, c_read = cpu_now() - c0;
  ck_assert_int_eq(n, 60000);
  ck_assert_int_eq(item, 784);
  ck_assert_int_eq(rs_idx_read(FASHION "train-labels-idx1-ubyte.gz", 1, &nl, &one, &lab), RS_OK);
  ck_assert_int_eq(nl, 60000);
  ck_assert_int_eq(one, 1);
  int hist[256] = {0}, maxpix = 0;
  for (int64_t i = 0; i < nl; i++) hist[lab[i]]++;
  for (int k = 0; k < 10; k++) ck_assert_int_eq(hist[k], 6000); /* balanced classes */
  for (int64_t i = 0; i < n * item; i++)
    if (img[i] > maxpix) maxpix = img[i];
  ck_assert_int_eq(maxpix, 255);
  printf("fashion-mnist: rs_idx_read of 60000 gzipped images: %.3f s wall, %.3f s CPU\n",
         t_read, c_read);
  ck_assert_msg(c_read < 1.5, "reading 60000 images took %.2f s of CPU", c_read);

  int64_t nt, nlt;
  unsigned char *timg = NULL, *tlab = NULL;
  ck_assert_int_eq(rs_idx_read(FASHION "t10k-images-idx3-ubyte.gz", 3, &nt, &item, &timg), RS_OK);
  ck_assert_int_eq(rs_idx_read(FASHION "t10k-labels-idx1-ubyte.gz", 1, &nlt, &one, &tlab), RS_OK);
  ck_assert_int_eq(nt, 10000);
  ck_assert_int_eq(nlt, 10000);

  /* One file: disjoint random subsets, pixels (v/255 - mean)/std exactly. */
  rs_data_cache_clear();
  rs_config c = base_config(RS_DATA_IDX);
  c.data.train_size = 1000;
  c.data.heldout_size = 500;
  t0 = now();
  rs_dataset *d = make(&c);
  double t_first = now() - t0;
  t0 = now();
  rs_dataset *d2 = make(&c);
  double t_second = now() - t0;
  printf("fashion-mnist: rs_dataset_create 1000+500 images: first %.3f s, cached %.3f s\n",
         t_first, t_second);
  ck_assert(same_data(d, d2));
  ck_assert_int_eq(d->dim, 784);
  ck_assert_int_eq(d->outputs, 10);
  int64_t *tidx = malloc(1000 * sizeof *tidx), *hidx = malloc(2000 * sizeof *hidx);
  ck_assert_int_eq(rs__idx_subsets((uint64_t)c.seed, 60000, 0, 0, 1000, 500, tidx, hidx), RS_OK);
  char *used = calloc(60000, 1);
  for (int i = 0; i < 1000; i++) used[tidx[i]]++;
  for (int i = 0; i < 500; i++) used[hidx[i]]++;
  for (int i = 0; i < 60000; i++) ck_assert_msg(used[i] <= 1, "image %d in both sets", i);
  free(used);
  check_rows(d, img, lab, tidx, 1000, d->xtrain, d->ltrain, c.data.mean, c.data.std);
  check_rows(d, img, lab, hidx, 500, d->xheld, d->lheld, c.data.mean, c.data.std);
  /* With Fashion-MNIST's own statistics the inputs are standardised. */
  double s = 0, ss = 0;
  size_t m = (size_t)d->ntrain * d->dim;
  for (size_t i = 0; i < m; i++) {
    s += d->xtrain[i];
    ss += d->xtrain[i] * d->xtrain[i];
  }
  double mean = s / m, sd = sqrt(ss / m - mean * mean);
  printf("fashion-mnist: normalised training subset mean %.4f std %.4f\n", mean, sd);
  ck_assert_msg(fabs(mean) < 0.05 && fabs(sd - 1) < 0.05, "mean %g std %g", mean, sd);
  rs_dataset_destroy(&d);
  rs_dataset_destroy(&d2);

  /* Held-out files given: the held-out set is a subset of them. */
  snprintf(c.data.heldout_images, sizeof c.data.heldout_images, "%s", FASHION "t10k-images-idx3-ubyte.gz");
  snprintf(c.data.heldout_labels, sizeof c.data.heldout_labels, "%s", FASHION "t10k-labels-idx1-ubyte.gz");
  c.data.heldout_size = 2000;
  c.data.mean = 0.1307;
  c.data.std = 0.3081;
  d = make(&c);
  ck_assert_int_eq(rs__idx_subsets((uint64_t)c.seed, 60000, 1, 10000, 1000, 2000, tidx, hidx), RS_OK);
  check_rows(d, img, lab, tidx, 1000, d->xtrain, d->ltrain, c.data.mean, c.data.std);
  check_rows(d, timg, tlab, hidx, 2000, d->xheld, d->lheld, c.data.mean, c.data.std);
  rs_dataset_destroy(&d);
  /* All 10000 held-out images may be used; 10001 may not. */
  c.data.heldout_size = 10000;
  d = make(&c);
  rs_dataset_destroy(&d);
  c.data.heldout_size = 10001;
  ck_assert_int_eq(rs_dataset_create(&c, &d), RS_EDATA);
  ck_assert_ptr_null(d);
  ck_assert_msg(strstr(rs_error_message(), "t10k-images-idx3-ubyte.gz") &&
                    strstr(rs_error_message(), "10001"),
                "%s", rs_error_message());
  free(tidx);
  free(hidx);
  free(img);
  free(lab);
  free(timg);
  free(tlab);
  rs_data_cache_clear();
}
END_TEST

/* ---- bad files ---- */
static char tmpdir[256];

static const char *tpath(const char *name) {
  static char buf[4][512];
  static int k;
  k = (k + 1) % 4;
  snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
  return buf[k];
}

/* Writes an IDX file: magic, dims, then `ndata` bytes of value (i % mod). */
static void write_idx(const char *name, int gz, unsigned magic, int ndim,
                      const unsigned *dims, size_t ndata, int mod) {
  size_t len = 4 + 4 * (size_t)ndim + ndata;
  unsigned char *b = malloc(len);
  b[0] = magic >> 24;
  b[1] = magic >> 16;
  b[2] = magic >> 8;
  b[3] = magic;
  for (int i = 0; i < ndim; i++) {
    b[4 + 4 * i] = dims[i] >> 24;
    b[5 + 4 * i] = dims[i] >> 16;
    b[6 + 4 * i] = dims[i] >> 8;
    b[7 + 4 * i] = dims[i];
  }
  for (size_t i = 0; i < ndata; i++) b[4 + 4 * ndim + i] = (unsigned char)(i % mod);
  if (gz) {
    gzFile f = gzopen(tpath(name), "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(gzwrite(f, b, (unsigned)len), (int)len);
    gzclose(f);
  } else {
    FILE *f = fopen(tpath(name), "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(b, 1, len, f), len);
    fclose(f);
  }
  free(b);
}

static void write_bytes(const char *name, const void *p, size_t len) {
  FILE *f = fopen(tpath(name), "wb");
  ck_assert_ptr_nonnull(f);
  ck_assert_uint_eq(fwrite(p, 1, len, f), len);
  fclose(f);
}

static void expect_idx_error(const char *name, int ndim, const char *what) {
  int64_t n, item;
  unsigned char *bytes = NULL;
  const char *p = tpath(name);
  int err = rs_idx_read(p, ndim, &n, &item, &bytes);
  ck_assert_msg(err == RS_EDATA, "%s: got %s, want RS_EDATA", name, rs_err_name(err));
  ck_assert_ptr_null(bytes);
  ck_assert_msg(strstr(rs_error_message(), p) != NULL, "message does not name %s: %s",
                p, rs_error_message());
  ck_assert_msg(strstr(rs_error_message(), what) != NULL, "message lacks '%s': %s", what,
                rs_error_message());
  ck_assert_msg(strchr(rs_error_message(), '\n') == NULL, "not one line: %s",
                rs_error_message());
  printf("  %-16s -> %s\n", name, rs_error_message());
}

static rs_config idx_config(const char *images, const char *labels) {
  rs_config c = base_config(RS_DATA_IDX);
  snprintf(c.data.images, sizeof c.data.images, "%s", tpath(images));
  snprintf(c.data.labels, sizeof c.data.labels, "%s", tpath(labels));
  c.data.train_size = 6;
  c.data.heldout_size = 4;
  c.measure.points = 2;
  c.data.mean = 0.5;
  c.data.std = 0.25;
  return c;
}

static void expect_dataset_error(const rs_config *c, const char *name, const char *what) {
  rs_dataset *d = NULL;
  int err = rs_dataset_create(c, &d);
  ck_assert_msg(err == RS_EDATA, "%s: got %s (%s), want RS_EDATA", what, rs_err_name(err),
                rs_error_message());
  ck_assert_ptr_null(d);
  if (name)
    ck_assert_msg(strstr(rs_error_message(), tpath(name)) != NULL,
                  "message does not name %s: %s", name, rs_error_message());
  ck_assert_msg(strstr(rs_error_message(), what) != NULL, "message lacks '%s': %s", what,
                rs_error_message());
  printf("  dataset: %s\n", rs_error_message());
}

static void setup_tmp(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/rs-data-test-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown_tmp(void) {
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
}

START_TEST(idx_bad_files) {
  setup_tmp();
  const unsigned img_dims[3] = {10, 4, 4}, lab_dims[1] = {10}, lab9[1] = {9};
  write_idx("good-img", 0, 0x803, 3, img_dims, 160, 256);
  write_idx("good-img.gz", 1, 0x803, 3, img_dims, 160, 256);
  write_idx("good-lab", 0, 0x801, 1, lab_dims, 10, 5);
  write_idx("good-lab.gz", 1, 0x801, 1, lab_dims, 10, 5);

  /* gzip and raw hold the same bytes and read identically. */
  int64_t n1, i1, n2, i2;
  unsigned char *b1 = NULL, *b2 = NULL;
  ck_assert_int_eq(rs_idx_read(tpath("good-img"), 3, &n1, &i1, &b1), RS_OK);
  ck_assert_int_eq(rs_idx_read(tpath("good-img.gz"), 3, &n2, &i2, &b2), RS_OK);
  ck_assert_int_eq(n1, 10);
  ck_assert_int_eq(i1, 16);
  ck_assert(n1 == n2 && i1 == i2 && memcmp(b1, b2, 160) == 0);
  for (int i = 0; i < 160; i++) ck_assert_int_eq(b1[i], i % 256);
  free(b1);
  free(b2);

  write_bytes("garbage", "GARBAGE-NOT-IDX-DATA", 20);
  expect_idx_error("garbage", 3, "magic");
  write_idx("float-img", 0, 0xD03, 3, img_dims, 640, 256);
  expect_idx_error("float-img", 3, "element type");
  write_bytes("short-hdr", "\0\0", 2);
  expect_idx_error("short-hdr", 3, "truncated header");
  { /* magic says 3 dimensions, only one size follows */
    unsigned char b[8] = {0, 0, 8, 3, 0, 0, 0, 10};
    write_bytes("short-dims", b, 8);
  }
  expect_idx_error("short-dims", 3, "truncated header");
  write_idx("short-data", 0, 0x803, 3, img_dims, 100, 256);
  expect_idx_error("short-data", 3, "truncated data");
  write_idx("short-data.gz", 1, 0x803, 3, img_dims, 100, 256);
  expect_idx_error("short-data.gz", 3, "truncated data");
  write_idx("trailing", 0, 0x801, 1, lab_dims, 11, 5);
  expect_idx_error("trailing", 1, "trailing");
  expect_idx_error("good-lab", 3, "dimensions"); /* labels given as images */
  expect_idx_error("good-img", 1, "dimensions"); /* images given as labels */
  const unsigned zero_dims[3] = {10, 0, 4};
  write_idx("zero-dim", 0, 0x803, 3, zero_dims, 0, 1);
  expect_idx_error("zero-dim", 3, "dimension 1");
  expect_idx_error("does-not-exist", 3, "cannot open");
  expect_idx_error("", 3, "not a regular file"); /* the directory itself */

  /* A gzip stream cut in the middle. */
  {
    const unsigned big[3] = {200, 28, 28};
    write_idx("cut.gz", 1, 0x803, 3, big, 200 * 784, 251);
    FILE *f = fopen(tpath("cut.gz"), "rb");
    unsigned char buf[1 << 16];
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    ck_assert(len > 200);
    write_bytes("cut.gz", buf, len / 2);
    expect_idx_error("cut.gz", 3, "truncated");
    /* Corrupt deflate data after an intact gzip header. */
    for (size_t i = 10; i < len; i++) buf[i] = 0xff;
    write_bytes("corrupt.gz", buf, len);
    expect_idx_error("corrupt.gz", 3, "corrupt gzip data");
  }

  /* Dataset-level checks. */
  rs_config c = idx_config("good-img.gz", "good-lab");
  rs_dataset *d = make(&c);
  ck_assert_int_eq(d->outputs, 5); /* labels 0..4: max label + 1 classes */
  ck_assert_int_eq(d->dim, 16);
  ck_assert(d->xtrain[0] >= (0 - 0.5) / 0.25 && d->xtrain[0] <= (1 - 0.5) / 0.25);
  rs_dataset_destroy(&d);

  write_idx("lab9", 0, 0x801, 1, lab9, 9, 5);
  c = idx_config("good-img", "lab9");
  expect_dataset_error(&c, "lab9", "9 labels");
  ck_assert(strstr(rs_error_message(), tpath("good-img")) != NULL);

  c = idx_config("good-img", "good-lab");
  c.data.train_size = 7; /* 7 + 4 > 10 */
  expect_dataset_error(&c, "good-img", "exceeds");
  c = idx_config("good-img", "good-lab");
  c.data.train_size = 6; /* 6 + 4 = 10 fits exactly */
  d = make(&c);
  rs_dataset_destroy(&d);
  c = idx_config("good-lab", "good-lab");
  expect_dataset_error(&c, "good-lab", "dimensions");
  c = idx_config("good-img", "garbage");
  expect_dataset_error(&c, "garbage", "magic");
  c = idx_config("missing-img.gz", "good-lab");
  expect_dataset_error(&c, "missing-img.gz", "cannot open");
  write_idx("zeros", 0, 0x801, 1, lab_dims, 10, 1);
  c = idx_config("good-img", "zeros");
  expect_dataset_error(&c, "zeros", "two classes");

  /* Held-out files: both or neither; sizes checked against them. */
  c = idx_config("good-img", "good-lab");
  snprintf(c.data.heldout_images, sizeof c.data.heldout_images, "%s", tpath("good-img.gz"));
  expect_dataset_error(&c, NULL, "data.heldout_labels");
  snprintf(c.data.heldout_labels, sizeof c.data.heldout_labels, "%s", tpath("good-lab.gz"));
  c.data.train_size = 10;
  c.data.heldout_size = 10;
  d = make(&c);
  rs_dataset_destroy(&d);
  c.data.heldout_size = 11;
  c.measure.points = 11;
  expect_dataset_error(&c, "good-img.gz", "exceeds");

  /* The cache hands out one shared buffer per unchanged file, which stays
   * valid after the cache is cleared until its last user lets go. */
  rs__idx_buf *g1 = NULL, *g2 = NULL, *g3 = NULL;
  ck_assert_int_eq(rs__idx_get(tpath("good-img.gz"), 3, &g1), RS_OK);
  ck_assert_int_eq(rs__idx_get(tpath("good-img.gz"), 3, &g2), RS_OK);
  ck_assert_ptr_eq(g1, g2);
  rs_data_cache_clear();
  ck_assert_int_eq(rs__idx_get(tpath("good-img.gz"), 3, &g3), RS_OK);
  ck_assert_ptr_ne(g3, g1);
  ck_assert(g1->n == 10 && g1->itemsize == 16 && memcmp(g1->bytes, g3->bytes, 160) == 0);
  rs__idx_put(&g1);
  ck_assert_ptr_null(g1);
  ck_assert_int_eq(g2->bytes[159], 159);
  rs__idx_put(&g2);
  rs__idx_put(&g3);
  ck_assert_int_eq(rs__idx_get(tpath("garbage"), 3, &g1), RS_EDATA);
  ck_assert_ptr_null(g1);

  /* A file replaced under the same path is reread, not served stale. */
  const unsigned lab_more[1] = {10};
  c = idx_config("good-img", "relabel");
  write_idx("relabel", 0, 0x801, 1, lab_dims, 10, 3);
  d = make(&c);
  ck_assert_int_eq(d->outputs, 3);
  rs_dataset_destroy(&d);
  write_idx("relabel.tmp", 0, 0x801, 1, lab_more, 10, 7);
  ck_assert_int_eq(rename(tpath("relabel.tmp"), tpath("relabel")), 0);
  d = make(&c);
  ck_assert_int_eq(d->outputs, 7);
  rs_dataset_destroy(&d);
  teardown_tmp();
}
END_TEST

/* ---- .npy files written by numpy itself (tests/data/npy_cases.py) ---- */
static void *read_all(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  ck_assert_msg(f != NULL, "cannot open %s", path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  void *p = malloc((size_t)n + 1);
  ck_assert_ptr_nonnull(p);
  ck_assert_int_eq(fread(p, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  *len = (size_t)n;
  return p;
}

static rs_normalize norm_by_name(const char *m) {
  if (!strcmp(m, "none")) return RS_NORM_NONE;
  if (!strcmp(m, "fixed")) return RS_NORM_FIXED;
  if (!strcmp(m, "global")) return RS_NORM_GLOBAL;
  if (!strcmp(m, "per_feature")) return RS_NORM_PER_FEATURE;
  ck_assert_str_eq(m, "auto");
  return RS_NORM_AUTO;
}

static rs_config npy_config(const char *images, const char *labels) {
  rs_config c = base_config(RS_DATA_NPY);
  snprintf(c.data.images, sizeof c.data.images, "%s", images);
  snprintf(c.data.labels, sizeof c.data.labels, "%s", labels);
  c.data.mean = 0.1307;
  c.data.std = 0.3081;
  c.data.train_size = 25;
  c.data.heldout_size = 15;
  c.measure.points = 5;
  return c;
}

START_TEST(npy_files) {
  setup_tmp();
  const char *root = getenv("RANKSWEEP_SOURCE_ROOT");
  ck_assert_msg(root != NULL, "RANKSWEEP_SOURCE_ROOT is not set (run through meson test)");
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s/tests/data/npy_cases.py' '%s'", root, tmpdir);
  ck_assert_msg(system(cmd) == 0, "npy_cases.py failed");

  FILE *g = fopen(tpath("good.txt"), "r");
  ck_assert_ptr_nonnull(g);
  char name[64], ip[512], lp[512], kind[16], mode[16], xf[512], yf[512];
  int n, dim, outputs, ngood = 0;
  while (fscanf(g, "%63s %511s %511s %15s %d %d %d %15s %511s %511s", name, ip, lp, kind, &n,
                &dim, &outputs, mode, xf, yf) == 10) {
    rs_config c = npy_config(ip, lp);
    c.data.normalize = norm_by_name(mode);
    rs_dataset *d = make(&c);
    bool cls = !strcmp(kind, "classes");
    ck_assert_msg(d->dim == dim && d->outputs == outputs && d->classification == cls,
                  "%s: dim %d outputs %d classification %d, want %d %d %d", name, d->dim,
                  d->outputs, d->classification, dim, outputs, cls);
    size_t xl, yl;
    double *ex = read_all(xf, &xl);
    void *ey = read_all(yf, &yl);
    ck_assert_uint_eq(xl, (size_t)n * dim * sizeof(double));
    int64_t tidx[25], hidx[15];
    ck_assert_int_eq(rs__idx_subsets(rs__data_seed(&c), n, 0, 0, 25, 15, tidx, hidx), RS_OK);
    double worst = 0;
    for (int set = 0; set < 2; set++) {
      const int64_t *idx = set ? hidx : tidx;
      int cnt = set ? 15 : 25;
      const double *x = set ? d->xheld : d->xtrain;
      for (int i = 0; i < cnt; i++) {
        for (int j = 0; j < dim; j++) {
          double want = ex[idx[i] * dim + j], got = x[(size_t)i * dim + j];
          double e = fabs(got - want) / (1 + fabs(want));
          if (e > worst) worst = e;
        }
        if (cls) {
          int got = set ? d->lheld[i] : d->ltrain[i];
          ck_assert_int_eq(got, ((int64_t *)ey)[idx[i]]);
        } else {
          const double *y = set ? d->yheld : d->ytrain;
          for (int o = 0; o < outputs; o++)
            ck_assert_msg(y[(size_t)i * outputs + o] == ((double *)ey)[idx[i] * outputs + o],
                          "%s: target %d.%d differs", name, i, o);
        }
      }
    }
    /* Fixed and none are the same arithmetic as numpy; the statistics differ
     * only by summation order. */
    ck_assert_msg(worst < 1e-12, "%s: inputs differ from numpy's by %g", name, worst);
    printf("  npy %s: %d x %d -> %d %s, %s: max rel. difference %.2g\n", name, n, dim, outputs,
           kind, mode, worst);
    free(ex);
    free(ey);
    rs_dataset_destroy(&d);
    ngood++;
  }
  fclose(g);
  ck_assert_int_ge(ngood, 7);

  /* A held-out file of another shape, and class labels against targets. */
  rs_config c = npy_config(tpath("v2_f4_le_x.npy"), tpath("v2_f4_le_y.npy"));
  snprintf(c.data.heldout_images, sizeof c.data.heldout_images, "%s", tpath("v1_1d_inputs_x.npy"));
  snprintf(c.data.heldout_labels, sizeof c.data.heldout_labels, "%s", tpath("v1_1d_inputs_y.npy"));
  expect_dataset_error(&c, "v1_1d_inputs_x.npy", "examples of 1 values but");
  snprintf(c.data.heldout_images, sizeof c.data.heldout_images, "%s", tpath("v2_f4_le_x.npy"));
  snprintf(c.data.heldout_labels, sizeof c.data.heldout_labels, "%s", tpath("v1_f8_targets2d_y.npy"));
  expect_dataset_error(&c, "v1_f8_targets2d_y.npy", "target labels");
  /* A held-out file is normalised with the training file's statistics. */
  snprintf(c.data.heldout_labels, sizeof c.data.heldout_labels, "%s", tpath("v2_f4_le_y.npy"));
  c.data.normalize = RS_NORM_PER_FEATURE;
  rs_dataset *d = make(&c);
  ck_assert_int_eq(d->nheld, 15);
  rs_dataset_destroy(&d);

  FILE *b = fopen(tpath("bad.txt"), "r");
  ck_assert_ptr_nonnull(b);
  char line[2048];
  int nbad = 0;
  while (fgets(line, sizeof line, b)) {
    line[strcspn(line, "\n")] = '\0';
    char *save = NULL, *bn = strtok_r(line, "\t", &save), *bi = strtok_r(NULL, "\t", &save);
    char *bl = strtok_r(NULL, "\t", &save), *msg = strtok_r(NULL, "\t", &save);
    ck_assert_ptr_nonnull(msg);
    rs_config bc = npy_config(bi, bl);
    bc.data.train_size = 20;
    bc.data.heldout_size = 10;
    rs_dataset *bd = NULL;
    int err = rs_dataset_create(&bc, &bd);
    const char *m = rs_error_message();
    ck_assert_msg(err == RS_EDATA, "%s: got %s (%s), want RS_EDATA", bn, rs_err_name(err), m);
    ck_assert_ptr_null(bd);
    ck_assert_msg(strstr(m, msg) != NULL, "%s: message lacks '%s': %s", bn, msg, m);
    ck_assert_msg(strchr(m, '\n') == NULL, "%s: not one line: %s", bn, m);
    ck_assert_msg(strstr(m, "expected") != NULL || strstr(m, "out of range") != NULL,
                  "%s: no expectation: %s", bn, m);
    ck_assert_msg(strncmp(m, bi, strlen(bi)) == 0 || strncmp(m, bl, strlen(bl)) == 0,
                  "%s: message does not start with the file: %s", bn, m);
    printf("  npy bad %s: %s\n", bn, m);
    nbad++;
  }
  fclose(b);
  ck_assert_int_ge(nbad, 25);
  rs_data_cache_clear();
  teardown_tmp();
}
END_TEST

/* Data files are opened without blocking: a FIFO (no writer), a directory and
 * a character device are refused at once with what they are. */
START_TEST(non_regular_files) {
  setup_tmp();
  ck_assert_int_eq(mkfifo(tpath("fifo"), 0600), 0);
  rs_config c = npy_config(tpath("fifo"), tpath("fifo"));
  expect_dataset_error(&c, "fifo", "not a regular file but a FIFO (expected a .npy file)");
  c = npy_config(tmpdir, tmpdir);
  expect_dataset_error(&c, NULL, "not a regular file but a directory");
  c = base_config(RS_DATA_IDX);
  snprintf(c.data.images, sizeof c.data.images, "%s", tpath("fifo"));
  expect_dataset_error(&c, "fifo", "not a regular file but a FIFO (expected an IDX file)");
  snprintf(c.data.images, sizeof c.data.images, "/dev/null");
  expect_dataset_error(&c, NULL, "/dev/null: not a regular file but a character device");
  teardown_tmp();
}
END_TEST

START_TEST(config_errors) {
  rs_config c = base_config(RS_DATA_GAUSSIAN_MIXTURE);
  c.measure.points = 301;
  expect_dataset_error(&c, NULL, "measure.points: 301 exceeds data.heldout_size 300");
  c = base_config(RS_DATA_GAUSSIAN_MIXTURE);
  c.data.classes = 1;
  expect_dataset_error(&c, NULL, "data.classes: 1 (expected an integer >= 2)");
  c = base_config(RS_DATA_GAUSSIAN_MIXTURE);
  c.data.noise = -1;
  expect_dataset_error(&c, NULL, "data.noise: -1 (expected a finite number >= 0)");
  c = base_config(RS_DATA_TEACHER);
  c.data.teacher_rank = 31;
  expect_dataset_error(&c, NULL, "data.teacher_rank: 31 (expected an integer from 1 to 30)");
  c = base_config(RS_DATA_GAUSSIAN_IB);
  c.data.rho[1] = 1.5;
  expect_dataset_error(&c, NULL, "data.rho[1]");
  c = base_config(RS_DATA_GAUSSIAN_IB);
  c.data.nrho = 9;
  expect_dataset_error(&c, NULL, "data.rho (count): 9");
  c = base_config(RS_DATA_GAUSSIAN_MIXTURE);
  c.data.train_size = 0;
  expect_dataset_error(&c, NULL, "data.train_size");
  c = base_config(RS_DATA_IDX);
  c.data.std = 0;
  expect_dataset_error(&c, NULL, "data.std");
  c = base_config(RS_DATA_IDX);
  c.data.labels[0] = '\0';
  expect_dataset_error(&c, NULL, "data.labels: empty");
  c = base_config(RS_DATA_NPY);
  expect_dataset_error(&c, NULL, "data.images: empty (expected the path of a .npy file)");
  c = base_config(RS_DATA_IDX);
  c.data.normalize = RS_NORM_GLOBAL;
  c.data.std = 0; /* only used by fixed */
  rs_dataset *d = make(&c);
  double m = 0, v = 0;
  size_t nv = (size_t)d->ntrain * d->dim;
  for (size_t i = 0; i < nv; i++) m += d->xtrain[i];
  m /= (double)nv;
  for (size_t i = 0; i < nv; i++) v += (d->xtrain[i] - m) * (d->xtrain[i] - m);
  /* global statistics of the whole file, so a 500-image subset is near 0, 1 */
  ck_assert_msg(fabs(m) < 0.05 && fabs(sqrt(v / (double)nv) - 1) < 0.05,
                "idx global normalisation: mean %g std %g", m, sqrt(v / (double)nv));
  rs_dataset_destroy(&d);
}
END_TEST

int main(void) {
  Suite *s = suite_create("data");
  TCase *tc = tcase_create("data");
  tcase_set_timeout(tc, 120);
  tcase_add_loop_test(tc, determinism, 0, 4);
  tcase_add_loop_test(tc, shapes, 0, 4);
  tcase_add_test(tc, streams_and_eval_points);
  tcase_add_test(tc, mixture_statistics);
  tcase_add_test(tc, gaussian_ib_correlations);
  tcase_add_test(tc, teacher_depends_on_projection_only);
  tcase_add_test(tc, idx_fashion_mnist);
  tcase_add_test(tc, idx_bad_files);
  tcase_add_test(tc, config_errors);
  tcase_add_test(tc, npy_files);
  tcase_add_test(tc, non_regular_files);
  suite_add_tcase(s, tc);
  return rs_check_run(s);
}
