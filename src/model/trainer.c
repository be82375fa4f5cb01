/* The trainer: one run's model replica, optimiser state and minibatch order.
 * Drives any rs__model through its vtable; owns the epoch permutations
 * (RS_STREAM_BATCH), divergence detection and the resumable state blob. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ranksweep/rs_error.h"
#include "ranksweep/rs_fpenv.h"
#include "src/model/model_internal.h"

struct rs_trainer {
  rs_config cfg;
  const rs_dataset *data;
  rs__model *model;
  rs_precision prec;
  size_t n, es;
  void *params, *grad;
  double *view_buf; /* float32 training: float64 copy handed to measurement */
  rs__optim opt;
  int64_t step;
  int batch;
  int64_t nbatches; /* per epoch: floor(ntrain / batch) */
  int64_t *perm, perm_epoch;
  rs_rng noise; /* stochastic models (VIB); persisted with the state */
  double last_loss;
  bool diverged;
};

static void batch_permutation(const rs_trainer *t, int64_t epoch, int64_t *perm) {
  rs_rng r;
  rs_rng_init(&r, (uint64_t)t->cfg.seed, RS_STREAM_BATCH, (uint32_t)epoch);
  rs_rng_permutation(&r, t->data->ntrain, perm);
}

int rs_trainer_create(const rs_config *cfg, const rs_dataset *data,
                      rs_trainer **out) {
  *out = NULL;
  if (cfg->model.kind != RS_MODEL_MLP && cfg->model.kind != RS_MODEL_VIB)
    return rs_error(RS_EARG, "model.kind: expected mlp or vib");
  if (cfg->train.precision != RS_PREC_FLOAT32 && cfg->train.precision != RS_PREC_FLOAT64)
    return rs_error(RS_EARG, "train.precision: expected float32 or float64");
  if (cfg->train.batch <= 0 || cfg->train.batch > data->ntrain)
    return rs_error(RS_EARG, "train.batch: expected 1 to %d (the training set size), got %d",
                    data->ntrain, cfg->train.batch);
  /* The trainer's thread (and its BLAS pool) flushes subnormals or not, as
   * the run says: a per-thread state, so set here rather than once per process. */
  int frc = rs_fpenv_flush_denormals(cfg->train.flush_denormals);
  if (frc != RS_OK) return frc;
  rs_trainer *t = calloc(1, sizeof *t);
  if (!t) return rs_error(RS_ENOMEM, "trainer: out of memory");
  t->cfg = *cfg;
  t->data = data;
  t->prec = cfg->train.precision;
  t->es = t->prec == RS_PREC_FLOAT32 ? sizeof(float) : sizeof(double);
  t->batch = cfg->train.batch;
  t->nbatches = data->ntrain / cfg->train.batch;
  t->perm_epoch = -1;
  t->last_loss = NAN;
  rs_rng_init(&t->noise, (uint64_t)cfg->seed, RS_STREAM_NOISE, 0);
  int rc = cfg->model.kind == RS_MODEL_VIB ? rs__vib_create(cfg, data, t->batch, &t->model)
                                           : rs__mlp_create(cfg, data, t->batch, &t->model);
  if (rc != RS_OK) {
    free(t);
    rs__error_trace(__FILE__, __LINE__, __func__);
    return rc;
  }
  t->n = t->model->nparams;
  double *init = malloc(t->n * sizeof(double));
  t->params = malloc(t->n * t->es);
  t->grad = calloc(t->n, t->es);
  t->perm = malloc((size_t)data->ntrain * sizeof(int64_t));
  if (t->prec == RS_PREC_FLOAT32) t->view_buf = malloc(t->n * sizeof(double));
  if (!init || !t->params || !t->grad || !t->perm ||
      (t->prec == RS_PREC_FLOAT32 && !t->view_buf)) {
    free(init);
    rs_trainer_destroy(&t);
    return rs_error(RS_ENOMEM, "trainer: out of memory for the parameters");
  }
  t->model->ops->init_params(t->model, init);
  rc = rs_trainer_set_params(t, init);
  free(init);
  if (rc == RS_OK) rc = rs__optim_init(&t->opt, cfg, t->prec, t->n);
  if (rc != RS_OK) {
    rs_trainer_destroy(&t);
    rs__error_trace(__FILE__, __LINE__, __func__);
    return rc;
  }
  *out = t;
  return RS_OK;
}

void rs_trainer_gemm_backend(const rs_trainer *t, char *buf, size_t cap) {
  const rs__gemm *plans[RS__MAX_PRODUCTS];
  int n = t->model->ops->plans(t->model, plans);
  rs__gemm_describe(plans, n, buf, cap);
}

const char *rs_gemm_libxsmm_arch(void) {
  return rs__gemm_libxsmm ? rs__gemm_libxsmm->target() : "none";
}

void rs_trainer_destroy(rs_trainer **tp) {
  rs_trainer *t = *tp;
  if (!t) return;
  if (t->model) t->model->ops->destroy(t->model);
  rs__optim_free(&t->opt);
  free(t->params);
  free(t->grad);
  free(t->view_buf);
  free(t->perm);
  free(t);
  *tp = NULL;
}

static void update_segment(void *ctx, int seg) {
  rs_trainer *t = ctx;
  rs__optim_update(&t->opt, t->params, t->grad, &t->model->seg[seg]);
}

int rs_trainer_run_to(rs_trainer *t, int64_t target, bool *diverged) {
  *diverged = t->diverged;
  while (!t->diverged && t->step < target) {
    int64_t epoch = t->step / t->nbatches, pos = t->step % t->nbatches;
    if (epoch != t->perm_epoch) {
      batch_permutation(t, epoch, t->perm);
      t->perm_epoch = epoch;
    }
    double loss;
    rs__optim_begin(&t->opt);
    RS_CALL(t->model->ops->loss_grad(t->model, t->params, t->grad,
                                     t->perm + pos * t->batch, t->batch,
                                     &t->noise, &loss, update_segment, t));
    t->last_loss = loss;
    if (!isfinite(loss)) {
      /* The model skipped the backward pass: weights are those before the
       * failed step, and the step counter does not advance. */
      t->diverged = *diverged = true;
      break;
    }
    rs__optim_end(&t->opt);
    t->step++;
  }
  return RS_OK;
}

int64_t rs_trainer_step(const rs_trainer *t) { return t->step; }

double rs_trainer_last_loss(const rs_trainer *t) { return t->last_loss; }

int rs_trainer_batch_size(const rs_trainer *t) { return t->batch; }

int rs_trainer_batch_indices(const rs_trainer *t, int64_t step, int64_t *idx) {
  if (step < 0) return rs_error(RS_EARG, "trainer: step %lld is negative", (long long)step);
  int64_t epoch = step / t->nbatches, pos = step % t->nbatches;
  const int64_t *perm = t->perm;
  int64_t *tmp = NULL;
  if (epoch != t->perm_epoch) {
    tmp = malloc((size_t)t->data->ntrain * sizeof(int64_t));
    if (!tmp) return rs_error(RS_ENOMEM, "trainer: out of memory");
    batch_permutation(t, epoch, tmp);
    perm = tmp;
  }
  memcpy(idx, perm + pos * t->batch, (size_t)t->batch * sizeof(int64_t));
  free(tmp);
  return RS_OK;
}

int rs_trainer_view(rs_trainer *t, rs_netview *view) {
  const double *p = t->params;
  if (t->prec == RS_PREC_FLOAT32) {
    rs_trainer_get_params(t, t->view_buf);
    p = t->view_buf;
  }
  return t->model->ops->view(t->model, p, view);
}

size_t rs_trainer_nparams(const rs_trainer *t) { return t->n; }

void rs_trainer_get_params(const rs_trainer *t, double *out) {
  if (t->prec == RS_PREC_FLOAT64) {
    memcpy(out, t->params, t->n * sizeof(double));
  } else {
    const float *p = t->params;
    for (size_t i = 0; i < t->n; i++) out[i] = p[i];
  }
}

int rs_trainer_set_params(rs_trainer *t, const double *in) {
  if (t->prec == RS_PREC_FLOAT64) {
    memcpy(t->params, in, t->n * sizeof(double));
  } else {
    float *p = t->params;
    for (size_t i = 0; i < t->n; i++) p[i] = (float)in[i];
  }
  return RS_OK;
}

/* ---- state blob ----
 * header (little-endian host layout, fixed size), then params, then the
 * optimiser's first buffer (SGD momentum or Adam m) and second (Adam v) when
 * the optimiser has them, all in the training precision. The epoch and the
 * position in its permutation follow from step; they are stored to check. */
#define STATE_MAGIC "RSTRAIN1"
typedef struct {
  char magic[8];
  uint32_t prec, optimizer, model_kind, diverged;
  uint64_t nparams;
  int64_t step, opt_t, epoch, pos, batch;
  rs_rng noise;
  double last_loss;
} state_header;

size_t rs_trainer_state_size(const rs_trainer *t) {
  size_t nbuf = 1 + (t->opt.m != NULL) + (t->opt.v != NULL);
  return sizeof(state_header) + nbuf * t->n * t->es;
}

int rs_trainer_state_save(const rs_trainer *t, void *buf) {
  state_header h;
  memset(&h, 0, sizeof h);
  memcpy(h.magic, STATE_MAGIC, 8);
  h.prec = (uint32_t)t->prec;
  h.optimizer = (uint32_t)t->opt.kind;
  h.model_kind = (uint32_t)t->cfg.model.kind;
  h.diverged = t->diverged;
  h.nparams = t->n;
  h.step = t->step;
  h.opt_t = t->opt.t;
  h.epoch = t->step / t->nbatches;
  h.pos = t->step % t->nbatches;
  h.batch = t->batch;
  h.noise = t->noise;
  h.last_loss = t->last_loss;
  char *p = buf;
  memcpy(p, &h, sizeof h);
  p += sizeof h;
  size_t bytes = t->n * t->es;
  memcpy(p, t->params, bytes);
  p += bytes;
  if (t->opt.m) {
    memcpy(p, t->opt.m, bytes);
    p += bytes;
  }
  if (t->opt.v) memcpy(p, t->opt.v, bytes);
  return RS_OK;
}

int rs_trainer_state_load(rs_trainer *t, const void *buf) {
  state_header h;
  memcpy(&h, buf, sizeof h);
  if (memcmp(h.magic, STATE_MAGIC, 8) != 0)
    return rs_error(RS_EARG, "training state: bad magic (not a ranksweep trainer state)");
  if (h.prec != (uint32_t)t->prec || h.optimizer != (uint32_t)t->opt.kind ||
      h.model_kind != (uint32_t)t->cfg.model.kind || h.nparams != t->n ||
      h.batch != t->batch)
    return rs_error(RS_EARG, "training state: saved for a different configuration "
                    "(precision, optimizer, model, parameter count or batch differ)");
  if (h.step < 0 || h.epoch != h.step / t->nbatches || h.pos != h.step % t->nbatches ||
      h.opt_t != h.step)
    return rs_error(RS_EARG, "training state: inconsistent step counters");
  const char *p = (const char *)buf + sizeof h;
  size_t bytes = t->n * t->es;
  memcpy(t->params, p, bytes);
  p += bytes;
  if (t->opt.m) {
    memcpy(t->opt.m, p, bytes);
    p += bytes;
  }
  if (t->opt.v) memcpy(t->opt.v, p, bytes);
  t->step = h.step;
  t->opt.t = h.opt_t;
  t->noise = h.noise;
  t->last_loss = h.last_loss;
  t->diverged = h.diverged != 0;
  t->perm_epoch = -1;
  return RS_OK;
}

rs__model *rs__trainer_model(rs_trainer *t) { return t->model; }

const double *rs__trainer_params64(rs_trainer *t) {
  if (t->prec == RS_PREC_FLOAT64) return t->params;
  rs_trainer_get_params(t, t->view_buf);
  return t->view_buf;
}

void rs__trainer_gemm_only(rs_trainer *t) {
  t->model->ops->gemm_only(t->model, t->params, t->grad, t->batch);
}
