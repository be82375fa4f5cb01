/* The multilayer perceptron: parameter layout, initialisation from
 * RS_STREAM_INIT, the float64 netview, and the float32/float64 training
 * kernels (mlp_kernels.h instantiated twice) behind the rs__model vtable. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ranksweep/rs_error.h"
#include "src/model/model_internal.h"

typedef struct {
  rs__model base;
  const rs_dataset *data;
  int L; /* weight layers: hidden layers + the output layer */
  int sizes[RS_MAX_LAYERS + 3];
  size_t woff[RS_MAX_LAYERS + 2], boff[RS_MAX_LAYERS + 2];
  rs_activation act;
  rs_init init;
  double bias_init;
  uint64_t seed;
  rs_loss loss;
  int cap;
  void *A[RS_MAX_LAYERS + 2]; /* A[0]: batch input; A[l]: s(p_l); A[L]: logits */
  void *Z[RS_MAX_LAYERS + 2]; /* pre-activations, kept only for gelu */
  void *G[2];                 /* backward ping-pong, cap x max width */
  int *lab;
  void *Y;
  float *xtrain32; /* float32 training: the inputs rounded once, so a batch
                      gather is a row copy of half the bytes */
} rs__mlp;

#define REAL float
#define S(name) name##_f32
#define GEMM cblas_sgemm
#define TANH tanhf
#define ERF erff
#define EXP expf
#define LOG logf
#include "src/model/mlp_kernels.h"
#undef REAL
#undef S
#undef GEMM
#undef TANH
#undef ERF
#undef EXP
#undef LOG

#define REAL double
#define S(name) name##_f64
#define GEMM cblas_dgemm
#define TANH tanh
#define ERF erf
#define EXP exp
#define LOG log
#include "src/model/mlp_kernels.h"
#undef REAL
#undef S
#undef GEMM
#undef TANH
#undef ERF
#undef EXP
#undef LOG

rs_loss rs__resolve_loss(const rs_config *cfg, const rs_dataset *data) {
  if (cfg->train.loss != RS_LOSS_AUTO) return cfg->train.loss;
  return data->classification ? RS_LOSS_CROSS_ENTROPY : RS_LOSS_MSE;
}

static void mlp_destroy(rs__model *base) {
  rs__mlp *m = (rs__mlp *)base;
  for (int l = 0; l <= m->L; l++) {
    free(m->A[l]);
    free(m->Z[l]);
  }
  free(m->G[0]);
  free(m->G[1]);
  free(m->lab);
  free(m->Y);
  free(m->xtrain32);
  free(m);
}

/* Layer by layer (l = 1..L), stream (seed, RS_STREAM_INIT, l): W_l's entries
 * in row-major order, each std_l * rs_rng_normal; then b_l = bias_init. */
static void mlp_init_params(const rs__model *base, double *params) {
  const rs__mlp *m = (const rs__mlp *)base;
  for (int l = 1; l <= m->L; l++) {
    int n = m->sizes[l], k = m->sizes[l - 1];
    double var;
    switch (m->init) {
    case RS_INIT_HE: var = 2.0 / k; break;
    case RS_INIT_XAVIER: var = 2.0 / (k + n); break;
    default: var = 1.0 / k; break;
    }
    double sd = sqrt(var);
    rs_rng r;
    rs_rng_init(&r, m->seed, RS_STREAM_INIT, (uint32_t)l);
    double *W = params + m->woff[l], *b = params + m->boff[l];
    for (size_t i = 0; i < (size_t)n * (size_t)k; i++) W[i] = sd * rs_rng_normal(&r);
    for (int i = 0; i < n; i++) b[i] = m->bias_init;
  }
}

static int mlp_view(const rs__model *base, const double *params, rs_netview *v) {
  const rs__mlp *m = (const rs__mlp *)base;
  memset(v, 0, sizeof *v);
  v->nlayers = m->L;
  v->nmeasure = m->L - 1;
  for (int l = 0; l <= m->L; l++) v->sizes[l] = m->sizes[l];
  v->act = m->act;
  v->last_measured_linear = false;
  for (int l = 1; l <= m->L; l++) {
    v->W[l] = params + m->woff[l];
    v->b[l] = params + m->boff[l];
  }
  return RS_OK;
}

static int mlp_loss_grad(rs__model *m, const void *params, void *grad,
                         const int64_t *idx, int nb, rs_rng *noise,
                         double *loss, rs__segment_hook hook, void *ctx) {
  if (m->prec == RS_PREC_FLOAT32)
    return loss_grad_f32(m, params, grad, idx, nb, noise, loss, hook, ctx);
  return loss_grad_f64(m, params, grad, idx, nb, noise, loss, hook, ctx);
}

static void mlp_gemm_only(rs__model *m, const void *params, void *grad, int nb) {
  if (m->prec == RS_PREC_FLOAT32)
    gemm_only_f32(m, params, grad, nb);
  else
    gemm_only_f64(m, params, grad, nb);
}

static const rs__model_ops mlp_ops = {
    .name = "mlp",
    .destroy = mlp_destroy,
    .init_params = mlp_init_params,
    .loss_grad = mlp_loss_grad,
    .view = mlp_view,
    .gemm_only = mlp_gemm_only,
};

/* Sizes and offsets shared by the trainer and rs_netview_from_params. */
static int mlp_shape(const rs_config *cfg, const rs_dataset *data, int *L,
                     int *sizes, size_t *woff, size_t *boff, size_t *nparams) {
  if (cfg->model.nwidths < 0 || cfg->model.nwidths > RS_MAX_LAYERS)
    return rs_error(RS_EARG, "model.widths: expected 0 to %d hidden layers, got %d",
                    RS_MAX_LAYERS, cfg->model.nwidths);
  if (data->dim <= 0 || data->outputs <= 0)
    return rs_error(RS_EARG, "data: input dimension %d and outputs %d must be positive",
                    data->dim, data->outputs);
  *L = cfg->model.nwidths + 1;
  sizes[0] = data->dim;
  for (int l = 1; l < *L; l++) {
    sizes[l] = cfg->model.widths[l - 1];
    if (sizes[l] <= 0)
      return rs_error(RS_EARG, "model.widths[%d]: expected a positive width, got %d",
                      l - 1, sizes[l]);
  }
  sizes[*L] = data->outputs;
  size_t off = 0;
  for (int l = 1; l <= *L; l++) {
    woff[l] = off;
    off += (size_t)sizes[l] * (size_t)sizes[l - 1];
    boff[l] = off;
    off += (size_t)sizes[l];
  }
  *nparams = off;
  return RS_OK;
}

int rs__mlp_create(const rs_config *cfg, const rs_dataset *data, int batch_cap,
                   rs__model **out) {
  *out = NULL;
  rs__mlp *m = calloc(1, sizeof *m);
  if (!m) return rs_error(RS_ENOMEM, "model: out of memory");
  int rc = mlp_shape(cfg, data, &m->L, m->sizes, m->woff, m->boff, &m->base.nparams);
  if (rc != RS_OK) {
    free(m);
    return rc;
  }
  m->base.ops = &mlp_ops;
  m->base.prec = cfg->train.precision;
  m->data = data;
  m->act = cfg->model.activation;
  m->init = cfg->model.init;
  m->bias_init = cfg->model.bias_init;
  m->seed = (uint64_t)cfg->seed;
  m->loss = rs__resolve_loss(cfg, data);
  m->cap = batch_cap;
  if (m->loss == RS_LOSS_CROSS_ENTROPY && (!data->classification || !data->ltrain)) {
    free(m);
    return rs_error(RS_EARG, "train.loss: cross_entropy needs a classification data set");
  }
  if (m->loss == RS_LOSS_MSE && !data->ytrain && !data->ltrain) {
    free(m);
    return rs_error(RS_EARG, "train.loss: mse needs targets or labels in the data set");
  }
  m->base.nseg = 2 * m->L;
  for (int l = 1; l <= m->L; l++) {
    m->base.seg[2 * (l - 1)] = (rs__segment){m->woff[l], m->boff[l] - m->woff[l], true};
    m->base.seg[2 * (l - 1) + 1] = (rs__segment){m->boff[l], (size_t)m->sizes[l], false};
  }
  size_t es = m->base.prec == RS_PREC_FLOAT32 ? sizeof(float) : sizeof(double);
  int maxw = 0;
  for (int l = 0; l <= m->L; l++) maxw = m->sizes[l] > maxw ? m->sizes[l] : maxw;
  bool ok = true;
  for (int l = 0; l <= m->L; l++) {
    m->A[l] = calloc((size_t)batch_cap * (size_t)m->sizes[l], es);
    ok = ok && m->A[l];
    if (m->act == RS_ACT_GELU && l > 0 && l < m->L) {
      m->Z[l] = calloc((size_t)batch_cap * (size_t)m->sizes[l], es);
      ok = ok && m->Z[l];
    }
  }
  m->G[0] = calloc((size_t)batch_cap * (size_t)maxw, es);
  m->G[1] = calloc((size_t)batch_cap * (size_t)maxw, es);
  m->lab = calloc((size_t)batch_cap, sizeof(int));
  m->Y = calloc((size_t)batch_cap * (size_t)m->sizes[m->L], es);
  if (m->base.prec == RS_PREC_FLOAT32) {
    size_t nx = (size_t)data->ntrain * (size_t)data->dim;
    m->xtrain32 = malloc(nx * sizeof(float));
    ok = ok && m->xtrain32;
    if (m->xtrain32)
      for (size_t i = 0; i < nx; i++) m->xtrain32[i] = (float)data->xtrain[i];
  }
  if (!ok || !m->G[0] || !m->G[1] || !m->lab || !m->Y) {
    mlp_destroy(&m->base);
    return rs_error(RS_ENOMEM, "model: out of memory for batch buffers");
  }
  *out = &m->base;
  return RS_OK;
}

int rs_netview_from_params(const rs_config *cfg, const rs_dataset *data,
                           const double *params, rs_netview *view) {
  if (cfg->model.kind != RS_MODEL_MLP)
    return rs_error(RS_EARG, "model.kind: only mlp is implemented");
  int L, sizes[RS_MAX_LAYERS + 3];
  size_t woff[RS_MAX_LAYERS + 2], boff[RS_MAX_LAYERS + 2], n;
  RS_CALL(mlp_shape(cfg, data, &L, sizes, woff, boff, &n));
  memset(view, 0, sizeof *view);
  view->nlayers = L;
  view->nmeasure = L - 1;
  for (int l = 0; l <= L; l++) view->sizes[l] = sizes[l];
  view->act = cfg->model.activation;
  for (int l = 1; l <= L; l++) {
    view->W[l] = params + woff[l];
    view->b[l] = params + boff[l];
  }
  return RS_OK;
}
