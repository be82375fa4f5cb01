/* The fast local-rank path: singular values of J_l(x) = d p_l / d x for every
 * measured layer at every point, through small orthogonally compressed
 * factors instead of the explicit n_l x d0 Jacobians (docs/numerics.md, "Measurement"). */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <lapacke.h>

#include "measure_internal.h"
#include "ranksweep/rs_error.h"

double rs__lr_compress_ratio = 1.3;

/* Shared, read-only during the per-point sweep. The weight-dependent part
 * (R, rr, sv1, len) is built once per rs_lr_plan; the point-dependent part
 * (N, out, deriv, spec_off) once per call. */
typedef struct {
  const rs_netview *net; /* points to the plan's own copy */
  const rs_lr_points *out;
  int L, N, d0, k1, wmax;
  /* R[1]: k1 x n1, W_1 = R[1]^T Q^T. R[l], l >= 2: rr[l] x n_{l-1} with
   * W_l = Q R[l]. Column-major, zero below the diagonal. */
  double *R[RS_MAX_LAYERS + 3];
  int rr[RS_MAX_LAYERS + 3];
  double *deriv[RS_MAX_LAYERS + 3]; /* N x n_l: s'(p_l(x)), l = 1..L-1 */
  double *sv1;                      /* spectrum of W_1 */
  int nsv1;
  int len[RS_MAX_LAYERS + 3];
  size_t spec_off[RS_MAX_LAYERS + 3];
} rs__lr_plan;

typedef struct {
  double *Y, *Yn, *S, *Mt, *Wsub, *sv;
  int *A, *An, *h;
  rs__svws sw;
} rs__lr_ws;

int rs_spectrum_len(const rs_netview *net, int layer) {
  RS_ASSERT(layer >= 1 && layer <= net->nlayers);
  return net->sizes[layer] < net->sizes[0] ? net->sizes[layer] : net->sizes[0];
}

/* Householder QR of a column-major "staircase" matrix: column j is zero
 * below row h[j], h nondecreasing and h[j] >= j. Such are the column subsets
 * R[:, A] of a triangular R. Each reflector only spans rows j..h[j], so the
 * cost is far below a dense QR. On return the leading min(rows, cols) rows
 * hold the upper-trapezoidal factor, with exact zeros below the diagonal. */
static void rs__stair_qr(double *S, int ld, int rows, int cols, const int *h, double *w) {
  int kmax = rows < cols ? rows : cols;
  for (int j = 0; j < kmax; j++) {
    int last = h[j] < rows - 1 ? h[j] : rows - 1;
    lapack_int len = last - j + 1, one = 1;
    if (len <= 1) continue;
    double *c = S + j + (size_t)j * ld, tau;
    LAPACK_dlarfg(&len, c, c + 1, &one, &tau);
    int nc = cols - j - 1;
    if (tau != 0.0 && nc > 0) {
      double beta = c[0];
      c[0] = 1.0;
      double *T = c + ld;
      cblas_dgemv(CblasColMajor, CblasTrans, len, nc, 1.0, T, ld, c, 1, 0.0, w, 1);
      cblas_dger(CblasColMajor, len, nc, -tau, c, 1, w, 1, T, ld);
      c[0] = beta;
    }
    memset(c + 1, 0, sizeof(double) * (size_t)(len - 1));
  }
}

static void rs__lr_store(const rs__lr_plan *P, int l, int p, const double *sv, int nsv) {
  const rs_lr_points *o = P->out;
  size_t idx = (size_t)(l - 1) * P->N + p;
  int len = P->len[l];
  rs__lr_summarize(sv, nsv, len, P->net->sizes[l], P->d0, o->neps, o->eps,
                   o->counts + idx * (size_t)(o->neps + 1),
                   o->spectra ? o->spectra + P->spec_off[l] + (size_t)p * len : NULL,
                   o->effrank ? o->effrank + idx : NULL,
                   o->stablerank ? o->stablerank + idx : NULL);
}

/* One point. Invariant at the top of the loop over l: with A the units of
 * layer l whose derivative is non-zero, G_{l+1} := W_{l+1}[:, A] X where
 * X^T = Y (k x |A|) and J_{l+1} = G_{l+1} Q for some Q with orthonormal rows,
 * so sv(J_{l+1}) = sv(W_{l+1}[:, A] Y^T) = sv(Y R'^T), R' the triangular
 * factor of W_{l+1}[:, A] = Q_{l+1} R_{l+1}[:, A]. */
static int rs__lr_point(const rs__lr_plan *P, rs__lr_ws *w, int p) {
  const rs_netview *net = P->net;
  const int L = P->L;
  rs__lr_store(P, 1, p, P->sv1, P->nsv1);
  if (L == 1) return RS_OK;

  /* Y_1 = (D_1 R_1^T)[A, :]^T = R_1[:, A] D_1[A], compressed to k rows. */
  int n1 = net->sizes[1], k1 = P->k1;
  const double *d = P->deriv[1] + (size_t)p * n1;
  int na = 0;
  for (int i = 0; i < n1; i++)
    if (d[i] != 0.0) w->A[na++] = i;
  for (int j = 0; j < na; j++) {
    int a = w->A[j];
    const double *src = P->R[1] + (size_t)a * k1;
    double *dst = w->Yn + (size_t)j * k1, s = d[a];
    for (int i = 0; i < k1; i++) dst[i] = s * src[i];
    w->h[j] = a < k1 - 1 ? a : k1 - 1;
  }
  rs__stair_qr(w->Yn, k1, k1, na, w->h, w->sv);
  int k = k1 < na ? k1 : na;
  for (int j = 0; j < na; j++)
    memcpy(w->Y + (size_t)j * k, w->Yn + (size_t)j * k1, sizeof(double) * (size_t)k);
  bool tri = (k == na);

  for (int l = 1; l < L; l++) {
    if (na == 0 || k == 0) {
      /* The layer is dead at this point: every deeper Jacobian is zero. */
      for (int ll = l + 1; ll <= L; ll++) rs__lr_store(P, ll, p, w->sv, 0);
      return RS_OK;
    }
    int m = net->sizes[l], np = net->sizes[l + 1], rR = P->rr[l + 1];
    const double *R = P->R[l + 1];
    for (int j = 0; j < na; j++) {
      int a = w->A[j];
      memcpy(w->S + (size_t)j * rR, R + (size_t)a * rR, sizeof(double) * (size_t)rR);
      w->h[j] = a < rR - 1 ? a : rR - 1;
    }
    rs__stair_qr(w->S, rR, rR, na, w->h, w->sv);
    int rr = rR < na ? rR : na;
    if (rr == na) {
      memcpy(w->Mt, w->Y, sizeof(double) * (size_t)k * na);
      cblas_dtrmm(CblasColMajor, CblasRight, CblasUpper, CblasTrans, CblasNonUnit, k, na,
                  1.0, w->S, rR, w->Mt, k);
    } else {
      cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, k, rr, na, 1.0, w->Y, k, w->S, rR,
                  0.0, w->Mt, k);
    }
    int nsv = k < rr ? k : rr;
    RS_CALL(rs__sv_values(w->Mt, k, k, rr, w->sv, &w->sw));
    rs__lr_store(P, l + 1, p, w->sv, nsv);
    if (l + 1 == L) break;

    /* Y_{l+1} = (D_{l+1} W_{l+1}[A', A] X)^T = Y W_{l+1}[A', A]^T D_{l+1}[A']. */
    const double *d2 = P->deriv[l + 1] + (size_t)p * np;
    int nan_ = 0;
    for (int i = 0; i < np; i++)
      if (d2[i] != 0.0) w->An[nan_++] = i;
    const double *W = net->W[l + 1];
    for (int j = 0; j < nan_; j++) {
      const double *row = W + (size_t)w->An[j] * m;
      double s = d2[w->An[j]], *dst = w->Wsub + (size_t)j * na;
      for (int i = 0; i < na; i++) dst[i] = s * row[w->A[i]];
    }
    if (tri) {
      memcpy(w->Yn, w->Wsub, sizeof(double) * (size_t)na * nan_);
      cblas_dtrmm(CblasColMajor, CblasLeft, CblasUpper, CblasNoTrans, CblasNonUnit, k, nan_,
                  1.0, w->Y, k, w->Yn, k);
    } else if (nan_ > 0) {
      cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, k, nan_, na, 1.0, w->Y, k,
                  w->Wsub, na, 0.0, w->Yn, k);
    }
    if (nan_ > 0 && k > rs__lr_compress_ratio * nan_) {
      /* More rows than columns: the rank is at most |A'|; a QR keeps the
       * factor square (orthogonal, so the spectrum is untouched). */
      lapack_int info = LAPACKE_dgeqrf_work(LAPACK_COL_MAJOR, k, nan_, w->Yn, k, w->sw.tau,
                                            w->sw.work, w->sw.lwork);
      if (info != 0) return rs_error(RS_ELAPACK, "dgeqrf failed (info %d)", (int)info);
      for (int j = 0; j < nan_; j++) {
        double *dst = w->Y + (size_t)j * nan_;
        memcpy(dst, w->Yn + (size_t)j * k, sizeof(double) * (size_t)(j + 1));
        memset(dst + j + 1, 0, sizeof(double) * (size_t)(nan_ - j - 1));
      }
      k = nan_;
      tri = true;
    } else {
      double *t = w->Y;
      w->Y = w->Yn;
      w->Yn = t;
      tri = false;
    }
    int *ta = w->A;
    w->A = w->An;
    w->An = ta;
    na = nan_;
  }
  return RS_OK;
}

static void rs__lr_ws_free(rs__lr_ws *w) {
  free(w->Y); free(w->Yn); free(w->S); free(w->Mt); free(w->Wsub); free(w->sv);
  free(w->A); free(w->An); free(w->h);
  rs__svws_free(&w->sw);
  memset(w, 0, sizeof *w);
}

static int rs__lr_ws_init(rs__lr_ws *w, const rs__lr_plan *P) {
  memset(w, 0, sizeof *w);
  size_t kw = (size_t)P->k1 * P->wmax, ww = (size_t)P->wmax * P->wmax;
  size_t sz = kw > ww ? kw : ww;
  int big = P->k1 > P->wmax ? P->k1 : P->wmax;
  w->Y = malloc(sizeof(double) * sz);
  w->Yn = malloc(sizeof(double) * sz);
  w->S = malloc(sizeof(double) * sz);
  w->Mt = malloc(sizeof(double) * sz);
  w->Wsub = malloc(sizeof(double) * ww);
  w->sv = malloc(sizeof(double) * (size_t)big);
  w->A = malloc(sizeof(int) * (size_t)P->wmax);
  w->An = malloc(sizeof(int) * (size_t)P->wmax);
  w->h = malloc(sizeof(int) * (size_t)P->wmax);
  if (!w->Y || !w->Yn || !w->S || !w->Mt || !w->Wsub || !w->sv || !w->A || !w->An || !w->h) {
    rs__lr_ws_free(w);
    return rs_error(RS_ENOMEM, "local rank: cannot allocate per-thread workspace");
  }
  int rc = rs__svws_init(&w->sw, big);
  if (rc != RS_OK) rs__lr_ws_free(w);
  RS_CALL(rc);
  return RS_OK;
}

static void rs__lr_plan_free(rs__lr_plan *P) {
  for (int l = 0; l < RS_MAX_LAYERS + 3; l++) {
    free(P->R[l]);
    free(P->deriv[l]);
  }
  free(P->sv1);
  memset(P, 0, sizeof *P);
}

/* QR of the column-major rows x cols matrix B (destroyed); stores the
 * min(rows, cols) x cols upper-trapezoidal factor in *R. */
static int rs__qr_factor(double *B, int rows, int cols, double **R) {
  int r = rows < cols ? rows : cols;
  double *tau = malloc(sizeof(double) * (size_t)(r > 0 ? r : 1)), wq;
  *R = calloc((size_t)r * cols + 1, sizeof(double));
  if (!tau || !*R) {
    free(tau);
    return rs_error(RS_ENOMEM, "local rank: cannot allocate a %d x %d factor", rows, cols);
  }
  lapack_int info = LAPACKE_dgeqrf_work(LAPACK_COL_MAJOR, rows, cols, B, rows, tau, &wq, -1);
  lapack_int lw = info == 0 ? (lapack_int)wq + 1 : 1;
  double *work = malloc(sizeof(double) * (size_t)lw);
  if (!work) {
    free(tau);
    return rs_error(RS_ENOMEM, "local rank: cannot allocate QR workspace");
  }
  if (info == 0) info = LAPACKE_dgeqrf_work(LAPACK_COL_MAJOR, rows, cols, B, rows, tau, work, lw);
  free(work);
  free(tau);
  if (info != 0) return rs_error(RS_ELAPACK, "dgeqrf failed (info %d)", (int)info);
  for (int j = 0; j < cols; j++) {
    int top = j + 1 < r ? j + 1 : r;
    memcpy(*R + (size_t)j * r, B + (size_t)j * rows, sizeof(double) * (size_t)top);
  }
  return RS_OK;
}

static int rs__lr_plan_weights(rs__lr_plan *P, const rs_netview *net) {
  memset(P, 0, sizeof *P);
  P->net = net;
  P->L = net->nmeasure;
  P->d0 = net->sizes[0];
  P->k1 = net->sizes[1] < P->d0 ? net->sizes[1] : P->d0;
  for (int l = 1; l <= P->L; l++) {
    if (net->sizes[l] > P->wmax) P->wmax = net->sizes[l];
    P->len[l] = rs_spectrum_len(net, l);
  }
  int d0 = P->d0, n1 = net->sizes[1];

  /* Row-major W_1 is the column-major W_1^T; its QR gives W_1 = R^T Q^T. */
  double *B = malloc(sizeof(double) * (size_t)d0 * n1);
  if (!B) return rs_error(RS_ENOMEM, "local rank: cannot allocate %d x %d", d0, n1);
  memcpy(B, net->W[1], sizeof(double) * (size_t)d0 * n1);
  int rc = rs__qr_factor(B, d0, n1, &P->R[1]);
  free(B);
  RS_CALL(rc);
  P->rr[1] = P->k1;

  /* Layer 1: J_1 = W_1 at every point, one spectrum. */
  rs__svws sw;
  RS_CALL(rs__svws_init(&sw, P->k1 > n1 ? P->k1 : n1));
  double *C = malloc(sizeof(double) * (size_t)P->k1 * n1);
  P->sv1 = malloc(sizeof(double) * (size_t)P->k1);
  if (!C || !P->sv1) {
    free(C);
    rs__svws_free(&sw);
    return rs_error(RS_ENOMEM, "local rank: cannot allocate the layer-1 spectrum");
  }
  memcpy(C, P->R[1], sizeof(double) * (size_t)P->k1 * n1);
  rc = rs__sv_values(C, P->k1, P->k1, n1, P->sv1, &sw);
  free(C);
  rs__svws_free(&sw);
  RS_CALL(rc);
  P->nsv1 = P->k1;

  for (int l = 2; l <= P->L; l++) {
    int np = net->sizes[l], m = net->sizes[l - 1];
    double *Wc = malloc(sizeof(double) * (size_t)np * m);
    if (!Wc) return rs_error(RS_ENOMEM, "local rank: cannot allocate %d x %d", np, m);
    for (int i = 0; i < np; i++)
      for (int j = 0; j < m; j++) Wc[i + (size_t)j * np] = net->W[l][(size_t)i * m + j];
    rc = rs__qr_factor(Wc, np, m, &P->R[l]);
    free(Wc);
    RS_CALL(rc);
    P->rr[l] = np < m ? np : m;
  }
  return RS_OK;
}

static int rs__lr_plan_points(rs__lr_plan *P, const double *x, int N, const rs_lr_points *out) {
  const rs_netview *net = P->net;
  P->out = out;
  P->N = N;
  size_t off = 0;
  for (int l = 1; l <= P->L; l++) {
    P->spec_off[l] = off;
    off += (size_t)N * P->len[l];
  }
  for (int l = 0; l < RS_MAX_LAYERS + 3; l++) {
    free(P->deriv[l]);
    P->deriv[l] = NULL;
  }
  if (P->L >= 2) {
    /* Derivative patterns s'(p_l(x)) of layers 1..L-1 from one batched pass
     * over all points (BLAS-3). */
    rs_netview tv = *net;
    tv.nlayers = P->L - 1;
    tv.nmeasure = P->L - 1;
    tv.last_measured_linear = false;
    double *pre[RS_MAX_LAYERS + 3] = {0};
    for (int l = 1; l < P->L; l++) {
      P->deriv[l] = malloc(sizeof(double) * (size_t)N * net->sizes[l]);
      if (!P->deriv[l]) return rs_error(RS_ENOMEM, "local rank: cannot allocate derivatives");
      pre[l] = P->deriv[l];
    }
    RS_CALL(rs_netview_forward(&tv, x, N, NULL, pre));
    for (int l = 1; l < P->L; l++) {
      size_t cnt = (size_t)N * net->sizes[l];
      for (size_t i = 0; i < cnt; i++) P->deriv[l][i] = rs__act_deriv(net->act, P->deriv[l][i]);
    }
  }
  return RS_OK;
}

typedef struct {
  const rs__lr_plan *P;
  int p0, p1, rc;
  rs_error_saved why; /* the thread's error message, for the joining thread */
} rs__lr_task;

static void *rs__lr_worker(void *arg) {
  rs__lr_task *t = arg;
  rs__lr_ws w;
  t->rc = rs__lr_ws_init(&w, t->P);
  if (t->rc != RS_OK) {
    rs_error_save(&t->why);
    return NULL;
  }
  for (int p = t->p0; p < t->p1 && t->rc == RS_OK; p++) t->rc = rs__lr_point(t->P, &w, p);
  rs__lr_ws_free(&w);
  if (t->rc != RS_OK) rs_error_save(&t->why);
  return NULL;
}

static int rs__lr_check(const rs_netview *net, int npoints, const rs_lr_points *out) {
  if (net->nmeasure < 1 || net->nmeasure > net->nlayers || net->nlayers > RS_MAX_LAYERS + 1)
    return rs_error(RS_EARG, "local rank: netview has nmeasure %d, nlayers %d", net->nmeasure,
                    net->nlayers);
  for (int l = 0; l <= net->nmeasure; l++)
    if (net->sizes[l] < 1) return rs_error(RS_EARG, "local rank: sizes[%d] = %d", l, net->sizes[l]);
  if (npoints < 0) return rs_error(RS_EARG, "local rank: npoints %d", npoints);
  if (!out) return RS_OK; /* plan creation: network only */
  if (out->neps < 0 || out->neps > RS_MAX_EPS || (out->neps > 0 && !out->eps) || !out->counts)
    return rs_error(RS_EARG, "local rank: bad output (neps %d, eps/counts missing)", out->neps);
  return RS_OK;
}

struct rs_lr_plan {
  rs_netview net;
  rs__lr_plan P;
};

/* LAPACK's iterative kernels on NaN input fail late and obscurely: say so
 * up front (a diverged model should never reach the measurement). */
static int rs__finite(const double *a, size_t n, const char *what, int l) {
  if (!a) return RS_OK;
  for (size_t i = 0; i < n; i++)
    if (!isfinite(a[i])) {
      if (l > 0) return rs_error(RS_EARG, "local rank: %s%d has a non-finite entry at %zu", what, l, i);
      return rs_error(RS_EARG, "local rank: %s have a non-finite entry at %zu", what, i);
    }
  return RS_OK;
}

int rs_lr_plan_create(const rs_netview *net, rs_lr_plan **plan) {
  *plan = NULL;
  RS_CALL(rs__lr_check(net, 0, NULL));
  for (int l = 1; l <= net->nmeasure; l++) {
    RS_CALL(rs__finite(net->W[l], (size_t)net->sizes[l] * net->sizes[l - 1], "W", l));
    RS_CALL(rs__finite(net->b[l], (size_t)net->sizes[l], "b", l));
  }
  rs_lr_plan *p = calloc(1, sizeof *p);
  if (!p) return rs_error(RS_ENOMEM, "local rank: cannot allocate a plan");
  p->net = *net;
  int saved = openblas_get_num_threads();
  openblas_set_num_threads(1); /* same factors whatever the thread count */
  int rc = rs__lr_plan_weights(&p->P, &p->net);
  openblas_set_num_threads(saved);
  if (rc != RS_OK) rs_lr_plan_destroy(&p);
  RS_CALL(rc);
  *plan = p;
  return RS_OK;
}

void rs_lr_plan_destroy(rs_lr_plan **plan) {
  if (!*plan) return;
  rs__lr_plan_free(&(*plan)->P);
  free(*plan);
  *plan = NULL;
}

int rs_lr_plan_points(rs_lr_plan *plan, const double *x, int npoints, int nthreads,
                      rs_lr_points *out) {
  RS_CALL(rs__lr_check(&plan->net, npoints, out));
  if (npoints == 0) return RS_OK;
  if (nthreads < 1) nthreads = 1;
  if (nthreads > npoints) nthreads = npoints;
  if (nthreads > 64) nthreads = 64;
  /* One OpenBLAS thread per worker, also for nthreads == 1: results then do
   * not depend on the OpenBLAS thread count (threaded kernels sum in other
   * orders) and are bitwise identical for every nthreads. */
  int saved = openblas_get_num_threads();
  openblas_set_num_threads(1);
  rs__lr_plan *P = &plan->P;
  int rc = rs__finite(x, (size_t)npoints * plan->net.sizes[0], "evaluation points", 0);
  if (rc == RS_OK) rc = rs__lr_plan_points(P, x, npoints, out);
  if (rc == RS_OK) {
    rs__lr_task tasks[64];
    for (int t = 0; t < nthreads; t++) {
      tasks[t].P = P;
      tasks[t].p0 = (int)((int64_t)npoints * t / nthreads);
      tasks[t].p1 = (int)((int64_t)npoints * (t + 1) / nthreads);
      tasks[t].rc = RS_OK;
    }
    pthread_t th[64];
    int started = 0;
    for (int t = 1; t < nthreads; t++) {
      if (pthread_create(&th[t], NULL, rs__lr_worker, &tasks[t]) != 0) {
        tasks[t].rc = rs_error(RS_EINTERNAL, "local rank: cannot start thread %d", t);
        rs_error_save(&tasks[t].why);
        break;
      }
      started = t;
    }
    rs__lr_worker(&tasks[0]);
    for (int t = 1; t <= started; t++) pthread_join(th[t], NULL);
    for (int t = 0; t < nthreads && rc == RS_OK; t++)
      if (tasks[t].rc != RS_OK) rc = t == 0 ? tasks[t].rc : rs_error_restore(&tasks[t].why, tasks[t].rc);
  }
  for (int l = 0; l < RS_MAX_LAYERS + 3; l++) {
    free(P->deriv[l]);
    P->deriv[l] = NULL;
  }
  P->out = NULL;
  openblas_set_num_threads(saved);
  return rc;
}

int rs_localrank_points_mt(const rs_netview *net, const double *x, int npoints, int nthreads,
                           rs_lr_points *out) {
  RS_CALL(rs__lr_check(net, npoints, out));
  if (npoints == 0) return RS_OK;
  rs_lr_plan *plan;
  RS_CALL(rs_lr_plan_create(net, &plan));
  int rc = rs_lr_plan_points(plan, x, npoints, nthreads, out);
  rs_lr_plan_destroy(&plan);
  return rc;
}

int rs_localrank_points(const rs_netview *net, const double *x, int npoints, rs_lr_points *out) {
  return rs_localrank_points_mt(net, x, npoints, 1, out);
}
