/* Reading an archive back, serially: the header, provenance, run tables,
 * names, epochs, means and metrics (`ranksweep show`), and the description
 * of the sweep it was created from (job, per-run records, grid axes), as
 * merge needs to create its output without the job module. */
#include "archive_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A block owned by the store, freed with it. */
static void *rs__keep(rs__desc_store *st, void *p) {
  if (p && st->nblocks < (int)(sizeof st->blocks / sizeof st->blocks[0])) {
    st->blocks[st->nblocks++] = p;
    return p;
  }
  free(p);
  return NULL;
}

static void *rs__alloc(rs__desc_store *st, size_t n) { return rs__keep(st, calloc(n ? n : 1, 1)); }

/* A whole numeric dataset of n elements (n = 0: nothing to read). */
static int rs__read_num(rs_archive *a, const char *path, hid_t mtype, void *buf, int64_t n) {
  if (n == 0) return RS_OK;
  hid_t d;
  RS__QUIET(H5Dopen2(a->file, path, H5P_DEFAULT), d);
  herr_t e = d < 0 ? -1 : H5Dread(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
  if (d >= 0) H5Dclose(d);
  return e < 0 ? rs_error(RS_EARCHIVE, "%s: cannot read %s", a->path, path) : RS_OK;
}

/* n strings of a fixed-string dataset, kept by the store. */
static int rs__read_kept(rs_archive *a, rs__desc_store *st, const char *path, int n, char ***out) {
  RS_CALL(rs__read_strings(a->file, path, n, out));
  if (!rs__keep(st, *out)) return rs_error(RS_ENOMEM, "archive: out of memory");
  return RS_OK;
}

/* The job's exact text (job/text), kept by the store. */
static int rs__read_text(rs_archive *a, rs__desc_store *st, const char **text) {
  hid_t d;
  RS__QUIET(H5Dopen2(a->file, rs__records[R_JOB_TEXT].path, H5P_DEFAULT), d);
  if (d < 0) return rs_error(RS_EARCHIVE, "%s: archive lacks job/text", a->path);
  hid_t ft = H5Dget_type(d);
  size_t w = H5Tget_size(ft);
  char *t = rs__alloc(st, w + 1);
  herr_t e = t ? H5Dread(d, ft, H5S_ALL, H5S_ALL, H5P_DEFAULT, t) : -1;
  H5Tclose(ft);
  H5Dclose(d);
  if (e < 0) return rs_error(RS_EHDF5, "%s: cannot read job/text", a->path);
  *text = t;
  return RS_OK;
}

/* One grid axis: its text (runs/params) and exact values (runs/grid). */
static int rs__read_axis(rs_archive *a, rs__desc_store *st, const char *key, rs_archive_axis *x) {
  int R = (int)a->lay.R;
  char p[sizeof ((rs__desc_store *)0)->axes + 32];
  char **text;
  snprintf(p, sizeof p, "%s/%s", RS__G_PARAMS, key);
  RS_CALL(rs__read_kept(a, st, p, R, &text));
  x->key = key;
  x->text = (const char *const *)text;
  snprintf(p, sizeof p, "%s/%s", RS__G_GRID, key);
  hid_t d;
  RS__QUIET(H5Dopen2(a->file, p, H5P_DEFAULT), d);
  if (d < 0) return rs_error(RS_EARCHIVE, "%s: archive lacks %s", a->path, p);
  hid_t t = H5Dget_type(d);
  H5T_class_t cls = H5Tget_class(t);
  H5Tclose(t);
  H5Dclose(d);
  if (cls == H5T_STRING) {
    char **s;
    x->kind = RS_ARCHIVE_TEXT;
    RS_CALL(rs__read_kept(a, st, p, R, &s));
    x->s = (const char *const *)s;
    return RS_OK;
  }
  x->kind = cls == H5T_INTEGER ? RS_ARCHIVE_INT : RS_ARCHIVE_REAL;
  void *v = rs__alloc(st, (size_t)R * 8);
  if (!v) return rs_error(RS_ENOMEM, "archive: out of memory");
  if (x->kind == RS_ARCHIVE_INT) x->i = v;
  else x->d = v;
  return rs__read_num(a, p, x->kind == RS_ARCHIVE_INT ? H5T_NATIVE_INT64 : H5T_NATIVE_DOUBLE, v, R);
}

int rs__desc_read(rs_archive *a, rs__desc_store *st) {
  memset(st, 0, sizeof *st);
  const rs__layout *L = &a->lay;
  int R = (int)L->R;
  rs_archive_desc *d = &st->desc;
  rs_archive_run *runs = rs__alloc(st, (size_t)R * sizeof *runs);
  rs_archive_record *rec = rs__alloc(st, (size_t)R * sizeof *rec);
  int64_t *seed = rs__alloc(st, (size_t)R * sizeof *seed);
  double *epochs = rs__alloc(st, (size_t)(L->R * L->C) * sizeof *epochs);
  int64_t *ev = rs__alloc(st, (size_t)(L->R * L->P) * sizeof *ev);
  if (!runs || !rec || !seed || !epochs || !ev) return rs_error(RS_ENOMEM, "archive: out of memory");
  rs__attr_read_str(a->file, RS__A_JOB_NAME, st->name, sizeof st->name);
  rs__attr_read_str(a->file, RS__A_JOB_HASH, st->hash, sizeof st->hash);
  d->name = st->name;
  d->hash = st->hash;
  RS_CALL(rs__read_text(a, st, &d->text));
  char **name, **cfg, **hash, **path, **sha;
  RS_CALL(rs__read_kept(a, st, rs__records[R_NAME].path, R, &name));
  RS_CALL(rs__read_kept(a, st, rs__records[R_CONFIG].path, R, &cfg));
  RS_CALL(rs__read_kept(a, st, rs__records[R_CONFIG_HASH].path, R, &hash));
  RS_CALL(rs__read_kept(a, st, rs__records[R_DATA_PATH].path, R * RS__NFILES, &path));
  RS_CALL(rs__read_kept(a, st, rs__records[R_DATA_SHA].path, R * RS__NFILES, &sha));
  RS_CALL(rs__read_num(a, rs__records[R_SEED].path, H5T_NATIVE_INT64, seed, R));
  RS_CALL(rs__read_num(a, rs__records[R_EPOCHS].path, H5T_NATIVE_DOUBLE, epochs, L->R * L->C));
  RS_CALL(rs__read_num(a, rs__records[R_EVAL_INDEX].path, H5T_NATIVE_INT64, ev, L->R * L->P));
  for (int r = 0; r < R; r++) {
    rs_archive_run *x = &runs[r];
    x->nckpt = L->nckpt[r];
    x->ckpt_steps = L->steps + (int64_t)r * L->C;
    x->nlayers = L->nlayers[r];
    for (int l = 0; l < x->nlayers; l++) {
      x->widths[l] = L->widths[(int64_t)r * L->L + l];
      x->spec_len[l] = L->spec_len[(int64_t)r * L->L + l];
    }
    x->nweights = L->nweights[r];
    x->npoints = L->npoints[r];
    x->neps = L->neps[r];
    x->nparams = L->nparams[r];
    x->state_size = L->state_size[r];
    x->save_weights = (rs_save_weights)L->save[r];
    x->eval_index = L->P > 0 ? ev + (int64_t)r * L->P : NULL;
    rs_archive_record *c = &rec[r];
    c->name = name[r];
    c->config = cfg[r];
    c->config_hash = hash[r];
    c->seed = seed[r];
    c->eps = L->eps + (int64_t)r * L->E;
    c->epochs = epochs + (int64_t)r * L->C;
    for (int f = 0; f < RS__NFILES; f++) {
      c->data_path[f] = path[r * RS__NFILES + f];
      c->data_sha[f] = sha[r * RS__NFILES + f];
    }
  }
  d->nruns = R;
  d->runs = runs;
  d->records = rec;
  /* the grid axes, in job order (runs/grid's attribute axes) */
  hid_t g;
  RS__QUIET(H5Gopen2(a->file, RS__G_GRID, H5P_DEFAULT), g);
  int rc = g < 0 ? rs_error(RS_EARCHIVE, "%s: archive lacks runs/grid", a->path)
                 : rs__attr_read_str(g, RS__A_AXES, st->axes, sizeof st->axes);
  if (g >= 0) H5Gclose(g);
  if (rc != RS_OK) return rc == RS_EARCHIVE ? rc : rs_error(RS_EARCHIVE, "%s: runs/grid lacks its axes", a->path);
  int n = st->axes[0] ? 1 : 0;
  for (char *c = st->axes; *c; c++) n += *c == ',';
  rs_archive_axis *ax = rs__alloc(st, (size_t)n * sizeof *ax);
  if (!ax) return rs_error(RS_ENOMEM, "archive: out of memory");
  char *key = st->axes;
  for (int i = 0; i < n; i++) {
    char *comma = strchr(key, ',');
    if (comma) *comma = '\0';
    RS_CALL(rs__read_axis(a, st, key, &ax[i]));
    key = comma ? comma + 1 : key + strlen(key);
  }
  d->naxes = n;
  d->axes = ax;
  return RS_OK;
}

void rs__desc_free(rs__desc_store *st) {
  for (int i = 0; i < st->nblocks; i++) free(st->blocks[i]);
  st->nblocks = 0;
}

int rs_archive_open_read(const char *path, rs_archive **out) {
  return rs__open(MPI_COMM_NULL, path, H5F_ACC_RDONLY, out);
}

int rs_archive_header_get(rs_archive *a, rs_archive_header *h) {
  memset(h, 0, sizeof *h);
  h->version = a->version;
  int64_t complete = 0;
  rs__attr_read_str(a->file, RS__A_JOB_NAME, h->job_name, sizeof h->job_name);
  rs__attr_read_str(a->file, RS__A_JOB_HASH, h->job_hash, sizeof h->job_hash);
  rs__attr_read_i64(a->file, RS__A_COMPLETE, &complete);
  h->complete = complete != 0;
  htri_t ex;
  RS__QUIET(H5Lexists(a->file, RS__G_PROVENANCE, H5P_DEFAULT), ex);
  h->has_provenance = ex > 0;
  return RS_OK;
}

/* Reads attribute key of /provenance as text (str) or integer (v). */
static int rs__prov(rs_archive *a, const char *key, char *buf, size_t cap, int64_t *v) {
  hid_t g;
  RS__QUIET(H5Gopen2(a->file, RS__G_PROVENANCE, H5P_DEFAULT), g);
  if (g < 0) return rs_error(RS_EARCHIVE, "%s: archive has no provenance", a->path);
  int rc = buf ? rs__attr_read_str(g, key, buf, cap) : rs__attr_read_i64(g, key, v);
  H5Gclose(g);
  return rc != RS_OK ? rs_error(RS_EARCHIVE, "%s: provenance has no %s", a->path, key) : RS_OK;
}

int rs_archive_provenance_text(rs_archive *a, const char *key, char *buf, size_t cap) {
  return rs__prov(a, key, buf, cap, NULL);
}

int rs_archive_provenance_int(rs_archive *a, const char *key, int64_t *v) {
  return rs__prov(a, key, NULL, 0, v);
}

int rs_archive_tables_get(const rs_archive *a, rs_archive_tables *t) {
  const rs__layout *L = &a->lay;
  *t = (rs_archive_tables){.nckpt = L->nckpt, .nlayers = L->nlayers, .npoints = L->npoints,
                           .neps = L->neps, .nweights = L->nweights, .widths = L->widths,
                           .spec_len = L->spec_len, .steps = L->steps, .nparams = L->nparams,
                           .eps = L->eps};
  return RS_OK;
}

int rs_archive_run_names(rs_archive *a, char ***names) {
  return rs__read_strings(a->file, rs__records[R_NAME].path, (int)a->lay.R, names);
}

int rs_archive_config_hashes(rs_archive *a, char ***hashes) {
  return rs__read_strings(a->file, rs__records[R_CONFIG_HASH].path, (int)a->lay.R, hashes);
}

int rs_archive_read_epochs(rs_archive *a, double *epochs) {
  int64_t n = a->lay.R * a->lay.C;
  for (int64_t i = 0; i < n; i++) epochs[i] = NAN;
  hid_t d;
  RS__QUIET(H5Dopen2(a->file, rs__records[R_EPOCHS].path, H5P_DEFAULT), d);
  if (d < 0 || n == 0) { /* format 1 has no epochs */
    if (d >= 0) H5Dclose(d);
    return RS_OK;
  }
  herr_t e = H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, epochs);
  H5Dclose(d);
  return e < 0 ? rs_error(RS_EHDF5, "%s: cannot read runs/epochs", a->path) : RS_OK;
}

int rs_archive_run_means(rs_archive *a, int run, double *mean) {
  const rs__layout *L = &a->lay;
  if (run < 0 || run >= L->R)
    return rs_error(RS_EARG, "%s: run %d out of range [0, %lld)", a->path, run, (long long)L->R);
  size_t np = (size_t)(L->C * L->P);
  uint8_t *pm = calloc(np ? np : 1, 1);
  int32_t *cnt = malloc((size_t)(L->L * L->P * (L->E + 1) + 1) * sizeof *cnt);
  int rc = !pm || !cnt ? rs_error(RS_ENOMEM, "archive: out of memory") : RS_OK;
  if (rc == RS_OK && np) {
    hsize_t st[3] = {(hsize_t)run, 0, 0}, ct[3] = {1, (hsize_t)L->C, (hsize_t)L->P};
    rc = rs__dio(a, D_DONE_POINTS, st, ct, pm, false);
  }
  if (rc == RS_OK) rc = rs__run_means(a, run, pm, mean, cnt);
  free(pm);
  free(cnt);
  return rc;
}

int rs_archive_read_metrics(rs_archive *a, int run, int ckpt, rs_ckpt_metrics *m) {
  memset(m, 0, sizeof *m);
  if (run < 0 || run >= a->lay.R || ckpt < 0 || ckpt >= a->lay.C)
    return rs_error(RS_EARG, "%s: run %d checkpoint %d out of range", a->path, run, ckpt);
  const int ids[6] = {D_M_TRAIN_LOSS, D_M_HELD_LOSS, D_M_TRAIN_ACC, D_M_HELD_ACC, D_M_RATE, D_M_INFO_Y};
  double *v[6] = {&m->train_loss, &m->heldout_loss, &m->train_acc, &m->heldout_acc, &m->rate, &m->info_y};
  hsize_t st[2] = {(hsize_t)run, (hsize_t)ckpt}, ct[2] = {1, 1};
  for (int i = 0; i < 6; i++) RS_CALL(rs__dio(a, ids[i], st, ct, v[i], false));
  return RS_OK;
}
