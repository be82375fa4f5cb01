/* The float64 forward pass of an rs_netview (activations and their
 * derivatives included): used for the derivative patterns of the local rank
 * and for the per-checkpoint losses. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "measure_internal.h"
#include "ranksweep/rs_error.h"

double rs__act(rs_activation a, double x) {
  switch (a) {
    case RS_ACT_RELU: return x > 0.0 ? x : 0.0;
    case RS_ACT_TANH: return tanh(x);
    case RS_ACT_IDENTITY: return x;
    case RS_ACT_GELU: return 0.5 * x * (1.0 + erf(x * M_SQRT1_2));
  }
  RS_ASSERT(!"unknown activation");
  return 0.0;
}

double rs__act_deriv(rs_activation a, double x) {
  switch (a) {
    case RS_ACT_RELU: return x > 0.0 ? 1.0 : 0.0; /* 0 at exactly 0, as torch */
    case RS_ACT_TANH: {
      double t = tanh(x);
      return 1.0 - t * t;
    }
    case RS_ACT_IDENTITY: return 1.0;
    case RS_ACT_GELU:
      return 0.5 * (1.0 + erf(x * M_SQRT1_2)) + x * exp(-0.5 * x * x) * (0.5 * M_2_SQRTPI * M_SQRT1_2);
  }
  RS_ASSERT(!"unknown activation");
  return 0.0;
}

/* Whether the activation follows weight layer l (1-based) in the forward pass. */
static bool rs__act_after(const rs_netview *net, int l) {
  if (l >= net->nlayers) return false;
  if (net->last_measured_linear && l == net->nmeasure) return false;
  return true;
}

static int rs__netview_check(const rs_netview *net) {
  if (net->nlayers < 1 || net->nlayers > RS_MAX_LAYERS + 1 || net->nmeasure < 0 ||
      net->nmeasure > net->nlayers)
    return rs_error(RS_EARG, "netview: bad layer counts (nlayers %d, nmeasure %d)",
                    net->nlayers, net->nmeasure);
  for (int l = 0; l <= net->nlayers; l++)
    if (net->sizes[l] < 1) return rs_error(RS_EARG, "netview: sizes[%d] = %d", l, net->sizes[l]);
  for (int l = 1; l <= net->nlayers; l++)
    if (!net->W[l]) return rs_error(RS_EARG, "netview: W[%d] is NULL", l);
  return RS_OK;
}

int rs_netview_forward(const rs_netview *net, const double *x, int n, double *out,
                       double *const *pre) {
  RS_CALL(rs__netview_check(net));
  if (n <= 0) return RS_OK;
  int wmax = 0;
  for (int l = 0; l <= net->nlayers; l++)
    if (net->sizes[l] > wmax) wmax = net->sizes[l];
  /* Chunks bound the scratch memory for large training sets while keeping
   * each dgemm large enough to run near peak. */
  const int chunk = 512;
  int cn = n < chunk ? n : chunk;
  double *a = malloc(sizeof(double) * (size_t)cn * (size_t)wmax);
  double *b = malloc(sizeof(double) * (size_t)cn * (size_t)wmax);
  if (!a || !b) {
    free(a); free(b);
    return rs_error(RS_ENOMEM, "forward pass: cannot allocate %d x %d", cn, wmax);
  }
  for (int r0 = 0; r0 < n; r0 += chunk) {
    int rn = n - r0 < chunk ? n - r0 : chunk;
    const double *h = x + (size_t)r0 * net->sizes[0];
    for (int l = 1; l <= net->nlayers; l++) {
      int m = net->sizes[l - 1], o = net->sizes[l];
      double *p = (l & 1) ? a : b;
      if (net->b[l]) {
        for (int i = 0; i < rn; i++) memcpy(p + (size_t)i * o, net->b[l], sizeof(double) * (size_t)o);
      }
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rn, o, m, 1.0, h, m, net->W[l], m,
                  net->b[l] ? 1.0 : 0.0, p, o);
      if (pre && pre[l]) memcpy(pre[l] + (size_t)r0 * o, p, sizeof(double) * (size_t)rn * o);
      if (l == net->nlayers) {
        if (out) memcpy(out + (size_t)r0 * o, p, sizeof(double) * (size_t)rn * o);
      } else if (rs__act_after(net, l) && net->act != RS_ACT_IDENTITY) {
        size_t cnt = (size_t)rn * o;
        for (size_t i = 0; i < cnt; i++) p[i] = rs__act(net->act, p[i]);
      }
      h = p;
    }
  }
  free(a); free(b);
  return RS_OK;
}
