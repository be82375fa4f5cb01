/* Internals of the measurement module shared by its sources, its tests and its
 * benchmark: activations, small dense singular-value kernels, the spectrum
 * summaries and the naive reference implementation of the local rank. */
#ifndef RS_MEASURE_INTERNAL_H
#define RS_MEASURE_INTERNAL_H

#include "ranksweep/rs_measure.h"

/* s(x) and s'(x); relu'(0) = 0, gelu is the exact erf form (as in torch). */
double rs__act(rs_activation a, double x);
double rs__act_deriv(rs_activation a, double x);

/* Scratch for rs__sv_values: sized for matrices up to maxdim x maxdim. */
typedef struct {
  int maxdim;
  double *d, *e, *tauq, *taup, *tau, *work, *tri;
  int lwork;
} rs__svws;

int rs__svws_init(rs__svws *ws, int maxdim);
void rs__svws_free(rs__svws *ws);
/* Singular values (descending) of the column-major m x n matrix A (lda),
 * which is destroyed. Returns min(m, n) values in sv. Orthogonal reductions
 * only (QR/LQ when far from square, bidiagonalisation, dqds). */
int rs__sv_values(double *A, int lda, int m, int n, double *sv, rs__svws *ws);

/* Fills one point's results from a computed spectrum sv[0..nsv) (descending)
 * of a rows x cols Jacobian: counts[0..neps] (last: NumPy tolerance
 * sigma_max * max(rows, cols) * DBL_EPSILON), the zero-padded spectrum of
 * length len when spec != NULL, effective and stable rank. */
void rs__lr_summarize(const double *sv, int nsv, int len, int rows, int cols,
                      int neps, const double *eps, int32_t *counts,
                      double *spec, double *erank, double *srank);

/* Reference: forms every J_l(x) explicitly (n_l x d0) and calls dgesdd. */
int rs__localrank_points_naive(const rs_netview *net, const double *x,
                               int npoints, rs_lr_points *out);
/* Explicit Jacobian J_layer(x) (sizes[layer] x sizes[0], row-major). */
int rs__jacobian(const rs_netview *net, const double *x, int layer, double *J);

/* Tuning knob of the fast path, exposed for the benchmark: compress a factor
 * by QR when its row count exceeds ratio * its column count. */
extern double rs__lr_compress_ratio;

#endif
