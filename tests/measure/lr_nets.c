/* Random networks for the measurement tests and benchmark (see lr_nets.h). */
#include "lr_nets.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <lapacke.h>

#include "ranksweep/rs_error.h"
#include "ranksweep/rs_rng.h"

int lr_orthogonal(double *Q, int m, uint64_t seed, uint32_t index) {
  rs_rng r;
  rs_rng_init(&r, seed, RS_STREAM_TEACHER, index);
  for (int i = 0; i < m * m; i++) Q[i] = rs_rng_normal(&r);
  double *tau = malloc(sizeof(double) * (size_t)m);
  if (!tau) return RS_ENOMEM;
  int rc = LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, m, m, Q, m, tau) == 0 &&
                   LAPACKE_dorgqr(LAPACK_ROW_MAJOR, m, m, m, Q, m, tau) == 0
               ? RS_OK
               : RS_ELAPACK;
  free(tau);
  return rc;
}

int lr_net_make(lr_net *n, int nlayers, const int *sizes, int nmeasure, rs_activation act,
                lr_init init, double bias_std, uint64_t seed) {
  memset(n, 0, sizeof *n);
  n->view.nlayers = nlayers;
  n->view.nmeasure = nmeasure;
  n->view.act = act;
  for (int l = 0; l <= nlayers; l++) n->view.sizes[l] = sizes[l];
  for (int l = 1; l <= nlayers; l++) {
    int o = sizes[l], m = sizes[l - 1];
    n->w[l] = malloc(sizeof(double) * (size_t)o * m);
    n->b[l] = malloc(sizeof(double) * (size_t)o);
    if (!n->w[l] || !n->b[l]) return RS_ENOMEM;
    rs_rng r;
    rs_rng_init(&r, seed, RS_STREAM_INIT, (uint32_t)l);
    if (init == LR_INIT_FANIN || l == nlayers) {
      double s = 1.0 / sqrt((double)m);
      for (int i = 0; i < o * m; i++) n->w[l][i] = s * rs_rng_normal(&r);
    } else {
      int k = (o < m ? o : m) / 2;
      if (k < 1) k = 1;
      double *U = malloc(sizeof(double) * (size_t)o * o), *V = malloc(sizeof(double) * (size_t)m * m);
      if (!U || !V) return RS_ENOMEM;
      if (lr_orthogonal(U, o, seed, 2 * (uint32_t)l) || lr_orthogonal(V, m, seed, 2 * (uint32_t)l + 1))
        return RS_ELAPACK;
      memset(n->w[l], 0, sizeof(double) * (size_t)o * m);
      for (int t = 0; t < k; t++) {
        double s = 1.5 * pow(10.0, -4.0 * t / (k > 1 ? k - 1 : 1));
        for (int i = 0; i < o; i++)
          for (int j = 0; j < m; j++) n->w[l][(size_t)i * m + j] += s * U[(size_t)i * o + t] * V[(size_t)j * m + t];
      }
      free(U);
      free(V);
    }
    for (int i = 0; i < o; i++) n->b[l][i] = bias_std * rs_rng_normal(&r);
    n->view.W[l] = n->w[l];
    n->view.b[l] = n->b[l];
  }
  return RS_OK;
}

void lr_net_free(lr_net *n) {
  for (int l = 0; l < RS_MAX_LAYERS + 2; l++) {
    free(n->w[l]);
    free(n->b[l]);
  }
  memset(n, 0, sizeof *n);
}

void lr_points(double *x, int n, int d, uint64_t seed) {
  rs_rng r;
  rs_rng_init(&r, seed, RS_STREAM_EVAL, 0);
  for (size_t i = 0; i < (size_t)n * d; i++) x[i] = rs_rng_normal(&r);
}
