/* Unit tests of the measurement module: rank counts on matrices with known
 * spectra, Jacobians against finite differences, structural facts of the local
 * rank, the fast path against the explicit-Jacobian reference, threads, the
 * forward pass and the per-checkpoint metrics. */
#include <check.h>

#include "../rs_check.h"
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lr_nets.h"
#include "measure_internal.h"
#include "ranksweep/rs_error.h"
#include "ranksweep/rs_rng.h"

static const double EPS3[3] = {0.1, 0.01, 0.001};

typedef struct {
  rs_lr_points p;
  size_t nspec;
  int L, N;
} lr_res;

static void res_alloc(lr_res *r, const rs_netview *net, int N, int neps, const double *eps) {
  r->L = net->nmeasure;
  r->N = N;
  r->nspec = 0;
  for (int l = 1; l <= r->L; l++) r->nspec += (size_t)N * rs_spectrum_len(net, l);
  r->p.neps = neps;
  r->p.eps = eps;
  r->p.counts = calloc((size_t)r->L * N * (neps + 1), sizeof(int32_t));
  r->p.spectra = calloc(r->nspec, sizeof(double));
  r->p.effrank = calloc((size_t)r->L * N, sizeof(double));
  r->p.stablerank = calloc((size_t)r->L * N, sizeof(double));
  ck_assert(r->p.counts && r->p.spectra && r->p.effrank && r->p.stablerank);
}

static void res_free(lr_res *r) {
  free(r->p.counts);
  free(r->p.spectra);
  free(r->p.effrank);
  free(r->p.stablerank);
}

static size_t spec_off(const rs_netview *net, int N, int l, int p) {
  size_t off = 0;
  for (int k = 1; k < l; k++) off += (size_t)N * rs_spectrum_len(net, k);
  return off + (size_t)p * rs_spectrum_len(net, l);
}

/* U[:, :k] diag(s) V[:, :k]^T, row-major m x n. */
static void make_matrix(double *A, int m, int n, const double *s, int k, uint64_t seed) {
  double *U = malloc(sizeof(double) * (size_t)m * m), *V = malloc(sizeof(double) * (size_t)n * n);
  ck_assert(U && V);
  ck_assert_int_eq(lr_orthogonal(U, m, seed, 1), RS_OK);
  ck_assert_int_eq(lr_orthogonal(V, n, seed, 2), RS_OK);
  memset(A, 0, sizeof(double) * (size_t)m * n);
  for (int t = 0; t < k; t++)
    for (int i = 0; i < m; i++)
      for (int j = 0; j < n; j++) A[(size_t)i * n + j] += s[t] * U[(size_t)i * m + t] * V[(size_t)j * n + t];
  free(U);
  free(V);
}

START_TEST(rank_eps_constructed_spectra) {
  const int shapes[][2] = {{8, 8}, {12, 5}, {5, 12}, {30, 17}, {17, 30}, {40, 40}, {1, 9}};
  /* Values far from every threshold below (relative gaps > 1e-3), with exact
   * zeros for rank deficiency. */
  const double base[] = {3.0, 1.2, 0.5, 0.05, 0.02, 0.004, 0.0006, 2e-5, 3e-7, 0.7, 0.03, 0.002};
  const double thr[] = {0.1, 0.01, 0.001, 1e-4, 1e-6, 0.0};
  for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++) {
    int m = shapes[c][0], n = shapes[c][1], k = m < n ? m : n;
    for (int deficiency = 0; deficiency <= 1; deficiency++) {
      int r = deficiency ? k / 2 : k; /* planted exact rank */
      double *s = calloc((size_t)k, sizeof(double)), *A = malloc(sizeof(double) * (size_t)m * n);
      double *sv = malloc(sizeof(double) * (size_t)k);
      for (int i = 0; i < r; i++) s[i] = base[i % 12] * (1.0 + 0.01 * (i / 12));
      make_matrix(A, m, n, s, r, 100 + c);
      /* descending copy of the planted values */
      double *sd = malloc(sizeof(double) * (size_t)k);
      memcpy(sd, s, sizeof(double) * (size_t)k);
      for (int i = 0; i < k; i++)
        for (int j = i + 1; j < k; j++)
          if (sd[j] > sd[i]) { double t = sd[i]; sd[i] = sd[j]; sd[j] = t; }
      for (size_t e = 0; e < sizeof thr / sizeof thr[0]; e++) {
        int want = 0, got = -1;
        for (int i = 0; i < k; i++) want += s[i] > thr[e];
        if (thr[e] == 0.0) continue; /* rounding makes planted zeros tiny, not zero */
        ck_assert_int_eq(rs_rank_eps(A, m, n, thr[e], &got, sv), RS_OK);
        ck_assert_msg(got == want, "%dx%d rank %d eps %g: got %d want %d", m, n, r, thr[e], got, want);
      }
      for (int i = 0; i < k; i++)
        ck_assert_msg(fabs(sv[i] - sd[i]) <= 1e-13 * sd[0], "%dx%d sv[%d] %.17g vs %.17g", m, n, i, sv[i], sd[i]);
      /* NumPy tolerance counts the planted rank exactly. */
      int32_t counts[4];
      rs__lr_summarize(sv, k, k, m, n, 3, EPS3, counts, NULL, NULL, NULL);
      ck_assert_int_eq(counts[3], r);
      free(s); free(A); free(sv); free(sd);
    }
  }
  int rk = -1;
  ck_assert_int_eq(rs_rank_eps(NULL, 0, 5, 0.1, &rk, NULL), RS_OK);
  ck_assert_int_eq(rk, 0);
}
END_TEST

/* A singular value exactly on an eps is not counted: "above eps" is strict in
 * every place that counts (the local-rank columns, rs_rank_eps, the weights'
 * ranks of the checkpoint metrics). The values are powers of two, so a
 * diagonal matrix's computed singular values equal them bit for bit (checked
 * first: otherwise the boundary would not be tested at all). */
START_TEST(eps_boundary_is_strict) {
  static const double d[4] = {1.0, 0.5, 0.25, 0.125}, eps[3] = {0.5, 0.25, 0.125};
  const int32_t want[3] = {1, 2, 3}; /* with >= they would be 2, 3, 4 */
  int32_t counts[4];
  rs__lr_summarize(d, 4, 4, 4, 4, 3, eps, counts, NULL, NULL, NULL);
  for (int e = 0; e < 3; e++) ck_assert_int_eq(counts[e], want[e]);
  double A[16] = {0}, sv[4];
  for (int i = 0; i < 4; i++) A[i * 4 + i] = d[i];
  int rk = -1;
  ck_assert_int_eq(rs_rank_eps(A, 4, 4, 0.0, &rk, sv), RS_OK);
  for (int i = 0; i < 4; i++) ck_assert_msg(sv[i] == d[i], "sv[%d] %.17g, not %.17g", i, sv[i], d[i]);
  for (int e = 0; e < 3; e++) {
    ck_assert_int_eq(rs_rank_eps(A, 4, 4, eps[e], &rk, NULL), RS_OK);
    ck_assert_int_eq(rk, want[e]);
  }
  /* The whole local-rank path: layer 1's Jacobian is W1 at every point. */
  const int sizes[] = {4, 4, 4, 2};
  lr_net net;
  ck_assert_int_eq(lr_net_make(&net, 3, sizes, 2, RS_ACT_RELU, LR_INIT_FANIN, 0.1, 77), RS_OK);
  memcpy(net.w[1], A, sizeof A);
  int N = 5;
  double x[5 * 4];
  lr_points(x, N, 4, 78);
  lr_res r;
  res_alloc(&r, &net.view, N, 3, eps);
  ck_assert_int_eq(rs_localrank_points(&net.view, x, N, &r.p), RS_OK);
  for (int p = 0; p < N; p++) {
    for (int i = 0; i < 4; i++)
      ck_assert_msg(r.p.spectra[p * 4 + i] == d[i], "point %d sv[%d] %.17g", p, i, r.p.spectra[p * 4 + i]);
    for (int e = 0; e < 3; e++) ck_assert_int_eq(r.p.counts[p * 4 + e], want[e]);
  }
  res_free(&r);
  /* the weights' ranks of the checkpoint metrics */
  rs_dataset ds = {0};
  ds.dim = 4;
  ds.outputs = 2;
  ds.classification = true;
  ds.ntrain = N;
  ds.xtrain = x;
  int lab[5] = {0, 1, 0, 1, 0};
  ds.ltrain = lab;
  rs_ckpt_metrics m;
  ck_assert_int_eq(rs_checkpoint_metrics(&net.view, &ds, RS_LOSS_AUTO, 3, eps, &m), RS_OK);
  for (int e = 0; e < 3; e++) ck_assert_int_eq(m.wrank[0][e], want[e]);
  ck_assert(isfinite(m.train_loss));
  /* The weight part alone: the same norms and ranks bit for bit, no losses. */
  rs_ckpt_metrics w;
  ck_assert_int_eq(rs_checkpoint_weight_metrics(&net.view, 3, eps, &w), RS_OK);
  ck_assert_int_eq(w.nlayers, m.nlayers);
  for (int l = 0; l < m.nlayers; l++) {
    ck_assert(w.wfro[l] == m.wfro[l] && w.wspec[l] == m.wspec[l]);
    for (int e = 0; e < 3; e++) ck_assert_int_eq(w.wrank[l][e], m.wrank[l][e]);
  }
  ck_assert(isnan(w.train_loss) && isnan(w.train_acc) && isnan(w.heldout_loss) &&
            isnan(w.heldout_acc) && isnan(w.rate) && isnan(w.info_y));
  ck_assert_int_eq(rs_checkpoint_weight_metrics(&net.view, RS_MAX_EPS + 1, eps, &w), RS_EARG);
  lr_net_free(&net);
}
END_TEST

static void pre_at(const rs_netview *net, const double *x, int layer, double *p) {
  double *pre[RS_MAX_LAYERS + 3] = {0};
  pre[layer] = p;
  ck_assert_int_eq(rs_netview_forward(net, x, 1, NULL, pre), RS_OK);
}

START_TEST(jacobian_matches_finite_differences) {
  const rs_activation acts[] = {RS_ACT_TANH, RS_ACT_GELU, RS_ACT_IDENTITY, RS_ACT_RELU};
  const int sizes[] = {7, 9, 8, 6, 4};
  for (int a = 0; a < 4; a++) {
    lr_net net;
    ck_assert_int_eq(lr_net_make(&net, 4, sizes, 3, acts[a], LR_INIT_FANIN, 0.3, 11 + a), RS_OK);
    rs_rng r;
    rs_rng_init(&r, 5, RS_STREAM_EVAL, (uint32_t)a);
    int tested = 0;
    for (int attempt = 0; attempt < 200 && tested < 4; attempt++) {
      double x[7], p[16];
      for (int i = 0; i < 7; i++) x[i] = rs_rng_normal(&r);
      if (acts[a] == RS_ACT_RELU) { /* stay away from the kinks */
        double mind = INFINITY;
        for (int l = 1; l <= 2; l++) {
          pre_at(&net.view, x, l, p);
          for (int i = 0; i < sizes[l]; i++) mind = fmin(mind, fabs(p[i]));
        }
        if (mind < 1e-2) continue;
      }
      tested++;
      for (int l = 1; l <= 3; l++) {
        int n = sizes[l];
        double J[64], pp[16], pm[16], h = 1e-5;
        ck_assert_int_eq(rs__jacobian(&net.view, x, l, J), RS_OK);
        for (int j = 0; j < 7; j++) {
          double xp[7], xm[7];
          memcpy(xp, x, sizeof x);
          memcpy(xm, x, sizeof x);
          xp[j] += h;
          xm[j] -= h;
          pre_at(&net.view, xp, l, pp);
          pre_at(&net.view, xm, l, pm);
          for (int i = 0; i < n; i++) {
            double fd = (pp[i] - pm[i]) / (2 * h);
            ck_assert_msg(fabs(fd - J[i * 7 + j]) < 1e-7 * (1 + fabs(fd)),
                          "act %d layer %d J[%d,%d] = %.12g, finite difference %.12g", a, l, i, j,
                          J[i * 7 + j], fd);
          }
        }
      }
    }
    ck_assert_int_eq(tested, 4);
    lr_net_free(&net);
  }
}
END_TEST

START_TEST(layer1_is_w1_everywhere) {
  const int sizes[] = {40, 30, 25, 20, 3};
  for (int a = 0; a < 2; a++) {
    lr_net net;
    ck_assert_int_eq(lr_net_make(&net, 4, sizes, 3, a ? RS_ACT_TANH : RS_ACT_RELU, LR_INIT_LOWRANK,
                                 0.1, 3 + a), RS_OK);
    int N = 10;
    double *x = malloc(sizeof(double) * N * 40), J[30 * 40], sv[30];
    lr_points(x, N, 40, 9);
    for (int p = 0; p < N; p++) {
      ck_assert_int_eq(rs__jacobian(&net.view, x + p * 40, 1, J), RS_OK);
      ck_assert(memcmp(J, net.view.W[1], sizeof J) == 0);
    }
    lr_res r;
    res_alloc(&r, &net.view, N, 3, EPS3);
    ck_assert_int_eq(rs_localrank_points(&net.view, x, N, &r.p), RS_OK);
    int rk;
    ck_assert_int_eq(rs_rank_eps(net.view.W[1], 30, 40, 0.0, &rk, sv), RS_OK);
    for (int e = 0; e < 3; e++) {
      int want;
      ck_assert_int_eq(rs_rank_eps(net.view.W[1], 30, 40, EPS3[e], &want, NULL), RS_OK);
      ck_assert_int_lt(want, 30); /* planted low rank: the ladder sees it */
      for (int p = 0; p < N; p++) ck_assert_int_eq(r.p.counts[p * 4 + e], want);
    }
    int numpy = 0;
    while (numpy < 30 && sv[numpy] > sv[0] * 40 * DBL_EPSILON) numpy++;
    ck_assert_int_eq(numpy, 15);
    for (int p = 0; p < N; p++) ck_assert_int_eq(r.p.counts[p * 4 + 3], numpy);
    res_free(&r);
    free(x);
    lr_net_free(&net);
  }
}
END_TEST

typedef struct {
  int nlayers;
  int sizes[8];
  rs_activation act;
  lr_init init;
  double bias;
} net_case;

static const net_case CASES[] = {
    {5, {40, 30, 25, 35, 20, 3}, RS_ACT_RELU, LR_INIT_FANIN, 0.2},
    {4, {20, 50, 60, 45, 5}, RS_ACT_RELU, LR_INIT_FANIN, 0.1},   /* n1 > d0 */
    {4, {30, 30, 30, 30, 3}, RS_ACT_TANH, LR_INIT_FANIN, 0.3},
    {4, {25, 40, 15, 40, 4}, RS_ACT_GELU, LR_INIT_FANIN, 0.2},   /* bottleneck */
    {4, {35, 40, 40, 40, 4}, RS_ACT_IDENTITY, LR_INIT_FANIN, 0.0},
    {5, {60, 50, 50, 50, 50, 3}, RS_ACT_RELU, LR_INIT_LOWRANK, 0.0},
    {3, {30, 45, 45, 6}, RS_ACT_RELU, LR_INIT_LOWRANK, 0.3},
    {5, {16, 32, 32, 32, 32, 2}, RS_ACT_RELU, LR_INIT_FANIN, -0.8}, /* many dead units */
    {5, {50, 80, 20, 60, 40, 5}, RS_ACT_RELU, LR_INIT_FANIN, 0.3},  /* bottleneck */
    {5, {64, 16, 64, 8, 64, 2}, RS_ACT_GELU, LR_INIT_FANIN, 0.1},
    {4, {12, 30, 30, 30, 2}, RS_ACT_TANH, LR_INIT_LOWRANK, 0.2},    /* n_l > d0 */
};
#define NCASES (int)(sizeof CASES / sizeof CASES[0])

static void make_case(lr_net *net, int c) {
  const net_case *k = &CASES[c];
  ck_assert_int_eq(lr_net_make(net, k->nlayers, k->sizes, k->nlayers - 1, k->act, k->init, 0.0,
                               1000 + c), RS_OK);
  for (int l = 1; l <= k->nlayers; l++)
    for (int i = 0; i < k->sizes[l]; i++) net->b[l][i] += k->bias;
}

START_TEST(exact_rank_never_grows_with_depth) {
  for (int c = 0; c < NCASES; c++) {
    lr_net net;
    make_case(&net, c);
    int N = 16, d0 = net.view.sizes[0];
    double *x = malloc(sizeof(double) * N * d0);
    lr_points(x, N, d0, 77 + c);
    lr_res r;
    res_alloc(&r, &net.view, N, 3, EPS3);
    ck_assert_int_eq(rs_localrank_points(&net.view, x, N, &r.p), RS_OK);
    for (int p = 0; p < N; p++) {
      int bound = d0;
      for (int l = 1; l <= r.L; l++) {
        int cnt = r.p.counts[((size_t)(l - 1) * N + p) * 4 + 3];
        if (net.view.sizes[l] < bound) bound = net.view.sizes[l];
        ck_assert_msg(cnt <= bound, "case %d point %d layer %d: rank %d > %d", c, p, l, cnt, bound);
        if (l > 1) {
          int prev = r.p.counts[((size_t)(l - 2) * N + p) * 4 + 3];
          ck_assert_msg(cnt <= prev, "case %d point %d: rank grows %d -> %d at layer %d", c, p, prev,
                        cnt, l);
        }
      }
    }
    res_free(&r);
    free(x);
    lr_net_free(&net);
  }
}
END_TEST

START_TEST(fast_path_matches_explicit_jacobians) {
  const double eps[4] = {0.3, 0.1, 0.01, 0.001};
  long total_counts = 0;
  for (int c = 0; c < NCASES; c++) {
    lr_net net;
    make_case(&net, c);
    int N = 24, d0 = net.view.sizes[0];
    double *x = malloc(sizeof(double) * N * d0);
    lr_points(x, N, d0, 31 + c);
    lr_res fast, ref;
    res_alloc(&fast, &net.view, N, 4, eps);
    res_alloc(&ref, &net.view, N, 4, eps);
    ck_assert_int_eq(rs_localrank_points(&net.view, x, N, &fast.p), RS_OK);
    ck_assert_int_eq(rs__localrank_points_naive(&net.view, x, N, &ref.p), RS_OK);
    for (size_t i = 0; i < (size_t)fast.L * N * 5; i++) {
      ck_assert_msg(fast.p.counts[i] == ref.p.counts[i], "case %d entry %zu: fast %d naive %d", c, i,
                    fast.p.counts[i], ref.p.counts[i]);
      total_counts += ref.p.counts[i];
    }
    for (int l = 1; l <= fast.L; l++) {
      int len = rs_spectrum_len(&net.view, l);
      for (int p = 0; p < N; p++) {
        size_t o = spec_off(&net.view, N, l, p), idx = (size_t)(l - 1) * N + p;
        double smax = ref.p.spectra[o];
        for (int i = 0; i < len; i++)
          ck_assert_msg(fabs(fast.p.spectra[o + i] - ref.p.spectra[o + i]) <= 1e-12 * smax,
                        "case %d layer %d point %d sv[%d]: %.17g vs %.17g", c, l, p, i,
                        fast.p.spectra[o + i], ref.p.spectra[o + i]);
        ck_assert(fabs(fast.p.effrank[idx] - ref.p.effrank[idx]) <= 1e-10 * fmax(1, ref.p.effrank[idx]));
        ck_assert(fabs(fast.p.stablerank[idx] - ref.p.stablerank[idx]) <=
                  1e-10 * fmax(1, ref.p.stablerank[idx]));
      }
    }
    res_free(&fast);
    res_free(&ref);
    free(x);
    lr_net_free(&net);
  }
  ck_assert_int_gt(total_counts, 0);
}
END_TEST

START_TEST(effective_and_stable_rank_formulas) {
  lr_net net;
  make_case(&net, 0);
  int N = 8, d0 = net.view.sizes[0];
  double *x = malloc(sizeof(double) * N * d0);
  lr_points(x, N, d0, 5);
  lr_res r;
  res_alloc(&r, &net.view, N, 3, EPS3);
  ck_assert_int_eq(rs_localrank_points(&net.view, x, N, &r.p), RS_OK);
  double J[40 * 40];
  for (int l = 1; l <= r.L; l++) {
    int n = net.view.sizes[l];
    for (int p = 0; p < N; p++) {
      /* Direct formulas on the explicit Jacobian: Frobenius norm from the
       * entries, spectral norm and the entropy from its singular values. */
      ck_assert_int_eq(rs__jacobian(&net.view, x + p * d0, l, J), RS_OK);
      double fro2 = 0;
      for (int i = 0; i < n * d0; i++) fro2 += J[i] * J[i];
      double sv[40];
      int rk;
      ck_assert_int_eq(rs_rank_eps(J, n, d0, 0.0, &rk, sv), RS_OK);
      int k = n < d0 ? n : d0;
      double sum = 0, h = 0;
      for (int i = 0; i < k; i++) sum += sv[i];
      for (int i = 0; i < k; i++)
        if (sv[i] > 0) h -= sv[i] / sum * log(sv[i] / sum);
      size_t idx = (size_t)(l - 1) * N + p;
      ck_assert(fabs(r.p.stablerank[idx] - fro2 / (sv[0] * sv[0])) < 1e-10 * fro2 / (sv[0] * sv[0]));
      ck_assert(fabs(r.p.effrank[idx] - exp(h)) < 1e-10 * exp(h));
      ck_assert(r.p.effrank[idx] >= 1.0 && r.p.effrank[idx] <= k + 1e-9);
    }
  }
  res_free(&r);
  /* A dead first layer makes every deeper Jacobian zero: 0 by definition. */
  for (int i = 0; i < net.view.sizes[1]; i++) net.b[1][i] = -1e3;
  res_alloc(&r, &net.view, N, 3, EPS3);
  ck_assert_int_eq(rs_localrank_points(&net.view, x, N, &r.p), RS_OK);
  for (int l = 2; l <= r.L; l++)
    for (int p = 0; p < N; p++) {
      size_t idx = (size_t)(l - 1) * N + p, o = spec_off(&net.view, N, l, p);
      for (int e = 0; e < 4; e++) ck_assert_int_eq(r.p.counts[idx * 4 + e], 0);
      ck_assert(r.p.effrank[idx] == 0.0 && r.p.stablerank[idx] == 0.0);
      for (int i = 0; i < rs_spectrum_len(&net.view, l); i++) ck_assert(r.p.spectra[o + i] == 0.0);
    }
  ck_assert_int_eq(r.p.counts[3], 30); /* layer 1 is still W_1 */
  res_free(&r);
  free(x);
  lr_net_free(&net);
}
END_TEST

START_TEST(threads_give_identical_results) {
  for (int c = 0; c < NCASES; c += 3) {
    lr_net net;
    make_case(&net, c);
    int N = 13, d0 = net.view.sizes[0];
    double *x = malloc(sizeof(double) * N * d0);
    lr_points(x, N, d0, 3);
    lr_res a, b;
    res_alloc(&a, &net.view, N, 3, EPS3);
    ck_assert_int_eq(rs_localrank_points(&net.view, x, N, &a.p), RS_OK);
    for (int t = 2; t <= 3; t++) {
      res_alloc(&b, &net.view, N, 3, EPS3);
      ck_assert_int_eq(rs_localrank_points_mt(&net.view, x, N, t, &b.p), RS_OK);
      ck_assert(memcmp(a.p.counts, b.p.counts, sizeof(int32_t) * a.L * N * 4) == 0);
      ck_assert(memcmp(a.p.spectra, b.p.spectra, sizeof(double) * a.nspec) == 0);
      ck_assert(memcmp(a.p.effrank, b.p.effrank, sizeof(double) * a.L * N) == 0);
      res_free(&b);
    }
    res_free(&a);
    free(x);
    lr_net_free(&net);
  }
}
END_TEST

/* Straightforward per-point forward pass for comparisons. */
static void naive_forward(const rs_netview *net, const double *x, double *out, double **pre) {
  double h[128], p[128];
  memcpy(h, x, sizeof(double) * net->sizes[0]);
  for (int l = 1; l <= net->nlayers; l++) {
    int m = net->sizes[l - 1], n = net->sizes[l];
    for (int i = 0; i < n; i++) {
      double s = net->b[l][i];
      for (int j = 0; j < m; j++) s += net->W[l][i * m + j] * h[j];
      p[i] = s;
    }
    if (pre && pre[l]) memcpy(pre[l], p, sizeof(double) * n);
    bool act = l < net->nlayers && !(net->last_measured_linear && l == net->nmeasure);
    for (int i = 0; i < n; i++) h[i] = act ? rs__act(net->act, p[i]) : p[i];
  }
  memcpy(out, h, sizeof(double) * net->sizes[net->nlayers]);
}

START_TEST(forward_pass_matches_loop) {
  const int sizes[] = {9, 12, 7, 5, 4};
  for (int a = 0; a < 4; a++)
    for (int lin = 0; lin <= 1; lin++) {
      lr_net net;
      ck_assert_int_eq(lr_net_make(&net, 4, sizes, 3, (rs_activation)a, LR_INIT_FANIN, 0.5, 40 + a), RS_OK);
      net.view.last_measured_linear = lin; /* VIB mean head: no activation after layer 3 */
      int N = 700; /* more than one internal chunk */
      double *x = malloc(sizeof(double) * N * 9), *out = malloc(sizeof(double) * N * 4);
      double *p2 = malloc(sizeof(double) * N * 7), *p3 = malloc(sizeof(double) * N * 5);
      lr_points(x, N, 9, 8);
      double *pre[RS_MAX_LAYERS + 3] = {0};
      pre[2] = p2;
      pre[3] = p3;
      ck_assert_int_eq(rs_netview_forward(&net.view, x, N, out, pre), RS_OK);
      for (int p = 0; p < N; p += 37) {
        double o[4], q2[7], q3[5], *qp[RS_MAX_LAYERS + 3] = {0};
        qp[2] = q2;
        qp[3] = q3;
        naive_forward(&net.view, x + p * 9, o, qp);
        for (int i = 0; i < 4; i++) ck_assert(fabs(o[i] - out[p * 4 + i]) < 1e-12 * (1 + fabs(o[i])));
        for (int i = 0; i < 7; i++) ck_assert(fabs(q2[i] - p2[p * 7 + i]) < 1e-12 * (1 + fabs(q2[i])));
        for (int i = 0; i < 5; i++) ck_assert(fabs(q3[i] - p3[p * 5 + i]) < 1e-12 * (1 + fabs(q3[i])));
      }
      free(x); free(out); free(p2); free(p3);
      lr_net_free(&net);
    }
}
END_TEST

START_TEST(checkpoint_metrics_match_naive) {
  const int sizes[] = {10, 14, 12, 6};
  for (int task = 0; task < 2; task++) {
    lr_net net;
    ck_assert_int_eq(lr_net_make(&net, 3, sizes, 2, RS_ACT_RELU, task ? LR_INIT_LOWRANK : LR_INIT_FANIN,
                                 0.2, 90 + task), RS_OK);
    rs_dataset d = {0};
    d.dim = 10;
    d.outputs = 6;
    d.classification = task == 0;
    d.ntrain = 1500;
    d.nheld = 333;
    d.xtrain = malloc(sizeof(double) * d.ntrain * 10);
    d.xheld = malloc(sizeof(double) * d.nheld * 10);
    lr_points(d.xtrain, d.ntrain, 10, 1);
    lr_points(d.xheld, d.nheld, 10, 2);
    rs_rng r;
    rs_rng_init(&r, 3, RS_STREAM_DATA, 0);
    if (d.classification) {
      d.ltrain = malloc(sizeof(int) * d.ntrain);
      d.lheld = malloc(sizeof(int) * d.nheld);
      for (int i = 0; i < d.ntrain; i++) d.ltrain[i] = (int)rs_rng_below(&r, 6);
      for (int i = 0; i < d.nheld; i++) d.lheld[i] = (int)rs_rng_below(&r, 6);
    } else {
      d.ytrain = malloc(sizeof(double) * d.ntrain * 6);
      d.yheld = malloc(sizeof(double) * d.nheld * 6);
      lr_points(d.ytrain, d.ntrain, 6, 4);
      lr_points(d.yheld, d.nheld, 6, 5);
    }
    const double eps[2] = {0.01, 0.5};
    rs_ckpt_metrics m;
    ck_assert_int_eq(rs_checkpoint_metrics(&net.view, &d, RS_LOSS_AUTO, 2, eps, &m), RS_OK);
    for (int set = 0; set < 2; set++) {
      int n = set ? d.nheld : d.ntrain;
      const double *X = set ? d.xheld : d.xtrain;
      double loss = 0;
      int correct = 0;
      for (int i = 0; i < n; i++) {
        double o[6];
        naive_forward(&net.view, X + i * 10, o, NULL);
        if (d.classification) {
          int lab = set ? d.lheld[i] : d.ltrain[i], arg = 0;
          double s = 0;
          for (int j = 0; j < 6; j++) {
            s += exp(o[j]);
            if (o[j] > o[arg]) arg = j;
          }
          loss += log(s) - o[lab];
          correct += arg == lab;
        } else {
          const double *y = (set ? d.yheld : d.ytrain) + i * 6;
          for (int j = 0; j < 6; j++) loss += (o[j] - y[j]) * (o[j] - y[j]);
        }
      }
      loss /= d.classification ? n : 6.0 * n;
      double got = set ? m.heldout_loss : m.train_loss, acc = set ? m.heldout_acc : m.train_acc;
      ck_assert_msg(fabs(got - loss) < 1e-12 * fabs(loss), "task %d set %d loss %.15g vs %.15g", task,
                    set, got, loss);
      if (d.classification) ck_assert(acc == (double)correct / n);
      else ck_assert(isnan(acc));
    }
    ck_assert(isnan(m.rate) && isnan(m.info_y));
    ck_assert_int_eq(m.nlayers, 3);
    for (int l = 1; l <= 3; l++) {
      int o = sizes[l], in = sizes[l - 1], k = o < in ? o : in, rk;
      double f = 0, sv[16];
      for (int i = 0; i < o * in; i++) f += net.view.W[l][i] * net.view.W[l][i];
      ck_assert(fabs(m.wfro[l - 1] - sqrt(f)) < 1e-13 * sqrt(f));
      ck_assert_int_eq(rs_rank_eps(net.view.W[l], o, in, 0.0, &rk, sv), RS_OK);
      ck_assert(fabs(m.wspec[l - 1] - sv[0]) < 1e-13 * sv[0]);
      for (int e = 0; e < 2; e++) {
        int want = 0;
        for (int i = 0; i < k; i++) want += sv[i] > eps[e];
        ck_assert_int_eq(m.wrank[l - 1][e], want);
      }
    }
    if (task == 1) ck_assert_int_lt(m.wrank[0][1], 10); /* planted low rank is seen */
    free(d.xtrain); free(d.xheld); free(d.ltrain); free(d.lheld); free(d.ytrain); free(d.yheld);
    lr_net_free(&net);
  }
}
END_TEST

START_TEST(bad_arguments_are_errors) {
  lr_net net;
  make_case(&net, 0);
  lr_res r;
  res_alloc(&r, &net.view, 2, 3, EPS3);
  double x[80] = {0};
  r.p.neps = RS_MAX_EPS + 1;
  ck_assert_int_eq(rs_localrank_points(&net.view, x, 2, &r.p), RS_EARG);
  r.p.neps = 3;
  x[7] = NAN;
  ck_assert_int_eq(rs_localrank_points(&net.view, x, 2, &r.p), RS_EARG);
  x[7] = 0.0;
  net.w[2][5] = INFINITY;
  ck_assert_int_eq(rs_localrank_points(&net.view, x, 2, &r.p), RS_EARG);
  net.w[2][5] = 0.0;
  ck_assert_int_eq(rs_localrank_points(&net.view, x, 2, &r.p), RS_OK);
  net.view.nmeasure = 0;
  ck_assert_int_eq(rs_localrank_points(&net.view, x, 2, &r.p), RS_EARG);
  res_free(&r);
  lr_net_free(&net);
}
END_TEST

START_TEST(random_small_shapes_match_reference) {
  /* Widths from 1 up, d0 smaller and larger than the layers, every
   * activation, nmeasure from 1 to all hidden layers. */
  rs_rng g;
  rs_rng_init(&g, 2718, RS_STREAM_DATA, 0);
  for (int c = 0; c < 60; c++) {
    int nl = 2 + (int)rs_rng_below(&g, 4), sizes[8];
    for (int l = 0; l <= nl; l++) sizes[l] = 1 + (int)rs_rng_below(&g, 14);
    rs_activation act = (rs_activation)rs_rng_below(&g, 4);
    lr_net net;
    ck_assert_int_eq(lr_net_make(&net, nl, sizes, 1 + (int)rs_rng_below(&g, (uint64_t)(nl - 1)), act,
                                 rs_rng_below(&g, 2) ? LR_INIT_LOWRANK : LR_INIT_FANIN, 0.3, 500 + c),
                     RS_OK);
    int N = 5, d0 = sizes[0];
    double *x = malloc(sizeof(double) * N * d0);
    lr_points(x, N, d0, 600 + c);
    lr_res fast, ref;
    res_alloc(&fast, &net.view, N, 3, EPS3);
    res_alloc(&ref, &net.view, N, 3, EPS3);
    ck_assert_int_eq(rs_localrank_points(&net.view, x, N, &fast.p), RS_OK);
    ck_assert_int_eq(rs__localrank_points_naive(&net.view, x, N, &ref.p), RS_OK);
    for (size_t i = 0; i < (size_t)fast.L * N * 4; i++)
      ck_assert_msg(fast.p.counts[i] == ref.p.counts[i], "shape case %d entry %zu: %d vs %d", c, i,
                    fast.p.counts[i], ref.p.counts[i]);
    for (int l = 1; l <= fast.L; l++)
      for (int p = 0; p < N; p++) {
        size_t o = spec_off(&net.view, N, l, p);
        for (int i = 0; i < rs_spectrum_len(&net.view, l); i++)
          ck_assert(fabs(fast.p.spectra[o + i] - ref.p.spectra[o + i]) <= 1e-12 * ref.p.spectra[o]);
      }
    res_free(&fast);
    res_free(&ref);
    free(x);
    lr_net_free(&net);
  }
}
END_TEST

START_TEST(plan_reuse_over_shards_is_identical) {
  for (int c = 0; c < NCASES; c += 2) {
    lr_net net;
    make_case(&net, c);
    int N = 21, d0 = net.view.sizes[0], L = net.view.nmeasure, shard = 4;
    double *x = malloc(sizeof(double) * N * d0);
    lr_points(x, N, d0, 12);
    lr_res all, part;
    res_alloc(&all, &net.view, N, 3, EPS3);
    ck_assert_int_eq(rs_localrank_points(&net.view, x, N, &all.p), RS_OK);
    rs_lr_plan *plan = NULL;
    ck_assert_int_eq(rs_lr_plan_create(&net.view, &plan), RS_OK);
    for (int p0 = 0; p0 < N; p0 += shard) {
      int np = N - p0 < shard ? N - p0 : shard;
      res_alloc(&part, &net.view, np, 3, EPS3);
      ck_assert_int_eq(rs_lr_plan_points(plan, x + (size_t)p0 * d0, np, 1 + (p0 / shard) % 2, &part.p), RS_OK);
      for (int l = 1; l <= L; l++)
        for (int p = 0; p < np; p++) {
          size_t ia = (size_t)(l - 1) * N + p0 + p, ip = (size_t)(l - 1) * np + p;
          ck_assert(memcmp(all.p.counts + ia * 4, part.p.counts + ip * 4, 4 * sizeof(int32_t)) == 0);
          ck_assert(all.p.effrank[ia] == part.p.effrank[ip]);
          ck_assert(all.p.stablerank[ia] == part.p.stablerank[ip]);
          ck_assert(memcmp(all.p.spectra + spec_off(&net.view, N, l, p0 + p),
                           part.p.spectra + spec_off(&net.view, np, l, p),
                           sizeof(double) * rs_spectrum_len(&net.view, l)) == 0);
        }
      res_free(&part);
    }
    rs_lr_plan_destroy(&plan);
    ck_assert_ptr_null(plan);
    res_free(&all);
    free(x);
    lr_net_free(&net);
  }
}
END_TEST

/* The mean of stored counts: exact (an integer sum divided once), so equal
 * whatever order the points come in; padding columns untouched. */
START_TEST(mean_counts_exact_and_order_free) {
  enum { NL = 2, NP = 7, STRIDE = 4, NEPS = 2, NUMPY = 3 };
  int32_t cnt[NL * NP * STRIDE], rev[NL * NP * STRIDE];
  for (int l = 0; l < NL; l++)
    for (int p = 0; p < NP; p++)
      for (int e = 0; e < STRIDE; e++) {
        int32_t v = e == 2 ? -1 : (int32_t)((l * 11 + p * 5 + e * 3) % 9);
        cnt[(l * NP + p) * STRIDE + e] = v;
        rev[(l * NP + (NP - 1 - p)) * STRIDE + e] = v;
      }
  double out[NL * STRIDE], out2[NL * STRIDE];
  for (int i = 0; i < NL * STRIDE; i++) out[i] = out2[i] = NAN;
  rs_lr_mean_counts(cnt, NL, NP, STRIDE, NEPS, NUMPY, out);
  rs_lr_mean_counts(rev, NL, NP, STRIDE, NEPS, NUMPY, out2);
  for (int l = 0; l < NL; l++)
    for (int e = 0; e < STRIDE; e++) {
      double *m = &out[l * STRIDE + e];
      if (e == 2) { /* padding: neither eps nor NumPy column */
        ck_assert(isnan(*m));
        continue;
      }
      int64_t sum = 0;
      for (int p = 0; p < NP; p++) sum += cnt[(l * NP + p) * STRIDE + e];
      ck_assert(*m == (double)sum / NP);
      ck_assert(memcmp(m, &out2[l * STRIDE + e], sizeof *m) == 0);
    }
  /* no points: nothing written */
  double none = NAN;
  rs_lr_mean_counts(cnt, 1, 0, STRIDE, NEPS, NUMPY, &none);
  ck_assert(isnan(none));
}
END_TEST

int main(void) {
  Suite *s = suite_create("measure");
  TCase *tc = tcase_create("measure");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, rank_eps_constructed_spectra);
  tcase_add_test(tc, eps_boundary_is_strict);
  tcase_add_test(tc, jacobian_matches_finite_differences);
  tcase_add_test(tc, layer1_is_w1_everywhere);
  tcase_add_test(tc, exact_rank_never_grows_with_depth);
  tcase_add_test(tc, fast_path_matches_explicit_jacobians);
  tcase_add_test(tc, effective_and_stable_rank_formulas);
  tcase_add_test(tc, threads_give_identical_results);
  tcase_add_test(tc, forward_pass_matches_loop);
  tcase_add_test(tc, checkpoint_metrics_match_naive);
  tcase_add_test(tc, bad_arguments_are_errors);
  tcase_add_test(tc, random_small_shapes_match_reference);
  tcase_add_test(tc, plan_reuse_over_shards_is_identical);
  tcase_add_test(tc, mean_counts_exact_and_order_free);
  suite_add_tcase(s, tc);
  return rs_check_run(s);
}
