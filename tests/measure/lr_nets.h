/* Random float64 networks and points for the measurement tests, the PyTorch
 * export and the benchmark: each network owns its weights and exposes an
 * rs_netview. */
#ifndef LR_NETS_H
#define LR_NETS_H

#include <stdint.h>

#include "ranksweep/rs_model.h"

typedef enum {
  LR_INIT_FANIN,  /* N(0, 1/fan_in), the default initialisation */
  LR_INIT_LOWRANK /* W = U diag(s) V^T, rank min(n,m)/2, s decaying 1.5 .. 1.5e-4 */
} lr_init;

typedef struct {
  rs_netview view;
  double *w[RS_MAX_LAYERS + 2], *b[RS_MAX_LAYERS + 2];
} lr_net;

/* sizes[0..nlayers]; layers 1..nmeasure measured; biases N(0, bias_std^2). */
int lr_net_make(lr_net *n, int nlayers, const int *sizes, int nmeasure, rs_activation act,
                lr_init init, double bias_std, uint64_t seed);
void lr_net_free(lr_net *n);
/* n x d standard normal points. */
void lr_points(double *x, int n, int d, uint64_t seed);
/* Random m x m orthogonal matrix (row-major), from the QR of a Gaussian one. */
int lr_orthogonal(double *Q, int m, uint64_t seed, uint32_t index);

#endif
