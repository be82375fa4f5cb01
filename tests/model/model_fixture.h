/* Hand-built configurations and small synthetic data sets for the model
 * module's tests, export program and benchmark, so they depend on neither
 * the job module (rs_config_defaults) nor the data module. Header-only. */
#ifndef RS_MODEL_FIXTURE_H
#define RS_MODEL_FIXTURE_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ranksweep/rs_config.h"
#include "ranksweep/rs_data.h"
#include "ranksweep/rs_rng.h"

/* A complete MLP configuration: widths as given, AdamW, float64. */
static inline void fixture_config(rs_config *c, int nwidths, const int *widths) {
  memset(c, 0, sizeof *c);
  strcpy(c->name, "fixture");
  c->seed = 1;
  c->data.seed = -1;
  c->model.kind = RS_MODEL_MLP;
  c->model.nwidths = nwidths;
  for (int i = 0; i < nwidths; i++) c->model.widths[i] = widths[i];
  c->model.activation = RS_ACT_RELU;
  c->model.init = RS_INIT_NORMAL_FAN_IN;
  c->model.bias_init = 0.0;
  c->train.optimizer = RS_OPT_ADAMW;
  c->train.lr = 1e-3;
  c->train.momentum = 0.9;
  c->train.beta1 = 0.9;
  c->train.beta2 = 0.999;
  c->train.adam_eps = 1e-8;
  c->train.weight_decay = 0.01;
  c->train.decay_biases = false;
  c->train.schedule = RS_SCHED_CONSTANT;
  c->train.step_every = 100;
  c->train.step_gamma = 0.5;
  c->train.batch = 16;
  c->train.steps = 1000;
  c->train.precision = RS_PREC_FLOAT64;
  c->train.loss = RS_LOSS_AUTO;
}

/* Gaussian mixture (classification: classes > 0) with class means of std
 * mean_scale and unit noise, or (classes == 0) regression y = tanh(A x) with
 * `outputs` targets. Drawn from (seed, RS_STREAM_DATA, 0). */
static inline rs_dataset *fixture_data(uint64_t seed, int n, int dim, int classes,
                                       int outputs, double mean_scale) {
  rs_dataset *d = calloc(1, sizeof *d);
  rs_rng r;
  rs_rng_init(&r, seed, RS_STREAM_DATA, 0);
  d->dim = dim;
  d->ntrain = n;
  d->xtrain = malloc((size_t)n * (size_t)dim * sizeof(double));
  if (classes > 0) {
    d->classification = true;
    d->outputs = classes;
    double *mu = malloc((size_t)classes * (size_t)dim * sizeof(double));
    for (int i = 0; i < classes * dim; i++) mu[i] = mean_scale * rs_rng_normal(&r);
    d->ltrain = malloc((size_t)n * sizeof(int));
    for (int i = 0; i < n; i++) {
      int k = (int)rs_rng_below(&r, (uint64_t)classes);
      d->ltrain[i] = k;
      for (int j = 0; j < dim; j++)
        d->xtrain[(size_t)i * dim + j] = mu[k * dim + j] + rs_rng_normal(&r);
    }
    free(mu);
  } else {
    d->classification = false;
    d->outputs = outputs;
    double *A = malloc((size_t)outputs * (size_t)dim * sizeof(double));
    for (int i = 0; i < outputs * dim; i++) A[i] = rs_rng_normal(&r) / sqrt(dim);
    d->ytrain = malloc((size_t)n * (size_t)outputs * sizeof(double));
    for (int i = 0; i < n; i++) {
      double *x = d->xtrain + (size_t)i * dim;
      for (int j = 0; j < dim; j++) x[j] = rs_rng_normal(&r);
      for (int k = 0; k < outputs; k++) {
        double s = 0;
        for (int j = 0; j < dim; j++) s += A[k * dim + j] * x[j];
        d->ytrain[(size_t)i * outputs + k] = tanh(s);
      }
    }
    free(A);
  }
  return d;
}

static inline void fixture_data_free(rs_dataset **dp) {
  rs_dataset *d = *dp;
  if (!d) return;
  free(d->xtrain);
  free(d->ltrain);
  free(d->ytrain);
  free(d);
  *dp = NULL;
}

#endif
