/* Deep variational information bottleneck (Alemi et al. 2017): an encoder MLP
 * whose last layer is a linear head to 2K (mean mu, pre-std s, sigma =
 * softplus(s - 5)), z = mu + sigma eps, a linear decoder (or a Gaussian one with a
 * learned per-output variance), the loss task loss + beta KL(N(mu, sigma^2) ||
 * N(0, I)), and the sampled held-out evaluation (rate, H(Y) - task loss). */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ranksweep/rs_error.h"
#include "src/model/mlp_internal.h"

#define RS__VIB_SHIFT 5.0

typedef struct {
  rs__model base;
  rs__mlp enc; /* layers 1..L: hidden layers, then the head (2K outputs) */
  int K, nout;
  double beta;
  size_t dwoff, dboff; /* decoder W (nout x K) and b, after the encoder */
  bool gauss;          /* Gaussian decoder: log-stds (nout) at lsoff, last */
  size_t lsoff;
  void *eps, *z, *dz;  /* cap x K */
  void *sig;           /* cap x K: the step's sigma = softplus(s - shift), kept for its gradient */
  double *eps64;       /* cap x K: a float32 step's normals before rounding */
  void *logits, *gd;   /* cap x nout */
  rs__gemm dfwd, ddw, ddx; /* decoder products: z Wd^T, gd^T z, gd Wd */
  double last_rate;    /* mean KL of the last batch */
} vib_model;

#define REAL float
#define S(name) name##_f32
#define TANH tanhf
#define ERF erff
#define EXP expf
#define LOG logf
#define LOG1P log1pf
#include "src/model/mlp_kernels.h"
#include "src/model/vib_kernels.h"
#undef REAL
#undef S
#undef TANH
#undef ERF
#undef EXP
#undef LOG
#undef LOG1P

#define REAL double
#define S(name) name##_f64
#define TANH tanh
#define ERF erf
#define EXP exp
#define LOG log
#define LOG1P log1p
#include "src/model/mlp_kernels.h"
#include "src/model/vib_kernels.h"
#undef REAL
#undef S
#undef TANH
#undef ERF
#undef EXP
#undef LOG
#undef LOG1P

static void vib_destroy(rs__model *base) {
  vib_model *v = (vib_model *)base;
  rs__mlp_release(&v->enc);
  rs__gemm_release(&v->dfwd);
  rs__gemm_release(&v->ddw);
  rs__gemm_release(&v->ddx);
  free(v->eps);
  free(v->eps64);
  free(v->sig);
  free(v->z);
  free(v->dz);
  free(v->logits);
  free(v->gd);
  free(v);
}

/* Streams (seed, RS_STREAM_INIT, l) for the encoder layers and the head
 * (l = 1..L), then l = L + 1 for the decoder; each as in the MLP. */
static void vib_init_params(const rs__model *base, double *params) {
  const vib_model *v = (const vib_model *)base;
  const rs__mlp *m = &v->enc;
  for (int l = 1; l <= m->L; l++)
    rs__init_layer(m, (uint32_t)l, m->sizes[l], m->sizes[l - 1], params + m->woff[l],
                   params + m->boff[l]);
  rs__init_layer(m, (uint32_t)(m->L + 1), v->nout, v->K, params + v->dwoff,
                 params + v->dboff);
  /* Unit decoder variance: the targets' own scale for gaussian_ib data. */
  if (v->gauss)
    for (int j = 0; j < v->nout; j++) params[v->lsoff + j] = 0.0;
}

/* Measured layers: the encoder's hidden layers and the mean head (the first K
 * rows of the head); then the decoder as the output layer. */
static void fill_view(int L, const int *sizes, const size_t *woff, const size_t *boff,
                      int K, int nout, size_t dwoff, size_t dboff, rs_activation act,
                      const double *params, rs_netview *view) {
  memset(view, 0, sizeof *view);
  view->nlayers = L + 1;
  view->nmeasure = L;
  view->act = act;
  view->last_measured_linear = true;
  for (int l = 0; l < L; l++) view->sizes[l] = sizes[l];
  view->sizes[L] = K;
  view->sizes[L + 1] = nout;
  for (int l = 1; l <= L; l++) {
    view->W[l] = params + woff[l];
    view->b[l] = params + boff[l];
  }
  view->W[L + 1] = params + dwoff;
  view->b[L + 1] = params + dboff;
}

static int vib_view(const rs__model *base, const double *params, rs_netview *view) {
  const vib_model *v = (const vib_model *)base;
  const rs__mlp *m = &v->enc;
  fill_view(m->L, m->sizes, m->woff, m->boff, v->K, v->nout, v->dwoff, v->dboff, m->act,
            params, view);
  return RS_OK;
}

static int vib_loss_grad(rs__model *base, const void *params, void *grad,
                         const int64_t *idx, int nb, rs_rng *noise, double *loss,
                         rs__segment_hook hook, void *ctx) {
  vib_model *v = (vib_model *)base;
  RS_ASSERT(noise != NULL);
  if (base->prec == RS_PREC_FLOAT32)
    return vib_loss_grad_f32(v, params, grad, idx, nb, noise, loss, hook, ctx);
  return vib_loss_grad_f64(v, params, grad, idx, nb, noise, loss, hook, ctx);
}

static void vib_gemm_only(rs__model *base, const void *params, void *grad, int nb) {
  vib_model *v = (vib_model *)base;
  if (base->prec == RS_PREC_FLOAT32)
    vib_gemm_only_f32(v, params, grad, nb);
  else
    vib_gemm_only_f64(v, params, grad, nb);
}

static int vib_plans(const rs__model *base, const rs__gemm **out) {
  const vib_model *v = (const vib_model *)base;
  int n = rs__mlp_plans(&v->enc, out);
  out[n++] = &v->dfwd;
  out[n++] = &v->ddw;
  out[n++] = &v->ddx;
  return n;
}

static const rs__model_ops vib_ops = {
    .name = "vib",
    .destroy = vib_destroy,
    .init_params = vib_init_params,
    .loss_grad = vib_loss_grad,
    .view = vib_view,
    .gemm_only = vib_gemm_only,
    .plans = vib_plans,
};

/* The decoder actually used (see rs_decoder). */
static int vib_decoder(const rs_config *cfg, const rs_dataset *data, bool *gauss) {
  switch (cfg->model.decoder) {
  case RS_DEC_AUTO:
  case RS_DEC_LINEAR:
    *gauss = rs_decoder_is_gaussian(cfg->model.decoder, cfg->train.loss, data->classification);
    return RS_OK;
  case RS_DEC_GAUSSIAN:
    if (data->classification)
      return rs_error(RS_EARG, "model.decoder: gaussian needs regression targets but the data "
                      "set is a classification set; expected linear or auto");
    if (cfg->train.loss != RS_LOSS_AUTO)
      return rs_error(RS_EARG, "train.loss: a gaussian decoder is trained by its own "
                      "likelihood; expected train.loss auto");
    *gauss = rs_decoder_is_gaussian(cfg->model.decoder, cfg->train.loss, data->classification);
    return RS_OK;
  }
  return rs_error(RS_EARG, "model.decoder: expected auto, linear or gaussian");
}

static int vib_sizes(const rs_config *cfg, const rs_dataset *data, int *sizes, int *L) {
  if (cfg->model.nwidths > RS_MAX_LAYERS - 1)
    return rs_error(RS_EARG, "model.widths: a vib encoder has at most %d hidden layers, got %d",
                    RS_MAX_LAYERS - 1, cfg->model.nwidths);
  RS_CALL(rs__model_sizes(cfg, data, sizes));
  if (cfg->model.latent <= 0)
    return rs_error(RS_EARG, "model.latent: expected a positive latent size, got %d",
                    cfg->model.latent);
  if (!(cfg->train.beta >= 0) || !isfinite(cfg->train.beta))
    return rs_error(RS_EARG, "train.beta: expected a finite value >= 0, got %g",
                    cfg->train.beta);
  *L = cfg->model.nwidths + 1;
  sizes[*L] = 2 * cfg->model.latent;
  return RS_OK;
}

int rs__vib_create(const rs_config *cfg, const rs_dataset *data, int batch_cap,
                   rs__model **out) {
  *out = NULL;
  int sizes[RS_MAX_LAYERS + 3], L;
  bool gauss = false;
  RS_CALL(vib_sizes(cfg, data, sizes, &L));
  RS_CALL(vib_decoder(cfg, data, &gauss));
  vib_model *v = calloc(1, sizeof *v);
  if (!v) return rs_error(RS_ENOMEM, "model: out of memory");
  int rc = rs__mlp_setup(&v->enc, cfg, data, cfg->train.precision, batch_cap, L, sizes,
                         data->outputs);
  if (rc != RS_OK) free(v);
  RS_CALL(rc);
  v->K = cfg->model.latent;
  v->nout = data->outputs;
  v->beta = cfg->train.beta;
  v->dwoff = v->enc.nparams;
  v->dboff = v->dwoff + (size_t)v->nout * (size_t)v->K;
  v->base.ops = &vib_ops;
  v->base.prec = cfg->train.precision;
  v->gauss = gauss;
  v->lsoff = v->dboff + (size_t)v->nout;
  v->base.nparams = v->lsoff + (gauss ? (size_t)v->nout : 0);
  v->base.nseg = 2 * L + 2 + gauss;
  for (int l = 1; l <= L; l++) {
    v->base.seg[2 * (l - 1)] =
        (rs__segment){v->enc.woff[l], v->enc.boff[l] - v->enc.woff[l], true};
    v->base.seg[2 * (l - 1) + 1] = (rs__segment){v->enc.boff[l], (size_t)sizes[l], false};
  }
  v->base.seg[2 * L] = (rs__segment){v->dwoff, v->dboff - v->dwoff, true};
  v->base.seg[2 * L + 1] = (rs__segment){v->dboff, (size_t)v->nout, false};
  /* The log-stds are decayed like biases (only with train.decay_biases). */
  if (gauss) v->base.seg[2 * L + 2] = (rs__segment){v->lsoff, (size_t)v->nout, false};
  size_t es = v->base.prec == RS_PREC_FLOAT32 ? sizeof(float) : sizeof(double);
  size_t bk = (size_t)batch_cap * (size_t)v->K, bo = (size_t)batch_cap * (size_t)v->nout;
  v->eps = calloc(bk, es);
  v->eps64 = calloc(bk, sizeof(double));
  v->sig = calloc(bk, es);
  v->z = calloc(bk, es);
  v->dz = calloc(bk, es);
  v->logits = calloc(bo, es);
  v->gd = calloc(bo, es);
  if (!v->eps || !v->eps64 || !v->sig || !v->z || !v->dz || !v->logits || !v->gd) {
    vib_destroy(&v->base);
    return rs_error(RS_ENOMEM, "model: out of memory for batch buffers");
  }
  rs_precision p = v->base.prec;
  int K = v->K, O = v->nout;
  rs__gemm_plan(&v->dfwd, cfg->train.gemm, (rs__gemm_shape){p, false, true, batch_cap, O, K, K, K, O});
  rs__gemm_plan(&v->ddw, cfg->train.gemm, (rs__gemm_shape){p, true, false, O, K, batch_cap, O, K, K});
  rs__gemm_plan(&v->ddx, cfg->train.gemm, (rs__gemm_shape){p, false, false, batch_cap, K, O, O, K, K});
  *out = &v->base;
  return RS_OK;
}

int rs__vib_view_from_params(const rs_config *cfg, const rs_dataset *data,
                             const double *params, rs_netview *view) {
  int sizes[RS_MAX_LAYERS + 3], L;
  RS_CALL(vib_sizes(cfg, data, sizes, &L));
  size_t woff[RS_MAX_LAYERS + 2], boff[RS_MAX_LAYERS + 2], off = 0;
  for (int l = 1; l <= L; l++) {
    woff[l] = off;
    off += (size_t)sizes[l] * (size_t)sizes[l - 1];
    boff[l] = off;
    off += (size_t)sizes[l];
  }
  int K = cfg->model.latent;
  fill_view(L, sizes, woff, boff, K, data->outputs, off, off + (size_t)data->outputs * K,
            cfg->model.activation, params, view);
  return RS_OK;
}

/* ---- evaluation on a netview (float64) ---- */

static double act64(rs_activation a, double x) {
  switch (a) {
  case RS_ACT_RELU: return x > 0 ? x : 0;
  case RS_ACT_TANH: return tanh(x);
  case RS_ACT_GELU: return 0.5 * x * (1.0 + erf(x * M_SQRT1_2));
  default: return x;
  }
}

/* The head's outputs (n x 2K: mu, then pre-std s) of the n points x, float64.
 * a and b hold n x max(widths, 2K) each; returns the one holding the result. */
static double *vib_head(const rs_netview *v, const double *x, int n, double *a, double *b) {
  int Lh = v->nmeasure, K = v->sizes[Lh];
  memcpy(a, x, (size_t)n * v->sizes[0] * sizeof(double));
  for (int l = 1; l <= Lh; l++) {
    /* The head's W points at 2K rows: mu rows, then the pre-std rows. */
    int k = v->sizes[l - 1], m = l < Lh ? v->sizes[l] : 2 * K;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, m, k, 1.0, a, k, v->W[l], k,
                0.0, b, m);
    for (int i = 0; i < n; i++) {
      double *row = b + (size_t)i * m;
      const double *bias = v->b[l];
      if (l == Lh)
        for (int j = 0; j < m; j++) row[j] += bias[j];
      else if (v->act == RS_ACT_RELU) /* (the common case, in vector lanes) */
        for (int j = 0; j < m; j++) {
          double p = row[j] + bias[j];
          row[j] = p > 0 ? p : 0;
        }
      else
        for (int j = 0; j < m; j++) row[j] = act64(v->act, row[j] + bias[j]);
    }
    double *t = a;
    a = b;
    b = t;
  }
  return a;
}

static int vib_maxw(const rs_netview *v) {
  int Lh = v->nmeasure, maxw = 2 * v->sizes[Lh];
  for (int l = 0; l < Lh; l++) maxw = v->sizes[l] > maxw ? v->sizes[l] : maxw;
  return maxw;
}

static double softplus64(double s) { return s > 0 ? s + log1p(exp(-s)) : log1p(exp(s)); }

/* sigma of one head row (2K values: mu, then the pre-std s). */
static void head_sigma(const double *h, int K, double *sig) {
  for (int k = 0; k < K; k++) sig[k] = softplus64(h[K + k] - RS__VIB_SHIFT);
}

/* KL(N(mu, sigma^2) || N(0, I)) of one head row, given its sigma. */
static double head_kl(const double *h, const double *sig, int K) {
  double kl = 0;
  for (int k = 0; k < K; k++) kl += 0.5 * (h[k] * h[k] + sig[k] * sig[k] - 1.0) - log(sig[k]);
  return kl;
}

int rs_vib_kl(const rs_netview *v, const double *x, int n, double *mean_kl) {
  if (!v->last_measured_linear || v->nmeasure < 1)
    return rs_error(RS_EARG, "rs_vib_kl: the netview is not a VIB's");
  int K = v->sizes[v->nmeasure], maxw = vib_maxw(v);
  double *a = malloc((size_t)n * maxw * sizeof(double));
  double *b = malloc((size_t)n * maxw * sizeof(double));
  double *sig = malloc((size_t)K * sizeof(double));
  if (!a || !b || !sig) {
    free(a);
    free(b);
    free(sig);
    return rs_error(RS_ENOMEM, "rs_vib_kl: out of memory");
  }
  const double *h = vib_head(v, x, n, a, b);
  double kl = 0;
  for (int i = 0; i < n; i++) {
    head_sigma(h + (size_t)i * 2 * K, K, sig);
    kl += head_kl(h + (size_t)i * 2 * K, sig, K);
  }
  *mean_kl = kl / n;
  free(a);
  free(b);
  free(sig);
  return RS_OK;
}

/* ---- sampled evaluation ---- */

#define RS__EVAL_CHUNK 256

/* Task loss (and accuracy) of one point set with `samples` latent samples per
 * point. The noise of point i, sample s is the (i samples + s)-th block of K
 * normals of r, so the result does not depend on the chunking. */
static int vib_eval_set(const vib_model *vm, const rs_netview *v, const double *ls,
                        rs_loss loss, const double *x, const int *lab, const double *y,
                        int n, int samples, rs_rng *r, double *mloss, double *acc,
                        double *rate) {
  *mloss = *acc = NAN;
  if (rate) *rate = NAN;
  if (n <= 0) return RS_OK;
  int K = vm->K, O = vm->nout, d0 = v->sizes[0], maxw = vib_maxw(v);
  const double *Wd = v->W[v->nlayers], *bd = v->b[v->nlayers];
  size_t cn = (size_t)(n < RS__EVAL_CHUNK ? n : RS__EVAL_CHUNK);
  double *a = malloc(cn * maxw * sizeof(double)), *b = malloc(cn * maxw * sizeof(double));
  /* z: one point's latent samples (samples x K); ob: their decoder outputs
   * (samples x O); WdT: the decoder's weights transposed (K x O), so that the
   * outputs of all samples accumulate k by k in vector lanes, each output's
   * sum in the same order as a dot product over k (same values, bit for bit,
   * without FMA contraction, which ISO C11 leaves off). */
  double *z = malloc((size_t)samples * K * sizeof(double));
  double *ob = malloc((size_t)samples * O * sizeof(double));
  double *WdT = malloc((size_t)K * O * sizeof(double));
  double *pr = malloc((size_t)O * sizeof(double));
  /* One point's noise for all its samples, and its sigma, computed once: the
   * sigma depends on the point alone, and drawing the samples x K normals in
   * one call lets the generator batch its blocks (same values, same order). */
  double *en = malloc((size_t)samples * K * sizeof(double));
  double *sg = malloc((size_t)K * sizeof(double));
  if (!a || !b || !z || !ob || !WdT || !pr || !en || !sg) {
    free(a);
    free(b);
    free(z);
    free(ob);
    free(WdT);
    free(pr);
    free(en);
    free(sg);
    return rs_error(RS_ENOMEM, "vib evaluation: out of memory");
  }
  for (int j = 0; j < O; j++)
    for (int k = 0; k < K; k++) WdT[(size_t)k * O + j] = Wd[(size_t)j * K + k];
  double lsum = 0, klsum = 0;
  int64_t correct = 0;
  for (int r0 = 0; r0 < n; r0 += RS__EVAL_CHUNK) {
    int rn = n - r0 < RS__EVAL_CHUNK ? n - r0 : RS__EVAL_CHUNK;
    const double *H = vib_head(v, x + (size_t)r0 * d0, rn, a, b);
    for (int i = 0; i < rn; i++) {
      const double *h = H + (size_t)i * 2 * K;
      head_sigma(h, K, sg);
      klsum += head_kl(h, sg, K);
      for (int j = 0; j < O; j++) pr[j] = 0;
      rs_rng_normals(r, (size_t)samples * K, en);
      for (int s = 0; s < samples; s++) {
        const double *e = en + (size_t)s * K;
        double *zs = z + (size_t)s * K, *os = ob + (size_t)s * O;
        for (int k = 0; k < K; k++) zs[k] = h[k] + sg[k] * e[k];
        for (int j = 0; j < O; j++) os[j] = bd[j];
      }
      for (int k = 0; k < K; k++) {
        const double *w = WdT + (size_t)k * O;
        for (int s = 0; s < samples; s++) {
          double zk = z[(size_t)s * K + k], *os = ob + (size_t)s * O;
          for (int j = 0; j < O; j++) os[j] += w[j] * zk;
        }
      }
      for (int s = 0; s < samples; s++) {
        const double *o = ob + (size_t)s * O;
        size_t row = (size_t)(r0 + i) * O;
        if (vm->gauss) {
          double nll = 0.5 * O * log(2 * M_PI);
          for (int j = 0; j < O; j++) {
            double q = (o[j] - y[row + j]) * exp(-ls[j]);
            nll += 0.5 * q * q + ls[j];
          }
          lsum += nll;
        } else if (loss == RS_LOSS_CROSS_ENTROPY) {
          double mx = o[0];
          for (int j = 1; j < O; j++) mx = o[j] > mx ? o[j] : mx;
          double se = 0;
          for (int j = 0; j < O; j++) se += exp(o[j] - mx);
          double lse = mx + log(se);
          lsum += lse - o[lab[r0 + i]];
          for (int j = 0; j < O; j++) pr[j] += exp(o[j] - lse);
        } else {
          double e = 0;
          for (int j = 0; j < O; j++) {
            double t = y ? y[row + j] : (double)(j == lab[r0 + i]);
            e += (o[j] - t) * (o[j] - t);
            pr[j] += o[j]; /* one-hot targets: classes by the largest mean output */
          }
          lsum += e / O; /* as training: the mean over the outputs */
        }
      }
      if (!vm->gauss && lab && (loss == RS_LOSS_CROSS_ENTROPY || !y)) {
        int arg = 0;
        for (int j = 1; j < O; j++)
          if (pr[j] > pr[arg]) arg = j;
        correct += arg == lab[r0 + i];
      }
    }
  }
  *mloss = lsum / ((double)n * samples);
  if (!vm->gauss && lab && (loss == RS_LOSS_CROSS_ENTROPY || !y)) *acc = (double)correct / n;
  if (rate) *rate = klsum / n;
  free(a);
  free(b);
  free(z);
  free(ob);
  free(WdT);
  free(pr);
  free(en);
  free(sg);
  return RS_OK;
}

int rs__vib_evaluate(const rs__model *base, const double *params, const rs_dataset *data,
                     uint64_t seed, int samples, double hy, rs__vib_eval *out) {
  RS_ASSERT(base->ops == &vib_ops);
  const vib_model *vm = (const vib_model *)base;
  if (samples < 1)
    return rs_error(RS_EARG, "model.eval_samples: expected at least 1, got %d", samples);
  rs_netview v;
  RS_CALL(vib_view(base, params, &v));
  const double *ls = vm->gauss ? params + vm->lsoff : NULL;
  rs_loss loss = vm->enc.loss;
  rs_rng r;
  /* Fixed streams, re-seeded at every call: the evaluation of given weights
   * never depends on the history of the run or on earlier evaluations. */
  rs_rng_init(&r, seed, RS_STREAM_NOISE, 2);
  RS_CALL(vib_eval_set(vm, &v, ls, loss, data->xtrain, data->ltrain, data->ytrain,
                       data->ntrain, samples, &r, &out->train_loss, &out->train_acc, NULL));
  rs_rng_init(&r, seed, RS_STREAM_NOISE, 1);
  RS_CALL(vib_eval_set(vm, &v, ls, loss, data->xheld, data->lheld, data->yheld, data->nheld,
                       samples, &r, &out->heldout_loss, &out->heldout_acc, &out->rate));
  out->info_y = hy - out->heldout_loss;
  return RS_OK;
}

bool rs__vib_gaussian_decoder(const rs__model *base) {
  return base->ops == &vib_ops && ((const vib_model *)base)->gauss;
}
