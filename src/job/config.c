/* One run's configuration: defaults (read from the key table's default
 * texts, so the documented defaults are the applied ones), checkpoint
 * schedules, the loss resolution and a run's shape (rs_config_shape: the
 * layer sizes the plan, the job's limits, the sweep and the spectrum pass
 * all take from here). */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "job_internal.h"
#include "ranksweep/rs_error.h"
#include "ranksweep/rs_vocab.h"

/* Default texts are a scalar, a quoted string or a flow list of scalars. */
static void apply_default(const rs__key *k, rs_config *c) {
  char err[512], text[RS_PATH_MAX];
  const char *d = k->def;
  bool ok;
  if (d[0] == '[') {
    char buf[256];
    const char *items[RS_MAX_CKPTS];
    int n = 0;
    snprintf(buf, sizeof buf, "%s", d + 1);
    char *close = strchr(buf, ']');
    RS_ASSERT(close);
    *close = '\0';
    for (char *save = NULL, *tok = strtok_r(buf, ", ", &save); tok;
         tok = strtok_r(NULL, ", ", &save))
      items[n++] = tok;
    ok = rs__key_set_list(k, items, n, c, err, sizeof err, NULL);
  } else {
    size_t len = strlen(d);
    if (len >= 2 && d[0] == '"' && d[len - 1] == '"') {
      memcpy(text, d + 1, len - 2);
      text[len - 2] = '\0';
    } else {
      snprintf(text, sizeof text, "%s", d);
    }
    ok = rs__key_set_scalar(k, text, c, err, sizeof err);
  }
  if (!ok) fprintf(stderr, "ranksweep: default of %s: %s\n", k->key, err);
  RS_ASSERT(ok);
}

void rs_config_defaults(rs_config *c) {
  memset(c, 0, sizeof *c);
  for (int i = 0; i < rs__nkeys; i++) apply_default(&rs__keys[i], c);
}

void rs__config_layers(rs_config *c) {
  if (!c->model.width && !c->model.depth) return;
  /* Either alone keeps the other as model.widths' default has it (the job
   * refuses model.widths beside them, so these are its defaults). */
  int w = c->model.width ? c->model.width : c->model.widths[0];
  int d = c->model.depth ? c->model.depth : c->model.nwidths;
  RS_ASSERT(d >= 1 && d <= RS_MAX_LAYERS);
  for (int i = 0; i < d; i++) c->model.widths[i] = w;
  c->model.nwidths = d;
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* Appends v unless it repeats the previous value (inputs are ascending).
 * The count saturates: nothing is ever stored past cap. */
static void push(int64_t v, int64_t *steps, int cap, int *n, int64_t *last) {
  if (*n > 0 && v == *last) return;
  if (*n < cap) steps[*n] = v;
  *last = v;
  if (*n < INT_MAX) (*n)++;
}

int rs_config_data_files(const rs_config *c, const char *files[4], const char *keys[4]) {
  if (c->data.kind != RS_DATA_IDX && c->data.kind != RS_DATA_NPY) return 0;
  const char *f[4] = {c->data.images, c->data.labels, c->data.heldout_images,
                      c->data.heldout_labels};
  static const char *const k[4] = {"data.images", "data.labels", "data.heldout_images",
                                   "data.heldout_labels"};
  int n = 0;
  for (int i = 0; i < 4; i++) {
    if (!f[i][0]) continue;
    if (files) files[n] = f[i];
    if (keys) keys[n] = k[i];
    n++;
  }
  return n;
}

int rs_config_checkpoints(const rs_config *c, int64_t *steps, int cap) {
  int64_t total = c->train.steps, last = 0;
  int n = 0;
  RS_ASSERT(total >= 1);
  if (!steps) cap = 0;
  switch (c->measure.schedule) {
  case RS_CKPT_LOG: {
    /* numpy: logspace(0, log10(T), P) = 10 ** (i * (log10(T) / (P-1))), the
     * last exponent set to log10(T) exactly; .astype(int) truncates. The
     * values ascend, so uniqueness only needs the previous value. (P is
     * bounded by the job's checks: RS_MAX_RUN_CKPTS.) */
    int p = c->measure.log_points;
    double stop = log10((double)total);
    double step = p > 1 ? stop / (p - 1) : 0.0;
    push(0, steps, cap, &n, &last);
    for (int i = 0; i < p; i++) {
      double y = (p > 1 && i == p - 1) ? stop : (double)i * step;
      double pv = pow(10.0, y);
      int64_t v = pv >= (double)total ? total : (int64_t)pv;
      /* 10**log10(T) can round to T-1: the last point is T exactly. */
      if (i == p - 1 || v > total) v = total;
      push(v, steps, cap, &n, &last);
    }
    break;
  }
  case RS_CKPT_LINEAR: {
    /* 0, k, 2k, ... below T, then T: counted, not enumerated, so a huge
     * count (steps 1e12, every 1) costs nothing and overflows nothing. */
    int64_t every = c->measure.every;
    RS_ASSERT(every >= 1);
    int64_t count = total / every + (total % every != 0) + 1;
    n = count > INT_MAX ? INT_MAX : (int)count;
    for (int i = 0; i < cap && i < n; i++) steps[i] = i == n - 1 && count <= INT_MAX ? total : (int64_t)i * every;
    break;
  }
  case RS_CKPT_LIST: {
    int64_t all[RS_MAX_CKPTS + 2];
    int m = 0;
    all[m++] = 0;
    for (int i = 0; i < c->measure.nlist; i++) all[m++] = c->measure.list[i];
    all[m++] = total;
    qsort(all, (size_t)m, sizeof all[0], cmp_i64);
    for (int i = 0; i < m; i++) push(all[i], steps, cap, &n, &last);
    break;
  }
  }
  return n;
}

rs_loss rs_config_loss(const rs_config *c) {
  if (c->data.kind == RS_DATA_NPY) return c->train.loss; /* the labels' dtype decides, once read */
  rs_run_io io;
  rs_config_io(c, &io);
  return rs_loss_resolve(c->train.loss, io.classification);
}

void rs_config_io(const rs_config *c, rs_run_io *io) {
  switch (c->data.kind) {
  case RS_DATA_GAUSSIAN_MIXTURE: *io = (rs_run_io){c->data.dim, c->data.classes, true}; return;
  case RS_DATA_TEACHER: *io = (rs_run_io){c->data.dim, c->data.outputs, false}; return;
  case RS_DATA_GAUSSIAN_IB: *io = (rs_run_io){c->data.dim, c->data.nrho, false}; return;
  /* estimates: the files are not read here */
  case RS_DATA_IDX: *io = (rs_run_io){28 * 28, 10, true}; return;
  case RS_DATA_NPY: *io = (rs_run_io){c->data.dim, 10, true}; return;
  }
  RS_ASSERT(!"data.kind out of range");
}

void rs_config_shape(const rs_config *c, const rs_run_io *io, rs_run_shape *out) {
  memset(out, 0, sizeof *out);
  if (io) out->io = *io;
  else rs_config_io(c, &out->io);
  bool vib = c->model.kind == RS_MODEL_VIB;
  RS_ASSERT(c->model.nwidths >= 0 && c->model.nwidths <= RS_MAX_LAYERS);
  int n = 0;
  int64_t p = 0, in = out->io.d0;
  for (int i = 0; i < c->model.nwidths; i++) {
    int64_t w = c->model.widths[i];
    out->widths[n++] = (int)w;
    p += in * w + w;
    in = w;
  }
  if (vib) {
    int64_t k = c->model.latent;
    out->widths[n++] = (int)k; /* the mean head */
    p += in * 2 * k + 2 * k;   /* mean and scale rows */
    in = k;
    out->gaussian_decoder =
        rs_decoder_is_gaussian(c->model.decoder, c->train.loss, out->io.classification);
  }
  int64_t nout = out->io.outputs;
  p += in * nout + nout;
  if (out->gaussian_decoder) p += nout; /* log-stds */
  out->nmeasured = n;
  out->nweights = n + 1;
  out->nparams = p;
}
