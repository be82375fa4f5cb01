/* Unit tests of the closed-form Gaussian IB: the worked example of docs/theory.md
 * section 3, the covariance route against classical CCA on random joint
 * covariances, the shape of the optimal curve, and the spectrum proxies. */
#include <check.h>

#include "../rs_check.h"
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ranksweep/rs_error.h"
#include "ranksweep/rs_ib.h"
#include "ranksweep/rs_rng.h"

static const double ex_rho[4] = {0.9, 0.7, 0.5, 0.3};

#define ck_near(got, want, tol)                                                \
  ck_assert_msg(fabs((got) - (want)) <= (tol), "%s = %.10g, want %.10g (tol %g)", \
                #got, (double)(got), (double)(want), (double)(tol))

START_TEST(worked_example_critical_values) {
  /* Reference values as printed in docs/theory.md (4 decimals, 11.111 to 3). */
  const double beta_crit[4] = {1.2346, 2.0408, 4.0, 11.111};
  const double tol_crit[4] = {5e-5, 5e-5, 5e-5, 5e-4};
  const double beta_vib[4] = {0.81, 0.49, 0.25, 0.09};
  const double lambda[4] = {0.19, 0.51, 0.75, 0.91};
  rs_gib *g = NULL;
  ck_assert_int_eq(rs_gib_from_rho(ex_rho, 4, &g), RS_OK);
  ck_assert_int_eq(rs_gib_dim(g), 4);
  for (int i = 0; i < 4; i++) {
    ck_near(rs_gib_lambda(g, i), lambda[i], 1e-12);
    ck_near(rs_gib_beta_crit(g, i), beta_crit[i], tol_crit[i]);
    ck_near(rs_gib_beta_vib_crit(g, i), beta_vib[i], 1e-12);
  }
  ck_near(rs_gib_info_xy(g), 1.3580, 5e-5);
  rs_gib_destroy(&g);
  ck_assert_ptr_null(g);
}
END_TEST

START_TEST(worked_example_table) {
  const struct {
    double beta, beta_vib;
    int rank;
    double itx, ity;
  } row[6] = {{1.1, 0.9091, 0, 0, 0},           {1.5, 0.6667, 1, 0.3784, 0.2811},
              {3, 0.3333, 2, 1.3981, 0.7616},   {5, 0.2, 3, 2.2351, 0.9762},
              {20, 0.05, 4, 4.8878, 1.2554},    {100, 0.01, 4, 8.1891, 1.3379}};
  /* Correlations in a scrambled order must give the same answers. */
  const double scrambled[4] = {0.3, 0.9, 0.5, 0.7};
  for (int order = 0; order < 2; order++) {
    rs_gib *g = NULL;
    ck_assert_int_eq(rs_gib_from_rho(order ? scrambled : ex_rho, 4, &g), RS_OK);
    for (int k = 0; k < 6; k++) {
      rs_gib_point p;
      ck_assert_int_eq(rs_gib_at(g, row[k].beta, &p), RS_OK);
      ck_assert_int_eq(p.rank, row[k].rank);
      ck_near(p.beta_vib, row[k].beta_vib, 5e-5);
      ck_near(p.info_tx, row[k].itx, 5e-5);
      ck_near(p.info_ty, row[k].ity, 5e-5);
    }
    rs_gib_destroy(&g);
  }
}
END_TEST

/* A random joint covariance C = A A^T + I of (X, Y), dx + dy square, split
 * into its blocks. A has k columns so that some correlations can be small. */
static void random_joint(uint64_t seed, int dx, int dy, double *sx, double *sy, double *sxy) {
  int d = dx + dy, k = d;
  double *a = malloc((size_t)d * k * sizeof *a), *c = malloc((size_t)d * d * sizeof *c);
  rs_rng r;
  rs_rng_init(&r, seed, RS_STREAM_DATA, (uint32_t)(dx * 100 + dy));
  for (int i = 0; i < d * k; i++) a[i] = rs_rng_normal(&r);
  for (int i = 0; i < d; i++)
    for (int j = 0; j < d; j++) {
      double acc = i == j ? 1.0 : 0.0;
      for (int t = 0; t < k; t++) acc += a[i * k + t] * a[j * k + t];
      c[i * d + j] = acc;
    }
  for (int i = 0; i < dx; i++)
    for (int j = 0; j < dx; j++) sx[i * dx + j] = c[i * d + j];
  for (int i = 0; i < dy; i++)
    for (int j = 0; j < dy; j++) sy[i * dy + j] = c[(dx + i) * d + dx + j];
  for (int i = 0; i < dx; i++)
    for (int j = 0; j < dy; j++) sxy[i * dy + j] = c[i * d + dx + j];
  free(a);
  free(c);
}

START_TEST(covariance_route_matches_cca) {
  const int sizes[][2] = {{1, 4}, {3, 5}, {6, 2}, {10, 7}, {7, 10}, {20, 13}, {2, 1}};
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
    for (uint64_t seed = 1; seed <= 3; seed++) {
      int dx = sizes[s][0], dy = sizes[s][1], m = dx < dy ? dx : dy;
      double *sx = malloc((size_t)dx * dx * sizeof *sx), *sy = malloc((size_t)dy * dy * sizeof *sy);
      double *sxy = malloc((size_t)dx * dy * sizeof *sxy), *rho = malloc((size_t)m * sizeof *rho);
      random_joint(seed, dx, dy, sx, sy, sxy);
      rs_gib *g = NULL;
      ck_assert_int_eq(rs_gib_from_cov(sx, dx, sy, dy, sxy, &g), RS_OK);
      ck_assert_int_eq(rs_cca(sx, dx, sy, dy, sxy, rho), RS_OK);
      ck_assert_int_eq(rs_gib_dim(g), dx);
      for (int i = 0; i < m; i++) {
        /* A non-diagonal covariance gives correlations strictly inside (0,1):
         * a vacuous comparison of two zeros is ruled out here. */
        ck_assert_msg(rho[i] > 1e-3 && rho[i] < 1.0, "rho[%d] = %g", i, rho[i]);
        double want = 1.0 / (rho[i] * rho[i]), got = rs_gib_beta_crit(g, i);
        ck_assert_msg(fabs(got - want) <= 1e-10 * want,
                      "dx %d dy %d seed %d i %d: beta_crit %.15g vs 1/rho^2 %.15g (rel %.3g)",
                      dx, dy, (int)seed, i, got, want, fabs(got - want) / want);
        ck_assert_msg(fabs(rs_gib_beta_vib_crit(g, i) - rho[i] * rho[i]) <= 1e-10 * rho[i] * rho[i],
                      "beta_vib_crit %d", i);
      }
      /* dx > dy: the remaining directions of X carry no information on Y. */
      for (int i = m; i < dx; i++) ck_near(rs_gib_lambda(g, i), 1.0, 1e-10);
      rs_gib_destroy(&g);
      free(sx);
      free(sy);
      free(sxy);
      free(rho);
    }
  }
}
END_TEST

START_TEST(generator_covariance_matches_rho) {
  /* docs/theory.md's diagonal generator: Sigma_x = Sigma_y = I, x_i = rho_i y_i +
   * sqrt(1 - rho_i^2) n_i, plus two pure-noise input dimensions. */
  const int dx = 6, dy = 4;
  double sx[36] = {0}, sy[16] = {0}, sxy[24] = {0};
  for (int i = 0; i < dx; i++) sx[i * dx + i] = 1.0;
  for (int i = 0; i < dy; i++) sy[i * dy + i] = 1.0;
  for (int i = 0; i < 4; i++) sxy[i * dy + i] = ex_rho[i];
  rs_gib *a = NULL, *b = NULL;
  ck_assert_int_eq(rs_gib_from_cov(sx, dx, sy, dy, sxy, &a), RS_OK);
  ck_assert_int_eq(rs_gib_from_rho(ex_rho, 4, &b), RS_OK);
  for (int i = 0; i < 4; i++) ck_near(rs_gib_lambda(a, i), rs_gib_lambda(b, i), 1e-13);
  ck_near(rs_gib_lambda(a, 4), 1.0, 1e-13);
  ck_assert(isinf(rs_gib_beta_crit(a, 5)));
  ck_near(rs_gib_info_xy(a), rs_gib_info_xy(b), 1e-12);
  rs_gib_point p;
  ck_assert_int_eq(rs_gib_at(a, 1e9, &p), RS_OK);
  ck_assert_int_eq(p.rank, 4); /* the noise dimensions never become active */
  rs_gib_destroy(&a);
  rs_gib_destroy(&b);
}
END_TEST

START_TEST(curve_is_monotone) {
  const int dx = 9, dy = 12, n = 2000;
  double sx[81], sy[144], sxy[108];
  random_joint(11, dx, dy, sx, sy, sxy);
  rs_gib *g = NULL;
  ck_assert_int_eq(rs_gib_from_cov(sx, dx, sy, dy, sxy, &g), RS_OK);
  rs_gib_point *pts = malloc(n * sizeof *pts);
  ck_assert_int_eq(rs_gib_curve(g, 0.5, 1e4 * rs_gib_beta_crit(g, dx - 1), n, pts), RS_OK);
  ck_assert_int_eq(pts[0].rank, 0);
  ck_assert_int_eq(pts[n - 1].rank, dx);
  double ixy = rs_gib_info_xy(g);
  for (int k = 1; k < n; k++) {
    ck_assert(pts[k].beta > pts[k - 1].beta);
    ck_assert_int_ge(pts[k].rank, pts[k - 1].rank);
    ck_assert_msg(pts[k].info_tx >= pts[k - 1].info_tx, "I(T;X) falls at k = %d", k);
    ck_assert_msg(pts[k].info_ty >= pts[k - 1].info_ty, "I(T;Y) falls at k = %d", k);
    /* Data processing: T is a function of X plus noise. */
    ck_assert(pts[k].info_ty <= pts[k].info_tx + 1e-12);
    ck_assert(pts[k].info_ty <= ixy + 1e-12);
  }
  /* Rank steps exactly at the critical values. */
  for (int i = 0; i < dx; i++) {
    rs_gib_point lo, hi;
    double b = rs_gib_beta_crit(g, i);
    ck_assert_int_eq(rs_gib_at(g, b * (1 - 1e-9), &lo), RS_OK);
    ck_assert_int_eq(rs_gib_at(g, b * (1 + 1e-9), &hi), RS_OK);
    ck_assert_int_eq(lo.rank, i);
    ck_assert_int_eq(hi.rank, i + 1);
    ck_assert(fabs(hi.info_tx - lo.info_tx) < 1e-6); /* the curve is continuous */
  }
  free(pts);
  rs_gib_destroy(&g);
}
END_TEST

START_TEST(info_ty_tends_to_info_xy) {
  rs_gib *g = NULL;
  ck_assert_int_eq(rs_gib_from_rho(ex_rho, 4, &g), RS_OK);
  double ixy = rs_gib_info_xy(g), prev_gap = INFINITY;
  for (double beta = 20; beta <= 1e12; beta *= 10) {
    rs_gib_point p;
    ck_assert_int_eq(rs_gib_at(g, beta, &p), RS_OK);
    double gap = ixy - p.info_ty;
    ck_assert_msg(gap > 0 && gap < prev_gap, "beta %g gap %g prev %g", beta, gap, prev_gap);
    prev_gap = gap;
  }
  ck_assert_msg(prev_gap < 1e-9, "gap at beta 1e12: %g", prev_gap);
  rs_gib_destroy(&g);
}
END_TEST

START_TEST(bad_input_is_refused) {
  rs_gib *g = NULL;
  const double one[2] = {0.5, 1.0}, neg[1] = {-0.2};
  ck_assert_int_eq(rs_gib_from_rho(one, 2, &g), RS_EARG);
  ck_assert_ptr_null(g);
  ck_assert(strstr(rs_error_message(), "rho[1]") != NULL);
  ck_assert_int_eq(rs_gib_from_rho(neg, 1, &g), RS_EARG);
  ck_assert_int_eq(rs_gib_from_rho(neg, 0, &g), RS_EARG);
  ck_assert_int_eq(rs_gib_from_rho(ex_rho, 4, &g), RS_OK);
  rs_gib_point p;
  ck_assert_int_eq(rs_gib_at(g, 0.0, &p), RS_EARG);
  ck_assert_int_eq(rs_gib_at(g, -1.0, &p), RS_EARG);
  ck_assert_int_eq(rs_gib_curve(g, 2.0, 1.0, 10, &p), RS_EARG);
  rs_gib_destroy(&g);
  /* Sigma_x indefinite. */
  double sx[4] = {1, 2, 2, 1}, sy[1] = {1}, sxy[2] = {0.1, 0.1};
  ck_assert_int_eq(rs_gib_from_cov(sx, 2, sy, 1, sxy, &g), RS_EARG);
  ck_assert(strstr(rs_error_message(), "Sigma_x") != NULL);
  /* Blocks positive definite but the joint covariance is not (|corr| > 1). */
  double sx2[1] = {1}, sy2[1] = {1}, sxy2[1] = {1.5};
  ck_assert_int_eq(rs_gib_from_cov(sx2, 1, sy2, 1, sxy2, &g), RS_EARG);
  ck_assert_ptr_null(g);
  double rho;
  double sy3[4] = {1, 3, 3, 1}, sxy3[2] = {0.1, 0.1};
  ck_assert_int_eq(rs_cca(sx2, 1, sy3, 2, sxy3, &rho), RS_EARG);
  ck_assert(strstr(rs_error_message(), "Sigma_y") != NULL);
}
END_TEST

START_TEST(spectrum_proxies) {
  /* H: random centred N x w representation. The Gaussian-channel proxy from
   * its singular values must equal 1/2 log det(I + H^T H / (N sigma^2))
   * computed by Cholesky on the Gram matrix, without any SVD. */
  const int n = 300, w = 17;
  double *h = malloc((size_t)n * w * sizeof *h), gram[17 * 17], s[17];
  rs_rng r;
  rs_rng_init(&r, 5, RS_STREAM_DATA, 0);
  for (int i = 0; i < n * w; i++) h[i] = rs_rng_normal(&r) * (1 + (i % w));
  for (int j = 0; j < w; j++) {
    double m = 0;
    for (int i = 0; i < n; i++) m += h[i * w + j];
    for (int i = 0; i < n; i++) h[i * w + j] -= m / n;
  }
  double *hc = malloc((size_t)n * w * sizeof *hc);
  memcpy(hc, h, (size_t)n * w * sizeof *hc);
  ck_assert_int_eq(LAPACKE_dgesdd(LAPACK_ROW_MAJOR, 'N', n, w, hc, w, s, NULL, n, NULL, w), 0);
  const double sigmas[3] = {0.1, 1.0, 30.0};
  for (int k = 0; k < 3; k++) {
    double sg = sigmas[k];
    for (int a = 0; a < w; a++)
      for (int b = 0; b < w; b++) {
        double acc = a == b ? 1.0 : 0.0;
        for (int i = 0; i < n; i++) acc += h[i * w + a] * h[i * w + b] / (n * sg * sg);
        gram[a * w + b] = acc;
      }
    ck_assert_int_eq(LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', w, gram, w), 0);
    double logdet = 0;
    for (int a = 0; a < w; a++) logdet += 2 * log(gram[a * w + a]);
    ck_near(rs_ib_gauss_channel(s, w, n, sg), 0.5 * logdet, 1e-10 * fabs(logdet) + 1e-14);
  }
  /* Feature rank counts s/sqrt(N) above eps: each column j has per-point
   * scale about j+1, so thresholds between the scales count columns. */
  ck_assert_int_eq(rs_ib_feature_rank(s, w, n, 0.0), w);
  ck_assert_int_eq(rs_ib_feature_rank(s, w, n, 1e6), 0);
  int prev = w;
  for (double eps = 0.5; eps < 30; eps += 0.5) {
    int fr = rs_ib_feature_rank(s, w, n, eps), direct = 0;
    for (int i = 0; i < w; i++) direct += s[i] > eps * sqrt((double)n);
    ck_assert_int_eq(fr, direct);
    ck_assert_int_le(fr, prev);
    prev = fr;
  }
  /* Effective rank: k equal values give k; it lies in [1, n] otherwise. */
  const double eq[5] = {2, 2, 2, 0, 0};
  ck_near(rs_ib_effective_rank(eq, 5), 3.0, 1e-12);
  double er = rs_ib_effective_rank(s, w);
  ck_assert(er > 1.0 && er < w);
  ck_assert(rs_ib_effective_rank(eq + 3, 2) == 0.0);
  free(h);
  free(hc);
}
END_TEST

int main(void) {
  Suite *s = suite_create("ib");
  TCase *tc = tcase_create("gaussian_ib");
  tcase_add_test(tc, worked_example_critical_values);
  tcase_add_test(tc, worked_example_table);
  tcase_add_test(tc, covariance_route_matches_cca);
  tcase_add_test(tc, generator_covariance_matches_rho);
  tcase_add_test(tc, curve_is_monotone);
  tcase_add_test(tc, info_ty_tends_to_info_xy);
  tcase_add_test(tc, bad_input_is_refused);
  tcase_add_test(tc, spectrum_proxies);
  suite_add_tcase(s, tc);
  return rs_check_run(s);
}
