/* The multilayer perceptron: stack set-up shared with the VIB encoder,
 * initialisation from RS_STREAM_INIT, the float64 netview, and the
 * float32/float64 kernels (mlp_kernels.h, twice) behind the rs__model vtable. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "ranksweep/rs_error.h"
#include "src/model/mlp_internal.h"

/* The MLP model: its stack is the whole network. */
typedef struct {
  rs__model base;
  rs__mlp net;
} mlp_model;

#define REAL float
#define S(name) name##_f32
#define TANH tanhf
#define ERF erff
#define EXP expf
#define LOG logf
#include "src/model/mlp_kernels.h"
#undef REAL
#undef S
#undef TANH
#undef ERF
#undef EXP
#undef LOG

#define REAL double
#define S(name) name##_f64
#define TANH tanh
#define ERF erf
#define EXP exp
#define LOG log
#include "src/model/mlp_kernels.h"
#undef REAL
#undef S
#undef TANH
#undef ERF
#undef EXP
#undef LOG

rs_loss rs__resolve_loss(const rs_config *cfg, const rs_dataset *data) {
  return rs_loss_resolve(cfg->train.loss, data->classification);
}

/* The float32 copy of the training inputs, in 2 MB pages where the kernel
 * gives them (transparent huge pages, on request): each step gathers a batch
 * of rows at random from it (MNIST: 188 MB), and with 4 KB pages nearly every
 * row cost a page-table walk, about 0.05 ms of a 1 ms step. Freed with free(). */
static float *inputs_alloc(size_t bytes) {
  const size_t huge = (size_t)2 << 20;
  if (bytes < huge) return malloc(bytes);
  size_t whole = (bytes + huge - 1) / huge * huge;
  void *p = NULL;
  if (posix_memalign(&p, huge, whole) != 0) return NULL;
#ifdef MADV_HUGEPAGE
  (void)madvise(p, whole, MADV_HUGEPAGE); /* a hint: without it, 4 KB pages */
#endif
  return p;
}

void rs__mlp_release(rs__mlp *m) {
  for (int l = 0; l <= m->L; l++) {
    free(m->A[l]);
    free(m->Z[l]);
    m->A[l] = m->Z[l] = NULL;
  }
  free(m->G[0]);
  free(m->G[1]);
  free(m->lab);
  free(m->Y);
  free(m->xtrain32);
  for (int l = 1; l <= m->L; l++) {
    rs__gemm_release(&m->fwd[l]);
    rs__gemm_release(&m->dw[l]);
    rs__gemm_release(&m->dx[l]);
  }
  m->G[0] = m->G[1] = m->Y = NULL;
  m->lab = NULL;
  m->xtrain32 = NULL;
}

int rs__mlp_setup(rs__mlp *m, const rs_config *cfg, const rs_dataset *data,
                  rs_precision prec, int cap, int L, const int *sizes, int nout) {
  memset(m, 0, sizeof *m);
  m->data = data;
  m->L = L;
  size_t off = 0;
  for (int l = 0; l <= L; l++) m->sizes[l] = sizes[l];
  for (int l = 1; l <= L; l++) {
    m->woff[l] = off;
    off += (size_t)sizes[l] * (size_t)sizes[l - 1];
    m->boff[l] = off;
    off += (size_t)sizes[l];
  }
  m->nparams = off;
  m->act = cfg->model.activation;
  m->init = cfg->model.init;
  m->bias_init = cfg->model.bias_init;
  m->seed = (uint64_t)cfg->seed;
  m->loss = rs__resolve_loss(cfg, data);
  m->nout = nout;
  m->cap = cap;
  if (m->loss == RS_LOSS_CROSS_ENTROPY && (!data->classification || !data->ltrain))
    return rs_error(RS_EARG, "train.loss: cross_entropy needs a classification data set");
  if (m->loss == RS_LOSS_MSE && !data->ytrain && !data->ltrain)
    return rs_error(RS_EARG, "train.loss: mse needs targets or labels in the data set");
  if (data->ltrain && (m->loss == RS_LOSS_CROSS_ENTROPY || !data->ytrain))
    for (int i = 0; i < data->ntrain; i++)
      if (data->ltrain[i] < 0 || data->ltrain[i] >= nout)
        return rs_error(RS_EDATA, "data: training label %d of example %d is outside 0..%d",
                        data->ltrain[i], i, nout - 1);
  size_t es = prec == RS_PREC_FLOAT32 ? sizeof(float) : sizeof(double);
  int maxw = nout;
  for (int l = 0; l <= L; l++) maxw = sizes[l] > maxw ? sizes[l] : maxw;
  bool ok = true;
  for (int l = 0; l <= L; l++) {
    m->A[l] = calloc((size_t)cap * (size_t)sizes[l], es);
    ok = ok && m->A[l];
    if (m->act == RS_ACT_GELU && l > 0 && l < L) {
      m->Z[l] = calloc((size_t)cap * (size_t)sizes[l], es);
      ok = ok && m->Z[l];
    }
  }
  m->G[0] = calloc((size_t)cap * (size_t)maxw, es);
  m->G[1] = calloc((size_t)cap * (size_t)maxw, es);
  m->lab = calloc((size_t)cap, sizeof(int));
  m->Y = calloc((size_t)cap * (size_t)nout, es);
  ok = ok && m->G[0] && m->G[1] && m->lab && m->Y;
  if (ok && prec == RS_PREC_FLOAT32) {
    size_t nx = (size_t)data->ntrain * (size_t)data->dim;
    m->xtrain32 = inputs_alloc(nx * sizeof(float));
    ok = m->xtrain32 != NULL;
    if (ok)
      for (size_t i = 0; i < nx; i++) m->xtrain32[i] = (float)data->xtrain[i];
  }
  if (!ok) {
    rs__mlp_release(m);
    return rs_error(RS_ENOMEM, "model: out of memory for batch buffers");
  }
  /* Planned once for full batches of cap rows (the trainer's only size). */
  for (int l = 1; l <= L; l++) {
    int n = sizes[l], k = sizes[l - 1];
    rs__gemm_plan(&m->fwd[l], cfg->train.gemm, (rs__gemm_shape){prec, false, true, cap, n, k, k, k, n});
    rs__gemm_plan(&m->dw[l], cfg->train.gemm, (rs__gemm_shape){prec, true, false, n, k, cap, n, k, k});
    if (l > 1)
      rs__gemm_plan(&m->dx[l], cfg->train.gemm,
                    (rs__gemm_shape){prec, false, false, cap, k, n, n, k, k});
  }
  return RS_OK;
}

int rs__mlp_plans(const rs__mlp *m, const rs__gemm **out) {
  int n = 0;
  for (int l = 1; l <= m->L; l++) {
    out[n++] = &m->fwd[l];
    out[n++] = &m->dw[l];
    if (l > 1) out[n++] = &m->dx[l];
  }
  return n;
}

void rs__init_layer(const rs__mlp *m, uint32_t index, int n, int k, double *W,
                    double *b) {
  double var;
  switch (m->init) {
  case RS_INIT_HE: var = 2.0 / k; break;
  case RS_INIT_XAVIER: var = 2.0 / (k + n); break;
  default: var = 1.0 / k; break;
  }
  double sd = sqrt(var);
  rs_rng r;
  rs_rng_init(&r, m->seed, RS_STREAM_INIT, index);
  for (size_t i = 0; i < (size_t)n * (size_t)k; i++) W[i] = sd * rs_rng_normal(&r);
  for (int i = 0; i < n; i++) b[i] = m->bias_init;
}

/* ---- the MLP model ---- */

static void mlp_destroy(rs__model *base) {
  mlp_model *m = (mlp_model *)base;
  rs__mlp_release(&m->net);
  free(m);
}

static void mlp_init_params(const rs__model *base, double *params) {
  const rs__mlp *m = &((const mlp_model *)base)->net;
  for (int l = 1; l <= m->L; l++)
    rs__init_layer(m, (uint32_t)l, m->sizes[l], m->sizes[l - 1], params + m->woff[l],
                   params + m->boff[l]);
}

static int mlp_view(const rs__model *base, const double *params, rs_netview *v) {
  const rs__mlp *m = &((const mlp_model *)base)->net;
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

static int mlp_loss_grad(rs__model *base, const void *params, void *grad,
                         const int64_t *idx, int nb, rs_rng *noise,
                         double *loss, rs__segment_hook hook, void *ctx) {
  (void)noise;
  rs__mlp *m = &((mlp_model *)base)->net;
  if (base->prec == RS_PREC_FLOAT32)
    return loss_grad_f32(m, params, grad, idx, nb, loss, hook, ctx);
  return loss_grad_f64(m, params, grad, idx, nb, loss, hook, ctx);
}

static void mlp_gemm_only(rs__model *base, const void *params, void *grad, int nb) {
  rs__mlp *m = &((mlp_model *)base)->net;
  if (base->prec == RS_PREC_FLOAT32)
    gemm_only_f32(m, params, grad, nb);
  else
    gemm_only_f64(m, params, grad, nb);
}

static int mlp_plans(const rs__model *base, const rs__gemm **out) {
  return rs__mlp_plans(&((const mlp_model *)base)->net, out);
}

static const rs__model_ops mlp_ops = {
    .name = "mlp",
    .destroy = mlp_destroy,
    .init_params = mlp_init_params,
    .loss_grad = mlp_loss_grad,
    .view = mlp_view,
    .gemm_only = mlp_gemm_only,
    .plans = mlp_plans,
};

/* Hidden sizes from cfg->model.widths, checked. */
int rs__model_sizes(const rs_config *cfg, const rs_dataset *data, int *sizes) {
  if (cfg->model.nwidths < 0 || cfg->model.nwidths > RS_MAX_LAYERS)
    return rs_error(RS_EARG, "model.widths: expected 0 to %d hidden layers, got %d",
                    RS_MAX_LAYERS, cfg->model.nwidths);
  if (data->dim <= 0 || data->outputs <= 0)
    return rs_error(RS_EARG, "data: input dimension %d and outputs %d must be positive",
                    data->dim, data->outputs);
  sizes[0] = data->dim;
  for (int l = 1; l <= cfg->model.nwidths; l++) {
    sizes[l] = cfg->model.widths[l - 1];
    if (sizes[l] <= 0)
      return rs_error(RS_EARG, "model.widths[%d]: expected a positive width, got %d",
                      l - 1, sizes[l]);
  }
  return RS_OK;
}

int rs__mlp_create(const rs_config *cfg, const rs_dataset *data, int batch_cap,
                   rs__model **out) {
  *out = NULL;
  int sizes[RS_MAX_LAYERS + 3];
  RS_CALL(rs__model_sizes(cfg, data, sizes));
  int L = cfg->model.nwidths + 1;
  sizes[L] = data->outputs;
  mlp_model *m = calloc(1, sizeof *m);
  if (!m) return rs_error(RS_ENOMEM, "model: out of memory");
  int rc = rs__mlp_setup(&m->net, cfg, data, cfg->train.precision, batch_cap, L, sizes,
                         data->outputs);
  if (rc != RS_OK) free(m);
  RS_CALL(rc);
  m->base.ops = &mlp_ops;
  m->base.prec = cfg->train.precision;
  m->base.nparams = m->net.nparams;
  m->base.nseg = 2 * L;
  for (int l = 1; l <= L; l++) {
    m->base.seg[2 * (l - 1)] = (rs__segment){m->net.woff[l], m->net.boff[l] - m->net.woff[l], true};
    m->base.seg[2 * (l - 1) + 1] = (rs__segment){m->net.boff[l], (size_t)sizes[l], false};
  }
  *out = &m->base;
  return RS_OK;
}

int rs__mlp_view_from_params(const rs_config *cfg, const rs_dataset *data,
                             const double *params, rs_netview *view) {
  int sizes[RS_MAX_LAYERS + 3];
  RS_CALL(rs__model_sizes(cfg, data, sizes));
  int L = cfg->model.nwidths + 1;
  sizes[L] = data->outputs;
  memset(view, 0, sizeof *view);
  view->nlayers = L;
  view->nmeasure = L - 1;
  view->act = cfg->model.activation;
  size_t off = 0;
  for (int l = 0; l <= L; l++) view->sizes[l] = sizes[l];
  for (int l = 1; l <= L; l++) {
    view->W[l] = params + off;
    off += (size_t)sizes[l] * (size_t)sizes[l - 1];
    view->b[l] = params + off;
    off += (size_t)sizes[l];
  }
  return RS_OK;
}
