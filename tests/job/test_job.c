/* Unit tests of the job module: defaults, checkpoint schedules, parsing, grid
 * expansion and names, every user-error class (with exact line and key),
 * SHA-256 vectors, the embedded default, the repo's job files and the
 * generated key reference in docs/reference/keys.md. */
#include <check.h>

#include "../rs_check.h"
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job_internal.h"
#include "ranksweep/rs_config.h"
#include "ranksweep/rs_error.h"
#include "ranksweep/rs_job.h"

static rs_job *parse_ok(const char *text) {
  rs_job *j = NULL;
  int rc = rs_job_parse(text, strlen(text), "t.yaml", &j);
  ck_assert_msg(rc == RS_OK, "parse failed (%s): %s", rs_err_name(rc), rs_error_message());
  ck_assert_ptr_nonnull(j);
  return j;
}

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  ck_assert_msg(f != NULL, "cannot open %s", path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = malloc((size_t)n + 1);
  ck_assert_uint_eq(fread(b, 1, (size_t)n, f), (size_t)n);
  b[n] = '\0';
  fclose(f);
  if (len) *len = (size_t)n;
  return b;
}

static const char *source_root(void) {
  const char *r = getenv("RANKSWEEP_SOURCE_ROOT");
  ck_assert_msg(r != NULL, "RANKSWEEP_SOURCE_ROOT is not set (run through meson test)");
  return r;
}

/* ---- defaults ---- */

START_TEST(defaults_match_documentation) {
  rs_config c;
  rs_config_defaults(&c);
  ck_assert_str_eq(c.name, "ranksweep-job");
  ck_assert_int_eq(c.seed, 0);
  ck_assert_int_eq(c.data.kind, RS_DATA_GAUSSIAN_MIXTURE);
  ck_assert_int_eq(c.data.seed, -1);
  ck_assert_int_eq(c.data.dim, 100);
  ck_assert_int_eq(c.data.classes, 10);
  ck_assert_double_eq(c.data.mean_scale, 1.0);
  ck_assert_double_eq(c.data.noise, 1.0);
  ck_assert_int_eq(c.data.train_size, 1000);
  ck_assert_int_eq(c.data.heldout_size, 1000);
  ck_assert_int_eq(c.data.teacher_rank, 10);
  ck_assert_int_eq(c.data.teacher_width, 64);
  ck_assert_int_eq(c.data.outputs, 1);
  ck_assert_int_eq(c.data.nrho, 4);
  const double rho[4] = {0.9, 0.7, 0.5, 0.3};
  for (int i = 0; i < 4; i++) ck_assert_double_eq(c.data.rho[i], rho[i]);
  ck_assert_str_eq(c.data.images, "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz");
  ck_assert_str_eq(c.data.labels, "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz");
  ck_assert_str_eq(c.data.heldout_images, "");
  ck_assert_str_eq(c.data.heldout_labels, "");
  ck_assert_double_eq(c.data.mean, 0.1307);
  ck_assert_double_eq(c.data.std, 0.3081);
  ck_assert_int_eq(c.model.kind, RS_MODEL_MLP);
  ck_assert_int_eq(c.model.nwidths, 4);
  for (int i = 0; i < 4; i++) ck_assert_int_eq(c.model.widths[i], 200);
  ck_assert_int_eq(c.model.activation, RS_ACT_RELU);
  ck_assert_int_eq(c.model.init, RS_INIT_NORMAL_FAN_IN);
  ck_assert_double_eq(c.model.bias_init, 0.0);
  ck_assert_int_eq(c.model.latent, 256);
  ck_assert_int_eq(c.model.eval_samples, 12);
  ck_assert_int_eq(c.train.optimizer, RS_OPT_ADAMW);
  ck_assert_double_eq(c.train.lr, 1e-4);
  ck_assert_double_eq(c.train.momentum, 0.9);
  ck_assert_double_eq(c.train.beta1, 0.9);
  ck_assert_double_eq(c.train.beta2, 0.999);
  ck_assert_double_eq(c.train.adam_eps, 1e-8);
  ck_assert_double_eq(c.train.weight_decay, 0.01);
  ck_assert(!c.train.decay_biases);
  ck_assert_int_eq(c.train.schedule, RS_SCHED_CONSTANT);
  ck_assert_int_eq(c.train.step_every, 1000);
  ck_assert_double_eq(c.train.step_gamma, 0.97);
  ck_assert_int_eq(c.train.batch, 64);
  ck_assert_int_eq(c.train.steps, 1000000);
  ck_assert_int_eq(c.train.precision, RS_PREC_FLOAT32);
  ck_assert_int_eq(c.train.loss, RS_LOSS_AUTO);
  ck_assert_double_eq(c.train.beta, 0.001);
  ck_assert_int_eq(c.train.state_every, 10000);
  ck_assert_int_eq(c.measure.schedule, RS_CKPT_LOG);
  ck_assert_int_eq(c.measure.log_points, 50);
  ck_assert_int_eq(c.measure.every, 1000);
  ck_assert_int_eq(c.measure.nlist, 0);
  ck_assert_int_eq(c.measure.points, 128);
  ck_assert_int_eq(c.measure.neps, 3);
  ck_assert_double_eq(c.measure.eps[0], 0.1);
  ck_assert_double_eq(c.measure.eps[1], 0.01);
  ck_assert_double_eq(c.measure.eps[2], 0.001);
  ck_assert_int_eq(c.measure.save_weights, RS_SAVE_FINAL);
  ck_assert(!c.measure.spectrum);
  ck_assert_int_eq(c.measure.nnoise, 3);
  ck_assert_double_eq(c.measure.noise[0], 0.1);
  ck_assert_double_eq(c.measure.noise[1], 0.3);
  ck_assert_double_eq(c.measure.noise[2], 1.0);
  ck_assert_int_eq(c.measure.shard, 0);
}
END_TEST

START_TEST(minimal_job_is_defaults) {
  rs_job *j = parse_ok("name: only-a-name\n");
  rs_config d;
  rs_config_defaults(&d);
  const rs_config *c = rs_job_run(j, 0);
  ck_assert_str_eq(rs_job_name(j), "only-a-name");
  ck_assert_str_eq(c->name, "base");
  memset(d.name, 0, sizeof d.name);
  memcpy(d.name, "base", 4);
  ck_assert_int_eq(memcmp(&d, c, sizeof d), 0);
  rs_job_destroy(&j);
  ck_assert_ptr_null(j);
}
END_TEST

/* model.width x model.depth: separate axes that make model.widths; either
 * alone keeps the other's default (4 layers, width 200); recorded only when
 * set, and hashed like the same layers given as model.widths. */
START_TEST(width_and_depth_axes) {
  rs_job *j = parse_ok("grid:\n  model.width: [10, 20]\n  model.depth: [1, 3]\n");
  ck_assert_int_eq(rs_job_nruns(j), 4);
  ck_assert_str_eq(rs_job_run_name(j, 3), "width=20,depth=3");
  const rs_config *c = rs_job_run(j, 3);
  ck_assert_int_eq(c->model.nwidths, 3);
  for (int i = 0; i < 3; i++) ck_assert_int_eq(c->model.widths[i], 20);
  ck_assert_int_eq(rs_job_run(j, 0)->model.nwidths, 1);
  char *rec = rs_config_resolved_text(c);
  ck_assert_ptr_nonnull(strstr(rec, "model.widths: [20, 20, 20]\nmodel.width: 20\nmodel.depth: 3\n"));
  char *canon = rs_config_canonical_text(c, NULL, NULL);
  ck_assert_ptr_null(strstr(canon, "model.width:"));
  rs_job *k = parse_ok("model:\n  widths: [20, 20, 20]\n");
  char *canon2 = rs_config_canonical_text(rs_job_run(k, 0), NULL, NULL);
  char *rec2 = rs_config_resolved_text(rs_job_run(k, 0));
  ck_assert_str_eq(canon, canon2);
  ck_assert_ptr_null(strstr(rec2, "model.width:"));
  ck_assert_ptr_null(strstr(rec2, "model.depth:"));
  free(rec);
  free(rec2);
  free(canon);
  free(canon2);
  rs_job_destroy(&k);
  rs_job_destroy(&j);
  j = parse_ok("model:\n  width: 7\n");
  ck_assert_int_eq(rs_job_run(j, 0)->model.nwidths, 4);
  ck_assert_int_eq(rs_job_run(j, 0)->model.widths[3], 7);
  rs_job_destroy(&j);
  j = parse_ok("model:\n  depth: 2\n");
  ck_assert_int_eq(rs_job_run(j, 0)->model.nwidths, 2);
  ck_assert_int_eq(rs_job_run(j, 0)->model.widths[1], 200);
  rs_job_destroy(&j);
}
END_TEST

START_TEST(loss_auto_resolution) {
  rs_config c;
  rs_config_defaults(&c);
  const rs_data_kind kinds[4] = {RS_DATA_GAUSSIAN_MIXTURE, RS_DATA_TEACHER, RS_DATA_GAUSSIAN_IB,
                                 RS_DATA_IDX};
  const rs_loss want[4] = {RS_LOSS_CROSS_ENTROPY, RS_LOSS_MSE, RS_LOSS_MSE, RS_LOSS_CROSS_ENTROPY};
  for (int i = 0; i < 4; i++) {
    c.data.kind = kinds[i];
    c.train.loss = RS_LOSS_AUTO;
    ck_assert_int_eq(rs_config_loss(&c), want[i]);
    c.train.loss = RS_LOSS_MSE;
    ck_assert_int_eq(rs_config_loss(&c), RS_LOSS_MSE);
    c.train.loss = RS_LOSS_CROSS_ENTROPY;
    ck_assert_int_eq(rs_config_loss(&c), RS_LOSS_CROSS_ENTROPY);
  }
}
END_TEST

/* ---- checkpoints ---- */

static void check_steps(const rs_config *c, const int64_t *want, int nwant) {
  int64_t got[1024];
  int n = rs_config_checkpoints(c, got, 1024);
  ck_assert_int_eq(n, nwant);
  for (int i = 0; i < n; i++)
    ck_assert_msg(got[i] == want[i], "checkpoint %d: got %lld want %lld", i, (long long)got[i],
                  (long long)want[i]);
}

START_TEST(checkpoints_log_paper) {
  /* numpy 1.24: np.unique(np.logspace(0, np.log10(1e6), 50).astype(int)),
   * with 0 prepended. */
  const int64_t want[49] = {0,      1,      2,      3,      4,      5,      7,     9,
                            12,     16,     22,     29,     39,     51,     68,    91,
                            120,    159,    212,    281,    372,    494,    655,   868,
                            1151,   1526,   2023,   2682,   3556,   4714,   6250,  8286,
                            10985,  14563,  19306,  25595,  33932,  44984,  59636, 79060,
                            104811, 138949, 184206, 244205, 323745, 429193, 568986, 754312,
                            1000000};
  rs_config c;
  rs_config_defaults(&c);
  check_steps(&c, want, 49);
}
END_TEST

START_TEST(checkpoints_log_forces_last) {
  /* numpy gives ... 3193, 4999 for (5000, 20): the last becomes 5000. */
  const int64_t want[20] = {0,   1,   2,   3,   6,   9,   14,   23,   36,   56,
                            88,  138, 216, 339, 531, 832, 1302, 2039, 3193, 5000};
  rs_config c;
  rs_config_defaults(&c);
  c.train.steps = 5000;
  c.measure.log_points = 20;
  check_steps(&c, want, 20);
  /* Tiny runs: duplicates collapse; one point is the last step. */
  c.train.steps = 3;
  c.measure.log_points = 50;
  const int64_t small[4] = {0, 1, 2, 3};
  check_steps(&c, small, 4);
  c.train.steps = 1000;
  c.measure.log_points = 1;
  const int64_t one[2] = {0, 1000};
  check_steps(&c, one, 2);
}
END_TEST

START_TEST(checkpoints_linear_and_list) {
  rs_config c;
  rs_config_defaults(&c);
  c.train.steps = 1000;
  c.measure.schedule = RS_CKPT_LINEAR;
  c.measure.every = 300;
  const int64_t a[5] = {0, 300, 600, 900, 1000};
  check_steps(&c, a, 5);
  c.measure.every = 250;
  const int64_t b[5] = {0, 250, 500, 750, 1000};
  check_steps(&c, b, 5);
  c.measure.every = 5000;
  const int64_t e[2] = {0, 1000};
  check_steps(&c, e, 2);

  c.measure.schedule = RS_CKPT_LIST;
  const int64_t list[5] = {500, 100, 100, 0, 1000};
  memcpy(c.measure.list, list, sizeof list);
  c.measure.nlist = 5;
  const int64_t d[4] = {0, 100, 500, 1000};
  check_steps(&c, d, 4);
  c.measure.nlist = 0;
  check_steps(&c, e, 2);
}
END_TEST

START_TEST(checkpoints_cap_and_count) {
  rs_config c;
  rs_config_defaults(&c);
  int64_t buf[10];
  for (int i = 0; i < 10; i++) buf[i] = -7;
  ck_assert_int_eq(rs_config_checkpoints(&c, buf, 5), 49);
  ck_assert_int_eq(buf[4], 4);
  ck_assert_int_eq(buf[5], -7); /* nothing past cap */
  ck_assert_int_eq(rs_config_checkpoints(&c, NULL, 0), 49);
  c.measure.schedule = RS_CKPT_LINEAR;
  c.measure.every = 1;
  ck_assert_int_eq(rs_config_checkpoints(&c, NULL, 0), 1000001);
}
END_TEST

/* ---- parsing ---- */

static const char *full_job =
    "# every section\n"
    "name: full\n"
    "seed: 42\n"
    "data:\n"
    "  kind: teacher\n"
    "  seed: 7\n"
    "  dim: 50\n"
    "  classes: 3\n"
    "  mean_scale: 2.5\n"
    "  noise: 0.25\n"
    "  train_size: 500\n"
    "  heldout_size: 300\n"
    "  teacher_rank: 5\n"
    "  teacher_width: 32\n"
    "  outputs: 2\n"
    "  rho: [0.8, 0.2]\n"
    "  images: /tmp/a.gz\n"
    "  labels: '/tmp/b.gz'\n"
    "  heldout_images: \"/tmp/c\"\n"
    "  heldout_labels: /tmp/d\n"
    "  mean: -0.5\n"
    "  std: 2\n"
    "model:\n"
    "  kind: vib\n"
    "  widths:\n"
    "    - 64\n"
    "    - 32\n"
    "  activation: gelu\n"
    "  init: xavier\n"
    "  bias_init: 0.1\n"
    "  latent: 16\n"
    "  eval_samples: 4\n"
    "train:\n"
    "  optimizer: sgd\n"
    "  lr: 1e-2\n"
    "  momentum: 0\n"
    "  beta1: 0.5\n"
    "  beta2: 0.99\n"
    "  adam_eps: 1e-6\n"
    "  weight_decay: 0\n"
    "  decay_biases: true\n"
    "  schedule: step\n"
    "  step_every: 20\n"
    "  step_gamma: 0.5\n"
    "  batch: 100\n"
    "  steps: 1e4\n"
    "  precision: float64\n"
    "  loss: mse\n"
    "  beta: 0.1\n"
    "  state_every: 0\n"
    "measure:\n"
    "  schedule: list\n"
    "  log_points: 7\n"
    "  every: 13\n"
    "  list: [10, 5000]\n"
    "  points: 64\n"
    "  eps: [0.5]\n"
    "  save_weights: all\n"
    "  spectrum: true\n"
    "  noise: [2, 3]\n"
    "  shard: 16\n";

START_TEST(parse_full_job) {
  rs_job *j = parse_ok(full_job);
  ck_assert_int_eq(rs_job_nruns(j), 1);
  ck_assert_int_eq(rs_job_naxes(j), 0);
  ck_assert_str_eq(rs_job_run_name(j, 0), "base");
  ck_assert_str_eq(rs_job_name(j), "full");
  const rs_config *c = rs_job_run(j, 0);
  ck_assert_str_eq(c->name, "base");
  ck_assert_int_eq(c->seed, 42);
  ck_assert_int_eq(c->data.kind, RS_DATA_TEACHER);
  ck_assert_int_eq(c->data.seed, 7);
  ck_assert_int_eq(c->data.dim, 50);
  ck_assert_int_eq(c->data.classes, 3);
  ck_assert_double_eq(c->data.mean_scale, 2.5);
  ck_assert_double_eq(c->data.noise, 0.25);
  ck_assert_int_eq(c->data.train_size, 500);
  ck_assert_int_eq(c->data.heldout_size, 300);
  ck_assert_int_eq(c->data.teacher_rank, 5);
  ck_assert_int_eq(c->data.teacher_width, 32);
  ck_assert_int_eq(c->data.outputs, 2);
  ck_assert_int_eq(c->data.nrho, 2);
  ck_assert_double_eq(c->data.rho[1], 0.2);
  ck_assert_str_eq(c->data.images, "/tmp/a.gz");
  ck_assert_str_eq(c->data.labels, "/tmp/b.gz");
  ck_assert_str_eq(c->data.heldout_images, "/tmp/c");
  ck_assert_str_eq(c->data.heldout_labels, "/tmp/d");
  ck_assert_double_eq(c->data.mean, -0.5);
  ck_assert_double_eq(c->data.std, 2.0);
  ck_assert_int_eq(c->model.kind, RS_MODEL_VIB);
  ck_assert_int_eq(c->model.nwidths, 2);
  ck_assert_int_eq(c->model.widths[0], 64);
  ck_assert_int_eq(c->model.widths[1], 32);
  ck_assert_int_eq(c->model.activation, RS_ACT_GELU);
  ck_assert_int_eq(c->model.init, RS_INIT_XAVIER);
  ck_assert_double_eq(c->model.bias_init, 0.1);
  ck_assert_int_eq(c->model.latent, 16);
  ck_assert_int_eq(c->model.eval_samples, 4);
  ck_assert_int_eq(c->train.optimizer, RS_OPT_SGD);
  ck_assert_double_eq(c->train.lr, 1e-2);
  ck_assert_double_eq(c->train.momentum, 0.0);
  ck_assert_double_eq(c->train.beta1, 0.5);
  ck_assert_double_eq(c->train.beta2, 0.99);
  ck_assert_double_eq(c->train.adam_eps, 1e-6);
  ck_assert_double_eq(c->train.weight_decay, 0.0);
  ck_assert(c->train.decay_biases);
  ck_assert_int_eq(c->train.schedule, RS_SCHED_STEP);
  ck_assert_int_eq(c->train.step_every, 20);
  ck_assert_double_eq(c->train.step_gamma, 0.5);
  ck_assert_int_eq(c->train.batch, 100);
  ck_assert_int_eq(c->train.steps, 10000);
  ck_assert_int_eq(c->train.precision, RS_PREC_FLOAT64);
  ck_assert_int_eq(c->train.loss, RS_LOSS_MSE);
  ck_assert_double_eq(c->train.beta, 0.1);
  ck_assert_int_eq(c->train.state_every, 0);
  ck_assert_int_eq(c->measure.schedule, RS_CKPT_LIST);
  ck_assert_int_eq(c->measure.log_points, 7);
  ck_assert_int_eq(c->measure.every, 13);
  ck_assert_int_eq(c->measure.nlist, 2);
  ck_assert_int_eq(c->measure.list[1], 5000);
  ck_assert_int_eq(c->measure.points, 64);
  ck_assert_int_eq(c->measure.neps, 1);
  ck_assert_double_eq(c->measure.eps[0], 0.5);
  ck_assert_int_eq(c->measure.save_weights, RS_SAVE_ALL);
  ck_assert(c->measure.spectrum);
  ck_assert_int_eq(c->measure.nnoise, 2);
  ck_assert_double_eq(c->measure.noise[1], 3.0);
  ck_assert_int_eq(c->measure.shard, 16);
  int64_t ck[8];
  ck_assert_int_eq(rs_config_checkpoints(c, ck, 8), 4);
  ck_assert_int_eq(ck[2], 5000);
  ck_assert_int_eq(ck[3], 10000);
  rs_job_destroy(&j);
}
END_TEST

START_TEST(text_and_hash) {
  const char *t1 = "name: x   # comment\ntrain:\n  lr: 0.5\n";
  const char *t2 = "name: x   # other comment\ntrain:\n  lr: 0.5\n";
  rs_job *a = parse_ok(t1), *b = parse_ok(t2), *c = parse_ok(t1);
  ck_assert_str_eq(rs_job_text(a), t1);
  ck_assert_uint_eq(strlen(rs_job_hash(a)), 64);
  char want[65];
  rs__sha256_hex(t1, strlen(t1), want);
  ck_assert_str_eq(rs_job_hash(a), want);
  ck_assert_str_eq(rs_job_hash(a), rs_job_hash(c));
  /* Same configuration, different bytes: the hash covers the text. */
  ck_assert_str_ne(rs_job_hash(a), rs_job_hash(b));
  rs_job_destroy(&a);
  rs_job_destroy(&b);
  rs_job_destroy(&c);
}
END_TEST

/* ---- grid ---- */

START_TEST(grid_order_and_names) {
  rs_job *j = parse_ok("train:\n  batch: 16\n"
                       "grid:\n"
                       "  train.lr: [1e-4, 0.001, 3e-3]\n"
                       "  train.weight_decay: [0.01, 0.1]\n"
                       "  seed: [3, 4]\n");
  ck_assert_int_eq(rs_job_nruns(j), 12);
  ck_assert_int_eq(rs_job_naxes(j), 3);
  ck_assert_str_eq(rs_job_axis_key(j, 0), "train.lr");
  ck_assert_str_eq(rs_job_axis_key(j, 1), "train.weight_decay");
  ck_assert_str_eq(rs_job_axis_key(j, 2), "seed");
  ck_assert_str_eq(rs_job_run_name(j, 0), "lr=0.0001,weight_decay=0.01,seed=3");
  ck_assert_str_eq(rs_job_run_name(j, 1), "lr=0.0001,weight_decay=0.01,seed=4");
  ck_assert_str_eq(rs_job_run_name(j, 2), "lr=0.0001,weight_decay=0.1,seed=3");
  ck_assert_str_eq(rs_job_run_name(j, 11), "lr=0.003,weight_decay=0.1,seed=4");
  const double lrs[3] = {1e-4, 1e-3, 3e-3}, wds[2] = {0.01, 0.1};
  for (int r = 0; r < 12; r++) {
    const rs_config *c = rs_job_run(j, r);
    /* nested loops, last axis fastest */
    ck_assert_double_eq(c->train.lr, lrs[r / 4]);
    ck_assert_double_eq(c->train.weight_decay, wds[(r / 2) % 2]);
    ck_assert_int_eq(c->seed, 3 + r % 2);
    ck_assert_int_eq(c->train.batch, 16);
    ck_assert_str_eq(c->name, rs_job_run_name(j, r));
    char want[64];
    snprintf(want, sizeof want, "%d", 3 + r % 2);
    ck_assert_str_eq(rs_job_run_value(j, r, 2), want);
  }
  ck_assert_str_eq(rs_job_run_value(j, 5, 0), "0.001");
  ck_assert_ptr_eq(rs_job_run(j, 3), rs_job_run(j, 3)); /* materialised once */
  rs_job_destroy(&j);
}
END_TEST

START_TEST(grid_list_axes_and_label_clash) {
  rs_job *j = parse_ok("grid:\n"
                       "  model.widths: [[200, 200], [100, 100, 100]]\n"
                       "  measure.eps:\n"
                       "    - [0.01]\n"
                       "    - [0.1, 0.001]\n"
                       "  seed: [0]\n"
                       "  data.seed: [5, -1]\n"
                       "  data.kind: [gaussian_mixture]\n");
  ck_assert_int_eq(rs_job_nruns(j), 8);
  ck_assert_str_eq(rs_job_run_name(j, 0),
                   "widths=200x200,eps=0.01,seed=0,data.seed=5,kind=gaussian_mixture");
  ck_assert_str_eq(rs_job_run_name(j, 7),
                   "widths=100x100x100,eps=0.1x0.001,seed=0,data.seed=-1,kind=gaussian_mixture");
  const rs_config *c = rs_job_run(j, 7);
  ck_assert_int_eq(c->model.nwidths, 3);
  ck_assert_int_eq(c->model.widths[2], 100);
  ck_assert_int_eq(c->measure.neps, 2);
  ck_assert_double_eq(c->measure.eps[1], 0.001);
  ck_assert_int_eq(c->data.seed, -1);
  c = rs_job_run(j, 0);
  ck_assert_int_eq(c->model.nwidths, 2);
  ck_assert_int_eq(c->measure.neps, 1);
  ck_assert_int_eq(c->data.seed, 5);
  ck_assert_str_eq(rs_job_run_value(j, 3, 0), "200x200");
  ck_assert_str_eq(rs_job_run_value(j, 3, 1), "0.1x0.001");
  rs_job_destroy(&j);
}
END_TEST

START_TEST(grid_overrides_base) {
  rs_job *j = parse_ok("train:\n  lr: 0.5\n  steps: 100\ngrid:\n  train.lr: [0.25]\n");
  ck_assert_int_eq(rs_job_nruns(j), 1);
  ck_assert_str_eq(rs_job_run_name(j, 0), "lr=0.25");
  ck_assert_double_eq(rs_job_run(j, 0)->train.lr, 0.25);
  ck_assert_int_eq(rs_job_run(j, 0)->train.steps, 100);
  rs_job_destroy(&j);
}
END_TEST

/* ---- errors: one table row per bad snippet ---- */

typedef struct {
  const char *text;
  int line;
  const char *key;
  const char *contains;
} bad_case;

static const bad_case bad[] = {
    /* unknown keys, with suggestions */
    {"nmae: x\n", 1, "nmae", "did you mean name?"},
    {"data:\n  dimm: 3\n", 2, "data.dimm", "did you mean data.dim?"},
    {"data:\n  lr: 0.1\n", 2, "data.lr", "did you mean train.lr?"},
    {"data:\n  zzzzzzzz: 1\n", 2, "data.zzzzzzzz", "unknown key; expected one of data: kind,"},
    {"train.lr: 0.1\n", 1, "train.lr", "only allowed under grid"},
    {"grid:\n  train.lrr: [1, 2]\n", 2, "train.lrr", "did you mean train.lr?"},
    {"grid:\n  seed: [1]\n  seeds: [2]\n", 3, "seeds", "did you mean seed?"},
    {"grid:\n  weigth_decay: [1, 2]\n", 2, "weigth_decay", "did you mean train.weight_decay?"},
    {"grid:\n  depht: [1, 2]\n", 2, "depht", "did you mean model.depth?"},
    {"grid:\n  foo: [1, 2]\n", 2, "foo", "not a known key; expected"},
    /* the hidden layers one way only */
    {"model:\n  widths: [8]\n  width: 4\n", 3, "model.width", "given together with model.widths (line 2)"},
    {"model:\n  widths: [8]\ngrid:\n  model.depth: [1, 2]\n", 4, "model.depth",
     "given together with model.widths"},
    {"grid:\n  model.widths: [[8]]\n  model.width: [4]\n", 3, "model.width", "given together"},
    {"model:\n  depth: 17\n", 2, "model.depth", "out of range; expected an integer in [0, 16]"},
    {"grid:\n  train: [1]\n", 2, "train", "expected a dotted key"},
    {"grid:\n  name: [a, b]\n", 2, "name", "cannot be a grid axis"},
    /* wrong types */
    {"train:\n  batch: abc\n", 2, "train.batch", "'abc' is not an integer; expected an integer >= 1"},
    {"train:\n  batch: 1.5\n", 2, "train.batch", "not an integer"},
    {"train:\n  batch: 0x10\n", 2, "train.batch", "not an integer"},
    {"train:\n  lr: fast\n", 2, "train.lr", "'fast' is not a number; expected a number > 0"},
    {"train:\n  lr: .nan\n", 2, "train.lr", "not a number"},
    {"train:\n  lr:\n", 2, "train.lr", "no value; expected a number > 0"},
    {"train:\n  decay_biases: maybe\n", 2, "train.decay_biases", "expected true or false"},
    {"model:\n  activation: relux\n", 2, "model.activation",
     "'relux' is not allowed; expected one of relu, tanh, identity, gelu"},
    {"data:\n  kind: mnist\n", 2, "data.kind",
     "expected one of gaussian_mixture, teacher, gaussian_ib, idx"},
    {"train:\n  lr: [1, 2]\n", 2, "train.lr", "got a list; expected a number > 0"},
    {"model:\n  widths: 200\n", 2, "model.widths", "expected a list of 1..16 integers, each >= 1"},
    {"train:\n  lr: {a: 1}\n", 2, "train.lr", "got a mapping"},
    {"model:\n  widths: [[1, 2]]\n", 2, "model.widths", "entry 1 is a list"},
    /* out of range */
    {"train:\n  lr: 0\n", 2, "train.lr", "0 is out of range; expected a number > 0"},
    {"train:\n  momentum: 1\n", 2, "train.momentum", "expected a number in [0, 1)"},
    {"train:\n  beta2: -0.1\n", 2, "train.beta2", "out of range"},
    {"train:\n  batch: 3000000000\n", 2, "train.batch", "out of range"},
    {"train:\n  steps: 0\n", 2, "train.steps", "expected an integer >= 1"},
    {"seed: -1\n", 1, "seed", "expected an integer >= 0"},
    {"data:\n  seed: -2\n", 2, "data.seed", "expected an integer >= -1"},
    {"measure:\n  eps: [0.1, 0]\n", 2, "measure.eps", "entry 2: 0 is out of range"},
    {"measure:\n  eps:\n    - 0.1\n    - -1\n", 4, "measure.eps", "entry 2: -1 is out of range"},
    {"measure:\n  eps: []\n", 2, "measure.eps", "list has 0 entries; expected a list of 1..8"},
    {"measure:\n  eps: [1, 1, 1, 1, 1, 1, 1, 1, 1]\n", 2, "measure.eps", "list has 9 entries"},
    {"data:\n  rho: [0.5, 1.0]\n", 2, "data.rho", "each in (0, 1)"},
    {"model:\n  widths: [10, 0]\n", 2, "model.widths", "entry 2: 0 is out of range"},
    {"model:\n  widths: [1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]\n", 2, "model.widths",
     "list has 17 entries"},
    {"name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
     1, "name", "expected a string of at most 127 characters"},
    /* duplicate keys */
    {"train:\n  lr: 0.1\n  batch: 4\n  lr: 0.2\n", 4, "train.lr", "duplicate key (first at line 2)"},
    {"train:\n  lr: 0.1\ntrain:\n  batch: 3\n", 3, "train", "duplicate key (first at line 1)"},
    {"grid:\n  seed: [1]\n  seed: [2]\n", 3, "seed", "duplicate key (first at line 2)"},
    /* grid shape */
    {"grid:\n  seed: []\n", 2, "seed", "empty list of values"},
    {"grid: {}\n", 1, "grid", "empty grid"},
    {"grid:\n", 1, "grid", "no value"},
    {"grid: [1, 2]\n", 1, "grid", "got a list; expected a mapping"},
    {"grid:\n  seed: 3\n", 2, "seed", "expected a non-empty list of values"},
    {"grid:\n  model.widths: [200, 100]\n", 2, "model.widths", "value 1 is a single value '200'"},
    {"grid:\n  train.lr: [0.1, abc]\n", 2, "train.lr", "'abc' is not a number"},
    {"grid:\n  train.lr:\n    - 0.1\n    - -3\n", 4, "train.lr", "-3 is out of range"},
    {"grid:\n  seed: [1, 2, 1]\n", 2, "seed", "value 3 (1) repeats value 1 (line 2)"},
    {"grid:\n  data.images: [/a, /" "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
     "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb]\n", 2, "grid",
     "run 1's name 'images=/bbb"},
    /* structure */
    {"data: 3\n", 1, "data", "got a scalar; expected a mapping of data keys"},
    {"data:\n", 1, "data", "got no value; expected a mapping"},
    {"train: [1]\n", 1, "train", "got a list; expected a mapping"},
    {"- a\n- b\n", 1, "(document)", "got a list; expected a mapping with keys name, seed"},
    {"", 1, "(document)", "empty job file"},
    {"# only a comment\n", 1, "(document)", "empty job file"},
    {"name: a\n---\nname: b\n", 3, "(document)", "second YAML document"},
    {"? [a, b]\n: 1\n", 1, "(document)", "a key is a list"},
    /* YAML syntax */
    {"a: b: c\n", 1, "(yaml)", "syntax error: mapping values are not allowed"},
    {"train:\n\tlr: 1\n", 2, "(yaml)", "syntax error"},
    {"name: x\ntrain:\n  lr: [1, 2\n", 4, "(yaml)", "flow sequence started at line 3"},
    /* cross-field, per run */
    {"data:\n  train_size: 10\ntrain:\n  batch: 64\n", 4, "train.batch",
     "run 0 (base): batch 64 exceeds data.train_size 10; expected train.batch <= data.train_size"},
    {"data:\n  train_size: 10\n", 2, "data.train_size", "run 0 (base): batch 64 exceeds"},
    {"data:\n  train_size: 100\ngrid:\n  train.batch: [32, 200]\n", 4, "train.batch",
     "run 1 (batch=200): batch 200 exceeds data.train_size 100"},
    {"data:\n  heldout_size: 100\n", 2, "data.heldout_size",
     "128 points exceed data.heldout_size 100; expected measure.points <= data.heldout_size"},
    {"measure:\n  points: 10\n  shard: 20\n", 3, "measure.shard", "expected measure.shard <="},
    {"data:\n  kind: teacher\n  dim: 5\n  teacher_rank: 10\n", 4, "data.teacher_rank",
     "expected data.teacher_rank <= data.dim"},
    {"data:\n  kind: gaussian_ib\n  dim: 2\n", 3, "data.dim",
     "4 correlations exceed data.dim 2"},
    {"train:\n  steps: 100\nmeasure:\n  schedule: list\n  list: [10, 200]\n", 5, "measure.list",
     "entry 2 (200) is after the last step 100; expected entries within [0, train.steps]"},
    {"data:\n  kind: teacher\ntrain:\n  loss: cross_entropy\n", 4, "train.loss",
     "cross_entropy needs class labels"},
    {"data:\n  kind: idx\n  heldout_images: /x\n", 3, "data.heldout_images",
     "expected both or neither"},
    {"grid:\n  data.kind: [gaussian_mixture, teacher]\n  data.dim: [100, 5]\n", 3, "data.dim",
     "run 3 (kind=teacher,dim=5): rank 10 exceeds data.dim 5"},
};

START_TEST(bad_snippets) {
  const bad_case *b = &bad[_i];
  rs_job *j = (rs_job *)0x1;
  rs_error_clear();
  int rc = rs_job_parse(b->text, strlen(b->text), "t.yaml", &j);
  const char *msg = rs_error_message();
  ck_assert_msg(rc == RS_EJOB, "case %d: rc %s, message '%s'", _i, rs_err_name(rc), msg);
  ck_assert_ptr_null(j);
  char prefix[256];
  snprintf(prefix, sizeof prefix, "t.yaml:%d: %s: ", b->line, b->key);
  ck_assert_msg(strncmp(msg, prefix, strlen(prefix)) == 0, "case %d: want prefix '%s', got '%s'",
                _i, prefix, msg);
  ck_assert_msg(strstr(msg, b->contains) != NULL, "case %d: want '%s' in '%s'", _i, b->contains,
                msg);
  ck_assert_msg(strchr(msg, '\n') == NULL, "case %d: message is not one line: '%s'", _i, msg);
  ck_assert_msg(strstr(msg, "expected") != NULL, "case %d: no expectation in '%s'", _i, msg);
}
END_TEST

START_TEST(integer_spellings) {
  rs_job *j = parse_ok("train:\n  steps: 1e6\n  batch: 32\nseed: +5\n");
  ck_assert_int_eq(rs_job_run(j, 0)->train.steps, 1000000);
  ck_assert_int_eq(rs_job_run(j, 0)->seed, 5);
  rs_job_destroy(&j);
}
END_TEST

START_TEST(load_missing_file) {
  rs_job *j = NULL;
  int rc = rs_job_load("/nonexistent/job.yaml", &j);
  ck_assert_int_eq(rc, RS_EIO);
  ck_assert_ptr_null(j);
  ck_assert_ptr_nonnull(strstr(rs_error_message(), "/nonexistent/job.yaml"));
}
END_TEST

/* ---- SHA-256 ---- */

START_TEST(sha256_vectors) {
  char hex[65];
  rs__sha256_hex("", 0, hex);
  ck_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  rs__sha256_hex("abc", 3, hex);
  ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  rs__sha256_hex(m448, strlen(m448), hex);
  ck_assert_str_eq(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  const char *m896 = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklm"
                     "nopqrlmnopqrsmnopqrstnopqrstu";
  rs__sha256_hex(m896, strlen(m896), hex);
  ck_assert_str_eq(hex, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
  /* One million 'a', fed in uneven pieces. */
  char *a = malloc(1000000);
  memset(a, 'a', 1000000);
  rs__sha256 s;
  unsigned char d[32];
  rs__sha256_init(&s);
  size_t off = 0;
  for (size_t step = 1; off < 1000000; step = step * 3 % 1000 + 1) {
    size_t n = 1000000 - off < step ? 1000000 - off : step;
    rs__sha256_update(&s, a + off, n);
    off += n;
  }
  rs__sha256_final(&s, d);
  free(a);
  const unsigned char want[32] = {0xcd, 0xc7, 0x6e, 0x5c, 0x99, 0x14, 0xfb, 0x92,
                                  0x81, 0xa1, 0xc7, 0xe2, 0x84, 0xd7, 0x3e, 0x67,
                                  0xf1, 0x80, 0x9a, 0x48, 0xa4, 0x97, 0x20, 0x0e,
                                  0x04, 0x6d, 0x39, 0xcc, 0xc7, 0x11, 0x2c, 0xd0};
  ck_assert_int_eq(memcmp(d, want, 32), 0);
}
END_TEST

/* ---- repository files ---- */

START_TEST(embedded_default) {
  char path[1024];
  snprintf(path, sizeof path, "%s/jobs/quick.yaml", source_root());
  size_t len;
  char *file = slurp(path, &len);
  ck_assert_str_eq(rs_job_default_text(), file);
  rs_job *j = NULL;
  int rc = rs_job_load_default(&j);
  ck_assert_msg(rc == RS_OK, "%s", rs_error_message());
  ck_assert_str_eq(rs_job_origin(j), "jobs/quick.yaml (embedded)");
  char hex[65];
  rs__sha256_hex(file, len, hex);
  ck_assert_str_eq(rs_job_hash(j), hex);
  ck_assert_int_ge(rs_job_nruns(j), 2);
  for (int r = 0; r < rs_job_nruns(j); r++) ck_assert_ptr_nonnull(rs_job_run(j, r));
  rs_job_destroy(&j);
  free(file);
}
END_TEST

START_TEST(repo_jobs_parse) {
  char dir[1024];
  snprintf(dir, sizeof dir, "%s/jobs", source_root());
  DIR *d = opendir(dir);
  ck_assert_msg(d != NULL, "cannot open %s", dir);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    size_t l = strlen(e->d_name);
    if (l < 6 || strcmp(e->d_name + l - 5, ".yaml") != 0) continue;
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    rs_job *j = NULL;
    int rc = rs_job_load(path, &j);
    ck_assert_msg(rc == RS_OK, "%s: %s", path, rs_error_message());
    ck_assert_int_ge(rs_job_nruns(j), 1);
    FILE *devnull = fopen("/dev/null", "w");
    ck_assert_int_eq(rs_job_plan_print(j, devnull), RS_OK);
    fclose(devnull);
    rs_job_destroy(&j);
    n++;
  }
  closedir(d);
  ck_assert_int_ge(n, 3); /* quick, mnist-paper, gaussian-paper */
}
END_TEST

START_TEST(paper_jobs_match_science) {
  char path[1024];
  rs_job *j = NULL;
  snprintf(path, sizeof path, "%s/jobs/mnist-paper.yaml", source_root());
  ck_assert_int_eq(rs_job_load(path, &j), RS_OK);
  const rs_config *c = rs_job_run(j, 0);
  ck_assert_int_eq(c->data.kind, RS_DATA_IDX);
  ck_assert_int_eq(c->data.train_size, 1000);
  ck_assert_int_eq(c->data.heldout_size, 1000);
  ck_assert_int_eq(c->model.nwidths, 4);
  ck_assert_int_eq(c->train.steps, 1000000);
  ck_assert_int_eq(rs_config_checkpoints(c, NULL, 0), 49);
  rs_job_destroy(&j);
  snprintf(path, sizeof path, "%s/jobs/gaussian-paper.yaml", source_root());
  ck_assert_int_eq(rs_job_load(path, &j), RS_OK);
  ck_assert_int_eq(rs_job_nruns(j), 6);
  for (int r = 0; r < 6; r++) {
    c = rs_job_run(j, r);
    ck_assert_int_eq(c->data.dim, 100);
    ck_assert_int_eq(c->model.nwidths, 4);
    ck_assert_int_eq(c->seed, r);
  }
  rs_job_destroy(&j);
}
END_TEST

START_TEST(docs_up_to_date) {
  char path[1024];
  snprintf(path, sizeof path, "%s/docs/reference/keys.md", source_root());
  char *doc = slurp(path, NULL);
  ck_assert_msg(doc != NULL, "cannot read %s", path);
  const char *b = strstr(doc, "<!-- BEGIN KEY TABLE");
  const char *e = b ? strstr(b, "<!-- END KEY TABLE -->") : NULL;
  ck_assert_msg(b && e, "docs/reference/keys.md has no key-table markers");
  b = strchr(b, '\n') + 1;
  char *gen = NULL;
  size_t glen = 0;
  FILE *m = open_memstream(&gen, &glen);
  ck_assert_int_eq(rs_job_describe_keys(m), RS_OK);
  fclose(m);
  ck_assert_msg(glen == (size_t)(e - b) && memcmp(gen, b, glen) == 0,
                "docs/reference/keys.md key table is out of date: run "
                "build/src/job/rs-job-doc --update docs/reference/keys.md");
  /* The reference's example is a valid job. */
  const char *y = strstr(doc, "```yaml\n");
  ck_assert_ptr_nonnull(y);
  y += 8;
  const char *ye = strstr(y, "```");
  ck_assert_ptr_nonnull(ye);
  rs_job *j = NULL;
  int rc = rs_job_parse(y, (size_t)(ye - y), "docs/reference/keys.md job file example", &j);
  ck_assert_msg(rc == RS_OK, "%s", rs_error_message());
  ck_assert_int_eq(rs_job_nruns(j), 8);
  rs_job_destroy(&j);
  /* one row per key, and every key present */
  int rows = 0;
  for (const char *p = gen; (p = strchr(p, '\n')); p++) rows++;
  ck_assert_int_eq(rows, rs__nkeys + 2);
  for (int i = 0; i < rs__nkeys; i++) {
    char cellk[128];
    snprintf(cellk, sizeof cellk, "| `%s` |", rs__keys[i].key);
    ck_assert_msg(strstr(gen, cellk) != NULL, "key %s missing", rs__keys[i].key);
  }
  free(gen);
  free(doc);
}
END_TEST

/* Every row of the key table round-trips: the default text parses as a
 * value of the key, and formatting the parsed default is stable. */
START_TEST(key_table_consistent) {
  for (int i = 0; i < rs__nkeys; i++) {
    const rs__key *k = &rs__keys[i];
    ck_assert_ptr_eq(rs__key_find(k->key), k);
    ck_assert_ptr_nonnull(k->doc);
    ck_assert_msg(strchr(k->doc, '\n') == NULL, "%s", k->key);
    for (int m = 0; m < i; m++) ck_assert_str_ne(rs__keys[m].key, k->key);
    if (k->type == RS__T_ENUM) ck_assert_ptr_nonnull(k->enums);
    if (rs__key_is_list(k)) ck_assert_int_gt(k->cap, 0);
    char text[4096];
    snprintf(text, sizeof text, "grid:\n  %s: [%s]\n", k->key, k->def);
    if (k->no_grid) continue;
    rs_job *j = parse_ok(text);
    ck_assert_int_eq(rs_job_nruns(j), 1);
    rs_config d;
    rs_config_defaults(&d);
    memset(d.name, 0, sizeof d.name);
    memcpy(d.name, rs_job_run_name(j, 0), strlen(rs_job_run_name(j, 0)));
    ck_assert_msg(memcmp(&d, rs_job_run(j, 0), sizeof d) == 0, "%s", k->key);
    rs_job_destroy(&j);
  }
}
END_TEST

START_TEST(plan_totals) {
  rs_job *j = parse_ok("data:\n  dim: 10\n  classes: 3\n  train_size: 100\n  heldout_size: 100\n"
                       "model:\n  widths: [20, 5]\n"
                       "train:\n  steps: 1000\n  batch: 10\n"
                       "measure:\n  schedule: linear\n  every: 100\n  points: 8\n"
                       "grid:\n  seed: [0, 1, 2]\n");
  char *out = NULL;
  size_t len = 0;
  FILE *m = open_memstream(&out, &len);
  ck_assert_int_eq(rs_job_plan_print(j, m), RS_OK);
  fclose(m);
  /* 3 runs x 1000 steps; 11 checkpoints each; 11 x 8 points x 2 layers;
   * parameters 10*20+20 + 20*5+5 + 5*3+3 = 343. */
  ck_assert_msg(strstr(out, "runs                 3\n"), "%s", out);
  ck_assert_msg(strstr(out, "training steps       3000\n"), "%s", out);
  ck_assert_msg(strstr(out, "checkpoints          33 "), "%s", out);
  ck_assert_msg(strstr(out, "Jacobian SVDs        528 "), "%s", out);
  ck_assert_msg(strstr(out, "parameters per run   343\n"), "%s", out);
  ck_assert_msg(strstr(out, "    2  seed=2"), "%s", out);
  ck_assert_msg(strstr(out, "GFLOP/s"), "%s", out);
  free(out);
  rs_job_destroy(&j);
}
END_TEST

int main(void) {
  Suite *s = suite_create("job");
  TCase *t = tcase_create("config");
  tcase_add_test(t, defaults_match_documentation);
  tcase_add_test(t, minimal_job_is_defaults);
  tcase_add_test(t, width_and_depth_axes);
  tcase_add_test(t, loss_auto_resolution);
  tcase_add_test(t, checkpoints_log_paper);
  tcase_add_test(t, checkpoints_log_forces_last);
  tcase_add_test(t, checkpoints_linear_and_list);
  tcase_add_test(t, checkpoints_cap_and_count);
  suite_add_tcase(s, t);
  t = tcase_create("parse");
  tcase_add_test(t, parse_full_job);
  tcase_add_test(t, text_and_hash);
  tcase_add_test(t, grid_order_and_names);
  tcase_add_test(t, grid_list_axes_and_label_clash);
  tcase_add_test(t, grid_overrides_base);
  tcase_add_test(t, integer_spellings);
  tcase_add_test(t, load_missing_file);
  tcase_add_loop_test(t, bad_snippets, 0, (int)(sizeof bad / sizeof bad[0]));
  suite_add_tcase(s, t);
  t = tcase_create("files");
  tcase_add_test(t, sha256_vectors);
  tcase_add_test(t, embedded_default);
  tcase_add_test(t, repo_jobs_parse);
  tcase_add_test(t, paper_jobs_match_science);
  tcase_add_test(t, docs_up_to_date);
  tcase_add_test(t, key_table_consistent);
  tcase_add_test(t, plan_totals);
  suite_add_tcase(s, t);
  return rs_check_run(s);
}
