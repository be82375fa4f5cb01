/* Optimisers (SGD with momentum, Adam, AdamW) and learning-rate schedules
 * over flat parameter arrays, matching torch.optim 1.13 formula by formula.
 * Applied segment by segment so weight decay can skip biases. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ranksweep/rs_error.h"
#include "src/model/model_internal.h"

/* The update loops are the only per-parameter work of a step: RS__CLONES
 * (model_internal.h) gives them AVX-512 and AVX2 builds, the wider divider and
 * square root being what the Adam loops wait on. */

#define REAL float
#define S(name) name##_f32
#define SQRT sqrtf
#include "src/model/optim_kernels.h"
#undef REAL
#undef S
#undef SQRT

#define REAL double
#define S(name) name##_f64
#define SQRT sqrt
#include "src/model/optim_kernels.h"
#undef REAL
#undef S
#undef SQRT

int rs__optim_init(rs__optim *o, const rs_config *cfg, rs_precision prec,
                   size_t n) {
  memset(o, 0, sizeof *o);
  o->kind = cfg->train.optimizer;
  o->prec = prec;
  o->lr = cfg->train.lr;
  o->momentum = cfg->train.momentum;
  o->beta1 = cfg->train.beta1;
  o->beta2 = cfg->train.beta2;
  o->eps = cfg->train.adam_eps;
  o->wd = cfg->train.weight_decay;
  o->decay_biases = cfg->train.decay_biases;
  o->schedule = cfg->train.schedule;
  o->steps = cfg->train.steps;
  o->step_every = cfg->train.step_every;
  o->gamma = cfg->train.step_gamma;
  o->n = n;
  if (!(cfg->train.lr >= 0) || !isfinite(cfg->train.lr))
    return rs_error(RS_EARG, "train.lr: expected a finite value >= 0, got %g", cfg->train.lr);
  if (cfg->train.schedule == RS_SCHED_STEP && cfg->train.step_every <= 0)
    return rs_error(RS_EARG, "train.step_every: expected > 0 for the step schedule, got %lld",
                    (long long)cfg->train.step_every);
  if (cfg->train.schedule == RS_SCHED_COSINE && cfg->train.steps <= 0)
    return rs_error(RS_EARG, "train.steps: expected > 0 for the cosine schedule");
  size_t es = prec == RS_PREC_FLOAT32 ? sizeof(float) : sizeof(double);
  bool need_m = o->kind != RS_OPT_SGD || o->momentum != 0;
  bool need_v = o->kind != RS_OPT_SGD;
  if (need_m && !(o->m = calloc(n ? n : 1, es))) goto nomem;
  if (need_v && !(o->v = calloc(n ? n : 1, es))) goto nomem;
  return RS_OK;
nomem:
  rs__optim_free(o);
  return rs_error(RS_ENOMEM, "optimiser: out of memory for %zu moments", n);
}

void rs__optim_free(rs__optim *o) {
  free(o->m);
  free(o->v);
  o->m = o->v = NULL;
}

double rs__schedule_lr(const rs__optim *o, int64_t t) {
  switch (o->schedule) {
  case RS_SCHED_COSINE:
    return o->lr * (0.5 * (1.0 + cos(M_PI * (double)t / (double)o->steps)));
  case RS_SCHED_STEP:
    return o->lr * pow(o->gamma, (double)(t / o->step_every));
  default:
    return o->lr;
  }
}

void rs__optim_begin(rs__optim *o) { o->lr_t = rs__schedule_lr(o, o->t); }

void rs__optim_end(rs__optim *o) { o->t++; }

void rs__optim_update(rs__optim *o, void *params, const void *grad,
                      const rs__segment *seg) {
  double wd = seg->is_weight || o->decay_biases ? o->wd : 0.0;
  size_t off = seg->off, n = seg->n;
  bool f32 = o->prec == RS_PREC_FLOAT32;
  if (o->kind == RS_OPT_SGD) {
    if (f32)
      sgd_f32((float *)params + off, (const float *)grad + off,
              o->m ? (float *)o->m + off : NULL, n, (float)wd,
              (float)o->momentum, (float)-o->lr_t);
    else
      sgd_f64((double *)params + off, (const double *)grad + off,
              o->m ? (double *)o->m + off : NULL, n, wd, o->momentum, -o->lr_t);
    return;
  }
  /* Scalars as torch computes them in Python (double), then cast. */
  double step = (double)(o->t + 1);
  double bc1 = 1.0 - pow(o->beta1, step);
  double bc2 = 1.0 - pow(o->beta2, step);
  double step_size = o->lr_t / bc1;
  double bc2s = sqrt(bc2);
  double negstep = -step_size * bc2s, eps = o->eps * bc2s;
  if (o->kind == RS_OPT_ADAMW) {
    double decay = 1.0 - o->lr_t * wd;
    if (f32)
      adamw_f32((float *)params + off, (const float *)grad + off,
                (float *)o->m + off, (float *)o->v + off, n, (float)decay,
                (float)o->beta1, (float)(1.0 - o->beta1), (float)o->beta2,
                (float)(1.0 - o->beta2), (float)negstep, (float)eps);
    else
      adamw_f64((double *)params + off, (const double *)grad + off,
                (double *)o->m + off, (double *)o->v + off, n, decay, o->beta1,
                1.0 - o->beta1, o->beta2, 1.0 - o->beta2, negstep, eps);
  } else {
    if (f32)
      adam_f32((float *)params + off, (const float *)grad + off,
               (float *)o->m + off, (float *)o->v + off, n, (float)wd,
               (float)o->beta1, (float)(1.0 - o->beta1), (float)o->beta2,
               (float)(1.0 - o->beta2), (float)negstep, (float)eps);
    else
      adam_f64((double *)params + off, (const double *)grad + off,
               (double *)o->m + off, (double *)o->v + off, n, wd, o->beta1,
               1.0 - o->beta1, o->beta2, 1.0 - o->beta2, negstep, eps);
  }
}
