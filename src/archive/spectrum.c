/* The /spectrum group of the representation-spectrum pass: opening an
 * archive to add to it, the stored weight snapshots the pass reads, the
 * group's datasets and dimension scales, and its per-layer writes (data
 * first, mask last). */
#include "archive_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int rs_archive_open_update(MPI_Comm comm, const char *path, rs_archive **out) {
  return rs__open(comm, path, H5F_ACC_RDWR, out);
}

int rs_archive_job_text(rs_archive *a, char **text) {
  *text = NULL;
  hid_t d;
  RS__QUIET(H5Dopen2(a->file, rs__records[R_JOB_TEXT].path, H5P_DEFAULT), d);
  if (d < 0) return rs_error(RS_EARCHIVE, "%s: archive lacks job/text", a->path);
  hid_t t = H5Dget_type(d);
  size_t n = H5Tget_size(t);
  char *s = calloc(n + 1, 1);
  herr_t e = s ? H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, s) : -1;
  H5Tclose(t);
  H5Dclose(d);
  if (e < 0) {
    free(s);
    return rs__h5err(a->path, "read job/text");
  }
  *text = s;
  return RS_OK;
}

void rs_archive_snapshots_free(rs_archive_snapshots *s) {
  free(s->run_done);
  free(s->nckpt);
  free(s->steps);
  free(s->last_step);
  free(s->nparams);
  free(s->final);
  free(s->all);
  memset(s, 0, sizeof *s);
}

int rs_archive_snapshots_read(rs_archive *a, rs_archive_snapshots *s) {
  const rs__layout *L = &a->lay;
  size_t R = (size_t)L->R, RC = (size_t)(L->R * L->C);
  memset(s, 0, sizeof *s);
  s->run_done = calloc(R, 1);
  s->nckpt = malloc(R * sizeof *s->nckpt);
  s->steps = malloc(RC * sizeof *s->steps);
  s->last_step = malloc(R * sizeof *s->last_step);
  s->nparams = malloc(R * sizeof *s->nparams);
  s->final = calloc(R, 1);
  s->all = calloc(RC ? RC : 1, 1);
  if (!s->run_done || !s->nckpt || !s->steps || !s->last_step || !s->nparams || !s->final || !s->all) {
    rs_archive_snapshots_free(s);
    return rs_error(RS_ENOMEM, "archive: out of memory");
  }
  memcpy(s->nckpt, L->nckpt, R * sizeof *s->nckpt);
  memcpy(s->steps, L->steps, RC * sizeof *s->steps);
  memcpy(s->nparams, L->nparams, R * sizeof *s->nparams);
  int rc = rs__read_all(a, D_DONE_RUNS, s->run_done);
  if (rc == RS_OK) rc = rs__read_all(a, D_R_LAST_STEP, s->last_step);
  if (rc == RS_OK) rc = rs__read_all(a, D_DONE_WFINAL, s->final);
  if (rc == RS_OK) rc = rs__read_all(a, D_DONE_WALL, s->all);
  if (rc != RS_OK) rs_archive_snapshots_free(s);
  return rc;
}

int rs_archive_read_weights(rs_archive *a, int run, int ckpt, double *params, int64_t n) {
  if (run < 0 || run >= a->lay.R || ckpt < -1 || ckpt >= a->lay.C || n != a->lay.nparams[run])
    return rs_error(RS_EARG, "%s: run %d checkpoint %d: no such weight snapshot of %lld parameters",
                    a->path, run, ckpt, (long long)n);
  if (ckpt < 0) {
    hsize_t st[2] = {(hsize_t)run, 0}, ct[2] = {1, (hsize_t)n};
    return rs__dio(a, D_W_FINAL, st, ct, params, false);
  }
  hsize_t st[3] = {(hsize_t)run, (hsize_t)ckpt, 0}, ct[3] = {1, 1, (hsize_t)n};
  return rs__dio(a, D_W_ALL, st, ct, params, false);
}

/* The extents of a /spectrum dataset from its dims letters. */
static int rs__sdims(const rs__layout *L, const rs_archive_spectrum_spec *p, const char *spec,
                     hsize_t *dims) {
  int n = 0;
  for (const char *c = spec; *c; c++)
    dims[n++] = (hsize_t)(*c == 'R'   ? L->R
                          : *c == 'C' ? L->C
                          : *c == 'L' ? L->L
                          : *c == 'K' ? p->nspectrum
                          : *c == 'E' ? p->neps
                                      : p->nnoise);
  return n;
}

/* A /spectrum dataset: allocated at creation and filled, so the pass's
 * independent writes never touch metadata. */
static hid_t rs__screate(hid_t g, const rs__dspec *d, int rank, const hsize_t *dims) {
  char fill[8];
  rs__fill(d->type, fill);
  hid_t sp = H5Screate_simple(rank, dims, NULL);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY);
  H5Pset_fill_time(dcpl, H5D_FILL_TIME_ALLOC);
  H5Pset_fill_value(dcpl, rs__filetype(d->type), fill);
  hid_t id = H5Dcreate2(g, d->path, rs__filetype(d->type), sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  H5Pclose(dcpl);
  H5Sclose(sp);
  return id;
}

/* Collective. A dimension scale in /spectrum: a coordinate with values
 * (rank 0 writes them) or, with vals NULL, a netCDF "pure" dimension. */
static hid_t rs__sscale(rs_archive *a, const char *name, int64_t n, char type, const void *vals,
                        const char *desc) {
  hsize_t dim = (hsize_t)n;
  hid_t sp = H5Screate_simple(1, &dim, NULL);
  hid_t d = H5Dcreate2(a->sgroup, name, vals ? rs__filetype(type) : H5T_IEEE_F32LE, sp, H5P_DEFAULT,
                       H5P_DEFAULT, H5P_DEFAULT);
  H5Sclose(sp);
  if (d < 0) return d;
  int rc = vals ? rs__write_whole(d, rs__memtype(type), a->comm, a->rank, vals, name) : RS_OK;
  char label[96];
  if (vals) snprintf(label, sizeof label, "%s", name);
  else snprintf(label, sizeof label, "%s%10lld", RS__NETCDF_DIM, (long long)n);
  if (rc != RS_OK || H5DSset_scale(d, label) < 0 || rs__attr_str(d, "description", desc) != RS_OK) {
    H5Dclose(d);
    return H5I_INVALID_HID;
  }
  return d;
}

/* Collective. Dimension scales, descriptions and units of a new /spectrum. */
static int rs__sdescribe(rs_archive *a, const rs_archive_spectrum_spec *p) {
  const rs__layout *L = &a->lay;
  int64_t n = L->R > L->C ? L->R : L->C;
  if (L->L > n) n = L->L;
  int64_t *idx = malloc(sizeof *idx * (size_t)n);
  int32_t *lay = malloc(sizeof *lay * (size_t)(L->L ? L->L : 1));
  if (!idx || !lay) {
    free(idx);
    free(lay);
    return rs_error(RS_ENOMEM, "archive: out of memory");
  }
  for (int64_t i = 0; i < n; i++) idx[i] = i;
  for (int64_t i = 0; i < L->L; i++) lay[i] = (int32_t)(i + 1);
  hid_t s_run = rs__sscale(a, "run", L->R, 'l', idx, "run index (grid order)");
  hid_t s_ck = rs__sscale(a, "checkpoint", L->C, 'l', idx, "checkpoint index of the run; steps in /runs/steps");
  hid_t s_l = rs__sscale(a, "layer", L->L, 'i', lay, "measured layer, 1-based");
  hid_t s_k = rs__sscale(a, "repr_sv_index", p->nspectrum, 'f', NULL,
                         "singular value index of the centred representation matrix, descending");
  hid_t s_e = rs__sscale(a, "eps", p->neps, 'd', p->eps,
                         "feature-rank threshold on s_i / sqrt(N) (NaN: differs between runs, see measure.eps in /runs/config)");
  hid_t s_n = rs__sscale(a, "noise", p->nnoise, 'd', p->noise,
                         "noise level sigma of the Gaussian-channel proxy (NaN: differs between runs)");
  free(idx);
  free(lay);
  int rc = RS_OK;
  if (s_run < 0 || s_ck < 0 || s_l < 0 || s_k < 0 || s_e < 0 || s_n < 0)
    rc = rs__h5err(a->path, "create the dimension scales of /spectrum");
  const struct {
    int id;
    hid_t dims[4];
    const char *desc, *units;
  } t[] = {
      {S_SV, {s_run, s_ck, s_l, s_k}, "singular values of the layer's centred representation matrix (points x width), descending (NaN: padding)", NULL},
      {S_FR, {s_run, s_ck, s_l, s_e}, "feature rank: #{s_i / sqrt(N) > eps}", NULL},
      {S_ER, {s_run, s_ck, s_l, -1}, "effective rank exp(H(p)), p_i = s_i / sum s", NULL},
      {S_IP, {s_run, s_ck, s_l, s_n}, "Gaussian-channel estimate of I(X; T + sigma Z): 1/2 sum log(1 + s_i^2 / (N sigma^2))", "nats"},
      {S_NP, {s_run, s_ck, -1, -1}, "points N the spectrum was taken over", NULL},
      {S_DONE, {s_run, s_ck, s_l, -1}, "1 when the layer's spectrum is written", NULL},
  };
  for (size_t i = 0; rc == RS_OK && i < sizeof t / sizeof t[0]; i++) {
    hid_t d = a->s[t[i].id];
    for (unsigned k = 0; rc == RS_OK && k < 4 && t[i].dims[k] >= 0; k++)
      if (H5DSattach_scale(d, t[i].dims[k], k) < 0)
        rc = rs__h5err(a->path, "attach a dimension scale in /spectrum");
    if (rc == RS_OK) rc = rs__attr_str(d, "description", t[i].desc);
    if (rc == RS_OK && t[i].units) rc = rs__attr_str(d, "units", t[i].units);
  }
  hid_t all[] = {s_run, s_ck, s_l, s_k, s_e, s_n};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++)
    if (all[i] >= 0) H5Dclose(all[i]);
  return rc;
}

/* Collective. The settings of the /spectrum already there must be these. */
static int rs__ssame(rs_archive *a, const rs_archive_spectrum_spec *p) {
  char have[32] = "", haver[32] = "";
  int64_t havek = -1, havecount = -1;
  rs__attr_read_str(a->sgroup, "points", have, sizeof have);
  rs__attr_read_str(a->sgroup, "representation", haver, sizeof haver);
  rs__attr_read_i64(a->sgroup, "n_spectrum", &havek);
  rs__attr_read_i64(a->sgroup, "count", &havecount);
  if (strcmp(have, p->points) || strcmp(haver, p->repr) || havek != p->nspectrum ||
      (strcmp(p->points, "count") == 0 && havecount != p->count))
    return rs_error(RS_EARCHIVE,
                    "%s: /spectrum already holds a pass over points=%s (representation %s); "
                    "expected the same settings to continue it (copy the archive to run another)",
                    a->path, have, haver);
  return RS_OK;
}

int rs_archive_spectrum_open(rs_archive *a, const rs_archive_spectrum_spec *p, uint8_t *done) {
  const rs__layout *L = &a->lay;
  htri_t ex;
  RS__QUIET(H5Lexists(a->file, RS__SPECTRUM_GROUP, H5P_DEFAULT), ex);
  bool fresh = ex <= 0; /* created now: describe it */
  if (!fresh) {
    a->sgroup = H5Gopen2(a->file, RS__SPECTRUM_GROUP, H5P_DEFAULT);
    if (a->sgroup < 0) return rs__h5err(a->path, "open /spectrum");
    RS_CALL(rs__ssame(a, p));
  } else {
    a->sgroup = H5Gcreate2(a->file, RS__SPECTRUM_GROUP, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (a->sgroup < 0) return rs__h5err(a->path, "create /spectrum");
    RS_CALL(rs__attr_str(a->sgroup, "points", p->points));
    RS_CALL(rs__attr_str(a->sgroup, "representation", p->repr));
    RS_CALL(rs__attr_i64(a->sgroup, "n_spectrum", p->nspectrum));
    RS_CALL(rs__attr_i64(a->sgroup, "count", p->count));
  }
  for (int i = 0; i < S_N; i++) {
    const rs__dspec *d = &rs__spectrum_dsets[i];
    hsize_t dims[RS__MAXRANK];
    int n = rs__sdims(L, p, d->dims, dims);
    htri_t have = fresh ? 0 : H5Lexists(a->sgroup, d->path, H5P_DEFAULT);
    a->s[i] = have > 0 ? H5Dopen2(a->sgroup, d->path, H5P_DEFAULT) : rs__screate(a->sgroup, d, n, dims);
    if (a->s[i] < 0) return rs_error(RS_EHDF5, "%s: cannot create the /spectrum datasets", a->path);
  }
  if (fresh) RS_CALL(rs__sdescribe(a, p));
  H5Fflush(a->file, H5F_SCOPE_GLOBAL);
  if (H5Dread(a->s[S_DONE], H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, done) < 0)
    return rs__h5err(a->path, "read spectrum/done");
  return RS_OK;
}

/* Independent write of count values of /spectrum dataset id at start. */
static int rs__swrite(rs_archive *a, int id, const hsize_t *start, const hsize_t *count,
                      const void *buf) {
  const rs__dspec *d = &rs__spectrum_dsets[id];
  return rs__io(a->s[id], d->path, rs__memtype(d->type), a->dxpl, (int)strlen(d->dims), start, count,
                (void *)buf, true);
}

int rs_archive_write_spectrum(rs_archive *a, int run, int ckpt, int layer,
                              const rs_archive_layer_spectrum *s) {
  if (a->sgroup < 0 || run < 0 || run >= a->lay.R || ckpt < 0 || ckpt >= a->lay.C || layer < 1 ||
      layer > a->lay.L)
    return rs_error(RS_EARG, "%s: no /spectrum cell for run %d checkpoint %d layer %d", a->path, run,
                    ckpt, layer);
  hsize_t st[4] = {(hsize_t)run, (hsize_t)ckpt, (hsize_t)(layer - 1), 0};
  hsize_t csv[4] = {1, 1, 1, (hsize_t)s->k}, cfr[4] = {1, 1, 1, (hsize_t)s->neps},
          cip[4] = {1, 1, 1, (hsize_t)s->nnoise}, c3[3] = {1, 1, 1}, c2[2] = {1, 1};
  uint8_t yes = 1;
  RS_CALL(rs__swrite(a, S_SV, st, csv, s->sv));
  RS_CALL(rs__swrite(a, S_FR, st, cfr, s->feature_rank));
  RS_CALL(rs__swrite(a, S_ER, st, c3, &s->effrank));
  if (s->nnoise > 0) RS_CALL(rs__swrite(a, S_IP, st, cip, s->info_proxy));
  RS_CALL(rs__swrite(a, S_NP, st, c2, &s->npoints));
  /* The mask last: a cell counts only once its data are in. */
  return rs__swrite(a, S_DONE, st, c3, &yes);
}
