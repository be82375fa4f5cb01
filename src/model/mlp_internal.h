/* The MLP's internal state, shared by mlp.c and vib.c: a VIB's encoder (hidden
 * layers and the mean/std head) is an rs__mlp whose last layer is the head,
 * driven by the same kernels (mlp_kernels.h). */
#ifndef RS_MLP_INTERNAL_H
#define RS_MLP_INTERNAL_H

#include "src/model/model_internal.h"
#include "src/model/rs_gemm.h"

typedef struct {
  const rs_dataset *data;
  int L; /* weight layers: hidden layers + the last (linear) layer */
  int sizes[RS_MAX_LAYERS + 3];
  size_t woff[RS_MAX_LAYERS + 2], boff[RS_MAX_LAYERS + 2];
  size_t nparams; /* of these L layers */
  rs_activation act;
  rs_init init;
  double bias_init;
  uint64_t seed;
  rs_loss loss;
  int nout; /* width of the loss targets (MLP: sizes[L]) */
  int cap;
  void *A[RS_MAX_LAYERS + 2]; /* A[0]: batch input; A[l]: s(p_l); A[L]: last layer */
  void *Z[RS_MAX_LAYERS + 2]; /* pre-activations, kept only for gelu */
  void *G[2];                 /* backward ping-pong, cap x max width */
  int *lab;
  void *Y;
  float *xtrain32; /* float32 training: the inputs rounded once, so a batch
                      gather is a row copy of half the bytes */
  /* Layer l's products, planned for cap rows: forward A[l-1] W_l^T, weight
   * gradient G^T A[l-1], input gradient G W_l (l > 1). */
  rs__gemm fwd[RS_MAX_LAYERS + 2], dw[RS_MAX_LAYERS + 2], dx[RS_MAX_LAYERS + 2];
} rs__mlp;

/* Sets up an L-layer stack with the given sizes (sizes[0] = data->dim),
 * offsets from 0, allocates batch buffers for cap rows and plans the products
 * (cfg->train.gemm). */
int rs__mlp_setup(rs__mlp *m, const rs_config *cfg, const rs_dataset *data,
                  rs_precision prec, int cap, int L, const int *sizes, int nout);
void rs__mlp_release(rs__mlp *m);
/* The stack's planned products (at most 3 (RS_MAX_LAYERS + 1)) into out. */
int rs__mlp_plans(const rs__mlp *m, const rs__gemm **out);
/* Draws a layer's weights from (m->seed, RS_STREAM_INIT, index) into W
 * (n x k, row-major, variance from m->init) and sets b to m->bias_init. */
void rs__init_layer(const rs__mlp *m, uint32_t index, int n, int k, double *W,
                    double *b);
/* sizes[0] = data->dim, sizes[1..nwidths] = model.widths, checked. */
int rs__model_sizes(const rs_config *cfg, const rs_dataset *data, int *sizes);

#endif
