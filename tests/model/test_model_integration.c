/* The trainer on configurations and data sets built by the job and data
 * modules (rs_config_defaults, rs_dataset_create): every synthetic data kind
 * trains, the defaults' float32 run agrees with float64 early on, and
 * rs_config_shape (the plan's and the sweep's shape) is the trainer's. */
#include <check.h>
#include <math.h>
#include <string.h>

#include "ranksweep/rs_error.h"
#include "ranksweep/rs_model.h"

static void small_config(rs_config *c, rs_data_kind kind) {
  rs_config_defaults(c);
  c->data.kind = kind;
  c->data.dim = 12;
  c->data.train_size = 256;
  c->data.heldout_size = 64;
  c->measure.points = 16;
  c->model.nwidths = 3;
  for (int i = 0; i < 3; i++) c->model.widths[i] = 24;
  c->train.lr = 3e-3;
  c->train.batch = 32;
  c->train.steps = 400;
}

START_TEST(trains_on_every_synthetic_kind) {
  rs_data_kind kinds[3] = {RS_DATA_GAUSSIAN_MIXTURE, RS_DATA_TEACHER, RS_DATA_GAUSSIAN_IB};
  rs_config c;
  small_config(&c, kinds[_i]);
  rs_dataset *d = NULL;
  int rc = rs_dataset_create(&c, &d);
  ck_assert_msg(rc == RS_OK, "rs_dataset_create: %s", rs_error_message());
  rs_trainer *t = NULL;
  rc = rs_trainer_create(&c, d, &t);
  ck_assert_msg(rc == RS_OK, "rs_trainer_create: %s", rs_error_message());
  bool div;
  /* Average the first and last 20 steps: single minibatch losses are noisy. */
  double first = 0, last = 0;
  for (int s = 1; s <= 400; s++) {
    ck_assert_int_eq(rs_trainer_run_to(t, s, &div), RS_OK);
    ck_assert(!div);
    if (s <= 20) first += rs_trainer_last_loss(t);
    if (s > 380) last += rs_trainer_last_loss(t);
  }
  ck_assert_msg(last < 0.8 * first, "kind %d: loss %g -> %g", _i, first / 20, last / 20);
  rs_netview v;
  ck_assert_int_eq(rs_trainer_view(t, &v), RS_OK);
  ck_assert_int_eq(v.sizes[0], d->dim);
  ck_assert_int_eq(v.sizes[v.nlayers], d->outputs);
  ck_assert_int_eq(v.nmeasure, 3);
  rs_trainer_destroy(&t);
  rs_dataset_destroy(&d);
}
END_TEST

START_TEST(default_mnist_shape_constructs) {
  /* The paper's shape on the default mixture: 4 x 200, AdamW, float32. */
  rs_config c;
  rs_config_defaults(&c);
  c.data.train_size = 128;
  c.data.heldout_size = 128;
  rs_dataset *d = NULL;
  ck_assert_int_eq(rs_dataset_create(&c, &d), RS_OK);
  rs_trainer *t = NULL;
  ck_assert_int_eq(rs_trainer_create(&c, d, &t), RS_OK);
  bool div;
  ck_assert_int_eq(rs_trainer_run_to(t, 10, &div), RS_OK);
  ck_assert(!div && isfinite(rs_trainer_last_loss(t)));
  size_t n = rs_trainer_nparams(t);
  size_t want = 0;
  int prev = d->dim;
  for (int l = 0; l < c.model.nwidths; l++) {
    want += (size_t)c.model.widths[l] * (prev + 1);
    prev = c.model.widths[l];
  }
  want += (size_t)d->outputs * (prev + 1);
  ck_assert_uint_eq(n, want);
  rs_trainer_destroy(&t);
  rs_dataset_destroy(&d);
}
END_TEST

START_TEST(config_shape_is_the_trainers) {
  /* Every synthetic kind, as an MLP and as a VIB (auto decoder: linear on
   * the mixture, gaussian on regression), and a VIB with a linear decoder
   * on regression. */
  rs_data_kind kinds[3] = {RS_DATA_GAUSSIAN_MIXTURE, RS_DATA_TEACHER, RS_DATA_GAUSSIAN_IB};
  rs_config c;
  small_config(&c, kinds[_i % 3]);
  if (_i >= 3) {
    c.model.kind = RS_MODEL_VIB;
    c.model.latent = 5;
  }
  if (_i == 6) {
    c.data.kind = RS_DATA_TEACHER;
    c.model.decoder = RS_DEC_LINEAR;
  }
  rs_dataset *d = NULL;
  ck_assert_int_eq(rs_dataset_create(&c, &d), RS_OK);
  rs_trainer *t = NULL;
  ck_assert_msg(rs_trainer_create(&c, d, &t) == RS_OK, "%s", rs_error_message());
  rs_netview v;
  ck_assert_int_eq(rs_trainer_view(t, &v), RS_OK);
  rs_run_shape from_cfg, from_data;
  rs_config_shape(&c, NULL, &from_cfg);
  rs_config_shape(&c, &(rs_run_io){d->dim, d->outputs, d->classification}, &from_data);
  /* synthetic data: the configuration alone gives the data set's shape */
  ck_assert_int_eq(from_cfg.io.d0, from_data.io.d0);
  ck_assert_int_eq(from_cfg.io.outputs, from_data.io.outputs);
  ck_assert(from_cfg.io.classification == from_data.io.classification);
  ck_assert_int_eq(from_cfg.nparams, from_data.nparams);
  ck_assert(from_cfg.gaussian_decoder == from_data.gaussian_decoder);
  ck_assert_int_eq(from_cfg.io.d0, v.sizes[0]);
  ck_assert_int_eq(from_cfg.io.outputs, v.sizes[v.nlayers]);
  ck_assert_int_eq(from_cfg.nmeasured, v.nmeasure);
  ck_assert_int_eq(from_cfg.nweights, v.nlayers);
  for (int l = 1; l <= v.nmeasure; l++) ck_assert_int_eq(from_cfg.widths[l - 1], v.sizes[l]);
  ck_assert_int_eq(from_cfg.nparams, (int64_t)rs_trainer_nparams(t));
  ck_assert(from_cfg.gaussian_decoder == (_i == 4 || _i == 5));
  rs_trainer_destroy(&t);
  rs_dataset_destroy(&d);
}
END_TEST

int main(void) {
  Suite *s = suite_create("model-integration");
  TCase *tc = tcase_create("integration");
  tcase_set_timeout(tc, 120);
  tcase_add_loop_test(tc, trains_on_every_synthetic_kind, 0, 3);
  tcase_add_test(tc, default_mnist_shape_constructs);
  tcase_add_loop_test(tc, config_shape_is_the_trainers, 0, 7);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? 1 : 0;
}
