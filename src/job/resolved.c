/* A run's configuration as exact text (every key of the key table, defaults
 * included, numbers at full precision) and its canonical fingerprint: what the
 * archive records per run and what `run --reuse` matches runs by. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job_internal.h"
#include "ranksweep/rs_error.h"
#include "ranksweep/rs_job.h"

/* The shortest of %.15g, %.16g, %.17g that reads back as the same double:
 * exact, and 0.1 stays 0.1. */
static int fmt_double(char *buf, size_t len, double v) {
  int n = 0;
  for (int prec = 15; prec <= 17; prec++) {
    n = snprintf(buf, len, "%.*g", prec, v);
    if (strtod(buf, NULL) == v) break;
  }
  return n;
}

/* Integers print exactly, doubles round-trip. */
static size_t fmt_value(const rs__key *k, const rs_config *c, char *buf, size_t len) {
  const char *p = (const char *)c + k->off;
  switch (k->type) {
  case RS__T_INT: return (size_t)snprintf(buf, len, "%d", *(const int *)p);
  case RS__T_INT64: return (size_t)snprintf(buf, len, "%" PRId64, *(const int64_t *)p);
  case RS__T_DOUBLE: return (size_t)fmt_double(buf, len, *(const double *)p);
  case RS__T_BOOL: return (size_t)snprintf(buf, len, "%s", *(const bool *)p ? "true" : "false");
  case RS__T_STRING:
  case RS__T_PATH: return (size_t)snprintf(buf, len, "\"%s\"", p);
  case RS__T_ENUM: return (size_t)snprintf(buf, len, "%s", k->enums[*(const int *)p]);
  default: break;
  }
  int n = *(const int *)((const char *)c + k->count_off);
  size_t used = (size_t)snprintf(buf, len, "[");
  for (int i = 0; i < n && used < len; i++) {
    const char *sep = i ? ", " : "";
    if (k->type == RS__T_INT_LIST)
      used += (size_t)snprintf(buf + used, len - used, "%s%d", sep, ((const int *)p)[i]);
    else if (k->type == RS__T_INT64_LIST)
      used += (size_t)snprintf(buf + used, len - used, "%s%" PRId64, sep, ((const int64_t *)p)[i]);
    else {
      used += (size_t)snprintf(buf + used, len - used, "%s", sep);
      if (used < len) used += (size_t)fmt_double(buf + used, len - used, ((const double *)p)[i]);
    }
  }
  if (used < len) used += (size_t)snprintf(buf + used, len - used, "]");
  return used;
}

/* Keys that never change a run's results: the job's name and how the
 * measurement is cut into tasks. */
static bool rs__key_neutral(const char *key) {
  return strcmp(key, "name") == 0 || strcmp(key, "measure.shard") == 0;
}

static char *build(const rs_config *c, bool canonical, rs_path_digest digest, void *ctx) {
  size_t cap = 4096, used = 0;
  char *out = malloc(cap);
  if (!out) return NULL;
  out[0] = '\0';
  for (int i = 0; i < rs__nkeys; i++) {
    const rs__key *k = &rs__keys[i];
    if (canonical && rs__key_neutral(k->key)) continue;
    /* model.width and model.depth are in model.widths already: recorded
     * when set, never hashed (the same layers hash alike however given) */
    if (k->derived && (canonical || *(const int *)((const char *)c + k->off) == 0)) continue;
    char val[RS_MAX_CKPTS * 24 + 64];
    if (canonical && k->type == RS__T_PATH && digest) {
      const char *path = (const char *)c + k->off;
      const char *d = path[0] ? digest(path, ctx) : "";
      snprintf(val, sizeof val, "\"%s\"", d ? d : "?");
    } else {
      fmt_value(k, c, val, sizeof val);
    }
    size_t need = strlen(k->key) + strlen(val) + 4;
    if (used + need >= cap) {
      while (used + need >= cap) cap *= 2;
      char *p = realloc(out, cap);
      if (!p) {
        free(out);
        return NULL;
      }
      out = p;
    }
    used += (size_t)snprintf(out + used, cap - used, "%s: %s\n", k->key, val);
  }
  return out;
}

char *rs_config_resolved_text(const rs_config *c) { return build(c, false, NULL, NULL); }

char *rs_config_canonical_text(const rs_config *c, rs_path_digest digest, void *ctx) {
  return build(c, true, digest, ctx);
}

int rs_config_value_get(const rs_config *c, const char *key, rs_config_value *v) {
  const rs__key *k = rs__key_find(key);
  if (!k) return rs_error(RS_EARG, "no job key %s", key);
  memset(v, 0, sizeof *v);
  const char *p = (const char *)c + k->off;
  switch (k->type) {
  case RS__T_INT: v->kind = RS_VALUE_INT; v->i = *(const int *)p; break;
  case RS__T_INT64: v->kind = RS_VALUE_INT; v->i = *(const int64_t *)p; break;
  case RS__T_BOOL: v->kind = RS_VALUE_INT; v->i = *(const bool *)p; break;
  case RS__T_DOUBLE: v->kind = RS_VALUE_DOUBLE; v->d = *(const double *)p; break;
  case RS__T_STRING:
  case RS__T_PATH: v->kind = RS_VALUE_STRING; snprintf(v->s, sizeof v->s, "%s", p); break;
  default:
    v->kind = RS_VALUE_STRING;
    fmt_value(k, c, v->s, sizeof v->s);
    break;
  }
  return RS_OK;
}
