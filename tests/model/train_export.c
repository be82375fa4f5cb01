/* Writes everything PyTorch needs to replay our float64 training exactly:
 * data, initial weights, the batch index sequence, per-step losses and the
 * final weights of several small runs (format: docs/numerics.md, "Models and training").
 * Usage: train_export OUTDIR [steps=200] */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ranksweep/rs_error.h"
#include "ranksweep/rs_model.h"
#include "tests/model/model_fixture.h"

static const char *outdir;

static int write_raw(const char *name, const void *p, size_t bytes) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", outdir, name);
  FILE *f = fopen(path, "wb");
  if (!f) return rs_error(RS_EIO, "%s: cannot create: %s", path, strerror(errno));
  size_t w = fwrite(p, 1, bytes, f);
  if (fclose(f) != 0 || w != bytes) return rs_error(RS_EIO, "%s: write failed", path);
  return RS_OK;
}

static const char *ACT[] = {"relu", "tanh", "identity", "gelu"};
static const char *OPT[] = {"sgd", "adam", "adamw"};
static const char *SCHED[] = {"constant", "cosine", "step"};

static int write_dataset(FILE *man, const char *name, const rs_dataset *d) {
  char file[256];
  snprintf(file, sizeof file, "%s_x.f64", name);
  RS_CALL(write_raw(file, d->xtrain, (size_t)d->ntrain * d->dim * sizeof(double)));
  fprintf(man, "dataset %s x=%s n=%d dim=%d outputs=%d", name, file, d->ntrain,
          d->dim, d->outputs);
  if (d->classification) {
    int64_t *lab = malloc((size_t)d->ntrain * sizeof(int64_t));
    for (int i = 0; i < d->ntrain; i++) lab[i] = d->ltrain[i];
    snprintf(file, sizeof file, "%s_labels.i64", name);
    int rc = write_raw(file, lab, (size_t)d->ntrain * sizeof(int64_t));
    free(lab);
    RS_CALL(rc);
    fprintf(man, " kind=classification labels=%s\n", file);
  } else {
    snprintf(file, sizeof file, "%s_y.f64", name);
    RS_CALL(write_raw(file, d->ytrain, (size_t)d->ntrain * d->outputs * sizeof(double)));
    fprintf(man, " kind=regression targets=%s\n", file);
  }
  return RS_OK;
}

static int export_run(FILE *man, const char *name, const char *dsname,
                      const rs_config *c, const rs_dataset *d, int64_t steps) {
  rs_trainer *t;
  RS_CALL(rs_trainer_create(c, d, &t));
  size_t n = rs_trainer_nparams(t);
  int B = rs_trainer_batch_size(t);
  double *p = malloc(n * sizeof(double)), *loss = malloc((size_t)steps * sizeof(double));
  int64_t *idx = malloc((size_t)steps * (size_t)B * sizeof(int64_t));
  int rc = RS_OK;
  char f_init[256], f_batches[256], f_losses[256], f_final[256];
  snprintf(f_init, sizeof f_init, "%s_init.f64", name);
  snprintf(f_batches, sizeof f_batches, "%s_batches.i64", name);
  snprintf(f_losses, sizeof f_losses, "%s_losses.f64", name);
  snprintf(f_final, sizeof f_final, "%s_final.f64", name);
  rs_trainer_get_params(t, p);
  rc = write_raw(f_init, p, n * sizeof(double));
  for (int64_t s = 0; s < steps && rc == RS_OK; s++) {
    bool div;
    rc = rs_trainer_batch_indices(t, s, idx + s * B);
    if (rc == RS_OK) rc = rs_trainer_run_to(t, s + 1, &div);
    if (rc == RS_OK && div) rc = rs_error(RS_EDIVERGED, "export run %s diverged at step %lld",
                                          name, (long long)s);
    loss[s] = rs_trainer_last_loss(t);
  }
  if (rc == RS_OK) rc = write_raw(f_batches, idx, (size_t)steps * B * sizeof(int64_t));
  if (rc == RS_OK) rc = write_raw(f_losses, loss, (size_t)steps * sizeof(double));
  rs_trainer_get_params(t, p);
  if (rc == RS_OK) rc = write_raw(f_final, p, n * sizeof(double));
  /* VIB: the documented noise sequence, regenerated independently of the
   * trainer: stream (seed, RS_STREAM_NOISE, 0), batch x latent normals per
   * step in row-major order. */
  char f_noise[256] = "none";
  if (rc == RS_OK && c->model.kind == RS_MODEL_VIB) {
    size_t cnt = (size_t)steps * (size_t)B * (size_t)c->model.latent;
    double *eps = malloc(cnt * sizeof(double));
    rs_rng r;
    rs_rng_init(&r, (uint64_t)c->seed, RS_STREAM_NOISE, 0);
    for (size_t i = 0; i < cnt; i++) eps[i] = rs_rng_normal(&r);
    snprintf(f_noise, sizeof f_noise, "%s_noise.f64", name);
    rc = write_raw(f_noise, eps, cnt * sizeof(double));
    free(eps);
  }
  if (rc == RS_OK) {
    /* sizes: input, hidden widths, output (MLP) or decoder output (VIB). */
    fprintf(man, "run %s dataset=%s sizes=%d", name, dsname, d->dim);
    for (int l = 0; l < c->model.nwidths; l++) fprintf(man, ",%d", c->model.widths[l]);
    fprintf(man, ",%d activation=%s loss=%s optimizer=%s", d->outputs, ACT[c->model.activation],
            d->classification && c->train.loss != RS_LOSS_MSE ? "cross_entropy" : "mse",
            OPT[c->train.optimizer]);
    fprintf(man, " lr=%.17g momentum=%.17g beta1=%.17g beta2=%.17g eps=%.17g", c->train.lr,
            c->train.momentum, c->train.beta1, c->train.beta2, c->train.adam_eps);
    fprintf(man, " weight_decay=%.17g decay_biases=%d schedule=%s schedule_steps=%lld",
            c->train.weight_decay, (int)c->train.decay_biases, SCHED[c->train.schedule],
            (long long)c->train.steps);
    fprintf(man, " step_every=%lld step_gamma=%.17g batch=%d steps=%lld nparams=%zu",
            (long long)c->train.step_every, c->train.step_gamma, B, (long long)steps, n);
    fprintf(man, " model=%s latent=%d beta=%.17g noise=%s",
            c->model.kind == RS_MODEL_VIB ? "vib" : "mlp", c->model.latent, c->train.beta,
            f_noise);
    fprintf(man, " init=%s batches=%s losses=%s final=%s\n", f_init, f_batches, f_losses,
            f_final);
  }
  free(p);
  free(loss);
  free(idx);
  rs_trainer_destroy(&t);
  return rc;
}

static int run(int64_t steps) {
  char path[1024];
  snprintf(path, sizeof path, "%s/manifest.txt", outdir);
  FILE *man = fopen(path, "w");
  if (!man) return rs_error(RS_EIO, "%s: cannot create: %s", path, strerror(errno));
  fprintf(man, "format ranksweep-train-export 1\n");
  rs_dataset *mix = fixture_data(21, 256, 20, 3, 0, 0.7);
  rs_dataset *reg = fixture_data(22, 256, 20, 0, 3, 1.0);
  int rc = write_dataset(man, "mixture", mix);
  if (rc == RS_OK) rc = write_dataset(man, "teacher", reg);

  const int widths[3] = {16, 16, 16};
  rs_config c;
  /* SGD with momentum, coupled L2, step schedule, ReLU, cross entropy. */
  fixture_config(&c, 3, widths);
  c.seed = 5;
  c.train.optimizer = RS_OPT_SGD;
  c.train.lr = 0.05;
  c.train.momentum = 0.9;
  c.train.weight_decay = 1e-3;
  c.train.schedule = RS_SCHED_STEP;
  c.train.step_every = 50;
  c.train.step_gamma = 0.5;
  c.train.steps = steps;
  if (rc == RS_OK) rc = export_run(man, "sgd", "mixture", &c, mix, steps);
  /* AdamW, decoupled decay on weights only, cosine schedule. */
  fixture_config(&c, 3, widths);
  c.seed = 6;
  c.train.optimizer = RS_OPT_ADAMW;
  c.train.lr = 3e-3;
  c.train.weight_decay = 0.05;
  c.train.schedule = RS_SCHED_COSINE;
  c.train.steps = steps;
  if (rc == RS_OK) rc = export_run(man, "adamw", "mixture", &c, mix, steps);
  /* Adam, coupled decay on biases too, GELU, MSE regression, He init. */
  fixture_config(&c, 3, widths);
  c.seed = 7;
  c.model.activation = RS_ACT_GELU;
  c.model.init = RS_INIT_HE;
  c.model.bias_init = 0.01;
  c.train.optimizer = RS_OPT_ADAM;
  c.train.lr = 2e-3;
  c.train.beta1 = 0.85;
  c.train.weight_decay = 1e-3;
  c.train.decay_biases = true;
  c.train.batch = 20;
  c.train.steps = steps;
  if (rc == RS_OK) rc = export_run(man, "adam_gelu_mse", "teacher", &c, reg, steps);
  /* Plain SGD, tanh, Xavier init. */
  fixture_config(&c, 3, widths);
  c.seed = 8;
  c.model.activation = RS_ACT_TANH;
  c.model.init = RS_INIT_XAVIER;
  c.train.optimizer = RS_OPT_SGD;
  c.train.lr = 0.1;
  c.train.momentum = 0;
  c.train.weight_decay = 0;
  c.train.steps = steps;
  if (rc == RS_OK) rc = export_run(man, "sgd_tanh", "mixture", &c, mix, steps);
  /* Deep VIB: encoder 20-16-16, head to 2 x 4, decoder 4 -> 3, AdamW. */
  const int vw[2] = {16, 16};
  fixture_config(&c, 2, vw);
  c.seed = 9;
  c.model.kind = RS_MODEL_VIB;
  c.model.latent = 4;
  c.train.beta = 0.05;
  c.train.lr = 3e-3;
  c.train.steps = steps;
  if (rc == RS_OK) rc = export_run(man, "vib", "mixture", &c, mix, steps);
  /* VIB regression: tanh encoder, MSE, Adam, one-step-every-50 schedule. */
  fixture_config(&c, 2, vw);
  c.seed = 10;
  c.model.kind = RS_MODEL_VIB;
  c.model.latent = 3;
  c.model.activation = RS_ACT_TANH;
  c.model.bias_init = 0.5;
  c.model.decoder = RS_DEC_LINEAR; /* the fixed-variance MSE decoder torch replays */
  c.train.loss = RS_LOSS_MSE;
  c.train.beta = 0.2;
  c.train.optimizer = RS_OPT_ADAM;
  c.train.lr = 2e-3;
  c.train.schedule = RS_SCHED_STEP;
  c.train.step_every = 50;
  c.train.step_gamma = 0.7;
  c.train.steps = steps;
  if (rc == RS_OK) rc = export_run(man, "vib_tanh_mse", "teacher", &c, reg, steps);

  if (fclose(man) != 0 && rc == RS_OK) rc = rs_error(RS_EIO, "%s: write failed", path);
  fixture_data_free(&mix);
  fixture_data_free(&reg);
  return rc;
}

int main(int argc, char **argv) {
  if (argc < 2 || argc > 3) {
    fprintf(stderr, "usage: train_export OUTDIR [steps=200]\n");
    return 2;
  }
  outdir = argv[1];
  int64_t steps = argc > 2 ? atoll(argv[2]) : 200;
  if (steps < 1) {
    fprintf(stderr, "train_export: steps must be >= 1\n");
    return 2;
  }
  if (mkdir(outdir, 0777) != 0 && errno != EEXIST) {
    fprintf(stderr, "train_export: %s: %s\n", outdir, strerror(errno));
    return 1;
  }
  int rc = run(steps);
  if (rc != RS_OK) {
    rs_error_print(rc);
    return 1;
  }
  return 0;
}
