/* Checkpoint metrics of trainers on real data sets: MSE on class labels is
 * measured against one-hot targets with the accuracy of the largest output
 * (MLP and VIB with a linear decoder), and a VIB's head metrics cover the
 * whole 2K-row head, not only its K mean rows. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ranksweep/rs_data.h"
#include "ranksweep/rs_error.h"
#include "ranksweep/rs_measure.h"
#include "ranksweep/rs_model.h"

static void mixture_config(rs_config *c, rs_model_kind kind) {
  rs_config_defaults(c);
  c->data.kind = RS_DATA_GAUSSIAN_MIXTURE;
  c->data.dim = 10;
  c->data.classes = 3;
  c->data.mean_scale = 2.0;
  c->data.train_size = 300;
  c->data.heldout_size = 200;
  c->measure.points = 8;
  c->model.kind = kind;
  c->model.nwidths = 2;
  c->model.widths[0] = c->model.widths[1] = 16;
  c->model.latent = 4;
  c->model.decoder = RS_DEC_LINEAR;
  c->train.loss = RS_LOSS_MSE;
  c->train.lr = 1e-2;
  c->train.batch = 32;
  c->train.precision = RS_PREC_FLOAT64;
}

static void make(const rs_config *c, rs_dataset **d, rs_trainer **t) {
  int rc = rs_dataset_create(c, d);
  ck_assert_msg(rc == RS_OK, "rs_dataset_create: %s", rs_error_message());
  rc = rs_trainer_create(c, *d, t);
  ck_assert_msg(rc == RS_OK, "rs_trainer_create: %s", rs_error_message());
}

/* The MSE and argmax accuracy of a network on a set, computed here. */
static void by_hand(const rs_netview *v, const double *x, const int *lab, int n, double *mse,
                    double *acc) {
  int o = v->sizes[v->nlayers];
  double *out = malloc(sizeof(double) * (size_t)n * o);
  ck_assert_int_eq(rs_netview_forward(v, x, n, out, NULL), RS_OK);
  double s = 0;
  int correct = 0;
  for (int i = 0; i < n; i++) {
    int arg = 0;
    for (int j = 0; j < o; j++) {
      double e = out[(size_t)i * o + j] - (j == lab[i]);
      s += e * e;
      if (out[(size_t)i * o + j] > out[(size_t)i * o + arg]) arg = j;
    }
    correct += arg == lab[i];
  }
  *mse = s / ((double)n * o);
  *acc = (double)correct / n;
  free(out);
}

START_TEST(mse_on_classes_mlp) {
  rs_config c;
  mixture_config(&c, RS_MODEL_MLP);
  rs_dataset *d = NULL;
  rs_trainer *t = NULL;
  make(&c, &d, &t);
  ck_assert(d->classification && d->ytrain == NULL);
  rs_ckpt_metrics m0, m1;
  ck_assert_msg(rs_trainer_metrics(t, &c, d, &m0) == RS_OK, "%s", rs_error_message());
  bool div;
  ck_assert_int_eq(rs_trainer_run_to(t, 600, &div), RS_OK);
  ck_assert(!div);
  ck_assert_msg(rs_trainer_metrics(t, &c, d, &m1) == RS_OK, "%s", rs_error_message());
  rs_netview v;
  ck_assert_int_eq(rs_trainer_view(t, &v), RS_OK);
  double mse, acc;
  by_hand(&v, d->xtrain, d->ltrain, d->ntrain, &mse, &acc);
  ck_assert_msg(fabs(m1.train_loss - mse) < 1e-12 * (1 + mse) && m1.train_acc == acc,
                "train: metrics %g/%g, by hand %g/%g", m1.train_loss, m1.train_acc, mse, acc);
  by_hand(&v, d->xheld, d->lheld, d->nheld, &mse, &acc);
  ck_assert_msg(fabs(m1.heldout_loss - mse) < 1e-12 * (1 + mse) && m1.heldout_acc == acc,
                "held-out: metrics %g/%g, by hand %g/%g", m1.heldout_loss, m1.heldout_acc, mse,
                acc);
  /* Training on one-hot targets learns the classes (3 classes: chance 1/3). */
  ck_assert_msg(m1.train_loss < m0.train_loss && m1.heldout_acc > 0.6,
                "loss %g -> %g, held-out accuracy %g", m0.train_loss, m1.train_loss,
                m1.heldout_acc);
  rs_trainer_destroy(&t);
  rs_dataset_destroy(&d);
}
END_TEST

START_TEST(mse_on_classes_vib) {
  rs_config c;
  mixture_config(&c, RS_MODEL_VIB);
  rs_dataset *d = NULL;
  rs_trainer *t = NULL;
  make(&c, &d, &t);
  bool div;
  ck_assert_int_eq(rs_trainer_run_to(t, 600, &div), RS_OK);
  ck_assert(!div);
  rs_ckpt_metrics m;
  ck_assert_msg(rs_trainer_metrics(t, &c, d, &m) == RS_OK, "%s", rs_error_message());
  ck_assert_msg(isfinite(m.train_loss) && isfinite(m.heldout_loss) && m.heldout_acc > 0.6 &&
                    m.heldout_acc <= 1 && isfinite(m.rate),
                "vib mse on classes: loss %g/%g acc %g rate %g", m.train_loss, m.heldout_loss,
                m.heldout_acc, m.rate);
  /* The head's weight metrics: the whole 2K x n matrix. */
  rs_netview v;
  ck_assert_int_eq(rs_trainer_view(t, &v), RS_OK);
  int l = v.nmeasure, K = v.sizes[l], n = v.sizes[l - 1];
  ck_assert_int_eq(K, c.model.latent);
  double fm = 0, fs = 0;
  for (int i = 0; i < K * n; i++) fm += v.W[l][i] * v.W[l][i];
  for (int i = K * n; i < 2 * K * n; i++) fs += v.W[l][i] * v.W[l][i];
  ck_assert_msg(fabs(m.wfro[l - 1] - sqrt(fm + fs)) < 1e-12 * sqrt(fm + fs) && fs > 0,
                "head Frobenius norm %g, mean rows %g, whole head %g", m.wfro[l - 1], sqrt(fm),
                sqrt(fm + fs));
  double *sv = malloc(sizeof(double) * (size_t)(2 * K));
  int r;
  ck_assert_int_eq(rs_rank_eps(v.W[l], 2 * K, n, 0.0, &r, sv), RS_OK);
  ck_assert_double_eq_tol(m.wspec[l - 1], sv[0], 1e-12 * sv[0]);
  ck_assert_msg(m.wrank[l - 1][c.measure.neps - 1] > K,
                "head rank %d at eps %g: the std rows are not counted (K = %d)",
                m.wrank[l - 1][c.measure.neps - 1], c.measure.eps[c.measure.neps - 1], K);
  free(sv);
  rs_trainer_destroy(&t);
  rs_dataset_destroy(&d);
}
END_TEST

int main(void) {
  Suite *s = suite_create("model-metrics");
  TCase *tc = tcase_create("metrics");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, mse_on_classes_mlp);
  tcase_add_test(tc, mse_on_classes_vib);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? 1 : 0;
}
