/* Gaussian information bottleneck in closed form (Chechik, Globerson, Tishby
 * & Weiss 2005) and the information proxies of a representation spectrum.
 * Pure numerics: no MPI, no HDF5. All informations are in nats. */
#ifndef RS_IB_H
#define RS_IB_H

#include <stdint.h>

/* The IB problem of a jointly Gaussian (X, Y), reduced to the eigenvalues
 * lambda_i (ascending) of Sigma_{x|y} Sigma_x^{-1}; 1 - lambda_i = rho_i^2. */
typedef struct rs_gib rs_gib;

/* From canonical correlations in any order, each in (0, 1) as data.rho
 * (rs_rho_in_range, rs_config.h): 1 would make I(X;Y) infinite, and a
 * direction of correlation 0 carries nothing (rs_gib_from_cov still yields
 * such directions as lambda = 1). Bad input returns RS_EARG with a one-line
 * message. */
int rs_gib_from_rho(const double *rho, int n, rs_gib **out);
/* From covariances (row-major): Sigma_x dx x dx, Sigma_y dy x dy and the cross
 * covariance Sigma_xy dx x dy. lambda_i are the dx generalised eigenvalues of
 * Sigma_{x|y} v = lambda Sigma_x v (LAPACK dsygv), so dx - min(dx, dy) of them
 * are 1. RS_EARG when Sigma_x or Sigma_y is not positive definite or the joint
 * covariance is not (some lambda outside (0, 1]). */
int rs_gib_from_cov(const double *sx, int dx, const double *sy, int dy,
                    const double *sxy, rs_gib **out);
void rs_gib_destroy(rs_gib **g);

/* Number of lambda_i. */
int rs_gib_dim(const rs_gib *g);
/* lambda_i, ascending (i = 0 .. dim-1). */
double rs_gib_lambda(const rs_gib *g, int i);
/* Critical values in the IB convention, ascending: beta_i = 1 / (1 - lambda_i)
 * = 1 / rho_i^2 (+inf for lambda_i = 1). */
double rs_gib_beta_crit(const rs_gib *g, int i);
/* Critical values in the deep-VIB convention (beta_vib = 1 / beta),
 * descending: beta_vib,i = 1 - lambda_i = rho_i^2. */
double rs_gib_beta_vib_crit(const rs_gib *g, int i);
/* I(X;Y) = -1/2 sum log lambda_i. */
double rs_gib_info_xy(const rs_gib *g);

/* One point of the optimal curve. */
typedef struct {
  double beta;     /* IB trade-off (minimise I(X;T) - beta I(T;Y)) */
  double beta_vib; /* 1 / beta */
  int rank;        /* n(beta) = #{i : beta > beta_i}: rank of the optimal A */
  double info_tx;  /* I(T;X) */
  double info_ty;  /* I(T;Y) */
} rs_gib_point;

/* The optimal representation at beta > 0 (RS_EARG otherwise). */
int rs_gib_at(const rs_gib *g, double beta, rs_gib_point *p);
/* npoints >= 2 points on a log grid from beta_min to beta_max inclusive
 * (0 < beta_min < beta_max). */
int rs_gib_curve(const rs_gib *g, double beta_min, double beta_max, int npoints,
                 rs_gib_point *out);

/* Canonical correlations the classical way, independent of rs_gib_from_cov:
 * singular values of Sigma_x^{-1/2} Sigma_xy Sigma_y^{-1/2} with the
 * symmetric inverse square roots (LAPACK dsyev, dgesdd). Writes min(dx, dy)
 * values to rho, descending. */
int rs_cca(const double *sx, int dx, const double *sy, int dy,
           const double *sxy, double *rho);

/* ---- information proxies of a representation spectrum (docs/theory.md) ----
 * s: the n singular values of the centred representation matrix H
 * (npoints x width), any order. */

/* Feature rank #{ s_i / sqrt(npoints) > eps }. */
int rs_ib_feature_rank(const double *s, int n, int64_t npoints, double eps);
/* Effective rank exp(H(p)), p_i = s_i / sum s (0 for an all-zero s). */
double rs_ib_effective_rank(const double *s, int n);
/* Gaussian-channel estimate of I(X; T + sigma Z) under a Gaussian fit:
 * 1/2 sum log(1 + s_i^2 / (npoints sigma^2)), sigma > 0. */
double rs_ib_gauss_channel(const double *s, int n, int64_t npoints,
                           double sigma);

#endif
