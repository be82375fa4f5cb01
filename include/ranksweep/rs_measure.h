/* Measurement: local rank (singular values of the Jacobian of each measured
 * layer's pre-activation with respect to the network input) at evaluation
 * points, and the per-checkpoint summaries. Always float64. */
#ifndef RS_MEASURE_H
#define RS_MEASURE_H

#include "ranksweep/rs_data.h"
#include "ranksweep/rs_vocab.h"

/* Length of layer l's stored spectrum: min(sizes[l], sizes[0]). */
int rs_spectrum_len(const rs_netview *net, int layer);

/* Per-point results for npoints points x (layers 1..nmeasure). Layouts are
 * layer-major: index (l-1)*npoints + p. Spectra are concatenated per layer:
 * layer l's block starts at spec_off[l-1] = npoints * sum_{k<l} len_k and
 * point p's spectrum at spec_off[l-1] + p*len_l, descending, zero-padded. */
typedef struct {
  int neps;
  const double *eps; /* absolute thresholds */
  int32_t *counts;   /* [(l-1)*npoints + p] * (neps+1) + e; e = neps is the
                        NumPy-default relative tolerance count */
  double *spectra;   /* may be NULL: then not stored */
  double *effrank;   /* exp(entropy of sigma/sum sigma) */
  double *stablerank;/* ||J||_F^2 / ||J||_2^2 */
} rs_lr_points;

/* Computes everything above for the points x (npoints x sizes[0]). */
int rs_localrank_points(const rs_netview *net, const double *x, int npoints,
                        rs_lr_points *out);
/* Same, with the points split over nthreads POSIX threads. Each thread calls
 * OpenBLAS itself, so OpenBLAS is set to one thread for the duration of the
 * call (and restored); do not run other OpenBLAS work concurrently. Results
 * are identical to rs_localrank_points for any nthreads. */
int rs_localrank_points_mt(const rs_netview *net, const double *x, int npoints,
                           int nthreads, rs_lr_points *out);

/* The weight-dependent part of the above (QR factors of the weights, the
 * layer-1 spectrum), reusable for any number of point sets of the same
 * weights, e.g. the shards of one checkpoint: saves about 15 ms per call for
 * 784-200-200-200-200. The weights behind net must stay valid and unchanged
 * while the plan lives (the netview struct itself is copied). Results are
 * bitwise identical to rs_localrank_points_mt. */
typedef struct rs_lr_plan rs_lr_plan;
int rs_lr_plan_create(const rs_netview *net, rs_lr_plan **plan);
int rs_lr_plan_points(rs_lr_plan *plan, const double *x, int npoints, int nthreads,
                      rs_lr_points *out);
void rs_lr_plan_destroy(rs_lr_plan **plan);

/* float64 forward pass of n points x (n x sizes[0]). out (n x sizes[nlayers],
 * the output layer's values: logits) may be NULL. pre may be NULL, else an
 * array indexed 1..nlayers (entry 0 unused) of NULL or n x sizes[l] buffers
 * receiving the pre-activations p_l. */
int rs_netview_forward(const rs_netview *net, const double *x, int n,
                       double *out, double *const *pre);

/* Number of singular values of A (m x n, row-major) above an absolute eps,
 * and the full spectrum when sv != NULL (length min(m,n)). */
int rs_rank_eps(const double *A, int m, int n, double eps, int *rank, double *sv);

/* The eps-rank rule, stated once for local ranks, weight ranks and feature
 * ranks: how many of the leading values of s (n singular values, in
 * decreasing order) have s[i] / scale > eps. scale is 1 for an absolute eps
 * (the division by 1 is exact), sqrt(N) for the per-point scale of a
 * representation matrix of N points. */
int rs_count_above(const double *s, int n, double scale, double eps);

/* One layer's weight summary, the same for every model's checkpoint metrics:
 * the Frobenius norm, the spectral norm and the eps-rank (rs_count_above) per
 * eps of W (rows x cols, row-major). */
int rs_weight_summary(const double *W, int rows, int cols, int neps, const double *eps,
                      double *fro, double *spec, int32_t *ranks);

/* The mean local rank of nlayers layers over npoints points from their counts
 * as the archive stores them: counts[(l * npoints + p) * stride + e], the eps
 * columns 0..neps-1 and the NumPy-tolerance column numpy_col. out[l * stride
 * + e] = the exact int64 sum over the points / npoints for those columns; the
 * others (padding) are left as they are. Order-independent, bit for bit. */
void rs_lr_mean_counts(const int32_t *counts, int nlayers, int npoints, int stride, int neps,
                       int numpy_col, double *out);

/* Per-checkpoint summaries (rs_ckpt_metrics, rs_vocab.h) of a netview; loss
 * RS_LOSS_AUTO resolves by rs_loss_resolve from data->classification. */
int rs_checkpoint_metrics(const rs_netview *net, const rs_dataset *data,
                          rs_loss loss, int neps, const double *eps,
                          rs_ckpt_metrics *out);
/* The weight part of rs_checkpoint_metrics alone (norms and eps-ranks of every
 * layer; losses, accuracies, rate and info_y NaN), for a model whose losses
 * come from its own evaluation (a VIB's sampled one) rather than the netview's
 * deterministic forward pass, which would be computed only to be replaced. */
int rs_checkpoint_weight_metrics(const rs_netview *net, int neps, const double *eps,
                                 rs_ckpt_metrics *out);

#endif
