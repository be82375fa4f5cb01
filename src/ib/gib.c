/* The Gaussian information bottleneck in closed form: the eigenvalues lambda_i
 * of Sigma_{x|y} Sigma_x^{-1}, the critical trade-offs, and the optimal curve
 * (rank, I(T;X), I(T;Y)) at any beta. Also classical CCA as an independent
 * route to the same spectrum. */
#include "ranksweep/rs_ib.h"

#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ranksweep/rs_config.h"
#include "ranksweep/rs_error.h"

struct rs_gib {
  int n;
  double *lambda; /* ascending */
};

static int rs__gib_alloc(int n, rs_gib **out) {
  rs_gib *g = calloc(1, sizeof *g);
  RS_CHECK(g, RS_ENOMEM, "Gaussian IB: out of memory");
  g->n = n;
  g->lambda = malloc((size_t)(n > 0 ? n : 1) * sizeof *g->lambda);
  if (!g->lambda) {
    free(g);
    return rs_error(RS_ENOMEM, "Gaussian IB: out of memory for %d eigenvalues", n);
  }
  *out = g;
  return RS_OK;
}

static int rs__cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int rs_gib_from_rho(const double *rho, int n, rs_gib **out) {
  *out = NULL;
  if (n < 1) return rs_error(RS_EARG, "rho: expected at least one canonical correlation");
  for (int i = 0; i < n; i++)
    if (!rs_rho_in_range(rho[i]))
      return rs_error(RS_EARG, "rho[%d] = %g: expected a canonical correlation in (%g, %g)",
                      i, rho[i], RS_RHO_LO, RS_RHO_HI);
  rs_gib *g = NULL;
  RS_CALL(rs__gib_alloc(n, &g));
  for (int i = 0; i < n; i++) g->lambda[i] = 1.0 - rho[i] * rho[i];
  qsort(g->lambda, (size_t)n, sizeof *g->lambda, rs__cmp_double);
  *out = g;
  return RS_OK;
}

/* Sigma_{x|y} = Sigma_x - Sigma_xy Sigma_y^{-1} Sigma_yx, via a Cholesky solve
 * with Sigma_y. Writes dx x dx to sxgy. */
static int rs__conditional(const double *sx, int dx, const double *sy, int dy,
                           const double *sxy, double *sxgy) {
  double *ly = malloc((size_t)dy * dy * sizeof *ly);
  double *z = malloc((size_t)dy * dx * sizeof *z); /* Sigma_y^{-1} Sigma_yx */
  int err = RS_OK;
  if (!ly || !z) {
    err = rs_error(RS_ENOMEM, "Sigma_{x|y}: out of memory (dx = %d, dy = %d)", dx, dy);
    goto done;
  }
  memcpy(ly, sy, (size_t)dy * dy * sizeof *ly);
  for (int i = 0; i < dy; i++)
    for (int j = 0; j < dx; j++) z[(size_t)i * dx + j] = sxy[(size_t)j * dy + i];
  if (LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', dy, ly, dy) != 0) {
    err = rs_error(RS_EARG, "Sigma_y (%d x %d): expected a positive definite matrix", dy, dy);
    goto done;
  }
  if (LAPACKE_dpotrs(LAPACK_ROW_MAJOR, 'L', dy, dx, ly, dy, z, dx) != 0) {
    err = rs_error(RS_ELAPACK, "dpotrs failed on Sigma_y");
    goto done;
  }
  for (int i = 0; i < dx; i++)
    for (int j = 0; j < dx; j++) {
      double acc = 0.0;
      for (int k = 0; k < dy; k++) acc += sxy[(size_t)i * dy + k] * z[(size_t)k * dx + j];
      sxgy[(size_t)i * dx + j] = sx[(size_t)i * dx + j] - acc;
    }
  /* Symmetrise: rounding leaves the two triangles slightly different. */
  for (int i = 0; i < dx; i++)
    for (int j = 0; j < i; j++) {
      double m = 0.5 * (sxgy[(size_t)i * dx + j] + sxgy[(size_t)j * dx + i]);
      sxgy[(size_t)i * dx + j] = sxgy[(size_t)j * dx + i] = m;
    }
done:
  free(ly);
  free(z);
  return err;
}

int rs_gib_from_cov(const double *sx, int dx, const double *sy, int dy,
                    const double *sxy, rs_gib **out) {
  *out = NULL;
  if (dx < 1 || dy < 1)
    return rs_error(RS_EARG, "covariances: expected dimensions >= 1, got dx = %d, dy = %d", dx, dy);
  double *a = malloc((size_t)dx * dx * sizeof *a);
  double *b = malloc((size_t)dx * dx * sizeof *b);
  rs_gib *g = NULL;
  int err = RS_OK;
  if (!a || !b) {
    err = rs_error(RS_ENOMEM, "Gaussian IB: out of memory (dx = %d)", dx);
    goto done;
  }
  RS_TRY(err, rs__conditional(sx, dx, sy, dy, sxy, a), done);
  memcpy(b, sx, (size_t)dx * dx * sizeof *b);
  RS_TRY(err, rs__gib_alloc(dx, &g), done);
  /* itype 1: A v = lambda B v. Eigenvalues of B^{-1} A, which is similar to
   * A B^{-1} = Sigma_{x|y} Sigma_x^{-1}. dsygv returns them ascending. */
  lapack_int info = LAPACKE_dsygv(LAPACK_ROW_MAJOR, 1, 'N', 'L', dx, a, dx, b, dx, g->lambda);
  if (info > dx) {
    err = rs_error(RS_EARG, "Sigma_x (%d x %d): expected a positive definite matrix", dx, dx);
    goto done;
  }
  if (info != 0) {
    err = rs_error(RS_ELAPACK, "dsygv failed (info %d)", (int)info);
    goto done;
  }
  /* Rounding can push lambda = 1 (independent directions) a hair above 1. */
  for (int i = 0; i < dx; i++) {
    double l = g->lambda[i];
    if (!(l > 0.0 && l < 1.0 + 1e-10)) {
      err = rs_error(RS_EARG,
                     "covariances: lambda_%d = %g outside (0, 1]: the joint covariance of "
                     "(X, Y) is not positive definite", i, l);
      goto done;
    }
    if (l > 1.0) g->lambda[i] = 1.0;
  }
done:
  free(a);
  free(b);
  if (err != RS_OK) rs_gib_destroy(&g);
  *out = g;
  return err;
}

void rs_gib_destroy(rs_gib **g) {
  if (!g || !*g) return;
  free((*g)->lambda);
  free(*g);
  *g = NULL;
}

int rs_gib_dim(const rs_gib *g) { return g->n; }

double rs_gib_lambda(const rs_gib *g, int i) {
  RS_ASSERT(i >= 0 && i < g->n);
  return g->lambda[i];
}

double rs_gib_beta_crit(const rs_gib *g, int i) {
  RS_ASSERT(i >= 0 && i < g->n);
  double r2 = 1.0 - g->lambda[i];
  return r2 > 0.0 ? 1.0 / r2 : INFINITY;
}

double rs_gib_beta_vib_crit(const rs_gib *g, int i) {
  RS_ASSERT(i >= 0 && i < g->n);
  return 1.0 - g->lambda[i];
}

double rs_gib_info_xy(const rs_gib *g) {
  double s = 0.0;
  for (int i = 0; i < g->n; i++) s += log(g->lambda[i]);
  return -0.5 * s;
}

int rs_gib_at(const rs_gib *g, double beta, rs_gib_point *p) {
  if (!(beta > 0.0) || isinf(beta))
    return rs_error(RS_EARG, "beta = %g: expected a finite value > 0", beta);
  p->beta = beta;
  p->beta_vib = 1.0 / beta;
  p->rank = 0;
  p->info_tx = 0.0;
  p->info_ty = 0.0;
  for (int i = 0; i < g->n; i++) {
    double l = g->lambda[i], r2 = 1.0 - l;
    /* Active iff beta > 1 / r2, written without the division so that r2 = 0
     * (lambda = 1) is never active. */
    if (!(beta * r2 > 1.0)) break; /* ascending lambda: the rest are inactive */
    p->rank++;
    double itx = 0.5 * log((beta - 1.0) * r2 / l);
    p->info_tx += itx;
    p->info_ty += itx - 0.5 * log(beta * r2);
  }
  return RS_OK;
}

int rs_gib_curve(const rs_gib *g, double beta_min, double beta_max, int npoints,
                 rs_gib_point *out) {
  if (!(beta_min > 0.0) || !(beta_max > beta_min) || isinf(beta_max))
    return rs_error(RS_EARG, "beta range [%g, %g]: expected 0 < beta_min < beta_max",
                    beta_min, beta_max);
  if (npoints < 2) return rs_error(RS_EARG, "points = %d: expected at least 2", npoints);
  double l0 = log(beta_min), l1 = log(beta_max);
  for (int k = 0; k < npoints; k++) {
    double b = k == npoints - 1 ? beta_max
                                : exp(l0 + (l1 - l0) * (double)k / (double)(npoints - 1));
    if (k == 0) b = beta_min;
    RS_CALL(rs_gib_at(g, b, &out[k]));
  }
  return RS_OK;
}

/* Symmetric inverse square root of an SPD matrix (row-major, d x d). */
static int rs__inv_sqrt(const double *s, int d, const char *name, double *out) {
  double *v = malloc((size_t)d * d * sizeof *v);
  double *w = malloc((size_t)d * sizeof *w);
  int err = RS_OK;
  if (!v || !w) {
    err = rs_error(RS_ENOMEM, "%s: out of memory (d = %d)", name, d);
    goto done;
  }
  memcpy(v, s, (size_t)d * d * sizeof *v);
  if (LAPACKE_dsyev(LAPACK_ROW_MAJOR, 'V', 'L', d, v, d, w) != 0) {
    err = rs_error(RS_ELAPACK, "dsyev failed on %s", name);
    goto done;
  }
  if (!(w[0] > 0.0)) {
    err = rs_error(RS_EARG, "%s (%d x %d): expected a positive definite matrix", name, d, d);
    goto done;
  }
  for (int i = 0; i < d; i++)
    for (int j = 0; j < d; j++) {
      double acc = 0.0;
      for (int k = 0; k < d; k++)
        acc += v[(size_t)i * d + k] * v[(size_t)j * d + k] / sqrt(w[k]);
      out[(size_t)i * d + j] = acc;
    }
done:
  free(v);
  free(w);
  return err;
}

int rs_cca(const double *sx, int dx, const double *sy, int dy,
           const double *sxy, double *rho) {
  if (dx < 1 || dy < 1)
    return rs_error(RS_EARG, "covariances: expected dimensions >= 1, got dx = %d, dy = %d", dx, dy);
  double *wx = malloc((size_t)dx * dx * sizeof *wx);
  double *wy = malloc((size_t)dy * dy * sizeof *wy);
  double *t = malloc((size_t)dx * dy * sizeof *t);
  double *c = malloc((size_t)dx * dy * sizeof *c);
  int err = RS_OK;
  if (!wx || !wy || !t || !c) {
    err = rs_error(RS_ENOMEM, "CCA: out of memory (dx = %d, dy = %d)", dx, dy);
    goto done;
  }
  RS_TRY(err, rs__inv_sqrt(sx, dx, "Sigma_x", wx), done);
  RS_TRY(err, rs__inv_sqrt(sy, dy, "Sigma_y", wy), done);
  for (int i = 0; i < dx; i++) /* t = Sigma_x^{-1/2} Sigma_xy */
    for (int j = 0; j < dy; j++) {
      double acc = 0.0;
      for (int k = 0; k < dx; k++) acc += wx[(size_t)i * dx + k] * sxy[(size_t)k * dy + j];
      t[(size_t)i * dy + j] = acc;
    }
  for (int i = 0; i < dx; i++) /* c = t Sigma_y^{-1/2} */
    for (int j = 0; j < dy; j++) {
      double acc = 0.0;
      for (int k = 0; k < dy; k++) acc += t[(size_t)i * dy + k] * wy[(size_t)k * dy + j];
      c[(size_t)i * dy + j] = acc;
    }
  lapack_int info = LAPACKE_dgesdd(LAPACK_ROW_MAJOR, 'N', dx, dy, c, dy, rho, NULL, dx, NULL, dy);
  if (info != 0) err = rs_error(RS_ELAPACK, "dgesdd failed in CCA (info %d)", (int)info);
done:
  free(wx);
  free(wy);
  free(t);
  free(c);
  return err;
}
