/* The key table: every job-file key with its type, place in rs_config,
 * default, allowed values and meaning. Parsing, grid overrides, defaults and
 * the generated key reference all read this one table so they cannot drift. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job_internal.h"
#include "ranksweep/rs_error.h"

#define OFF(f) offsetof(rs_config, f)
#define R_ANY .lo = -INFINITY, .hi = INFINITY
#define R_GE(a) .lo = (a), .hi = INFINITY
#define R_GT(a) .lo = (a), .hi = INFINITY, .lo_open = true
#define R_CO(a, b) .lo = (a), .hi = (b), .hi_open = true
#define R_OC(a, b) .lo = (a), .hi = (b), .lo_open = true
#define R_OO(a, b) .lo = (a), .hi = (b), .lo_open = true, .hi_open = true
#define LIST(f, nf, c, m) .off = OFF(f), .count_off = OFF(nf), .cap = (c), .min_len = (m)

/* Enum names in the order of the C enums in rs_config.h. */
static const char *const e_data[] = {"gaussian_mixture", "teacher", "gaussian_ib", "idx", "npy",
                                     NULL};
static const char *const e_norm[] = {"auto", "none", "fixed", "global", "per_feature", NULL};
static const char *const e_model[] = {"mlp", "vib", NULL};
static const char *const e_decoder[] = {"auto", "linear", "gaussian", NULL};
static const char *const e_act[] = {"relu", "tanh", "identity", "gelu", NULL};
static const char *const e_init[] = {"normal_fan_in", "he", "xavier", NULL};
static const char *const e_opt[] = {"sgd", "adam", "adamw", NULL};
static const char *const e_sched[] = {"constant", "cosine", "step", NULL};
static const char *const e_prec[] = {"float32", "float64", NULL};
static const char *const e_gemm[] = {"auto", "libxsmm", "openblas", NULL};
static const char *const e_loss[] = {"auto", "cross_entropy", "mse", NULL};
static const char *const e_ckpt[] = {"log", "linear", "list", NULL};
static const char *const e_save[] = {"none", "final", "all", NULL};

_Static_assert(sizeof(rs_data_kind) == sizeof(int) && sizeof(rs_model_kind) == sizeof(int) &&
                   sizeof(rs_normalize) == sizeof(int) &&
                   sizeof(rs_decoder) == sizeof(int) &&
                   sizeof(rs_activation) == sizeof(int) && sizeof(rs_init) == sizeof(int) &&
                   sizeof(rs_optimizer) == sizeof(int) && sizeof(rs_schedule) == sizeof(int) &&
                   sizeof(rs_precision) == sizeof(int) && sizeof(rs_loss) == sizeof(int) &&
                   sizeof(rs_gemm_choice) == sizeof(int) &&
                   sizeof(rs_ckpt_schedule) == sizeof(int) && sizeof(rs_save_weights) == sizeof(int),
               "enum fields are stored as int");

const rs__key rs__keys[] = {
    {.key = "name", .type = RS__T_STRING, .off = OFF(name), .cap = 128, .def = "ranksweep-job",
     R_ANY, .no_grid = true,
     .doc = "Job name, recorded in archives (each run's own name is built from its grid values)"},
    {.key = "seed", .type = RS__T_INT64, .off = OFF(seed), .def = "0", R_GE(0),
     .doc = "Run seed: keys every random stream of the run (initialisation, batches, evaluation "
            "points, and the data unless data.seed is set)"},

    {.key = "data.kind", .type = RS__T_ENUM, .off = OFF(data.kind), .def = "gaussian_mixture",
     R_ANY, .enums = e_data,
     .doc = "Data set: Gaussian-mixture classification, low-rank teacher regression, Gaussian "
            "information-bottleneck pairs, MNIST-format IDX files, or NumPy .npy arrays "
            "(data.images and data.labels then name .npy files)"},
    {.key = "data.seed", .type = RS__T_INT64, .off = OFF(data.seed), .def = "-1", R_GE(-1),
     .doc = "Seed of the data streams: -1 uses the run's seed; a value >= 0 fixes the data across "
            "seeds"},
    {.key = "data.dim", .type = RS__T_INT, .off = OFF(data.dim), .def = "100", R_GE(RS_MIN_DIM),
     .doc = "Input dimension of synthetic data (idx, npy: taken from the file)"},
    {.key = "data.classes", .type = RS__T_INT, .off = OFF(data.classes), .def = "10", R_GE(RS_MIN_CLASSES),
     .doc = "Number of classes (gaussian_mixture)"},
    {.key = "data.mean_scale", .type = RS__T_DOUBLE, .off = OFF(data.mean_scale), .def = "1.0",
     R_GE(RS_MIN_SPREAD), .doc = "Standard deviation of the class-mean coordinates (gaussian_mixture)"},
    {.key = "data.noise", .type = RS__T_DOUBLE, .off = OFF(data.noise), .def = "1.0", R_GE(RS_MIN_SPREAD),
     .doc = "Isotropic noise standard deviation (gaussian_mixture inputs, teacher targets)"},
    {.key = "data.train_size", .type = RS__T_INT, .off = OFF(data.train_size), .def = "1000",
     R_GE(RS_MIN_EXAMPLES), .doc = "Training examples (idx, npy: a random subset of the file)"},
    {.key = "data.heldout_size", .type = RS__T_INT, .off = OFF(data.heldout_size), .def = "1000",
     R_GE(RS_MIN_EXAMPLES),
     .doc = "Held-out examples (held-out loss and accuracy; the local-rank points are drawn from "
            "them)"},
    {.key = "data.teacher_rank", .type = RS__T_INT, .off = OFF(data.teacher_rank), .def = "10",
     R_GE(RS_MIN_TEACHER_RANK), .doc = "Rank k of the teacher's projection P, at most data.dim (teacher)"},
    {.key = "data.teacher_width", .type = RS__T_INT, .off = OFF(data.teacher_width), .def = "64",
     R_GE(RS_MIN_TEACHER_WIDTH), .doc = "Hidden width of the random teacher network f (teacher)"},
    {.key = "data.outputs", .type = RS__T_INT, .off = OFF(data.outputs), .def = "1", R_GE(RS_MIN_OUTPUTS),
     .doc = "Regression output dimension (teacher)"},
    {.key = "data.rho", .type = RS__T_DOUBLE_LIST, LIST(data.rho, data.nrho, RS_MAX_RHO, RS_MIN_RHO_COUNT),
     .def = "[0.9, 0.7, 0.5, 0.3]", R_OO(RS_RHO_LO, RS_RHO_HI),
     .doc = "Canonical correlations of X and Y, at most data.dim of them (gaussian_ib)"},
    {.key = "data.images", .type = RS__T_PATH, .off = OFF(data.images), .cap = RS_PATH_MAX,
     .def = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", R_ANY,
     .doc = "Inputs: IDX image file, gzip or raw (idx); or a .npy array of uint8, float32 or "
            "float64, examples along the first axis, each flattened in C order (npy)"},
    {.key = "data.labels", .type = RS__T_PATH, .off = OFF(data.labels), .cap = RS_PATH_MAX,
     .def = "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz", R_ANY,
     .doc = "Labels matching data.images: IDX label file (idx); or a .npy array (npy) of "
            "integer class indices, shape (N,), or float regression targets, shape (N,) or "
            "(N, k)"},
    {.key = "data.heldout_images", .type = RS__T_PATH, .off = OFF(data.heldout_images),
     .cap = RS_PATH_MAX, .def = "\"\"", R_ANY,
     .doc = "Held-out inputs (idx, npy: same format as data.images); empty: held-out examples "
            "are a disjoint random subset of data.images"},
    {.key = "data.heldout_labels", .type = RS__T_PATH, .off = OFF(data.heldout_labels),
     .cap = RS_PATH_MAX, .def = "\"\"", R_ANY,
     .doc = "Held-out labels, set together with data.heldout_images (idx, npy)"},
    {.key = "data.normalize", .type = RS__T_ENUM, .off = OFF(data.normalize), .def = "auto",
     R_ANY, .enums = e_norm,
     .doc = "Input normalisation of file data, with uint8 values read as v/255: none; fixed = "
            "(x - data.mean) / data.std; global = one mean and std over every value of the "
            "data.images file; per_feature = each input's own mean and std over that file (a "
            "constant input is only centred); auto = fixed for idx, per_feature for npy"},
    {.key = "data.mean", .type = RS__T_DOUBLE, .off = OFF(data.mean), .def = "0.1307", R_ANY,
     .doc = "Normalisation (x - mean) / std of data.normalize fixed (idx, npy)"},
    {.key = "data.std", .type = RS__T_DOUBLE, .off = OFF(data.std), .def = "0.3081", R_GT(RS_STD_LO),
     .doc = "Normalisation divisor of data.normalize fixed (idx, npy)"},

    {.key = "model.kind", .type = RS__T_ENUM, .off = OFF(model.kind), .def = "mlp", R_ANY,
     .enums = e_model,
     .doc = "Model: MLP, or deep variational information bottleneck (encoder MLP, Gaussian "
            "latent, linear or Gaussian decoder)"},
    {.key = "model.widths", .type = RS__T_INT_LIST,
     LIST(model.widths, model.nwidths, RS_MAX_LAYERS, 1), .def = "[200, 200, 200, 200]", R_GE(1),
     .doc = "Hidden-layer widths (vib: encoder hidden widths); or set model.width and "
            "model.depth instead"},
    {.key = "model.width", .type = RS__T_INT, .off = OFF(model.width), .def = "0",
     .lo = 0, .hi = RS_MAX_WIDTH, .derived = true,
     .doc = "Width of every hidden layer, instead of model.widths: model.depth layers of this "
            "width (0: not set; set alone, model.depth is 4); a grid axis of its own, unlike "
            "one entry of model.widths"},
    {.key = "model.depth", .type = RS__T_INT, .off = OFF(model.depth), .def = "0",
     .lo = 0, .hi = RS_MAX_LAYERS, .derived = true,
     .doc = "Number of hidden layers, each model.width wide, instead of model.widths (0: not "
            "set; set alone, model.width is 200)"},
    {.key = "model.activation", .type = RS__T_ENUM, .off = OFF(model.activation), .def = "relu",
     R_ANY, .enums = e_act, .doc = "Hidden-layer activation"},
    {.key = "model.init", .type = RS__T_ENUM, .off = OFF(model.init), .def = "normal_fan_in",
     R_ANY, .enums = e_init,
     .doc = "Weight initialisation: N(0, 1/fan_in) as in the paper's code, He, or Glorot "
            "(Xavier)"},
    {.key = "model.bias_init", .type = RS__T_DOUBLE, .off = OFF(model.bias_init), .def = "0",
     R_ANY, .doc = "Initial value of every bias"},
    {.key = "model.latent", .type = RS__T_INT, .off = OFF(model.latent), .def = "256", R_GE(1),
     .doc = "Latent dimension K (vib)"},
    {.key = "model.eval_samples", .type = RS__T_INT, .off = OFF(model.eval_samples), .def = "12",
     R_GE(1), .doc = "Latent samples averaged in held-out evaluation (vib)"},
    {.key = "model.decoder", .type = RS__T_ENUM, .off = OFF(model.decoder), .def = "auto", R_ANY,
     .enums = e_decoder,
     .doc = "Decoder (vib): linear = a linear layer trained with train.loss (softmax for "
            "cross_entropy); gaussian = linear mean with a learned per-dimension variance, "
            "trained by its negative log-likelihood in nats (regression, train.loss auto); "
            "auto = gaussian for regression data with train.loss auto, else linear"},

    {.key = "train.optimizer", .type = RS__T_ENUM, .off = OFF(train.optimizer), .def = "adamw",
     R_ANY, .enums = e_opt, .doc = "Optimiser"},
    {.key = "train.lr", .type = RS__T_DOUBLE, .off = OFF(train.lr), .def = "1e-4", R_GT(0),
     .doc = "Learning rate"},
    {.key = "train.momentum", .type = RS__T_DOUBLE, .off = OFF(train.momentum), .def = "0.9",
     R_CO(0, 1), .doc = "Momentum (sgd)"},
    {.key = "train.beta1", .type = RS__T_DOUBLE, .off = OFF(train.beta1), .def = "0.9",
     R_CO(0, 1), .doc = "First-moment decay (adam, adamw)"},
    {.key = "train.beta2", .type = RS__T_DOUBLE, .off = OFF(train.beta2), .def = "0.999",
     R_CO(0, 1), .doc = "Second-moment decay (adam, adamw)"},
    {.key = "train.adam_eps", .type = RS__T_DOUBLE, .off = OFF(train.adam_eps), .def = "1e-8",
     R_GT(0), .doc = "Denominator epsilon (adam, adamw)"},
    {.key = "train.weight_decay", .type = RS__T_DOUBLE, .off = OFF(train.weight_decay),
     .def = "0.01", R_GE(0), .doc = "Weight decay coefficient (adamw: decoupled)"},
    {.key = "train.decay_biases", .type = RS__T_BOOL, .off = OFF(train.decay_biases),
     .def = "false", R_ANY, .doc = "Apply weight decay to biases too (the paper's code does not)"},
    {.key = "train.schedule", .type = RS__T_ENUM, .off = OFF(train.schedule), .def = "constant",
     R_ANY, .enums = e_sched, .doc = "Learning-rate schedule"},
    {.key = "train.step_every", .type = RS__T_INT64, .off = OFF(train.step_every), .def = "1000",
     R_GE(1), .doc = "Step schedule: multiply the learning rate by train.step_gamma every this many "
                     "steps"},
    {.key = "train.step_gamma", .type = RS__T_DOUBLE, .off = OFF(train.step_gamma), .def = "0.97",
     R_OC(0, 1), .doc = "Step schedule: learning-rate factor"},
    {.key = "train.batch", .type = RS__T_INT, .off = OFF(train.batch), .def = "64", R_GE(1),
     .doc = "Minibatch size, at most data.train_size"},
    {.key = "train.steps", .type = RS__T_INT64, .off = OFF(train.steps), .def = "1000000",
     R_GE(1), .doc = "Training steps"},
    {.key = "train.precision", .type = RS__T_ENUM, .off = OFF(train.precision), .def = "float32",
     R_ANY, .enums = e_prec, .doc = "Training arithmetic (measurement is always float64)"},
    {.key = "train.flush_denormals", .type = RS__T_BOOL, .off = OFF(train.flush_denormals),
     .def = "true", R_ANY,
     .doc = "Flush subnormal floats to zero (FTZ and DAZ) in every thread that trains or measures, "
            "BLAS threads included; without it late training can be 5-12x slower"},
    {.key = "train.gemm", .type = RS__T_ENUM, .off = OFF(train.gemm), .def = "auto", R_ANY,
     .enums = e_gemm,
     .doc = "Backend of the training step's matrix products: openblas; libxsmm (kernels generated "
            "at run time for each product's shape and this CPU's instruction set; OpenBLAS for a "
            "product libxsmm cannot run); auto: libxsmm for the products it runs faster here "
            "(small ones, see docs/numerics.md), OpenBLAS for the rest. Results differ in the last "
            "bits between backends"},
    {.key = "train.loss", .type = RS__T_ENUM, .off = OFF(train.loss), .def = "auto", R_ANY,
     .enums = e_loss,
     .doc = "Loss; auto: cross_entropy for gaussian_mixture, idx and npy with integer labels, "
            "mse for teacher, gaussian_ib and npy with float targets; mse on class labels "
            "uses one-hot targets"},
    {.key = "train.beta", .type = RS__T_DOUBLE, .off = OFF(train.beta), .def = "0.001", R_GE(0),
     .doc = "Weight beta_vib of the KL term (vib)"},
    {.key = "train.state_every", .type = RS__T_INT64, .off = OFF(train.state_every),
     .def = "10000", R_GE(0),
     .doc = "Persist the training state every this many steps so a run can resume (0: never)"},

    {.key = "measure.schedule", .type = RS__T_ENUM, .off = OFF(measure.schedule), .def = "log",
     R_ANY, .enums = e_ckpt,
     .doc = "Checkpoints: log = the unique integers of logspace(0, log10(steps), log_points); "
            "linear = every measure.every steps; list = measure.list. Step 0 and train.steps are "
            "always included"},
    {.key = "measure.log_points", .type = RS__T_INT, .off = OFF(measure.log_points), .def = "50",
     R_GE(1), .doc = "Points of the log schedule before rounding and removing duplicates"},
    {.key = "measure.every", .type = RS__T_INT64, .off = OFF(measure.every), .def = "1000",
     R_GE(1), .doc = "Spacing of the linear schedule"},
    {.key = "measure.list", .type = RS__T_INT64_LIST,
     LIST(measure.list, measure.nlist, RS_MAX_CKPTS, 0), .def = "[]", R_GE(0),
     .doc = "Checkpoint steps of the list schedule, each within [0, train.steps]"},
    {.key = "measure.points", .type = RS__T_INT, .off = OFF(measure.points), .def = "128",
     R_GE(1), .doc = "Held-out evaluation points for local rank, at most data.heldout_size"},
    {.key = "measure.eps", .type = RS__T_DOUBLE_LIST, LIST(measure.eps, measure.neps, RS_MAX_EPS, 1),
     .def = "[0.1, 0.01, 0.001]", R_GT(0),
     .doc = "Absolute singular-value thresholds of rank_eps (the paper's code: 0.01)"},
    {.key = "measure.save_weights", .type = RS__T_ENUM, .off = OFF(measure.save_weights),
     .def = "final", R_ANY, .enums = e_save,
     .doc = "Store weights: never, after training, or at every checkpoint"},
    {.key = "measure.spectrum", .type = RS__T_BOOL, .off = OFF(measure.spectrum), .def = "false",
     R_ANY, .doc = "Run the representation-spectrum pass (information proxies) after training"},
    {.key = "measure.noise", .type = RS__T_DOUBLE_LIST,
     LIST(measure.noise, measure.nnoise, RS_MAX_NOISE, 1), .def = "[0.1, 0.3, 1.0]", R_GT(0),
     .doc = "Noise levels sigma of the Gaussian-channel information proxy"},
    {.key = "measure.shard", .type = RS__T_INT, .off = OFF(measure.shard), .def = "0", R_GE(0),
     .doc = "Evaluation points per measurement task, at most measure.points (0: automatic)"},
};
const int rs__nkeys = (int)(sizeof rs__keys / sizeof rs__keys[0]);

const rs__key *rs__key_find(const char *dotted) {
  for (int i = 0; i < rs__nkeys; i++)
    if (strcmp(rs__keys[i].key, dotted) == 0) return &rs__keys[i];
  return NULL;
}

int rs__edit_distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > 63 || lb > 63) return 1000;
  int d[64][64];
  for (size_t i = 0; i <= la; i++) d[i][0] = (int)i;
  for (size_t j = 0; j <= lb; j++) d[0][j] = (int)j;
  for (size_t i = 1; i <= la; i++)
    for (size_t j = 1; j <= lb; j++) {
      int sub = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
      int del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
      int m = sub < del ? sub : del;
      d[i][j] = m < ins ? m : ins;
      /* two swapped letters are one typo */
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < d[i][j])
        d[i][j] = d[i - 2][j - 2] + 1;
    }
  return d[la][lb];
}

static const char *last_component(const char *k) {
  const char *dot = strrchr(k, '.');
  return dot ? dot + 1 : k;
}

const rs__key *rs__key_suggest(const char *dotted) {
  const rs__key *best = NULL;
  int bestd = 1000;
  for (int i = 0; i < rs__nkeys; i++) {
    int d = rs__edit_distance(dotted, rs__keys[i].key);
    /* "data.lr" is one section away from "train.lr": as close as one typo;
     * "weigth_decay" (no section, a typo) as close as its typo. */
    int dl = rs__edit_distance(last_component(dotted), last_component(rs__keys[i].key));
    int llimit = (int)strlen(last_component(dotted)) / 3;
    if (dl <= (llimit > 1 ? llimit : 1) && (dl > 1 ? dl : 1) < d) d = dl > 1 ? dl : 1;
    if (d < bestd) {
      bestd = d;
      best = &rs__keys[i];
    }
  }
  int limit = (int)strlen(last_component(dotted)) / 3;
  if (limit < 2) limit = 2;
  return bestd <= limit ? best : NULL;
}

bool rs__key_is_list(const rs__key *k) {
  return k->type == RS__T_INT_LIST || k->type == RS__T_INT64_LIST ||
         k->type == RS__T_DOUBLE_LIST;
}

const char *rs__key_type_name(const rs__key *k) {
  switch (k->type) {
  case RS__T_INT: return "int";
  case RS__T_INT64: return "int64";
  case RS__T_DOUBLE: return "double";
  case RS__T_BOOL: return "bool";
  case RS__T_STRING: return "string";
  case RS__T_PATH: return "path";
  case RS__T_ENUM: return "enum";
  case RS__T_INT_LIST: return "list of int";
  case RS__T_INT64_LIST: return "list of int64";
  case RS__T_DOUBLE_LIST: return "list of double";
  }
  return "?";
}

static void range_text(const rs__key *k, char *buf, size_t len) {
  bool has_lo = isfinite(k->lo), has_hi = isfinite(k->hi);
  if (has_lo && has_hi)
    snprintf(buf, len, "in %c%g, %g%c", k->lo_open ? '(' : '[', k->lo, k->hi,
             k->hi_open ? ')' : ']');
  else if (has_lo)
    snprintf(buf, len, "%s %g", k->lo_open ? ">" : ">=", k->lo);
  else if (has_hi)
    snprintf(buf, len, "%s %g", k->hi_open ? "<" : "<=", k->hi);
  else
    buf[0] = '\0';
}

static void enum_list(const rs__key *k, const char *sep, char *buf, size_t len) {
  size_t n = 0;
  buf[0] = '\0';
  for (int i = 0; k->enums[i]; i++)
    n += (size_t)snprintf(buf + n, n < len ? len - n : 0, "%s%s", i ? sep : "", k->enums[i]);
}

void rs__key_expect(const rs__key *k, char *buf, size_t len) {
  char r[64];
  range_text(k, r, sizeof r);
  const char *sp = r[0] ? " " : "";
  switch (k->type) {
  case RS__T_INT: snprintf(buf, len, "an integer%s%s", sp, r); break;
  case RS__T_INT64: snprintf(buf, len, "an integer%s%s", sp, r); break;
  case RS__T_DOUBLE: snprintf(buf, len, "a number%s%s", sp, r); break;
  case RS__T_BOOL: snprintf(buf, len, "true or false"); break;
  case RS__T_STRING:
  case RS__T_PATH: snprintf(buf, len, "a %s of at most %d characters", rs__key_type_name(k), k->cap - 1); break;
  case RS__T_ENUM: {
    char e[256];
    enum_list(k, ", ", e, sizeof e);
    snprintf(buf, len, "one of %s", e);
    break;
  }
  case RS__T_INT_LIST:
  case RS__T_INT64_LIST:
  case RS__T_DOUBLE_LIST:
    snprintf(buf, len, "a list of %d..%d %s%s%s", k->min_len, k->cap,
             k->type == RS__T_DOUBLE_LIST ? "numbers" : "integers", r[0] ? ", each " : "", r);
    break;
  }
}

void rs__key_allowed(const rs__key *k, char *buf, size_t len) {
  char r[64];
  range_text(k, r, sizeof r);
  switch (k->type) {
  case RS__T_ENUM: enum_list(k, ", ", buf, len); break;
  case RS__T_BOOL: snprintf(buf, len, "true, false"); break;
  case RS__T_STRING:
  case RS__T_PATH: snprintf(buf, len, "at most %d characters", k->cap - 1); break;
  case RS__T_INT_LIST:
  case RS__T_INT64_LIST:
  case RS__T_DOUBLE_LIST:
    snprintf(buf, len, "%d..%d entries%s%s", k->min_len, k->cap, r[0] ? ", each " : "", r);
    break;
  default: snprintf(buf, len, "%s", r[0] ? r : "any"); break;
  }
}

/* Numbers are written in plain decimal or exponent form; this rejects the
 * hex, inf and nan spellings strtod would otherwise accept. */
static bool number_chars(const char *t) {
  if (!*t) return false;
  for (const char *p = t; *p; p++)
    if (!strchr("0123456789+-.eE", *p)) return false;
  return true;
}

static bool parse_double(const char *t, double *v) {
  if (!number_chars(t)) return false;
  char *end;
  errno = 0;
  *v = strtod(t, &end);
  return *end == '\0' && errno == 0 && isfinite(*v);
}

/* Integers may be written 1000000 or 1e6; 1.5 is not an integer. */
static bool parse_int64(const char *t, int64_t *v) {
  if (!number_chars(t)) return false;
  char *end;
  errno = 0;
  long long x = strtoll(t, &end, 10);
  if (*end == '\0' && errno == 0) {
    *v = x;
    return true;
  }
  double d;
  if (!parse_double(t, &d) || d != floor(d) || fabs(d) >= 9.2e18) return false;
  *v = (int64_t)d;
  return true;
}

static bool in_range(const rs__key *k, double v) {
  if (k->lo_open ? !(v > k->lo) : !(v >= k->lo)) return false;
  if (k->hi_open ? !(v < k->hi) : !(v <= k->hi)) return false;
  return true;
}

/* Converts one element (scalar value or list entry) into dst. */
static bool convert(const rs__key *k, const char *t, void *dst, char *err, size_t errlen,
                    const char *what) {
  char exp[512];
  rs__key_expect(k, exp, sizeof exp);
  switch (k->type) {
  case RS__T_INT:
  case RS__T_INT_LIST:
  case RS__T_INT64:
  case RS__T_INT64_LIST: {
    int64_t v;
    bool is_int = k->type == RS__T_INT || k->type == RS__T_INT_LIST;
    if (!parse_int64(t, &v)) {
      snprintf(err, errlen, "%s'%s' is not an integer; expected %s", what, t, exp);
      return false;
    }
    if (!in_range(k, (double)v) || (is_int && (v > INT_MAX || v < INT_MIN))) {
      snprintf(err, errlen, "%s%s is out of range; expected %s", what, t, exp);
      return false;
    }
    if (is_int)
      *(int *)dst = (int)v;
    else
      *(int64_t *)dst = v;
    return true;
  }
  case RS__T_DOUBLE:
  case RS__T_DOUBLE_LIST: {
    double v;
    if (!parse_double(t, &v)) {
      snprintf(err, errlen, "%s'%s' is not a number; expected %s", what, t, exp);
      return false;
    }
    if (!in_range(k, v)) {
      snprintf(err, errlen, "%s%s is out of range; expected %s", what, t, exp);
      return false;
    }
    *(double *)dst = v;
    return true;
  }
  case RS__T_BOOL:
    if (!strcmp(t, "true") || !strcmp(t, "True") || !strcmp(t, "TRUE")) {
      *(bool *)dst = true;
      return true;
    }
    if (!strcmp(t, "false") || !strcmp(t, "False") || !strcmp(t, "FALSE")) {
      *(bool *)dst = false;
      return true;
    }
    snprintf(err, errlen, "'%s' is not a boolean; expected %s", t, exp);
    return false;
  case RS__T_STRING:
  case RS__T_PATH:
    if (strlen(t) >= (size_t)k->cap) {
      snprintf(err, errlen, "value is %zu characters long; expected %s", strlen(t), exp);
      return false;
    }
    /* Zero the tail too, so equal configurations are equal bytes. */
    memset(dst, 0, (size_t)k->cap);
    memcpy(dst, t, strlen(t));
    return true;
  case RS__T_ENUM:
    for (int i = 0; k->enums[i]; i++)
      if (!strcmp(t, k->enums[i])) {
        *(int *)dst = i;
        return true;
      }
    snprintf(err, errlen, "'%s' is not allowed; expected %s", t, exp);
    return false;
  }
  RS_ASSERT(0);
  return false;
}

bool rs__key_set_scalar(const rs__key *k, const char *text, rs_config *c, char *err,
                        size_t errlen) {
  if (rs__key_is_list(k)) {
    char exp[512];
    rs__key_expect(k, exp, sizeof exp);
    snprintf(err, errlen, "got a single value '%s'; expected %s, e.g. [1, 2]", text, exp);
    return false;
  }
  return convert(k, text, (char *)c + k->off, err, errlen, "");
}

static size_t elem_size(const rs__key *k) {
  return k->type == RS__T_INT_LIST ? sizeof(int)
         : k->type == RS__T_INT64_LIST ? sizeof(int64_t)
                                       : sizeof(double);
}

bool rs__key_set_list(const rs__key *k, const char *const *items, int n, rs_config *c,
                      char *err, size_t errlen, int *bad) {
  char exp[512];
  if (bad) *bad = -1;
  rs__key_expect(k, exp, sizeof exp);
  if (!rs__key_is_list(k)) {
    snprintf(err, errlen, "got a list; expected %s", exp);
    return false;
  }
  if (n < k->min_len || n > k->cap) {
    snprintf(err, errlen, "list has %d entries; expected %s", n, exp);
    return false;
  }
  /* Convert into scratch first so a failure leaves c untouched. */
  unsigned char tmp[RS_MAX_CKPTS * sizeof(int64_t)];
  RS_ASSERT((size_t)k->cap * elem_size(k) <= sizeof tmp);
  for (int i = 0; i < n; i++) {
    char what[48];
    snprintf(what, sizeof what, "entry %d: ", i + 1);
    if (!convert(k, items[i], tmp + (size_t)i * elem_size(k), err, errlen, what)) {
      if (bad) *bad = i;
      return false;
    }
  }
  memcpy((char *)c + k->off, tmp, (size_t)n * elem_size(k));
  *(int *)((char *)c + k->count_off) = n;
  return true;
}

void rs__key_format(const rs__key *k, const rs_config *c, char *buf, size_t len) {
  const char *p = (const char *)c + k->off;
  switch (k->type) {
  case RS__T_INT: snprintf(buf, len, "%d", *(const int *)p); return;
  case RS__T_INT64: snprintf(buf, len, "%" PRId64, *(const int64_t *)p); return;
  case RS__T_DOUBLE: snprintf(buf, len, "%.6g", *(const double *)p); return;
  case RS__T_BOOL: snprintf(buf, len, "%s", *(const bool *)p ? "true" : "false"); return;
  case RS__T_STRING:
  case RS__T_PATH: snprintf(buf, len, "%s", p); return;
  case RS__T_ENUM: snprintf(buf, len, "%s", k->enums[*(const int *)p]); return;
  case RS__T_INT_LIST:
  case RS__T_INT64_LIST:
  case RS__T_DOUBLE_LIST: {
    int n = *(const int *)((const char *)c + k->count_off);
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && used < len; i++) {
      const char *sep = i ? "x" : "";
      if (k->type == RS__T_INT_LIST)
        used += (size_t)snprintf(buf + used, len - used, "%s%d", sep, ((const int *)p)[i]);
      else if (k->type == RS__T_INT64_LIST)
        used += (size_t)snprintf(buf + used, len - used, "%s%" PRId64, sep,
                                 ((const int64_t *)p)[i]);
      else
        used += (size_t)snprintf(buf + used, len - used, "%s%.6g", sep, ((const double *)p)[i]);
    }
    if (n == 0) snprintf(buf, len, "[]");
    return;
  }
  }
}
