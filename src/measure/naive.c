/* Reference implementation of the local rank, kept deliberately plain: the
 * explicit Jacobian J_l(x) = W_l D_{l-1} ... D_1 W_1 per point, then dgesdd.
 * The tests and the benchmark compare the fast path against it. */
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "measure_internal.h"
#include "ranksweep/rs_error.h"

/* Derivatives of layers 1..upto-1 at one point (d[l] has sizes[l] entries). */
static int rs__point_derivs(const rs_netview *net, const double *x, int upto, double **d) {
  if (upto < 2) return RS_OK;
  rs_netview tv = *net;
  tv.nlayers = upto - 1;
  tv.nmeasure = upto - 1;
  tv.last_measured_linear = false;
  RS_CALL(rs_netview_forward(&tv, x, 1, NULL, d));
  for (int l = 1; l < upto; l++)
    for (int i = 0; i < net->sizes[l]; i++) d[l][i] = rs__act_deriv(net->act, d[l][i]);
  return RS_OK;
}

/* Calls fn(layer, J) for J_1 .. J_upto at point x (J row-major n_l x d0). */
static int rs__jacobians(const rs_netview *net, const double *x, int upto,
                         int (*fn)(void *ctx, int l, const double *J), void *ctx) {
  int d0 = net->sizes[0], wmax = 0;
  for (int l = 1; l <= upto; l++)
    if (net->sizes[l] > wmax) wmax = net->sizes[l];
  double *d[RS_MAX_LAYERS + 3] = {0};
  double *J = malloc(sizeof(double) * (size_t)wmax * d0);
  double *Jn = malloc(sizeof(double) * (size_t)wmax * d0);
  int rc = RS_OK;
  if (!J || !Jn) {
    rc = rs_error(RS_ENOMEM, "jacobian: cannot allocate %d x %d", wmax, d0);
    goto done;
  }
  for (int l = 1; l < upto; l++) {
    d[l] = malloc(sizeof(double) * (size_t)net->sizes[l]);
    if (!d[l]) {
      rc = rs_error(RS_ENOMEM, "jacobian: cannot allocate");
      goto done;
    }
  }
  RS_TRY(rc, rs__point_derivs(net, x, upto, d), done);
  memcpy(J, net->W[1], sizeof(double) * (size_t)net->sizes[1] * d0);
  for (int l = 1; l <= upto; l++) {
    if (l > 1) {
      int m = net->sizes[l - 1], n = net->sizes[l];
      for (int i = 0; i < m; i++)
        for (int c = 0; c < d0; c++) J[(size_t)i * d0 + c] *= d[l - 1][i];
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, d0, m, 1.0, net->W[l], m, J, d0,
                  0.0, Jn, d0);
      double *t = J;
      J = Jn;
      Jn = t;
    }
    RS_TRY(rc, fn(ctx, l, J), done);
  }
done:
  for (int l = 0; l < RS_MAX_LAYERS + 3; l++) free(d[l]);
  free(J);
  free(Jn);
  return rc;
}

typedef struct {
  int layer;
  double *out;
  size_t n;
} rs__jac_copy;

static int rs__jac_copy_fn(void *ctx, int l, const double *J) {
  rs__jac_copy *c = ctx;
  if (l == c->layer) memcpy(c->out, J, sizeof(double) * c->n);
  return RS_OK;
}

int rs__jacobian(const rs_netview *net, const double *x, int layer, double *J) {
  if (layer < 1 || layer > net->nlayers)
    return rs_error(RS_EARG, "jacobian: layer %d not in 1..%d", layer, net->nlayers);
  rs__jac_copy c = {layer, J, (size_t)net->sizes[layer] * net->sizes[0]};
  return rs__jacobians(net, x, layer, rs__jac_copy_fn, &c);
}

typedef struct {
  const rs_netview *net;
  rs_lr_points *out;
  int N, p;
  double *sv;
} rs__naive_ctx;

static int rs__naive_fn(void *ctx, int l, const double *J) {
  rs__naive_ctx *c = ctx;
  const rs_netview *net = c->net;
  int n = net->sizes[l], d0 = net->sizes[0], r;
  RS_CALL(rs_rank_eps(J, n, d0, 0.0, &r, c->sv));
  size_t off = 0;
  for (int k = 1; k < l; k++) off += (size_t)c->N * rs_spectrum_len(net, k);
  int len = rs_spectrum_len(net, l);
  size_t idx = (size_t)(l - 1) * c->N + c->p;
  rs_lr_points *o = c->out;
  rs__lr_summarize(c->sv, len, len, n, d0, o->neps, o->eps, o->counts + idx * (o->neps + 1),
                   o->spectra ? o->spectra + off + (size_t)c->p * len : NULL,
                   o->effrank ? o->effrank + idx : NULL, o->stablerank ? o->stablerank + idx : NULL);
  return RS_OK;
}

int rs__localrank_points_naive(const rs_netview *net, const double *x, int npoints,
                               rs_lr_points *out) {
  int wmax = 0;
  for (int l = 1; l <= net->nmeasure; l++)
    if (net->sizes[l] > wmax) wmax = net->sizes[l];
  rs__naive_ctx c = {net, out, npoints, 0, malloc(sizeof(double) * (size_t)(wmax + 1))};
  if (!c.sv) return rs_error(RS_ENOMEM, "naive local rank: cannot allocate");
  int rc = RS_OK;
  for (int p = 0; p < npoints && rc == RS_OK; p++) {
    c.p = p;
    rc = rs__jacobians(net, x + (size_t)p * net->sizes[0], net->nmeasure, rs__naive_fn, &c);
  }
  free(c.sv);
  return rc;
}
