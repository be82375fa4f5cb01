/* Unit tests of the model module: gradients against finite differences,
 * optimiser updates against independently written formulas, schedules,
 * initialisation order, batch order, divergence, bit-identical resumption
 * and float32 vs float64 training. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ranksweep/rs_error.h"
#include "ranksweep/rs_model.h"
#include "src/model/model_internal.h"
#include "tests/model/model_fixture.h"

static const rs_activation ACTS[4] = {RS_ACT_RELU, RS_ACT_TANH, RS_ACT_IDENTITY, RS_ACT_GELU};
static const char *ACT_NAMES[4] = {"relu", "tanh", "identity", "gelu"};

/* ---- gradients ---- */

static void check_gradient(rs_activation act, rs_loss loss) {
  const int widths[3] = {7, 6, 5};
  rs_config c;
  fixture_config(&c, 3, widths);
  c.model.activation = act;
  c.model.bias_init = 0.1; /* nonzero biases: their gradient path is tested too */
  c.train.loss = loss;
  rs_dataset *d = fixture_data(3, 40, 5, loss == RS_LOSS_CROSS_ENTROPY ? 3 : 0, 2, 1.0);
  rs__model *m;
  ck_assert_int_eq(rs__mlp_create(&c, d, 8, &m), RS_OK);
  size_t n = m->nparams;
  double *p = malloc(n * sizeof(double)), *g = malloc(n * sizeof(double));
  m->ops->init_params(m, p);
  int64_t idx[8] = {0, 5, 9, 13, 21, 22, 30, 39};
  double f;
  ck_assert_int_eq(m->ops->loss_grad(m, p, g, idx, 8, NULL, &f, NULL, NULL), RS_OK);
  ck_assert(isfinite(f) && f > 0);
  double num2 = 0, den2 = 0, gmax = 0;
  for (size_t i = 0; i < n; i++) gmax = fmax(gmax, fabs(g[i]));
  const double h = 1e-5;
  for (size_t i = 0; i < n; i++) {
    double save = p[i], fp, fm;
    p[i] = save + h;
    m->ops->loss_grad(m, p, NULL, idx, 8, NULL, &fp, NULL, NULL);
    p[i] = save - h;
    m->ops->loss_grad(m, p, NULL, idx, 8, NULL, &fm, NULL, NULL);
    p[i] = save;
    double fd = (fp - fm) / (2 * h);
    num2 += (fd - g[i]) * (fd - g[i]);
    den2 += g[i] * g[i];
    ck_assert_msg(fabs(fd - g[i]) <= 1e-6 * gmax,
                  "%s/%s: parameter %zu: analytic %.12g, finite difference %.12g",
                  ACT_NAMES[act], loss == RS_LOSS_MSE ? "mse" : "ce", i, g[i], fd);
  }
  ck_assert_msg(sqrt(num2 / den2) < 1e-6, "%s: relative gradient error %g",
                ACT_NAMES[act], sqrt(num2 / den2));
  free(p);
  free(g);
  m->ops->destroy(m);
  fixture_data_free(&d);
}

START_TEST(gradient_cross_entropy) { check_gradient(ACTS[_i], RS_LOSS_CROSS_ENTROPY); }
END_TEST

START_TEST(gradient_mse) { check_gradient(ACTS[_i], RS_LOSS_MSE); }
END_TEST

static void count_segment(void *ctx, int seg) { ((int *)ctx)[seg]++; }

START_TEST(gradient_hook_visits_each_segment_once) {
  const int widths[2] = {6, 4};
  rs_config c;
  fixture_config(&c, 2, widths);
  rs_dataset *d = fixture_data(4, 20, 3, 2, 0, 1.0);
  rs__model *m;
  ck_assert_int_eq(rs__mlp_create(&c, d, 4, &m), RS_OK);
  ck_assert_int_eq(m->nseg, 6);
  /* Segments tile the flat array W_1 b_1 W_2 b_2 W_3 b_3. */
  size_t want[6] = {6 * 3, 6, 4 * 6, 4, 2 * 4, 2}, off = 0;
  for (int s = 0; s < 6; s++) {
    ck_assert_uint_eq(m->seg[s].off, off);
    ck_assert_uint_eq(m->seg[s].n, want[s]);
    ck_assert(m->seg[s].is_weight == (s % 2 == 0));
    off += want[s];
  }
  ck_assert_uint_eq(m->nparams, off);
  double *p = malloc(off * sizeof(double)), *g = malloc(off * sizeof(double));
  m->ops->init_params(m, p);
  int counts[6] = {0};
  int64_t idx[4] = {1, 2, 3, 4};
  double f;
  m->ops->loss_grad(m, p, g, idx, 4, NULL, &f, count_segment, counts);
  for (int s = 0; s < 6; s++) ck_assert_int_eq(counts[s], 1);
  free(p);
  free(g);
  m->ops->destroy(m);
  fixture_data_free(&d);
}
END_TEST

/* ---- initialisation ---- */

START_TEST(init_order_and_scale) {
  const int widths[2] = {300, 200};
  rs_init inits[3] = {RS_INIT_NORMAL_FAN_IN, RS_INIT_HE, RS_INIT_XAVIER};
  rs_dataset *d = fixture_data(5, 64, 400, 10, 0, 1.0);
  for (int k = 0; k < 3; k++) {
    rs_config c;
    fixture_config(&c, 2, widths);
    c.seed = 77;
    c.model.init = inits[k];
    c.model.bias_init = 0.25;
    rs_trainer *t;
    ck_assert_int_eq(rs_trainer_create(&c, d, &t), RS_OK);
    rs_netview v;
    ck_assert_int_eq(rs_trainer_view(t, &v), RS_OK);
    ck_assert_int_eq(v.nlayers, 3);
    ck_assert_int_eq(v.nmeasure, 2);
    for (int l = 1; l <= 3; l++) {
      int n = v.sizes[l], fi = v.sizes[l - 1];
      double var = k == 0 ? 1.0 / fi : k == 1 ? 2.0 / fi : 2.0 / (fi + n);
      /* Documented order: stream (seed, INIT, l), row-major W_l. */
      rs_rng r;
      rs_rng_init(&r, 77, RS_STREAM_INIT, (uint32_t)l);
      for (int i = 0; i < 5; i++)
        ck_assert(v.W[l][i] == sqrt(var) * rs_rng_normal(&r));
      double s2 = 0;
      for (int i = 0; i < n * fi; i++) s2 += v.W[l][i] * v.W[l][i];
      double ratio = s2 / (n * fi) / var;
      ck_assert_msg(fabs(ratio - 1) < 0.1, "init %d layer %d variance ratio %g", k, l, ratio);
      for (int i = 0; i < n; i++) ck_assert(v.b[l][i] == 0.25);
    }
    rs_trainer_destroy(&t);
    ck_assert_ptr_null(t);
  }
  fixture_data_free(&d);
}
END_TEST

START_TEST(netview_from_params_matches_trainer) {
  const int widths[3] = {8, 8, 8};
  rs_config c;
  fixture_config(&c, 3, widths);
  c.train.precision = RS_PREC_FLOAT32;
  rs_dataset *d = fixture_data(6, 50, 4, 3, 0, 1.0);
  rs_trainer *t;
  ck_assert_int_eq(rs_trainer_create(&c, d, &t), RS_OK);
  bool div;
  ck_assert_int_eq(rs_trainer_run_to(t, 5, &div), RS_OK);
  size_t n = rs_trainer_nparams(t);
  ck_assert_uint_eq(n, 8 * 4 + 8 + 2 * (8 * 8 + 8) + 3 * 8 + 3);
  double *p = malloc(n * sizeof(double));
  rs_trainer_get_params(t, p);
  rs_netview a, b;
  ck_assert_int_eq(rs_trainer_view(t, &a), RS_OK);
  ck_assert_int_eq(rs_netview_from_params(&c, d, p, &b), RS_OK);
  ck_assert_int_eq(a.nlayers, b.nlayers);
  for (int l = 1; l <= a.nlayers; l++) {
    ck_assert_int_eq(a.sizes[l], b.sizes[l]);
    ck_assert(memcmp(a.W[l], b.W[l], sizeof(double) * a.sizes[l] * a.sizes[l - 1]) == 0);
    ck_assert(memcmp(a.b[l], b.b[l], sizeof(double) * a.sizes[l]) == 0);
  }
  free(p);
  rs_trainer_destroy(&t);
  fixture_data_free(&d);
}
END_TEST

/* ---- optimisers ---- */

/* Two segments: weights p[0..2), bias p[2]. */
static void run_optim(rs_config *c, rs_precision prec, const double *p0,
                      const double g[][3], int steps, double *out) {
  rs__optim o;
  ck_assert_int_eq(rs__optim_init(&o, c, prec, 3), RS_OK);
  rs__segment seg[2] = {{0, 2, true}, {2, 1, false}};
  float pf[3], gf[3];
  double pd[3], gd[3];
  for (int i = 0; i < 3; i++) pf[i] = (float)(pd[i] = p0[i]);
  for (int s = 0; s < steps; s++) {
    for (int i = 0; i < 3; i++) gf[i] = (float)(gd[i] = g[s][i]);
    rs__optim_begin(&o);
    for (int k = 0; k < 2; k++)
      rs__optim_update(&o, prec == RS_PREC_FLOAT32 ? (void *)pf : (void *)pd,
                       prec == RS_PREC_FLOAT32 ? (void *)gf : (void *)gd, &seg[k]);
    rs__optim_end(&o);
  }
  for (int i = 0; i < 3; i++) out[i] = prec == RS_PREC_FLOAT32 ? pf[i] : pd[i];
  rs__optim_free(&o);
}

static const double P0[3] = {1.0, -2.0, 0.5};
static const double GRADS[3][3] = {{0.1, 0.25, -0.3}, {-0.05, 0.4, 0.2}, {0.3, -0.1, 0.1}};

START_TEST(sgd_momentum_by_hand) {
  rs_config c;
  fixture_config(&c, 0, NULL);
  c.train.optimizer = RS_OPT_SGD;
  c.train.lr = 0.1;
  c.train.momentum = 0.9;
  c.train.weight_decay = 0.01;
  double got[3], got32[3];
  run_optim(&c, RS_PREC_FLOAT64, P0, GRADS, 3, got);
  run_optim(&c, RS_PREC_FLOAT32, P0, GRADS, 3, got32);
  /* Hand-unrolled: d_t = g_t + wd p (weights only), buf_1 = d_1,
   * buf_t = 0.9 buf_{t-1} + d_t, p -= lr buf_t. */
  for (int i = 0; i < 3; i++) {
    double wd = i < 2 ? 0.01 : 0.0, p = P0[i], buf = 0;
    for (int s = 0; s < 3; s++) {
      double d = GRADS[s][i] + wd * p;
      buf = s == 0 ? d : 0.9 * buf + d;
      p -= 0.1 * buf;
    }
    ck_assert_msg(fabs(got[i] - p) <= 1e-15 * fabs(p), "p[%d] %.17g vs %.17g", i, got[i], p);
    ck_assert(fabs(got32[i] - p) <= 1e-6 * fabs(p));
  }
  /* First step, literally: p0[0] = 1 - 0.1 (0.1 + 0.01) = 0.989. */
  run_optim(&c, RS_PREC_FLOAT64, P0, GRADS, 1, got);
  ck_assert(fabs(got[0] - 0.989) < 1e-15);
  ck_assert(fabs(got[2] - 0.53) < 1e-15); /* bias: no decay */
  /* Plain SGD (no momentum) keeps no buffer. */
  c.train.momentum = 0;
  run_optim(&c, RS_PREC_FLOAT64, P0, GRADS, 2, got);
  double p = P0[1];
  p -= 0.1 * (GRADS[0][1] + 0.01 * p);
  p -= 0.1 * (GRADS[1][1] + 0.01 * p);
  ck_assert(fabs(got[1] - p) <= 1e-15 * fabs(p));
}
END_TEST

/* The textbook form differs from torch's in where eps enters: torch divides
 * by sqrt(v)/sqrt(bc2) + eps and scales by lr/bc1; so eps is not rescaled.
 * The hand computation below uses torch's form written out. */
static double adam_hand(bool adamw, double wd, int i, int steps) {
  double p = P0[i], m = 0, v = 0;
  for (int s = 1; s <= steps; s++) {
    double g = GRADS[s - 1][i];
    if (adamw)
      p *= 1 - 0.01 * wd;
    else
      g += wd * p;
    m = 0.8 * m + 0.2 * g;
    v = 0.99 * v + 0.01 * g * g;
    double bc1 = 1 - pow(0.8, s), bc2 = 1 - pow(0.99, s);
    p -= (0.01 / bc1) * m / (sqrt(v) / sqrt(bc2) + 1e-6);
  }
  return p;
}

static void check_adam(bool adamw, bool decay_biases) {
  rs_config c;
  fixture_config(&c, 0, NULL);
  c.train.optimizer = adamw ? RS_OPT_ADAMW : RS_OPT_ADAM;
  c.train.lr = 0.01;
  c.train.beta1 = 0.8;
  c.train.beta2 = 0.99;
  c.train.adam_eps = 1e-6;
  c.train.weight_decay = 0.1;
  c.train.decay_biases = decay_biases;
  double got[3], got32[3];
  run_optim(&c, RS_PREC_FLOAT64, P0, GRADS, 3, got);
  run_optim(&c, RS_PREC_FLOAT32, P0, GRADS, 3, got32);
  for (int i = 0; i < 3; i++) {
    double wd = i < 2 || decay_biases ? 0.1 : 0.0;
    double want = adam_hand(adamw, wd, i, 3);
    ck_assert_msg(fabs(got[i] - want) <= 1e-14 * fabs(want), "%s p[%d] %.17g vs %.17g",
                  adamw ? "adamw" : "adam", i, got[i], want);
    ck_assert_msg(fabs(got32[i] - want) <= 1e-6 * fabs(want), "float32 p[%d] %.9g vs %.9g",
                  i, got32[i], want);
  }
  /* Step 1 of Adam moves every coordinate by about lr against the sign of
   * its (decayed) gradient: m_hat = g, v_hat = g^2. */
  run_optim(&c, RS_PREC_FLOAT64, P0, GRADS, 1, got);
  for (int i = 0; i < 3; i++) {
    double wd = i < 2 || decay_biases ? 0.1 : 0.0;
    double g = GRADS[0][i] + (adamw ? 0 : wd * P0[i]);
    double p = adamw ? P0[i] * (1 - 0.01 * wd) : P0[i];
    ck_assert(fabs(got[i] - (p - 0.01 * (g > 0 ? 1 : -1))) < 1e-6);
  }
}

START_TEST(adam_by_formula) {
  check_adam(false, false);
  check_adam(false, true);
}
END_TEST

START_TEST(adamw_by_formula) {
  check_adam(true, false);
  check_adam(true, true);
}
END_TEST

START_TEST(schedules) {
  rs_config c;
  fixture_config(&c, 0, NULL);
  c.train.lr = 0.2;
  c.train.steps = 1000;
  rs__optim o;
  c.train.schedule = RS_SCHED_CONSTANT;
  ck_assert_int_eq(rs__optim_init(&o, &c, RS_PREC_FLOAT64, 1), RS_OK);
  ck_assert(rs__schedule_lr(&o, 0) == 0.2 && rs__schedule_lr(&o, 999) == 0.2);
  rs__optim_free(&o);
  c.train.schedule = RS_SCHED_COSINE;
  ck_assert_int_eq(rs__optim_init(&o, &c, RS_PREC_FLOAT64, 1), RS_OK);
  ck_assert(rs__schedule_lr(&o, 0) == 0.2);
  ck_assert(fabs(rs__schedule_lr(&o, 500) - 0.1) < 1e-15);
  ck_assert(fabs(rs__schedule_lr(&o, 250) - 0.1 * (1 + M_SQRT1_2)) < 1e-15);
  ck_assert(fabs(rs__schedule_lr(&o, 1000)) < 1e-15);
  for (int t = 1; t <= 1000; t++) ck_assert(rs__schedule_lr(&o, t) <= rs__schedule_lr(&o, t - 1));
  rs__optim_free(&o);
  c.train.schedule = RS_SCHED_STEP;
  c.train.step_every = 300;
  c.train.step_gamma = 0.5;
  ck_assert_int_eq(rs__optim_init(&o, &c, RS_PREC_FLOAT64, 1), RS_OK);
  ck_assert(rs__schedule_lr(&o, 299) == 0.2);
  ck_assert(rs__schedule_lr(&o, 300) == 0.1);
  ck_assert(rs__schedule_lr(&o, 899) == 0.05);
  ck_assert(rs__schedule_lr(&o, 900) == 0.025);
  rs__optim_free(&o);
  c.train.step_every = 0;
  ck_assert_int_eq(rs__optim_init(&o, &c, RS_PREC_FLOAT64, 1), RS_EARG);
  ck_assert(strstr(rs_error_message(), "train.step_every") != NULL);
}
END_TEST

START_TEST(schedule_reaches_the_update) {
  /* The update of step t uses lr(t): with unit gradients and plain SGD the
   * step schedule's halvings show up directly in the parameter. */
  rs_config c;
  fixture_config(&c, 0, NULL);
  c.train.optimizer = RS_OPT_SGD;
  c.train.momentum = 0;
  c.train.weight_decay = 0;
  c.train.lr = 0.1;
  c.train.schedule = RS_SCHED_STEP;
  c.train.step_every = 1;
  c.train.step_gamma = 0.5;
  double got[3];
  static const double G1[3][3] = {{1, 1, 1}, {1, 1, 1}, {1, 1, 1}};
  run_optim(&c, RS_PREC_FLOAT64, P0, G1, 3, got);
  ck_assert(fabs(got[0] - (1.0 - 0.1 - 0.05 - 0.025)) < 1e-15);
}
END_TEST

/* ---- batches ---- */

START_TEST(batch_order) {
  const int widths[1] = {4};
  rs_config c;
  fixture_config(&c, 1, widths);
  c.seed = 9;
  c.train.batch = 7;
  rs_dataset *d = fixture_data(2, 30, 3, 2, 0, 1.0); /* 4 batches per epoch, tail of 2 */
  rs_trainer *t;
  ck_assert_int_eq(rs_trainer_create(&c, d, &t), RS_OK);
  ck_assert_int_eq(rs_trainer_batch_size(t), 7);
  for (int epoch = 0; epoch < 3; epoch++) {
    int64_t perm[30];
    rs_rng r;
    rs_rng_init(&r, 9, RS_STREAM_BATCH, (uint32_t)epoch);
    rs_rng_permutation(&r, 30, perm);
    int seen[30] = {0};
    for (int b = 0; b < 4; b++) {
      int64_t idx[7];
      ck_assert_int_eq(rs_trainer_batch_indices(t, epoch * 4 + b, idx), RS_OK);
      for (int i = 0; i < 7; i++) {
        ck_assert(idx[i] == perm[b * 7 + i]);
        ck_assert_int_eq(seen[idx[i]]++, 0);
      }
    }
  }
  c.train.batch = 31;
  rs_trainer *bad = NULL;
  ck_assert_int_eq(rs_trainer_create(&c, d, &bad), RS_EARG);
  ck_assert_ptr_null(bad);
  ck_assert(strstr(rs_error_message(), "train.batch") != NULL);
  rs_trainer_destroy(&t);
  fixture_data_free(&d);
}
END_TEST

/* ---- training ---- */

START_TEST(training_fits_a_mixture) {
  const int widths[2] = {32, 32};
  rs_config c;
  fixture_config(&c, 2, widths);
  c.train.precision = _i ? RS_PREC_FLOAT64 : RS_PREC_FLOAT32;
  c.train.lr = 3e-3;
  rs_dataset *d = fixture_data(8, 256, 10, 4, 0, 1.0);
  rs_trainer *t;
  ck_assert_int_eq(rs_trainer_create(&c, d, &t), RS_OK);
  ck_assert(isnan(rs_trainer_last_loss(t)));
  bool div;
  ck_assert_int_eq(rs_trainer_run_to(t, 1, &div), RS_OK);
  double first = rs_trainer_last_loss(t);
  ck_assert_int_eq(rs_trainer_run_to(t, 600, &div), RS_OK);
  ck_assert(!div);
  ck_assert_int_eq(rs_trainer_step(t), 600);
  double last = rs_trainer_last_loss(t);
  ck_assert_msg(last < 0.25 * first, "loss %g -> %g", first, last);
  rs_trainer_destroy(&t);
  fixture_data_free(&d);
}
END_TEST

START_TEST(divergence_is_flagged) {
  const int widths[2] = {16, 16};
  rs_config c;
  fixture_config(&c, 2, widths);
  c.train.optimizer = RS_OPT_SGD;
  c.train.momentum = 0.9;
  c.train.lr = 1e8;
  c.train.precision = _i ? RS_PREC_FLOAT64 : RS_PREC_FLOAT32;
  rs_dataset *d = fixture_data(8, 64, 5, 3, 0, 1.0);
  rs_trainer *t;
  ck_assert_int_eq(rs_trainer_create(&c, d, &t), RS_OK);
  bool div = false;
  ck_assert_int_eq(rs_trainer_run_to(t, 10000, &div), RS_OK);
  ck_assert(div);
  int64_t s = rs_trainer_step(t);
  ck_assert(s < 10000);
  ck_assert(!isfinite(rs_trainer_last_loss(t)));
  /* Sticky: a second call does not train on. */
  div = false;
  ck_assert_int_eq(rs_trainer_run_to(t, 20000, &div), RS_OK);
  ck_assert(div);
  ck_assert_int_eq(rs_trainer_step(t), s);
  rs_netview v;
  ck_assert_int_eq(rs_trainer_view(t, &v), RS_OK);
  rs_trainer_destroy(&t);
  fixture_data_free(&d);
}
END_TEST

static void resume_case(rs_optimizer opt, rs_precision prec, rs_activation act) {
  const int widths[3] = {12, 10, 8};
  rs_config c;
  fixture_config(&c, 3, widths);
  c.train.optimizer = opt;
  c.train.precision = prec;
  c.train.lr = opt == RS_OPT_SGD ? 0.05 : 2e-3;
  c.train.schedule = RS_SCHED_COSINE;
  c.train.steps = 80;
  c.model.activation = act;
  rs_dataset *d = fixture_data(11, 100, 6, 3, 0, 1.0); /* 6 batches per epoch */
  rs_trainer *a, *b, *u;
  ck_assert_int_eq(rs_trainer_create(&c, d, &a), RS_OK);
  ck_assert_int_eq(rs_trainer_create(&c, d, &b), RS_OK);
  ck_assert_int_eq(rs_trainer_create(&c, d, &u), RS_OK);
  bool div;
  ck_assert_int_eq(rs_trainer_run_to(u, 80, &div), RS_OK);
  ck_assert_int_eq(rs_trainer_run_to(a, 37, &div), RS_OK); /* mid-epoch 6 */
  size_t sz = rs_trainer_state_size(a);
  char *blob = malloc(sz);
  ck_assert_int_eq(rs_trainer_state_save(a, blob), RS_OK);
  ck_assert_int_eq(rs_trainer_run_to(a, 80, &div), RS_OK);
  ck_assert_int_eq(rs_trainer_state_load(b, blob), RS_OK);
  ck_assert_int_eq(rs_trainer_step(b), 37);
  ck_assert_int_eq(rs_trainer_run_to(b, 80, &div), RS_OK);
  size_t n = rs_trainer_nparams(a);
  double *pa = malloc(n * sizeof(double)), *pb = malloc(n * sizeof(double)),
         *pu = malloc(n * sizeof(double));
  rs_trainer_get_params(a, pa);
  rs_trainer_get_params(b, pb);
  rs_trainer_get_params(u, pu);
  ck_assert(memcmp(pa, pb, n * sizeof(double)) == 0);
  ck_assert(memcmp(pa, pu, n * sizeof(double)) == 0);
  ck_assert(rs_trainer_last_loss(a) == rs_trainer_last_loss(b));
  /* The full states agree too (moments included). */
  char *sa = malloc(sz), *sb = malloc(sz);
  rs_trainer_state_save(a, sa);
  rs_trainer_state_save(b, sb);
  ck_assert(memcmp(sa, sb, sz) == 0);
  /* And the training moved the weights (the comparison is not vacuous). */
  rs_trainer *f;
  ck_assert_int_eq(rs_trainer_create(&c, d, &f), RS_OK);
  double *pf = malloc(n * sizeof(double));
  rs_trainer_get_params(f, pf);
  ck_assert(memcmp(pa, pf, n * sizeof(double)) != 0);
  /* A state from another configuration is refused. */
  rs_config c2 = c;
  c2.train.precision = prec == RS_PREC_FLOAT32 ? RS_PREC_FLOAT64 : RS_PREC_FLOAT32;
  rs_trainer *g;
  ck_assert_int_eq(rs_trainer_create(&c2, d, &g), RS_OK);
  ck_assert_int_eq(rs_trainer_state_load(g, blob), RS_EARG);
  blob[0] = 'X';
  ck_assert_int_eq(rs_trainer_state_load(b, blob), RS_EARG);
  rs_trainer_destroy(&g);
  rs_trainer_destroy(&f);
  rs_trainer_destroy(&a);
  rs_trainer_destroy(&b);
  rs_trainer_destroy(&u);
  free(pa);
  free(pb);
  free(pu);
  free(pf);
  free(sa);
  free(sb);
  free(blob);
  fixture_data_free(&d);
}

START_TEST(state_resume_is_bit_identical) {
  rs_optimizer opts[3] = {RS_OPT_SGD, RS_OPT_ADAM, RS_OPT_ADAMW};
  rs_optimizer opt = opts[_i % 3];
  rs_precision prec = _i / 3 ? RS_PREC_FLOAT64 : RS_PREC_FLOAT32;
  resume_case(opt, prec, _i % 2 ? RS_ACT_GELU : RS_ACT_RELU);
}
END_TEST

START_TEST(float32_tracks_float64) {
  const int widths[3] = {32, 32, 32};
  rs_config c;
  fixture_config(&c, 3, widths);
  c.model.activation = ACTS[_i];
  rs_dataset *d = fixture_data(12, 200, 10, 4, 0, 1.0);
  rs_trainer *t64, *t32;
  ck_assert_int_eq(rs_trainer_create(&c, d, &t64), RS_OK);
  c.train.precision = RS_PREC_FLOAT32;
  ck_assert_int_eq(rs_trainer_create(&c, d, &t32), RS_OK);
  bool div;
  double maxrel = 0;
  for (int s = 1; s <= 50; s++) {
    rs_trainer_run_to(t64, s, &div);
    rs_trainer_run_to(t32, s, &div);
    double l64 = rs_trainer_last_loss(t64), l32 = rs_trainer_last_loss(t32);
    maxrel = fmax(maxrel, fabs(l32 - l64) / l64);
  }
  ck_assert_msg(maxrel < 1e-4, "%s: loss relative difference %g", ACT_NAMES[_i], maxrel);
  size_t n = rs_trainer_nparams(t64);
  double *a = malloc(n * sizeof(double)), *b = malloc(n * sizeof(double));
  rs_trainer_get_params(t64, a);
  rs_trainer_get_params(t32, b);
  double num = 0, den = 0;
  for (size_t i = 0; i < n; i++) {
    num += (a[i] - b[i]) * (a[i] - b[i]);
    den += a[i] * a[i];
  }
  ck_assert_msg(sqrt(num / den) < 1e-4, "weights relative difference %g", sqrt(num / den));
  ck_assert(sqrt(num / den) > 0); /* really two different precisions */
  free(a);
  free(b);
  rs_trainer_destroy(&t64);
  rs_trainer_destroy(&t32);
  fixture_data_free(&d);
}
END_TEST


START_TEST(linear_model_losses_by_hand) {
  /* No hidden layer: z = W x + b. Check both losses of one batch against a
   * direct computation, MSE on a classification set using one-hot targets. */
  rs_config c;
  fixture_config(&c, 0, NULL);
  c.model.bias_init = 0.2;
  rs_dataset *d = fixture_data(31, 30, 4, 3, 0, 1.0);
  for (int which = 0; which < 2; which++) {
    c.train.loss = which ? RS_LOSS_MSE : RS_LOSS_CROSS_ENTROPY;
    rs__model *m;
    ck_assert_int_eq(rs__mlp_create(&c, d, 5, &m), RS_OK);
    ck_assert_uint_eq(m->nparams, 3 * 4 + 3);
    double p[15], f;
    m->ops->init_params(m, p);
    int64_t idx[5] = {3, 1, 4, 15, 9};
    ck_assert_int_eq(m->ops->loss_grad(m, p, NULL, idx, 5, NULL, &f, NULL, NULL), RS_OK);
    double want = 0;
    for (int i = 0; i < 5; i++) {
      const double *x = d->xtrain + idx[i] * 4;
      double z[3], mx = -INFINITY, se = 0;
      for (int k = 0; k < 3; k++) {
        z[k] = p[12 + k];
        for (int j = 0; j < 4; j++) z[k] += p[k * 4 + j] * x[j];
        mx = fmax(mx, z[k]);
      }
      int y = d->ltrain[idx[i]];
      for (int k = 0; k < 3; k++) se += exp(z[k] - mx);
      if (which)
        for (int k = 0; k < 3; k++) want += (z[k] - (k == y)) * (z[k] - (k == y)) / 15.0;
      else
        want += (mx + log(se) - z[y]) / 5.0;
    }
    ck_assert_msg(fabs(f - want) < 1e-14 * want, "%s: %.17g vs %.17g", which ? "mse" : "ce",
                  f, want);
    m->ops->destroy(m);
  }
  fixture_data_free(&d);
}
END_TEST

START_TEST(params_round_trip) {
  const int widths[1] = {5};
  rs_config c;
  fixture_config(&c, 1, widths);
  c.train.precision = RS_PREC_FLOAT32;
  rs_dataset *d = fixture_data(3, 20, 3, 2, 0, 1.0);
  rs_trainer *t;
  ck_assert_int_eq(rs_trainer_create(&c, d, &t), RS_OK);
  size_t n = rs_trainer_nparams(t);
  double *in = malloc(n * sizeof(double)), *out = malloc(n * sizeof(double));
  for (size_t i = 0; i < n; i++) in[i] = 0.1 + 1.0 / 3.0 * (double)i;
  ck_assert_int_eq(rs_trainer_set_params(t, in), RS_OK);
  rs_trainer_get_params(t, out);
  for (size_t i = 0; i < n; i++) ck_assert(out[i] == (double)(float)in[i]);
  rs_netview v;
  rs_trainer_view(t, &v);
  ck_assert(v.W[1][1] == (double)(float)in[1] && v.b[2][1] == out[n - 1]);
  free(in);
  free(out);
  rs_trainer_destroy(&t);
  fixture_data_free(&d);
}
END_TEST

/* ---- VIB ---- */

static void vib_config(rs_config *c, rs_activation act) {
  const int widths[2] = {9, 7};
  fixture_config(c, 2, widths);
  c->model.kind = RS_MODEL_VIB;
  c->model.latent = 3;
  c->model.activation = act;
  c->model.bias_init = 0.1;
  c->train.beta = 0.3;
}

/* _i / 4: 0 softmax decoder (cross entropy), 1 linear decoder with MSE,
 * 2 Gaussian decoder (learned per-output log-std, NLL). */
START_TEST(vib_gradient) {
  rs_activation act = ACTS[_i % 4];
  bool gauss = _i / 4 == 2;
  rs_loss loss = _i / 4 == 1 ? RS_LOSS_MSE : gauss ? RS_LOSS_AUTO : RS_LOSS_CROSS_ENTROPY;
  rs_config c;
  vib_config(&c, act);
  c.train.loss = loss;
  c.model.decoder = gauss ? RS_DEC_GAUSSIAN : RS_DEC_AUTO;
  rs_dataset *d = fixture_data(13, 40, 5, loss == RS_LOSS_CROSS_ENTROPY ? 3 : 0, 2, 1.0);
  rs__model *m;
  ck_assert_int_eq(rs__vib_create(&c, d, 8, &m), RS_OK);
  size_t n = m->nparams;
  double *p = malloc(n * sizeof(double)), *g = malloc(n * sizeof(double));
  m->ops->init_params(m, p);
  rs_netview v;
  m->ops->view(m, p, &v);
  ck_assert_int_eq(v.nmeasure, 3);
  /* The Gaussian decoder's two log-stds come last, after the decoder bias. */
  size_t base_n = (size_t)(9 * 6 + 7 * 10 + 6 * 8 + d->outputs * 4);
  ck_assert_uint_eq(n, base_n + (gauss ? 2 : 0));
  ck_assert(v.b[4] + d->outputs == p + base_n);
  if (gauss) {
    ck_assert(p[n - 2] == 0 && p[n - 1] == 0);
    p[n - 2] = 0.3; /* away from 0 so the exp(-ls) factors are exercised */
    p[n - 1] = -0.4;
  }
  /* Raise the pre-std biases so sigma is O(1) and the noise path matters. */
  double *sbias = (double *)v.b[3] + 3;
  for (int k = 0; k < 3; k++) sbias[k] = 5.0;
  int64_t idx[8] = {0, 5, 9, 13, 21, 22, 30, 39};
  rs_rng noise0, r;
  rs_rng_init(&noise0, 99, RS_STREAM_NOISE, 0);
  double f, fp, fm;
  r = noise0;
  ck_assert_int_eq(m->ops->loss_grad(m, p, g, idx, 8, &r, &f, NULL, NULL), RS_OK);
  ck_assert(isfinite(f));
  double gmax = 0, num2 = 0, den2 = 0;
  for (size_t i = 0; i < n; i++) gmax = fmax(gmax, fabs(g[i]));
  const double h = 1e-5;
  for (size_t i = 0; i < n; i++) {
    double save = p[i];
    p[i] = save + h;
    r = noise0;
    m->ops->loss_grad(m, p, NULL, idx, 8, &r, &fp, NULL, NULL);
    p[i] = save - h;
    r = noise0;
    m->ops->loss_grad(m, p, NULL, idx, 8, &r, &fm, NULL, NULL);
    p[i] = save;
    double fd = (fp - fm) / (2 * h);
    num2 += (fd - g[i]) * (fd - g[i]);
    den2 += g[i] * g[i];
    ck_assert_msg(fabs(fd - g[i]) <= 1e-6 * gmax, "vib %s %d: parameter %zu: %.12g vs %.12g",
                  ACT_NAMES[act], _i / 4, i, g[i], fd);
  }
  ck_assert(sqrt(num2 / den2) < 1e-6);
  /* The KL term of the loss is rs_vib_kl on the batch's points: the loss at
   * beta minus the loss at beta = 0 (same weights, same noise). */
  {
    rs_config c0 = c;
    c0.train.beta = 0;
    rs__model *m0;
    ck_assert_int_eq(rs__vib_create(&c0, d, 8, &m0), RS_OK);
    double f0, kl;
    r = noise0;
    m->ops->loss_grad(m, p, NULL, idx, 8, &r, &f, NULL, NULL);
    r = noise0;
    m0->ops->loss_grad(m0, p, NULL, idx, 8, &r, &f0, NULL, NULL);
    double *xb = malloc(8 * 5 * sizeof(double));
    for (int i = 0; i < 8; i++) memcpy(xb + i * 5, d->xtrain + idx[i] * 5, 5 * sizeof(double));
    ck_assert_int_eq(rs_vib_kl(&v, xb, 8, &kl), RS_OK);
    ck_assert(kl > 0);
    ck_assert_msg(fabs((f - f0) / 0.3 - kl) < 1e-10 * kl, "KL %.15g vs %.15g", (f - f0) / 0.3, kl);
    free(xb);
    m0->ops->destroy(m0);
  }
  /* The noise matters: another draw gives another loss. */
  rs_rng other;
  rs_rng_init(&other, 100, RS_STREAM_NOISE, 0);
  m->ops->loss_grad(m, p, NULL, idx, 8, &other, &fp, NULL, NULL);
  ck_assert(fp != f);
  free(p);
  free(g);
  m->ops->destroy(m);
  fixture_data_free(&d);
}
END_TEST

START_TEST(vib_view_and_training) {
  rs_config c;
  vib_config(&c, RS_ACT_RELU);
  c.train.precision = _i ? RS_PREC_FLOAT64 : RS_PREC_FLOAT32;
  c.train.beta = 1e-3;
  c.train.lr = 3e-3;
  rs_dataset *d = fixture_data(8, 256, 10, 4, 0, 1.0);
  rs_trainer *t;
  ck_assert_int_eq(rs_trainer_create(&c, d, &t), RS_OK);
  size_t n = rs_trainer_nparams(t);
  /* encoder 10-9-7, head 7 -> 6, decoder 3 -> 4 */
  ck_assert_uint_eq(n, 9 * 11 + 7 * 10 + 6 * 8 + 4 * 4);
  rs_netview v, w;
  ck_assert_int_eq(rs_trainer_view(t, &v), RS_OK);
  ck_assert_int_eq(v.nlayers, 4);
  ck_assert_int_eq(v.nmeasure, 3);
  ck_assert(v.last_measured_linear);
  int want[5] = {10, 9, 7, 3, 4};
  for (int l = 0; l <= 4; l++) ck_assert_int_eq(v.sizes[l], want[l]);
  double *p = malloc(n * sizeof(double));
  rs_trainer_get_params(t, p);
  ck_assert_int_eq(rs_netview_from_params(&c, d, p, &w), RS_OK);
  for (int l = 1; l <= 4; l++) {
    ck_assert_int_eq(v.sizes[l], w.sizes[l]);
    ck_assert(memcmp(v.W[l], w.W[l], sizeof(double) * v.sizes[l] * v.sizes[l - 1]) == 0);
    ck_assert(memcmp(v.b[l], w.b[l], sizeof(double) * v.sizes[l]) == 0);
  }
  ck_assert(w.W[4] == p + (n - 16) && w.b[3] == w.W[3] + 6 * 7);
  bool div;
  double first = 0, last = 0;
  for (int s = 1; s <= 600; s++) {
    rs_trainer_run_to(t, s, &div);
    ck_assert(!div);
    if (s <= 20) first += rs_trainer_last_loss(t);
    if (s > 580) last += rs_trainer_last_loss(t);
  }
  ck_assert_msg(last < 0.3 * first, "vib loss %g -> %g", first / 20, last / 20);
  free(p);
  rs_trainer_destroy(&t);
  fixture_data_free(&d);
}
END_TEST

START_TEST(vib_resume_is_bit_identical) {
  rs_config c;
  vib_config(&c, RS_ACT_GELU);
  c.train.precision = _i ? RS_PREC_FLOAT64 : RS_PREC_FLOAT32;
  rs_dataset *d = fixture_data(11, 100, 6, 3, 0, 1.0);
  rs_trainer *a, *b;
  ck_assert_int_eq(rs_trainer_create(&c, d, &a), RS_OK);
  ck_assert_int_eq(rs_trainer_create(&c, d, &b), RS_OK);
  bool div;
  rs_trainer_run_to(a, 23, &div);
  size_t sz = rs_trainer_state_size(a);
  char *blob = malloc(sz), *sa = malloc(sz), *sb = malloc(sz);
  rs_trainer_state_save(a, blob);
  rs_trainer_run_to(a, 60, &div);
  ck_assert_int_eq(rs_trainer_state_load(b, blob), RS_OK);
  rs_trainer_run_to(b, 60, &div);
  rs_trainer_state_save(a, sa);
  rs_trainer_state_save(b, sb);
  ck_assert(memcmp(sa, sb, sz) == 0);
  ck_assert(rs_trainer_last_loss(a) == rs_trainer_last_loss(b));
  /* A fresh trainer at step 23 without the state's noise position would
   * differ: the saved blob is not just weights. */
  ck_assert(memcmp(sa, blob, sz) != 0);
  free(blob);
  free(sa);
  free(sb);
  rs_trainer_destroy(&a);
  rs_trainer_destroy(&b);
  fixture_data_free(&d);
}
END_TEST

/* The sampled evaluation against an independent computation: the head by
 * explicit loops, noise (seed, NOISE, 1) for the held-out set and (seed,
 * NOISE, 2) for the training set, point-major then sample-major. _i: 0 softmax,
 * 1 Gaussian decoder, 2 linear MSE decoder. */
static void eval_by_hand(const rs_netview *v, const double *ls, int kind, const double *x,
                         const int *lab, const double *y, int n, int S, rs_rng *r,
                         double *loss, double *acc, double *rate) {
  int L = v->nmeasure, K = v->sizes[L], O = v->sizes[L + 1];
  double lsum = 0, ksum = 0;
  int correct = 0;
  for (int i = 0; i < n; i++) {
    double a[64], b[64];
    for (int j = 0; j < v->sizes[0]; j++) a[j] = x[(size_t)i * v->sizes[0] + j];
    for (int l = 1; l <= L; l++) {
      int rows = l < L ? v->sizes[l] : 2 * K, k = v->sizes[l - 1];
      for (int q = 0; q < rows; q++) {
        double t = v->b[l][q];
        for (int j = 0; j < k; j++) t += v->W[l][q * k + j] * a[j];
        b[q] = l < L ? (v->act == RS_ACT_RELU ? fmax(t, 0) : tanh(t)) : t;
      }
      memcpy(a, b, sizeof b);
    }
    double sig[32], pr[16] = {0};
    for (int k = 0; k < K; k++) {
      sig[k] = log1p(exp(a[K + k] - 5.0));
      ksum += 0.5 * (a[k] * a[k] + sig[k] * sig[k] - 1) - log(sig[k]);
    }
    for (int s = 0; s < S; s++) {
      double z[32], o[16] = {0};
      for (int k = 0; k < K; k++) z[k] = a[k] + sig[k] * rs_rng_normal(r);
      for (int j = 0; j < O; j++) {
        o[j] = v->b[L + 1][j];
        for (int k = 0; k < K; k++) o[j] += v->W[L + 1][j * K + k] * z[k];
      }
      if (kind == 0) {
        double se = 0;
        for (int j = 0; j < O; j++) se += exp(o[j]);
        lsum += log(se) - o[lab[i]];
        for (int j = 0; j < O; j++) pr[j] += exp(o[j]) / se;
      } else {
        for (int j = 0; j < O; j++) {
          double e = o[j] - y[(size_t)i * O + j];
          lsum += kind == 1 ? 0.5 * e * e / exp(2 * ls[j]) + ls[j] + 0.5 * log(2 * M_PI)
                            : e * e / O;
        }
      }
    }
    int arg = 0;
    for (int j = 1; j < O; j++)
      if (pr[j] > pr[arg]) arg = j;
    correct += kind == 0 && arg == lab[i];
  }
  *loss = lsum / ((double)n * S);
  *acc = kind == 0 ? (double)correct / n : NAN;
  *rate = ksum / n;
}

static bool close_rel(double a, double b) { return fabs(a - b) <= 1e-12 * fmax(1, fabs(b)); }

START_TEST(vib_evaluation_by_hand) {
  rs_config c;
  vib_config(&c, _i == 2 ? RS_ACT_TANH : RS_ACT_RELU);
  c.model.decoder = _i == 1 ? RS_DEC_GAUSSIAN : RS_DEC_LINEAR;
  c.train.loss = _i == 2 ? RS_LOSS_MSE : RS_LOSS_AUTO;
  c.seed = 21;
  rs_dataset *d = fixture_data(5, 300, 6, _i == 0 ? 4 : 0, 3, 1.0);
  /* A held-out set of its own: the first 120 examples of a second draw. */
  rs_dataset *h = fixture_data(6, 120, 6, _i == 0 ? 4 : 0, 3, 1.0);
  d->nheld = h->ntrain;
  d->xheld = h->xtrain;
  d->lheld = h->ltrain;
  d->yheld = h->ytrain;
  rs_trainer *t;
  ck_assert_int_eq(rs_trainer_create(&c, d, &t), RS_OK);
  bool div;
  rs_trainer_run_to(t, 50, &div);
  ck_assert(!div);
  rs__model *m = rs__trainer_model(t);
  ck_assert(rs__vib_gaussian_decoder(m) == (_i == 1));
  size_t n = rs_trainer_nparams(t);
  double *p = malloc(n * sizeof(double));
  rs_trainer_get_params(t, p);
  if (_i == 1) { /* log-stds away from 0 */
    p[n - 3] = 0.2;
    p[n - 1] = -0.3;
  }
  rs_netview v;
  m->ops->view(m, p, &v);
  const int S = 5;
  rs__vib_eval e, e2;
  ck_assert_int_eq(rs__vib_evaluate(m, p, d, 21, S, 1.5, &e), RS_OK);
  double loss, acc, rate, unused;
  rs_rng r;
  rs_rng_init(&r, 21, RS_STREAM_NOISE, 1);
  eval_by_hand(&v, p + n - 3, _i, d->xheld, d->lheld, d->yheld, d->nheld, S, &r, &loss, &acc,
               &rate);
  ck_assert_msg(close_rel(e.heldout_loss, loss), "held-out %.17g vs %.17g", e.heldout_loss,
                loss);
  ck_assert_msg(close_rel(e.rate, rate), "rate %.17g vs %.17g", e.rate, rate);
  ck_assert(_i == 0 ? e.heldout_acc == acc : isnan(e.heldout_acc));
  ck_assert(e.info_y == 1.5 - e.heldout_loss);
  double kl;
  ck_assert_int_eq(rs_vib_kl(&v, d->xheld, d->nheld, &kl), RS_OK);
  ck_assert(close_rel(e.rate, kl));
  rs_rng_init(&r, 21, RS_STREAM_NOISE, 2);
  eval_by_hand(&v, p + n - 3, _i, d->xtrain, d->ltrain, d->ytrain, d->ntrain, S, &r, &loss, &acc,
               &unused);
  ck_assert_msg(close_rel(e.train_loss, loss), "train %.17g vs %.17g", e.train_loss, loss);
  ck_assert(_i == 0 ? e.train_acc == acc : isnan(e.train_acc));
  /* No hidden state: training on and evaluating in between does not change
   * the evaluation of the same weights. */
  rs_trainer_run_to(t, 80, &div);
  ck_assert_int_eq(rs__vib_evaluate(m, rs__trainer_params64(t), d, 21, S, 1.5, &e2), RS_OK);
  ck_assert(e2.heldout_loss != e.heldout_loss);
  ck_assert_int_eq(rs__vib_evaluate(m, p, d, 21, S, 1.5, &e2), RS_OK);
  ck_assert(memcmp(&e, &e2, sizeof e) == 0);
  /* The samples matter: another count is another estimate. */
  ck_assert_int_eq(rs__vib_evaluate(m, p, d, 21, S + 1, 1.5, &e2), RS_OK);
  ck_assert(e2.heldout_loss != e.heldout_loss && e2.rate == e.rate);
  ck_assert_int_eq(rs__vib_evaluate(m, p, d, 21, 0, 1.5, &e2), RS_EARG);
  free(p);
  rs_trainer_destroy(&t);
  d->xheld = NULL;
  d->lheld = NULL;
  d->yheld = NULL;
  fixture_data_free(&h);
  fixture_data_free(&d);
}
END_TEST

/* auto: Gaussian decoder for regression with train.loss auto, else linear;
 * an explicit gaussian decoder needs regression data and train.loss auto. */
START_TEST(vib_decoder_choice) {
  rs_config c;
  vib_config(&c, RS_ACT_RELU);
  rs_dataset *cls = fixture_data(1, 30, 4, 3, 0, 1.0), *reg = fixture_data(1, 30, 4, 0, 2, 1.0);
  rs__model *m;
  struct {
    rs_decoder dec;
    rs_loss loss;
    bool regression;
    int rc;
    bool gauss;
  } cases[] = {
      {RS_DEC_AUTO, RS_LOSS_AUTO, true, RS_OK, true},
      {RS_DEC_AUTO, RS_LOSS_MSE, true, RS_OK, false},
      {RS_DEC_AUTO, RS_LOSS_AUTO, false, RS_OK, false},
      {RS_DEC_LINEAR, RS_LOSS_AUTO, true, RS_OK, false},
      {RS_DEC_GAUSSIAN, RS_LOSS_AUTO, true, RS_OK, true},
      {RS_DEC_GAUSSIAN, RS_LOSS_MSE, true, RS_EARG, false},
      {RS_DEC_GAUSSIAN, RS_LOSS_AUTO, false, RS_EARG, false},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    c.model.decoder = cases[i].dec;
    c.train.loss = cases[i].loss;
    m = NULL;
    ck_assert_int_eq(rs__vib_create(&c, cases[i].regression ? reg : cls, 8, &m), cases[i].rc);
    if (cases[i].rc != RS_OK) {
      ck_assert(strstr(rs_error_message(), cases[i].regression ? "train.loss" : "model.decoder"));
      continue;
    }
    ck_assert_msg(rs__vib_gaussian_decoder(m) == cases[i].gauss, "case %zu", i);
    m->ops->destroy(m);
  }
  fixture_data_free(&cls);
  fixture_data_free(&reg);
}
END_TEST

START_TEST(bad_configurations) {
  const int widths[2] = {4, 0};
  rs_config c;
  fixture_config(&c, 2, widths);
  rs_dataset *d = fixture_data(1, 20, 3, 2, 0, 1.0);
  rs_trainer *t = NULL;
  ck_assert_int_eq(rs_trainer_create(&c, d, &t), RS_EARG);
  ck_assert(strstr(rs_error_message(), "model.widths[1]") != NULL);
  c.model.widths[1] = 4;
  c.model.nwidths = 0;
  c.model.kind = RS_MODEL_VIB; /* API: a VIB without hidden layers (head only) */
  c.model.latent = 2;
  ck_assert_int_eq(rs_trainer_create(&c, d, &t), RS_OK);
  rs_netview v;
  ck_assert_int_eq(rs_trainer_view(t, &v), RS_OK);
  ck_assert(v.nmeasure == 1 && v.nlayers == 2 && v.sizes[1] == 2);
  rs_trainer_destroy(&t);
  c.model.nwidths = 2;
  c.model.latent = 0;
  ck_assert_int_eq(rs_trainer_create(&c, d, &t), RS_EARG);
  ck_assert(strstr(rs_error_message(), "model.latent") != NULL);
  c.model.latent = 2;
  c.train.beta = -1;
  ck_assert_int_eq(rs_trainer_create(&c, d, &t), RS_EARG);
  ck_assert(strstr(rs_error_message(), "train.beta") != NULL);
  c.train.beta = 0.1;
  c.model.kind = (rs_model_kind)7;
  ck_assert_int_eq(rs_trainer_create(&c, d, &t), RS_EARG);
  ck_assert(strstr(rs_error_message(), "model.kind") != NULL);
  c.model.kind = RS_MODEL_MLP;
  rs_dataset *r = fixture_data(1, 20, 3, 0, 2, 1.0);
  c.train.loss = RS_LOSS_CROSS_ENTROPY;
  ck_assert_int_eq(rs_trainer_create(&c, r, &t), RS_EARG);
  ck_assert(strstr(rs_error_message(), "train.loss") != NULL);
  ck_assert_ptr_null(t);
  c.train.loss = RS_LOSS_AUTO;
  d->ltrain[7] = 2; /* two classes: labels 0 and 1 */
  ck_assert_int_eq(rs_trainer_create(&c, d, &t), RS_EDATA);
  ck_assert(strstr(rs_error_message(), "example 7") != NULL);
  ck_assert_ptr_null(t);
  fixture_data_free(&d);
  fixture_data_free(&r);
}
END_TEST

int main(void) {
  Suite *s = suite_create("model");
  TCase *tc = tcase_create("model");
  tcase_set_timeout(tc, 120);
  tcase_add_loop_test(tc, gradient_cross_entropy, 0, 4);
  tcase_add_loop_test(tc, gradient_mse, 0, 4);
  tcase_add_test(tc, gradient_hook_visits_each_segment_once);
  tcase_add_test(tc, init_order_and_scale);
  tcase_add_test(tc, netview_from_params_matches_trainer);
  tcase_add_test(tc, sgd_momentum_by_hand);
  tcase_add_test(tc, adam_by_formula);
  tcase_add_test(tc, adamw_by_formula);
  tcase_add_test(tc, schedules);
  tcase_add_test(tc, schedule_reaches_the_update);
  tcase_add_test(tc, batch_order);
  tcase_add_loop_test(tc, training_fits_a_mixture, 0, 2);
  tcase_add_loop_test(tc, divergence_is_flagged, 0, 2);
  tcase_add_loop_test(tc, state_resume_is_bit_identical, 0, 6);
  tcase_add_loop_test(tc, float32_tracks_float64, 0, 4);
  tcase_add_loop_test(tc, vib_gradient, 0, 12);
  tcase_add_loop_test(tc, vib_evaluation_by_hand, 0, 3);
  tcase_add_test(tc, vib_decoder_choice);
  tcase_add_loop_test(tc, vib_view_and_training, 0, 2);
  tcase_add_loop_test(tc, vib_resume_is_bit_identical, 0, 2);
  tcase_add_test(tc, linear_model_losses_by_hand);
  tcase_add_test(tc, params_round_trip);
  tcase_add_test(tc, bad_configurations);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? 1 : 0;
}
