/* Job files: YAML (libyaml) to a base rs_config plus a grid of overrides, the
 * Cartesian expansion into runs (last axis fastest), and every check a user
 * can fail, each reported as one line "FILE:LINE: KEY: problem; expected ...". */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "job_internal.h"
#include "ranksweep/rs_error.h"
#include "ranksweep/rs_job.h"

#define RS__MAX_RUNS 1000000

typedef struct {
  int line;
  int n;        /* entries (list-typed keys) */
  char **items; /* list-typed keys: the n entries; otherwise items[0] */
  bool is_list;
  char *text;   /* the value as shown in run names */
} rs__axis_value;

typedef struct {
  const rs__key *key;
  const char *label; /* last component of the key, or the key on a clash */
  int line;
  int nvals;
  rs__axis_value *vals;
  int64_t stride;
} rs__axis;

struct rs_job {
  char *origin;
  char *text;
  size_t len;
  char hash[65];
  char name[128];
  rs_config base;
  int *key_line; /* line where the base file sets each key (0: default) */
  int naxes;
  rs__axis *axes;
  int nruns;
  char **run_names;
  rs_config **runs; /* materialised on first use */
  int64_t archive_bytes; /* rs_job_archive_bytes, computed while the runs are checked */
};

typedef struct {
  const char *origin;
  yaml_document_t *doc;
  rs_job *job;
} pctx;

static const char *const top_keys[] = {"name", "seed", "data", "model", "train", "measure", "grid",
                                       NULL};
static const char *const sections[] = {"data", "model", "train", "measure", NULL};

static int jerr(const pctx *p, int line, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int jerr(const pctx *p, int line, const char *key, const char *fmt, ...) {
  char msg[900];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return rs_error(RS_EJOB, "%s:%d: %s: %s", p->origin, line, key, msg);
}

static int line_of(const yaml_node_t *n) { return (int)n->start_mark.line + 1; }
static const char *text_of(const yaml_node_t *n) { return (const char *)n->data.scalar.value; }
static yaml_node_t *node(const pctx *p, int i) { return yaml_document_get_node(p->doc, i); }

static const char *kind_of(const yaml_node_t *n) {
  switch (n->type) {
  case YAML_SCALAR_NODE: return "scalar";
  case YAML_SEQUENCE_NODE: return "list";
  case YAML_MAPPING_NODE: return "mapping";
  default: return "nothing";
  }
}

static bool is_null(const yaml_node_t *n) {
  if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return false;
  const char *t = text_of(n);
  return !*t || !strcmp(t, "~") || !strcmp(t, "null") || !strcmp(t, "Null") || !strcmp(t, "NULL");
}

static bool in_list(const char *s, const char *const *list) {
  for (int i = 0; list[i]; i++)
    if (!strcmp(s, list[i])) return true;
  return false;
}

static int key_index(const rs__key *k) { return (int)(k - rs__keys); }

/* Applies one YAML value (scalar or sequence) to c. */
static int set_node(const pctx *p, const rs__key *k, const yaml_node_t *n, rs_config *c) {
  char err[768], exp[512];
  rs__key_expect(k, exp, sizeof exp);
  if (n->type == YAML_SCALAR_NODE) {
    const char *t = text_of(n);
    if (is_null(n)) {
      if (k->type != RS__T_STRING && k->type != RS__T_PATH)
        return jerr(p, line_of(n), k->key, "no value; expected %s", exp);
      t = "";
    }
    if (!rs__key_set_scalar(k, t, c, err, sizeof err))
      return jerr(p, line_of(n), k->key, "%s", err);
    return RS_OK;
  }
  if (n->type == YAML_SEQUENCE_NODE) {
    if (!rs__key_is_list(k)) return jerr(p, line_of(n), k->key, "got a list; expected %s", exp);
    int cnt = (int)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (cnt > k->cap)
      return jerr(p, line_of(n), k->key, "list has %d entries; expected %s", cnt, exp);
    const char *items[RS_MAX_CKPTS];
    for (int i = 0; i < cnt; i++) {
      const yaml_node_t *it = node(p, n->data.sequence.items.start[i]);
      if (it->type != YAML_SCALAR_NODE)
        return jerr(p, line_of(it), k->key, "entry %d is a %s; expected %s", i + 1, kind_of(it),
                    exp);
      items[i] = text_of(it);
    }
    int bad;
    if (!rs__key_set_list(k, items, cnt, c, err, sizeof err, &bad)) {
      int line = bad >= 0 ? line_of(node(p, n->data.sequence.items.start[bad])) : line_of(n);
      return jerr(p, line, k->key, "%s", err);
    }
    return RS_OK;
  }
  return jerr(p, line_of(n), k->key, "got a %s; expected %s", kind_of(n), exp);
}

/* libyaml accepts repeated keys; a job file must not (the second would
 * silently win). prefix is "data." etc. for messages. */
static int check_keys(const pctx *p, const yaml_node_t *m, const char *prefix) {
  yaml_node_pair_t *b = m->data.mapping.pairs.start, *e = m->data.mapping.pairs.top;
  for (yaml_node_pair_t *i = b; i < e; i++) {
    const yaml_node_t *ki = node(p, i->key);
    if (ki->type != YAML_SCALAR_NODE)
      return jerr(p, line_of(ki), prefix[0] ? prefix : "(document)",
                  "a key is a %s; expected plain scalar keys", kind_of(ki));
    for (yaml_node_pair_t *j = b; j < i; j++) {
      const yaml_node_t *kj = node(p, j->key);
      if (!strcmp(text_of(ki), text_of(kj))) {
        char key[256];
        snprintf(key, sizeof key, "%s%s", prefix, text_of(ki));
        return jerr(p, line_of(ki), key, "duplicate key (first at line %d); expected each key "
                    "once", line_of(kj));
      }
    }
  }
  return RS_OK;
}

static void join(char *buf, size_t len, const char *const *list) {
  size_t n = 0;
  buf[0] = '\0';
  for (int i = 0; list[i] && n < len; i++)
    n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? ", " : "", list[i]);
}

static int unknown_in_section(const pctx *p, int line, const char *dotted, const char *section) {
  char known[800];
  size_t n = 0, plen = strlen(section);
  known[0] = '\0';
  for (int i = 0; i < rs__nkeys && n < sizeof known; i++)
    if (!strncmp(rs__keys[i].key, section, plen) && rs__keys[i].key[plen] == '.')
      n += (size_t)snprintf(known + n, sizeof known - n, "%s%s", n ? ", " : "",
                            rs__keys[i].key + plen + 1);
  const rs__key *s = rs__key_suggest(dotted);
  if (s)
    return jerr(p, line, dotted, "unknown key (did you mean %s?); expected one of %s: %s", s->key,
                section, known);
  return jerr(p, line, dotted, "unknown key; expected one of %s: %s", section, known);
}

static int unknown_top(const pctx *p, int line, const char *key) {
  char known[200];
  join(known, sizeof known, top_keys);
  const rs__key *k = rs__key_find(key);
  if (k && strchr(key, '.')) {
    const char *dot = strchr(key, '.');
    return jerr(p, line, key, "dotted keys are only allowed under grid; expected '%.*s:' with "
                "'%s:' inside it", (int)(dot - key), key, dot + 1);
  }
  const char *best = NULL;
  int bestd = 3;
  for (int i = 0; top_keys[i]; i++) {
    int d = rs__edit_distance(key, top_keys[i]);
    if (d < bestd) {
      bestd = d;
      best = top_keys[i];
    }
  }
  if (!best) {
    const rs__key *s = rs__key_suggest(key);
    if (s) best = s->key;
  }
  if (best)
    return jerr(p, line, key, "unknown key (did you mean %s?); expected one of %s", best, known);
  return jerr(p, line, key, "unknown key; expected one of %s", known);
}

static int parse_section(const pctx *p, const char *section, const yaml_node_t *kn,
                         const yaml_node_t *v) {
  if (v->type != YAML_MAPPING_NODE)
    return jerr(p, line_of(is_null(v) ? kn : v), section,
                "got %s%s; expected a mapping of %s keys (one per line, indented)",
                is_null(v) ? "no value" : "a ", is_null(v) ? "" : kind_of(v), section);
  char prefix[32];
  snprintf(prefix, sizeof prefix, "%s.", section);
  RS_CALL(check_keys(p, v, prefix));
  for (yaml_node_pair_t *q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top; q++) {
    const yaml_node_t *sk = node(p, q->key);
    char dotted[256];
    snprintf(dotted, sizeof dotted, "%s%s", prefix, text_of(sk));
    const rs__key *k = rs__key_find(dotted);
    if (!k) return unknown_in_section(p, line_of(sk), dotted, section);
    RS_CALL(set_node(p, k, node(p, q->value), &p->job->base));
    p->job->key_line[key_index(k)] = line_of(sk);
  }
  return RS_OK;
}

static void free_axes(rs_job *j) {
  for (int a = 0; a < j->naxes; a++) {
    rs__axis *ax = &j->axes[a];
    for (int v = 0; v < ax->nvals; v++) {
      for (int i = 0; i < ax->vals[v].n; i++) free(ax->vals[v].items[i]);
      free(ax->vals[v].items);
      free(ax->vals[v].text);
    }
    free(ax->vals);
  }
  free(j->axes);
  j->axes = NULL;
  j->naxes = 0;
}

static int grid_value(const pctx *p, rs__axis *ax, const yaml_node_t *v, rs__axis_value *out) {
  rs_config scratch;
  rs_config_defaults(&scratch);
  RS_CALL(set_node(p, ax->key, v, &scratch));
  out->line = line_of(v);
  out->is_list = v->type == YAML_SEQUENCE_NODE;
  out->n = out->is_list ? (int)(v->data.sequence.items.top - v->data.sequence.items.start) : 1;
  out->items = calloc((size_t)(out->n > 0 ? out->n : 1), sizeof(char *));
  char buf[1024];
  rs__key_format(ax->key, &scratch, buf, sizeof buf);
  out->text = strdup(buf);
  if (!out->items || !out->text) return rs_error(RS_ENOMEM, "out of memory reading a grid");
  for (int i = 0; i < out->n; i++) {
    const char *t = out->is_list ? text_of(node(p, v->data.sequence.items.start[i]))
                                 : (is_null(v) ? "" : text_of(v));
    if (!(out->items[i] = strdup(t))) return rs_error(RS_ENOMEM, "out of memory reading a grid");
  }
  return RS_OK;
}

static int parse_grid(const pctx *p, const yaml_node_t *kn, const yaml_node_t *g) {
  rs_job *j = p->job;
  const char *eg = "expected a mapping from dotted keys to lists of values, e.g. "
                   "'train.lr: [1e-3, 1e-4]'";
  if (g->type != YAML_MAPPING_NODE) {
    if (is_null(g)) return jerr(p, line_of(kn), "grid", "no value; %s (or remove grid)", eg);
    return jerr(p, line_of(g), "grid", "got a %s; %s", kind_of(g), eg);
  }
  int npairs = (int)(g->data.mapping.pairs.top - g->data.mapping.pairs.start);
  if (npairs == 0) return jerr(p, line_of(g), "grid", "empty grid; %s (or remove grid)", eg);
  RS_CALL(check_keys(p, g, ""));
  j->axes = calloc((size_t)npairs, sizeof *j->axes);
  if (!j->axes) return rs_error(RS_ENOMEM, "out of memory reading a grid");
  int64_t nruns = 1;
  for (int a = 0; a < npairs; a++) {
    yaml_node_pair_t *q = &g->data.mapping.pairs.start[a];
    const yaml_node_t *kk = node(p, q->key), *v = node(p, q->value);
    const char *kt = text_of(kk);
    const rs__key *k = rs__key_find(kt);
    if (!k) {
      const rs__key *s = rs__key_suggest(kt);
      if (s)
        return jerr(p, line_of(kk), kt, "not a known key (did you mean %s?); expected a dotted "
                    "key such as train.lr", s->key);
      return jerr(p, line_of(kk), kt, "not a known key; expected a dotted key such as train.lr "
                  "(see the key reference)");
    }
    if (k->no_grid)
      return jerr(p, line_of(kk), kt, "cannot be a grid axis; expected a dotted key such as "
                  "train.lr");
    rs__axis *ax = &j->axes[j->naxes++];
    ax->key = k;
    ax->line = line_of(kk);
    const char *vexp = rs__key_is_list(k)
                           ? "expected a non-empty list of values, each itself a list, e.g. "
                             "[[200, 200], [100, 100, 100]]"
                           : "expected a non-empty list of values, e.g. [1, 2]";
    if (v->type != YAML_SEQUENCE_NODE)
      return jerr(p, line_of(is_null(v) ? kk : v), kt, "got %s%s; %s",
                  is_null(v) ? "no value" : "a ", is_null(v) ? "" : kind_of(v), vexp);
    int nv = (int)(v->data.sequence.items.top - v->data.sequence.items.start);
    if (nv == 0) return jerr(p, line_of(v), kt, "empty list of values; %s", vexp);
    ax->vals = calloc((size_t)nv, sizeof *ax->vals);
    if (!ax->vals) return rs_error(RS_ENOMEM, "out of memory reading a grid");
    for (int i = 0; i < nv; i++) {
      const yaml_node_t *item = node(p, v->data.sequence.items.start[i]);
      if (rs__key_is_list(k) && item->type == YAML_SCALAR_NODE)
        return jerr(p, line_of(item), kt, "value %d is a single value '%s'; %s", i + 1,
                    text_of(item), vexp);
      RS_CALL(grid_value(p, ax, item, &ax->vals[ax->nvals]));
      ax->nvals++;
      for (int w = 0; w < i; w++)
        if (!strcmp(ax->vals[w].text, ax->vals[i].text))
          return jerr(p, line_of(item), kt, "value %d (%s) repeats value %d (line %d); "
                      "expected distinct values", i + 1, ax->vals[i].text, w + 1,
                      ax->vals[w].line);
    }
    nruns *= nv;
    if (nruns > RS__MAX_RUNS)
      return jerr(p, line_of(kk), kt, "the grid expands to more than %d runs; expected fewer "
                  "values or axes", RS__MAX_RUNS);
  }
  j->nruns = (int)nruns;
  int64_t stride = 1;
  for (int a = j->naxes - 1; a >= 0; a--) {
    j->axes[a].stride = stride;
    stride *= j->axes[a].nvals;
  }
  /* Short labels unless two axes share a last component (seed, data.seed). */
  for (int a = 0; a < j->naxes; a++) {
    const char *ka = j->axes[a].key->key, *la = strrchr(ka, '.');
    la = la ? la + 1 : ka;
    j->axes[a].label = la;
    for (int b = 0; b < j->naxes; b++) {
      const char *kb = j->axes[b].key->key, *lb = strrchr(kb, '.');
      lb = lb ? lb + 1 : kb;
      if (a != b && !strcmp(la, lb)) j->axes[a].label = ka;
    }
  }
  return RS_OK;
}

/* Base plus run r's axis values; lines (if given) gets where each value came
 * from, for cross-field messages. */
static void materialize(const rs_job *j, int r, rs_config *c, int *lines) {
  memcpy(c, &j->base, sizeof *c);
  if (lines) memcpy(lines, j->key_line, sizeof(int) * (size_t)rs__nkeys);
  for (int a = 0; a < j->naxes; a++) {
    const rs__axis *ax = &j->axes[a];
    const rs__axis_value *v = &ax->vals[(r / ax->stride) % ax->nvals];
    char err[768];
    bool ok = v->is_list ? rs__key_set_list(ax->key, (const char *const *)v->items, v->n, c, err,
                                            sizeof err, NULL)
                         : rs__key_set_scalar(ax->key, v->items[0], c, err, sizeof err);
    RS_ASSERT(ok); /* every value was checked when the grid was read */
    if (lines) lines[key_index(ax->key)] = v->line;
  }
  rs__config_layers(c);
  memset(c->name, 0, sizeof c->name);
  memcpy(c->name, j->run_names[r], strlen(j->run_names[r]));
}

static int cross_err(const pctx *p, const int *lines, const char *ka, const char *kb, int r,
                     const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static int cross_err(const pctx *p, const int *lines, const char *ka, const char *kb, int r,
                     const char *fmt, ...) {
  int la = lines[key_index(rs__key_find(ka))];
  int lb = kb ? lines[key_index(rs__key_find(kb))] : 0;
  const char *key = (la || !lb) ? ka : kb;
  int line = la ? la : lb ? lb : 1;
  char msg[800];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return jerr(p, line, key, "run %d (%s): %s", r, p->job->run_names[r], msg);
}

/* The bounds of rs_config.h: sizes a job can ask for, each named with the
 * key that sets it, checked before any schedule is enumerated. */
static int check_bounds(const pctx *p, int r, const rs_config *c, const int *lines) {
  for (int i = 0; i < c->model.nwidths; i++)
    if (c->model.widths[i] > RS_MAX_WIDTH)
      return cross_err(p, lines, c->model.width ? "model.width" : "model.widths", NULL, r,
                       "width %d is %d; expected at most %d", i + 1, c->model.widths[i],
                       RS_MAX_WIDTH);
  if (c->data.dim > RS_MAX_WIDTH)
    return cross_err(p, lines, "data.dim", NULL, r, "%d; expected at most %d", c->data.dim,
                     RS_MAX_WIDTH);
  if (c->model.kind == RS_MODEL_VIB && c->model.latent > RS_MAX_WIDTH)
    return cross_err(p, lines, "model.latent", NULL, r, "%d; expected at most %d",
                     c->model.latent, RS_MAX_WIDTH);
  if (c->measure.points > RS_MAX_POINTS)
    return cross_err(p, lines, "measure.points", NULL, r, "%d; expected at most %d",
                     c->measure.points, RS_MAX_POINTS);
  if (c->data.train_size > RS_MAX_EXAMPLES)
    return cross_err(p, lines, "data.train_size", NULL, r, "%d; expected at most %d",
                     c->data.train_size, RS_MAX_EXAMPLES);
  if (c->data.heldout_size > RS_MAX_EXAMPLES)
    return cross_err(p, lines, "data.heldout_size", NULL, r, "%d; expected at most %d",
                     c->data.heldout_size, RS_MAX_EXAMPLES);
  if (c->measure.schedule == RS_CKPT_LOG && c->measure.log_points > RS_MAX_RUN_CKPTS)
    return cross_err(p, lines, "measure.log_points", NULL, r, "%d; expected at most %d",
                     c->measure.log_points, RS_MAX_RUN_CKPTS);
  int nck = rs_config_checkpoints(c, NULL, 0);
  if (nck > RS_MAX_RUN_CKPTS)
    return cross_err(p, lines, c->measure.schedule == RS_CKPT_LINEAR ? "measure.every" : "train.steps",
                     "train.steps", r,
                     "%s%d checkpoints per run; expected at most %d (a larger measure.every or "
                     "fewer train.steps)", nck == INT_MAX ? "more than " : "", nck,
                     RS_MAX_RUN_CKPTS);
  rs_run_shape sh;
  rs_config_shape(c, NULL, &sh);
  int64_t np = sh.nparams;
  if (np > RS_MAX_PARAMS || np < 0)
    return cross_err(p, lines, "model.widths", NULL, r,
                     "%lld parameters; expected at most %lld (narrower or fewer layers)",
                     (long long)np, (long long)RS_MAX_PARAMS);
  return RS_OK;
}

static int check_run(const pctx *p, int r, const rs_config *c, const int *lines) {
  RS_CALL(check_bounds(p, r, c, lines));
  if (c->train.batch > c->data.train_size)
    return cross_err(p, lines, "train.batch", "data.train_size", r,
                     "batch %d exceeds data.train_size %d; expected train.batch <= "
                     "data.train_size", c->train.batch, c->data.train_size);
  if (c->measure.points > c->data.heldout_size)
    return cross_err(p, lines, "measure.points", "data.heldout_size", r,
                     "%d points exceed data.heldout_size %d; expected measure.points <= "
                     "data.heldout_size", c->measure.points, c->data.heldout_size);
  if (c->measure.shard > c->measure.points)
    return cross_err(p, lines, "measure.shard", "measure.points", r,
                     "shard %d exceeds measure.points %d; expected measure.shard <= "
                     "measure.points (or 0)", c->measure.shard, c->measure.points);
  if (c->data.kind == RS_DATA_TEACHER && c->data.teacher_rank > c->data.dim)
    return cross_err(p, lines, "data.teacher_rank", "data.dim", r,
                     "rank %d exceeds data.dim %d; expected data.teacher_rank <= data.dim",
                     c->data.teacher_rank, c->data.dim);
  if (c->data.kind == RS_DATA_GAUSSIAN_IB && c->data.nrho > c->data.dim)
    return cross_err(p, lines, "data.rho", "data.dim", r,
                     "%d correlations exceed data.dim %d; expected at most data.dim entries",
                     c->data.nrho, c->data.dim);
  if (c->data.kind == RS_DATA_IDX &&
      (c->data.heldout_images[0] == '\0') != (c->data.heldout_labels[0] == '\0'))
    return cross_err(p, lines, "data.heldout_images", "data.heldout_labels", r,
                     "only one of data.heldout_images and data.heldout_labels is set; expected "
                     "both or neither");
  if (c->train.loss == RS_LOSS_CROSS_ENTROPY &&
      (c->data.kind == RS_DATA_TEACHER || c->data.kind == RS_DATA_GAUSSIAN_IB))
    return cross_err(p, lines, "train.loss", "data.kind", r,
                     "cross_entropy needs class labels but data.kind is %s; expected "
                     "train.loss mse or auto, or data.kind gaussian_mixture or idx",
                     c->data.kind == RS_DATA_TEACHER ? "teacher" : "gaussian_ib");
  if (c->measure.schedule == RS_CKPT_LIST)
    for (int i = 0; i < c->measure.nlist; i++)
      if (c->measure.list[i] > c->train.steps)
        return cross_err(p, lines, "measure.list", "train.steps", r,
                         "entry %d (%lld) is after the last step %lld; expected entries within "
                         "[0, train.steps]", i + 1, (long long)c->measure.list[i],
                         (long long)c->train.steps);
  return RS_OK;
}

static int expand(const pctx *p) {
  rs_job *j = p->job;
  if (j->naxes == 0) j->nruns = 1;
  j->run_names = calloc((size_t)j->nruns, sizeof(char *));
  j->runs = calloc((size_t)j->nruns, sizeof(rs_config *));
  if (!j->run_names || !j->runs) return rs_error(RS_ENOMEM, "out of memory expanding the grid");
  for (int r = 0; r < j->nruns; r++) {
    char buf[4096];
    size_t n = 0;
    if (j->naxes == 0) snprintf(buf, sizeof buf, "base");
    for (int a = 0; a < j->naxes && n < sizeof buf; a++) {
      const rs__axis *ax = &j->axes[a];
      n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s=%s", a ? "," : "", ax->label,
                            ax->vals[(r / ax->stride) % ax->nvals].text);
    }
    if (strlen(buf) >= sizeof j->base.name)
      return jerr(p, j->axes[0].line, "grid", "run %d's name '%s' is longer than %zu characters; "
                  "expected shorter values or fewer axes", r, buf, sizeof j->base.name - 1);
    if (!(j->run_names[r] = strdup(buf))) return rs_error(RS_ENOMEM, "out of memory");
  }
  int *lines = malloc(sizeof(int) * (size_t)rs__nkeys);
  rs_config *c = malloc(sizeof *c);
  int err = (lines && c) ? RS_OK : rs_error(RS_ENOMEM, "out of memory");
  rs__archive_dims dims;
  rs__archive_dims_init(&dims);
  for (int r = 0; r < j->nruns && err == RS_OK; r++) {
    materialize(j, r, c, lines);
    err = check_run(p, r, c, lines);
    if (err == RS_OK) rs__archive_dims_add(&dims, c);
  }
  free(lines);
  free(c);
  if (err == RS_OK) {
    j->archive_bytes = rs__archive_dims_bytes(&dims);
    if (j->archive_bytes > RS_MAX_ARCHIVE_BYTES)
      err = jerr(p, j->naxes ? j->axes[0].line : 1, "grid",
                 "the archive would hold about %.3g GB; expected at most %.3g GB (fewer runs, "
                 "checkpoints or measure.points, or measure.save_weights: final)",
                 (double)j->archive_bytes / 1e9, (double)RS_MAX_ARCHIVE_BYTES / 1e9);
  }
  return err;
}

/* Where the job sets key (the base file or a grid axis), or 0. */
static int set_at(const rs_job *j, const char *key) {
  const rs__key *k = rs__key_find(key);
  for (int a = 0; a < j->naxes; a++)
    if (j->axes[a].key == k) return j->axes[a].line;
  return j->key_line[key_index(k)];
}

/* The hidden layers are given one way: a list of widths, or one width and a
 * depth (each alone keeps the other's default). */
static int check_layer_keys(const pctx *p) {
  int lw = set_at(p->job, "model.widths");
  int lwd = set_at(p->job, "model.width"), ld = set_at(p->job, "model.depth");
  if (lw && (lwd || ld)) {
    const char *k = lwd ? "model.width" : "model.depth";
    return jerr(p, lwd ? lwd : ld, k, "given together with model.widths (line %d); expected "
                "either model.widths (a list of layer widths) or model.width and model.depth",
                lw);
  }
  return RS_OK;
}

static int parse_root(const pctx *p, const yaml_node_t *root) {
  char known[200];
  join(known, sizeof known, top_keys);
  if (root->type != YAML_MAPPING_NODE)
    return jerr(p, line_of(root), "(document)", "got a %s; expected a mapping with keys %s",
                kind_of(root), known);
  RS_CALL(check_keys(p, root, ""));
  const yaml_node_t *grid = NULL, *grid_key = NULL;
  for (yaml_node_pair_t *q = root->data.mapping.pairs.start; q < root->data.mapping.pairs.top;
       q++) {
    const yaml_node_t *kn = node(p, q->key), *v = node(p, q->value);
    const char *kt = text_of(kn);
    if (!strcmp(kt, "grid")) {
      grid = v;
      grid_key = kn;
    } else if (in_list(kt, sections)) {
      RS_CALL(parse_section(p, kt, kn, v));
    } else if (in_list(kt, top_keys)) {
      const rs__key *k = rs__key_find(kt);
      RS_ASSERT(k);
      RS_CALL(set_node(p, k, v, &p->job->base));
      p->job->key_line[key_index(k)] = line_of(kn);
    } else {
      return unknown_top(p, line_of(kn), kt);
    }
  }
  snprintf(p->job->name, sizeof p->job->name, "%s", p->job->base.name);
  if (grid) RS_CALL(parse_grid(p, grid_key, grid));
  return check_layer_keys(p);
}

static int syntax_error(const pctx *p, const yaml_parser_t *ps) {
  const yaml_mark_t *m = ps->problem ? &ps->problem_mark : &ps->context_mark;
  if (ps->error == YAML_MEMORY_ERROR) return rs_error(RS_ENOMEM, "out of memory parsing YAML");
  char where[48] = "";
  if (ps->context && ps->problem && ps->context_mark.line != ps->problem_mark.line)
    snprintf(where, sizeof where, " started at line %d", (int)ps->context_mark.line + 1);
  return jerr(p, (int)m->line + 1, "(yaml)", "syntax error: %s%s%s%s; expected valid YAML",
              ps->problem ? ps->problem : "unknown problem", ps->context ? " " : "",
              ps->context ? ps->context : "", where);
}

/* Before libyaml sees the text: its parser is quadratic or worse on deep
 * nesting (200 KB of '[' took minutes), so the size and the depth of flow
 * brackets and of indentation are bounded here. Quotes and comments are
 * skipped; the scan is approximate only in being stricter. */
static int check_shape(const pctx *p) {
  const char *t = p->job->text;
  size_t len = p->job->len;
  if (len > RS_MAX_JOB_BYTES)
    return jerr(p, 1, "(document)", "the file has %zu bytes; expected at most %d", len,
                RS_MAX_JOB_BYTES);
  int depth = 0, line = 1, levels = 0;
  int indents[RS_MAX_JOB_DEPTH + 2];
  bool at_start = true;
  char quote = 0;
  for (size_t i = 0; i < len; i++) {
    char ch = t[i];
    if (ch == '\0')
      return jerr(p, line, "(document)", "a NUL byte; expected text");
    if (ch == '\n') {
      line++;
      at_start = true;
      if (quote == '\'') quote = 0; /* single-quoted scalars rarely span lines */
      continue;
    }
    if (at_start) {
      size_t k = i;
      while (k < len && (t[k] == ' ' || t[k] == '-' || t[k] == '?' || t[k] == ':')) {
        /* "- - - x" nests a sequence per dash: count the column reached */
        k++;
      }
      if (k < len && t[k] != '\n' && t[k] != '#' && !quote) {
        int col = (int)(k - i);
        while (levels > 0 && indents[levels - 1] >= col) levels--;
        if (levels == 0 || indents[levels - 1] < col) {
          if (levels > RS_MAX_JOB_DEPTH)
            return jerr(p, line, "(document)", "nested more than %d levels deep; expected a "
                        "flatter job file", RS_MAX_JOB_DEPTH);
          indents[levels++] = col;
        }
        int dashes = 0;
        for (size_t q = i; q < k; q++) dashes += t[q] == '-';
        if (levels + dashes > RS_MAX_JOB_DEPTH + 1)
          return jerr(p, line, "(document)", "nested more than %d levels deep; expected a "
                      "flatter job file", RS_MAX_JOB_DEPTH);
      }
      at_start = false;
    }
    if (quote) {
      if (ch == quote && (quote == '\'' || t[i - 1] != '\\')) quote = 0;
      continue;
    }
    if (ch == '#' && (i == 0 || t[i - 1] == ' ' || t[i - 1] == '\t')) {
      while (i + 1 < len && t[i + 1] != '\n') i++;
    } else if (ch == '"' || ch == '\'') {
      quote = ch;
    } else if (ch == '[' || ch == '{') {
      if (++depth > RS_MAX_JOB_DEPTH)
        return jerr(p, line, "(document)", "brackets nested more than %d deep; expected a "
                    "flatter job file", RS_MAX_JOB_DEPTH);
    } else if ((ch == ']' || ch == '}') && depth > 0) {
      depth--;
    }
  }
  return RS_OK;
}

static int parse_text(const pctx *p) {
  RS_CALL(check_shape(p));
  yaml_parser_t ps;
  yaml_document_t doc, extra;
  int err = RS_OK;
  if (!yaml_parser_initialize(&ps)) return rs_error(RS_ENOMEM, "out of memory parsing YAML");
  yaml_parser_set_input_string(&ps, (const unsigned char *)p->job->text, p->job->len);
  if (!yaml_parser_load(&ps, &doc)) {
    err = syntax_error(p, &ps);
    yaml_parser_delete(&ps);
    return err;
  }
  pctx q = *p;
  q.doc = &doc;
  const yaml_node_t *root = yaml_document_get_root_node(&doc);
  if (!root) {
    char known[200];
    join(known, sizeof known, top_keys);
    err = jerr(p, 1, "(document)", "empty job file; expected a mapping with keys %s", known);
  } else {
    if (!yaml_parser_load(&ps, &extra)) {
      err = syntax_error(p, &ps);
    } else {
      const yaml_node_t *r2 = yaml_document_get_root_node(&extra);
      if (r2) err = jerr(p, line_of(r2), "(document)", "a second YAML document; expected one");
      yaml_document_delete(&extra);
    }
    if (err == RS_OK) err = parse_root(&q, root);
  }
  yaml_document_delete(&doc);
  yaml_parser_delete(&ps);
  if (err == RS_OK) err = expand(&q);
  return err;
}

int rs_job_parse(const char *text, size_t len, const char *origin, rs_job **out) {
  RS_ASSERT(out);
  *out = NULL;
  rs_job *j = calloc(1, sizeof *j);
  if (!j) return rs_error(RS_ENOMEM, "out of memory");
  j->origin = strdup(origin ? origin : "(job)");
  j->text = malloc(len + 1);
  j->key_line = calloc((size_t)rs__nkeys, sizeof(int));
  if (!j->origin || !j->text || !j->key_line) {
    rs_job_destroy(&j);
    return rs_error(RS_ENOMEM, "out of memory");
  }
  memcpy(j->text, text, len);
  j->text[len] = '\0';
  j->len = len;
  rs__sha256_hex(text, len, j->hash);
  rs_config_defaults(&j->base);
  pctx p = {.origin = j->origin, .doc = NULL, .job = j};
  int err = parse_text(&p);
  if (err != RS_OK) rs_job_destroy(&j);
  RS_CALL(err);
  *out = j;
  return RS_OK;
}

int rs_job_load(const char *path, rs_job **out) {
  RS_ASSERT(out);
  *out = NULL;
  /* O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused. */
  int fd = open(path, O_RDONLY | O_NONBLOCK);
  if (fd < 0) return rs_error(RS_EIO, "%s: cannot open job file: %s", path, strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return rs_error(RS_EJOB, "%s: not a regular file; expected a YAML job file", path);
  }
  if (st.st_size > RS_MAX_JOB_BYTES) {
    close(fd);
    return rs_error(RS_EJOB, "%s:1: (document): the file has %lld bytes; expected at most %d",
                    path, (long long)st.st_size, RS_MAX_JOB_BYTES);
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  FILE *f = fdopen(fd, "rb");
  if (!f) {
    close(fd);
    return rs_error(RS_EIO, "%s: cannot open job file: %s", path, strerror(errno));
  }
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap);
  while (buf) {
    len += fread(buf + len, 1, cap - len, f);
    if (len < cap) break;
    char *nb = realloc(buf, cap *= 2);
    if (!nb) free(buf);
    buf = nb;
  }
  int bad = ferror(f);
  fclose(f);
  if (!buf) return rs_error(RS_ENOMEM, "%s: out of memory reading the job file", path);
  if (bad) {
    free(buf);
    return rs_error(RS_EIO, "%s: read error", path);
  }
  int err = rs_job_parse(buf, len, path, out);
  free(buf);
  return err;
}

void rs_job_destroy(rs_job **job) {
  if (!job || !*job) return;
  rs_job *j = *job;
  free_axes(j);
  if (j->run_names)
    for (int r = 0; r < j->nruns; r++) free(j->run_names[r]);
  if (j->runs)
    for (int r = 0; r < j->nruns; r++) free(j->runs[r]);
  free(j->run_names);
  free(j->runs);
  free(j->key_line);
  free(j->text);
  free(j->origin);
  free(j);
  *job = NULL;
}

const char *rs_job_name(const rs_job *job) { return job->name; }
const char *rs_job_origin(const rs_job *job) { return job->origin; }
int rs_job_nruns(const rs_job *job) { return job->nruns; }

/* Runs are materialised lazily so an engine rank holding a huge grid only
 * pays for the runs it touches. Not thread-safe. */
const rs_config *rs_job_run(const rs_job *job, int run) {
  RS_ASSERT(run >= 0 && run < job->nruns);
  if (!job->runs[run]) {
    rs_config *c = malloc(sizeof *c);
    if (!c) return NULL;
    materialize(job, run, c, NULL);
    job->runs[run] = c;
  }
  return job->runs[run];
}

void rs__job_run_into(const rs_job *job, int run, rs_config *c) {
  RS_ASSERT(run >= 0 && run < job->nruns);
  materialize(job, run, c, NULL);
}

const char *rs_job_run_name(const rs_job *job, int run) {
  RS_ASSERT(run >= 0 && run < job->nruns);
  return job->run_names[run];
}

int rs_job_naxes(const rs_job *job) { return job->naxes; }

const char *rs_job_axis_key(const rs_job *job, int axis) {
  RS_ASSERT(axis >= 0 && axis < job->naxes);
  return job->axes[axis].key->key;
}

const char *rs_job_run_value(const rs_job *job, int run, int axis) {
  RS_ASSERT(run >= 0 && run < job->nruns && axis >= 0 && axis < job->naxes);
  const rs__axis *ax = &job->axes[axis];
  return ax->vals[(run / ax->stride) % ax->nvals].text;
}

int64_t rs_job_archive_bytes(const rs_job *job) { return job->archive_bytes; }

const char *rs_job_text(const rs_job *job) { return job->text; }
const char *rs_job_hash(const rs_job *job) { return job->hash; }

extern const unsigned char rs__job_default_bytes[];
extern const size_t rs__job_default_len;

const char *rs_job_default_text(void) { return (const char *)rs__job_default_bytes; }

int rs_job_load_default(rs_job **job) {
  return rs_job_parse((const char *)rs__job_default_bytes, rs__job_default_len,
                      "jobs/quick.yaml (embedded)", job);
}
