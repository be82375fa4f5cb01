/* The representation-spectrum pass: for stored weight snapshots of an archive,
 * the singular values of each layer's centred representation matrix H (points
 * x width), distributed over a BLACS grid of all ranks (ScaLAPACK pdgesvd),
 * and their summaries, stored under /spectrum next to the local ranks. */
#include "ranksweep/rs_spectrum_pass.h"

#include <hdf5.h>
#include <hdf5_hl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ranksweep/rs_data.h"
#include "ranksweep/rs_error.h"
#include "ranksweep/rs_ib.h"
#include "ranksweep/rs_job.h"
#include "ranksweep/rs_model.h"
#include "ranksweep/rs_spectrum.h"

void rs_spectrum_opts_default(rs_spectrum_opts *o) {
  memset(o, 0, sizeof *o);
  o->points = RS_SPECTRUM_POINTS_TRAIN;
  o->repr = RS_REPR_POST;
  o->final_only = true;
}

typedef struct {
  hid_t file;
  const char *path;
} rs__h5;

/* Reads a whole dataset as `type` (the archive's small per-run tables). */
static int rs__read_all(hid_t f, const char *name, hid_t type, void *buf, const char *path) {
  hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
  if (d < 0) return rs_error(RS_EHDF5, "%s: cannot open %s (not a ranksweep archive?)", path, name);
  herr_t e = H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
  H5Dclose(d);
  return e < 0 ? rs_error(RS_EHDF5, "%s: cannot read %s", path, name) : RS_OK;
}

static int64_t rs__attr_i64(hid_t f, const char *name) {
  int64_t v = -1;
  if (H5Aexists(f, name) > 0) {
    hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    H5Aread(a, H5T_NATIVE_INT64, &v);
    H5Aclose(a);
  }
  return v;
}

/* Reads a row [r] (or [r, c]) of a float64 dataset of rank 2 (or 3). */
static int rs__read_row(hid_t f, const char *name, int r, int c, int64_t n, double *out,
                        const char *path) {
  hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
  if (d < 0) return rs_error(RS_EHDF5, "%s: cannot open %s", path, name);
  hid_t fs = H5Dget_space(d);
  int rank = H5Sget_simple_extent_ndims(fs);
  hsize_t start[3] = {(hsize_t)r, (hsize_t)(c < 0 ? 0 : c), 0}, count[3] = {1, 1, 1};
  if (rank == 2) {
    count[1] = (hsize_t)n;
    start[1] = 0;
  } else {
    count[2] = (hsize_t)n;
  }
  H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
  hsize_t mn = (hsize_t)n;
  hid_t ms = H5Screate_simple(1, &mn, NULL);
  herr_t e = H5Dread(d, H5T_NATIVE_DOUBLE, ms, fs, H5P_DEFAULT, out);
  H5Sclose(ms);
  H5Sclose(fs);
  H5Dclose(d);
  return e < 0 ? rs_error(RS_EHDF5, "%s: cannot read %s", path, name) : RS_OK;
}

static hid_t rs__create_or_open(hid_t g, const char *name, hid_t type, int rank,
                                const hsize_t *dims, const void *fill) {
  if (H5Lexists(g, name, H5P_DEFAULT) > 0) return H5Dopen2(g, name, H5P_DEFAULT);
  hid_t sp = H5Screate_simple(rank, dims, NULL);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY); /* writes never touch metadata */
  H5Pset_fill_time(dcpl, H5D_FILL_TIME_ALLOC);
  H5Pset_fill_value(dcpl, type, fill);
  hid_t d = H5Dcreate2(g, name, type, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  H5Pclose(dcpl);
  H5Sclose(sp);
  return d;
}

/* Independent write of count values at start (rank = ndims). */
static int rs__write(hid_t d, hid_t type, int ndims, const hsize_t *start,
                     const hsize_t *count, const void *buf) {
  hid_t fs = H5Dget_space(d);
  H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
  hsize_t n = 1;
  for (int i = 0; i < ndims; i++) n *= count[i];
  hid_t ms = H5Screate_simple(1, &n, NULL);
  hid_t x = H5Pcreate(H5P_DATASET_XFER);
  H5Pset_dxpl_mpio(x, H5FD_MPIO_INDEPENDENT);
  herr_t e = H5Dwrite(d, type, ms, fs, x, buf);
  H5Pclose(x);
  H5Sclose(ms);
  H5Sclose(fs);
  return e < 0 ? rs_error(RS_EHDF5, "spectrum: independent write failed") : RS_OK;
}

/* Reads a string attribute of either kind (fixed length before format 2). */
static void rs__attr_str_read(hid_t g, const char *name, char *buf, size_t cap) {
  buf[0] = '\0';
  if (H5Aexists(g, name) <= 0) return;
  hid_t a = H5Aopen(g, name, H5P_DEFAULT);
  hid_t t = H5Aget_type(a);
  if (H5Tis_variable_str(t) > 0) {
    char *v = NULL;
    if (H5Aread(a, t, &v) >= 0 && v) {
      snprintf(buf, cap, "%s", v);
      H5free_memory(v);
    }
  } else {
    size_t n = H5Tget_size(t);
    char *tmp = calloc(n + 1, 1);
    if (tmp && H5Aread(a, t, tmp) >= 0) snprintf(buf, cap, "%s", tmp);
    free(tmp);
  }
  H5Tclose(t);
  H5Aclose(a);
}

/* Variable-length UTF-8 (h5py and xarray read str). Collective. */
static int rs__attr_str_write(hid_t obj, const char *name, const char *s) {
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  hid_t sp = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
  herr_t e = a < 0 ? -1 : H5Awrite(a, t, &s);
  if (a >= 0) H5Aclose(a);
  H5Sclose(sp);
  H5Tclose(t);
  return e < 0 ? rs_error(RS_EHDF5, "spectrum: cannot write attribute %s", name) : RS_OK;
}

/* Collective. A dimension scale in /spectrum: a coordinate with values
 * (rank 0 writes them) or, with vals NULL, a netCDF "pure" dimension. */
static hid_t rs__scale(hid_t g, int rank, const char *name, int64_t n, hid_t ftype, hid_t mtype,
                       const void *vals, const char *desc) {
  hsize_t dim = (hsize_t)n;
  hid_t sp = H5Screate_simple(1, &dim, NULL);
  hid_t d = H5Dcreate2(g, name, vals ? ftype : H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Sclose(sp);
  if (d < 0) return d;
  herr_t e = 0;
  if (vals) {
    hid_t fs = H5Dget_space(d), ms = H5Scopy(fs);
    if (rank != 0) {
      H5Sselect_none(fs);
      H5Sselect_none(ms);
    }
    hid_t x = H5Pcreate(H5P_DATASET_XFER);
    H5Pset_dxpl_mpio(x, H5FD_MPIO_COLLECTIVE);
    e = H5Dwrite(d, mtype, ms, fs, x, vals);
    H5Pclose(x);
    H5Sclose(ms);
    H5Sclose(fs);
  }
  char label[96];
  if (vals) snprintf(label, sizeof label, "%s", name);
  else snprintf(label, sizeof label, "This is a netCDF dimension but not a netCDF variable.%10lld", (long long)n);
  if (e < 0 || H5DSset_scale(d, label) < 0 || rs__attr_str_write(d, "description", desc) != RS_OK) {
    H5Dclose(d);
    return H5I_INVALID_HID;
  }
  return d;
}

/* Collective. Dimension scales, descriptions and units for a new /spectrum. */
static int rs__spectrum_describe(hid_t g, int rank, const rs_job *job, int64_t R, int64_t C, int64_t L,
                                 int64_t K, int64_t E, int64_t NN, hid_t d_sv, hid_t d_fr, hid_t d_er,
                                 hid_t d_ip, hid_t d_np, hid_t d_done) {
  int64_t n = R > C ? R : C;
  if (L > n) n = L;
  int64_t *idx = malloc(sizeof *idx * (size_t)n);
  int32_t *lay = malloc(sizeof *lay * (size_t)L);
  double eps[RS_MAX_EPS + 1], noise[RS_MAX_NOISE + 1];
  if (!idx || !lay) {
    free(idx);
    free(lay);
    return rs_error(RS_ENOMEM, "out of memory");
  }
  for (int64_t i = 0; i < n; i++) idx[i] = i;
  for (int64_t i = 0; i < L; i++) lay[i] = (int32_t)(i + 1);
  /* the thresholds and noise levels when every run shares them, else NaN */
  const rs_config *c0 = rs_job_run(job, 0);
  bool same_e = true, same_n = true;
  for (int r = 1; r < R; r++) {
    const rs_config *c = rs_job_run(job, r);
    same_e &= c->measure.neps == c0->measure.neps &&
              !memcmp(c->measure.eps, c0->measure.eps, sizeof(double) * (size_t)c0->measure.neps);
    same_n &= c->measure.nnoise == c0->measure.nnoise &&
              !memcmp(c->measure.noise, c0->measure.noise, sizeof(double) * (size_t)c0->measure.nnoise);
  }
  for (int64_t i = 0; i < E; i++) eps[i] = same_e && i < c0->measure.neps ? c0->measure.eps[i] : NAN;
  for (int64_t i = 0; i < NN; i++) noise[i] = same_n && i < c0->measure.nnoise ? c0->measure.noise[i] : NAN;
  hid_t s_run = rs__scale(g, rank, "run", R, H5T_STD_I64LE, H5T_NATIVE_INT64, idx, "run index (grid order)");
  hid_t s_ck = rs__scale(g, rank, "checkpoint", C, H5T_STD_I64LE, H5T_NATIVE_INT64, idx,
                         "checkpoint index of the run; steps in /runs/steps");
  hid_t s_l = rs__scale(g, rank, "layer", L, H5T_STD_I32LE, H5T_NATIVE_INT32, lay, "measured layer, 1-based");
  hid_t s_k = rs__scale(g, rank, "repr_sv_index", K, 0, 0, NULL,
                        "singular value index of the centred representation matrix, descending");
  hid_t s_e = rs__scale(g, rank, "eps", E, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, eps,
                        "feature-rank threshold on s_i / sqrt(N) (NaN: differs between runs, see measure.eps in /runs/config)");
  hid_t s_n = rs__scale(g, rank, "noise", NN, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, noise,
                        "noise level sigma of the Gaussian-channel proxy (NaN: differs between runs)");
  free(idx);
  free(lay);
  int err = RS_OK;
  if (s_run < 0 || s_ck < 0 || s_l < 0 || s_k < 0 || s_e < 0 || s_n < 0)
    err = rs_error(RS_EHDF5, "spectrum: cannot create the dimension scales");
  const struct {
    hid_t d;
    hid_t dims[4];
    const char *desc, *units;
  } t[] = {
      {d_sv, {s_run, s_ck, s_l, s_k}, "singular values of the layer's centred representation matrix (points x width), descending (NaN: padding)", NULL},
      {d_fr, {s_run, s_ck, s_l, s_e}, "feature rank: #{s_i / sqrt(N) > eps}", NULL},
      {d_er, {s_run, s_ck, s_l, -1}, "effective rank exp(H(p)), p_i = s_i / sum s", NULL},
      {d_ip, {s_run, s_ck, s_l, s_n}, "Gaussian-channel estimate of I(X; T + sigma Z): 1/2 sum log(1 + s_i^2 / (N sigma^2))", "nats"},
      {d_np, {s_run, s_ck, -1, -1}, "points N the spectrum was taken over", NULL},
      {d_done, {s_run, s_ck, s_l, -1}, "1 when the layer's spectrum is written", NULL},
  };
  for (size_t i = 0; err == RS_OK && i < sizeof t / sizeof t[0]; i++) {
    for (unsigned k = 0; err == RS_OK && k < 4 && t[i].dims[k] >= 0; k++)
      if (H5DSattach_scale(t[i].d, t[i].dims[k], k) < 0)
        err = rs_error(RS_EHDF5, "spectrum: cannot attach a dimension scale");
    if (err == RS_OK) err = rs__attr_str_write(t[i].d, "description", t[i].desc);
    if (err == RS_OK && t[i].units) err = rs__attr_str_write(t[i].d, "units", t[i].units);
  }
  hid_t all[] = {s_run, s_ck, s_l, s_k, s_e, s_n};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++)
    if (all[i] >= 0) H5Dclose(all[i]);
  return err;
}

static int rs__agree(MPI_Comm comm, int err) {
  int out;
  MPI_Allreduce(&err, &out, 1, MPI_INT, MPI_MIN, comm);
  return out;
}

static double rs__now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* The points the spectrum is taken over, for run cfg. */
static int rs__points(const rs_config *cfg, const rs_spectrum_opts *o, rs_dataset **data,
                      const double **x, int *n) {
  rs_config c = *cfg;
  if (o->points == RS_SPECTRUM_POINTS_COUNT) {
    /* A fresh draw of COUNT training points from the run's data source. */
    c.data.train_size = o->count;
    if ((c.data.kind == RS_DATA_IDX || c.data.kind == RS_DATA_NPY) && c.data.heldout_images[0] == '\0') {
      /* Let the held-out subset come from the same file (overlap is harmless
       * here), so that the whole file can be used as training points. */
      snprintf(c.data.heldout_images, sizeof c.data.heldout_images, "%s", c.data.images);
      snprintf(c.data.heldout_labels, sizeof c.data.heldout_labels, "%s", c.data.labels);
    }
  }
  RS_CALL(rs_dataset_create(&c, data));
  if (o->points == RS_SPECTRUM_POINTS_EVAL) {
    *x = (*data)->xeval;
    *n = (*data)->neval;
  } else {
    *x = (*data)->xtrain;
    *n = (*data)->ntrain;
  }
  return RS_OK;
}

int rs_spectrum_pass(MPI_Comm comm, const char *path, const rs_spectrum_opts *o) {
  int rank, size;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  int err = RS_OK;
  rs_job *job = NULL;
  rs_pgrid *grid = NULL;
  hid_t file = H5I_INVALID_HID, grp = H5I_INVALID_HID;
  hid_t d_sv = H5I_INVALID_HID, d_fr = H5I_INVALID_HID, d_er = H5I_INVALID_HID,
        d_ip = H5I_INVALID_HID, d_done = H5I_INVALID_HID, d_np = H5I_INVALID_HID;
  int64_t *steps = NULL, *nckpt = NULL, *last = NULL, *nparams = NULL;
  uint8_t *wfinal = NULL, *wall = NULL, *runs_done = NULL, *sdone = NULL;
  char *text = NULL;
  double *params = NULL, *s = NULL;

  /* Open collectively through MPI-IO (required: every structural call below
   * is collective with identical arguments on all ranks). */
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL);
  H5E_BEGIN_TRY { file = H5Fopen(path, H5F_ACC_RDWR, fapl); }
  H5E_END_TRY;
  H5Pclose(fapl);
  if (file < 0) {
    err = rs_error(RS_EHDF5, "%s: cannot open the archive for the spectrum pass", path);
    goto out;
  }
  int64_t R = rs__attr_i64(file, "n_runs"), C = rs__attr_i64(file, "n_ckpt"),
          L = rs__attr_i64(file, "n_layers"), NP = rs__attr_i64(file, "n_params");
  if (R <= 0 || C <= 0 || L <= 0) {
    err = rs_error(RS_EARCHIVE, "%s: not a ranksweep archive (no n_runs/n_ckpt/n_layers)", path);
    goto out;
  }
  if (NP <= 0 || H5Lexists(file, "weights", H5P_DEFAULT) <= 0) {
    err = rs_error(RS_EARCHIVE,
                   "%s: no weight snapshots stored (measure.save_weights: none); the "
                   "spectrum pass needs final or all",
                   path);
    goto out;
  }
  /* The job file inside the archive gives every run's configuration. */
  {
    hid_t d = H5Dopen2(file, "job/text", H5P_DEFAULT);
    hid_t t = H5Dget_type(d);
    size_t n = H5Tget_size(t);
    text = calloc(n + 1, 1);
    if (!text || H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, text) < 0)
      err = rs_error(RS_EHDF5, "%s: cannot read /job/text", path);
    H5Tclose(t);
    H5Dclose(d);
    if (err != RS_OK) goto out;
    if ((err = rs_job_parse(text, strlen(text), path, &job)) != RS_OK) goto out;
  }
  if (rs_job_nruns(job) != R) {
    err = rs_error(RS_EARCHIVE, "%s: job text expands to %d runs, archive has %lld", path,
                   rs_job_nruns(job), (long long)R);
    goto out;
  }
  /* A selection naming a run or checkpoint the archive does not have is the
   * user's mistake: say so instead of computing nothing. */
  for (int i = 0; i < o->nruns && err == RS_OK; i++)
    if (o->runs[i] < 0 || o->runs[i] >= R)
      err = rs_error(RS_EARG, "spectrum: --runs: run %d out of range (%s has runs 0..%lld)",
                     o->runs[i], path, (long long)R - 1);
  for (int i = 0; i < o->nckpts && err == RS_OK; i++)
    if (o->ckpts[i] < 0 || o->ckpts[i] >= C)
      err = rs_error(RS_EARG,
                     "spectrum: --checkpoints: checkpoint %d out of range (%s has checkpoints 0..%lld)",
                     o->ckpts[i], path, (long long)C - 1);
  if (err != RS_OK) goto out;
  steps = malloc(sizeof *steps * R * C);
  nckpt = malloc(sizeof *nckpt * R);
  last = malloc(sizeof *last * R);
  nparams = malloc(sizeof *nparams * R);
  wfinal = calloc(R, 1);
  wall = calloc(R * C, 1);
  runs_done = calloc(R, 1);
  if (!steps || !nckpt || !last || !nparams || !wfinal || !wall || !runs_done) {
    err = rs_error(RS_ENOMEM, "out of memory");
    goto out;
  }
  {
    int32_t *tmp = malloc(sizeof *tmp * R);
    hid_t d = H5Dopen2(file, "runs/nckpt", H5P_DEFAULT);
    H5Dread(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, tmp);
    H5Dclose(d);
    for (int64_t r = 0; r < R; r++) nckpt[r] = tmp[r];
    free(tmp);
  }
  if ((err = rs__read_all(file, "runs/steps", H5T_NATIVE_INT64, steps, path)) != RS_OK ||
      (err = rs__read_all(file, "runs/last_step", H5T_NATIVE_INT64, last, path)) != RS_OK ||
      (err = rs__read_all(file, "runs/nparams", H5T_NATIVE_INT64, nparams, path)) != RS_OK ||
      (err = rs__read_all(file, "done/runs", H5T_NATIVE_UINT8, runs_done, path)) != RS_OK)
    goto out;
  if (H5Lexists(file, "done/weights_final", H5P_DEFAULT) > 0 &&
      (err = rs__read_all(file, "done/weights_final", H5T_NATIVE_UINT8, wfinal, path)) != RS_OK)
    goto out;
  if (H5Lexists(file, "done/weights_all", H5P_DEFAULT) > 0 &&
      (err = rs__read_all(file, "done/weights_all", H5T_NATIVE_UINT8, wall, path)) != RS_OK)
    goto out;

  /* Largest spectrum: min(points, width) over runs and layers. */
  int64_t K = 1, NN = 1, E = 1, npts_max = 0;
  for (int r = 0; r < R; r++) {
    const rs_config *cfg = rs_job_run(job, r);
    int64_t np = o->points == RS_SPECTRUM_POINTS_COUNT ? o->count
                 : o->points == RS_SPECTRUM_POINTS_EVAL ? cfg->measure.points
                                                        : cfg->data.train_size;
    if (np > npts_max) npts_max = np;
    rs_run_shape sh;
    rs_config_shape(cfg, NULL, &sh); /* the widths do not depend on the data set */
    for (int l = 0; l < sh.nmeasured; l++) {
      int64_t k = np < sh.widths[l] ? np : sh.widths[l];
      if (k > K) K = k;
    }
    if (cfg->measure.nnoise > NN) NN = cfg->measure.nnoise;
    if (cfg->measure.neps > E) E = cfg->measure.neps;
  }
  /* Structure: created once (collectively), reused by later passes with the
   * same settings so an interrupted pass resumes. */
  const char *mode = o->points == RS_SPECTRUM_POINTS_EVAL    ? "eval"
                     : o->points == RS_SPECTRUM_POINTS_TRAIN ? "train"
                                                             : "count";
  const char *repr = o->repr == RS_REPR_PRE ? "pre" : "post";
  bool fresh = false; /* /spectrum created now: describe it */
  if (H5Lexists(file, "spectrum", H5P_DEFAULT) > 0) {
    grp = H5Gopen2(file, "spectrum", H5P_DEFAULT);
    char have[32] = "", haver[32] = "";
    int64_t havek = -1, havecount = -1;
    rs__attr_str_read(grp, "points", have, sizeof have);
    rs__attr_str_read(grp, "representation", haver, sizeof haver);
    havek = rs__attr_i64(grp, "n_spectrum");
    havecount = rs__attr_i64(grp, "count");
    if (strcmp(have, mode) || strcmp(haver, repr) || havek != K ||
        (o->points == RS_SPECTRUM_POINTS_COUNT && havecount != o->count)) {
      err = rs_error(RS_EARCHIVE,
                     "%s: /spectrum already holds a pass over points=%s (representation %s); "
                     "expected the same settings to continue it (copy the archive to run "
                     "another)",
                     path, have, haver);
      goto out;
    }
  } else {
    fresh = true;
    grp = H5Gcreate2(file, "spectrum", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hid_t sp = H5Screate(H5S_SCALAR);
    rs__attr_str_write(grp, "points", mode);
    rs__attr_str_write(grp, "representation", repr);
    hid_t a;
    int64_t vals[2] = {K, o->points == RS_SPECTRUM_POINTS_COUNT ? o->count : -1};
    a = H5Acreate2(grp, "n_spectrum", H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_INT64, &vals[0]);
    H5Aclose(a);
    a = H5Acreate2(grp, "count", H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_INT64, &vals[1]);
    H5Aclose(a);
    H5Sclose(sp);
  }
  {
    double nan = NAN;
    int32_t m1 = -1;
    uint8_t z = 0;
    hsize_t dsv[4] = {R, C, L, K}, dfr[4] = {R, C, L, E}, der[3] = {R, C, L},
            dip[4] = {R, C, L, NN}, dnp[2] = {R, C};
    d_sv = rs__create_or_open(grp, "sv", H5T_IEEE_F64LE, 4, dsv, &nan);
    d_fr = rs__create_or_open(grp, "feature_rank", H5T_STD_I32LE, 4, dfr, &m1);
    d_er = rs__create_or_open(grp, "effrank", H5T_IEEE_F64LE, 3, der, &nan);
    d_ip = rs__create_or_open(grp, "info_proxy", H5T_IEEE_F64LE, 4, dip, &nan);
    d_np = rs__create_or_open(grp, "npoints", H5T_STD_I32LE, 2, dnp, &m1);
    d_done = rs__create_or_open(grp, "done", H5T_STD_U8LE, 3, der, &z);
  }
  if (d_sv < 0 || d_fr < 0 || d_er < 0 || d_ip < 0 || d_np < 0 || d_done < 0) {
    err = rs_error(RS_EHDF5, "%s: cannot create the /spectrum datasets", path);
    goto out;
  }
  if (fresh && (err = rs__spectrum_describe(grp, rank, job, R, C, L, K, E, NN, d_sv, d_fr, d_er,
                                            d_ip, d_np, d_done)) != RS_OK)
    goto out;
  H5Fflush(file, H5F_SCOPE_GLOBAL);
  sdone = calloc(R * C * L, 1);
  if (!sdone || (err = rs__read_all(file, "spectrum/done", H5T_NATIVE_UINT8, sdone, path)) != RS_OK) goto out;

  if ((err = rs_pgrid_create(comm, 0, 0, &grid)) != RS_OK) goto out;
  params = malloc(sizeof *params * (NP > 0 ? NP : 1));
  s = malloc(sizeof *s * K);
  if (!params || !s) {
    err = rs_error(RS_ENOMEM, "out of memory");
    goto out;
  }
  double t_all = rs__now();
  int ndone = 0;
  for (int r = 0; r < R && err == RS_OK; r++) {
    if (o->nruns > 0) {
      bool sel = false;
      for (int i = 0; i < o->nruns; i++) sel |= o->runs[i] == r;
      if (!sel) continue;
    }
    if (!runs_done[r]) continue;
    const rs_config *cfg = rs_job_run(job, r);
    rs_run_shape sh;
    rs_config_shape(cfg, NULL, &sh);
    rs_dataset *data = NULL;
    const double *x = NULL;
    int np = 0;
    bool data_ready = false;
    for (int c = 0; c < nckpt[r] && err == RS_OK; c++) {
      bool is_final = steps[r * C + c] == last[r] && wfinal[r];
      bool have_all = wall[r * C + c] != 0;
      if (o->final_only ? !is_final : !(is_final || have_all)) continue;
      if (o->nckpts > 0) {
        bool sel = false;
        for (int i = 0; i < o->nckpts; i++) sel |= o->ckpts[i] == c;
        if (!sel) continue;
      }
      bool all_done = true;
      for (int l = 0; l < L; l++) all_done &= sdone[(r * C + c) * L + l] || l >= sh.nmeasured;
      if (all_done) continue;
      if (!data_ready) {
        err = rs__agree(comm, rs__points(cfg, o, &data, &x, &np));
        if (err != RS_OK) break;
        data_ready = true;
      }
      err = have_all ? rs__read_row(file, "weights/all", r, c, nparams[r], params, path)
                     : rs__read_row(file, "weights/final", r, -1, nparams[r], params, path);
      err = rs__agree(comm, err);
      if (err != RS_OK) break;
      rs_netview v;
      if ((err = rs__agree(comm, rs_netview_from_params(cfg, data, params, &v))) != RS_OK) break;
      if (v.nmeasure != sh.nmeasured) {
        err = rs_error(RS_EINTERNAL, "run %d: the model has %d measured layers, its shape %d", r,
                       v.nmeasure, sh.nmeasured);
        break;
      }
      for (int l = 1; l <= v.nmeasure && err == RS_OK; l++) {
        if (sdone[(r * C + c) * L + l - 1]) continue;
        int k = np < v.sizes[l] ? np : v.sizes[l];
        double t0 = rs__now();
        err = rs__agree(comm, rs_spectrum_layer(grid, &v, l, o->repr, x, np, 0, s));
        if (err != RS_OK) break;
        ndone++;
        if (!o->quiet && rank == 0)
          fprintf(stderr, "spectrum: run %d checkpoint %d (step %lld) layer %d: %d x %d in %.2f s\n",
                  r, c, (long long)steps[r * C + c], l, np, v.sizes[l], rs__now() - t0);
        if (rank == 0) {
          int32_t fr[RS_MAX_EPS];
          double ip[RS_MAX_NOISE], er = rs_ib_effective_rank(s, k);
          for (int e = 0; e < cfg->measure.neps; e++)
            fr[e] = rs_ib_feature_rank(s, k, np, cfg->measure.eps[e]);
          for (int q = 0; q < cfg->measure.nnoise; q++)
            ip[q] = rs_ib_gauss_channel(s, k, np, cfg->measure.noise[q]);
          hsize_t st4[4] = {r, c, l - 1, 0}, one = 1;
          hsize_t csv[4] = {1, 1, 1, k}, cfr[4] = {1, 1, 1, cfg->measure.neps},
                  cip[4] = {1, 1, 1, cfg->measure.nnoise}, c3[3] = {1, 1, 1};
          int32_t npv = np;
          uint8_t yes = 1;
          hsize_t st2[2] = {r, c}, c2[2] = {1, 1};
          (void)one;
          err = rs__write(d_sv, H5T_NATIVE_DOUBLE, 4, st4, csv, s);
          if (err == RS_OK) err = rs__write(d_fr, H5T_NATIVE_INT32, 4, st4, cfr, fr);
          if (err == RS_OK) err = rs__write(d_er, H5T_NATIVE_DOUBLE, 3, st4, c3, &er);
          if (err == RS_OK && cfg->measure.nnoise > 0)
            err = rs__write(d_ip, H5T_NATIVE_DOUBLE, 4, st4, cip, ip);
          if (err == RS_OK) err = rs__write(d_np, H5T_NATIVE_INT32, 2, st2, c2, &npv);
          /* The mask last: a cell counts only once its data are in. */
          if (err == RS_OK) err = rs__write(d_done, H5T_NATIVE_UINT8, 3, st4, c3, &yes);
        }
        err = rs__agree(comm, err);
      }
    }
    rs_dataset_destroy(&data);
  }
  if (!o->quiet && rank == 0 && err == RS_OK)
    fprintf(stderr, "spectrum: %d layer spectra on %d ranks in %.2f s\n", ndone, size,
            rs__now() - t_all);
out:
  err = rs__agree(comm, err);
  free(steps);
  free(nckpt);
  free(last);
  free(nparams);
  free(wfinal);
  free(wall);
  free(runs_done);
  free(sdone);
  free(text);
  free(params);
  free(s);
  if (grid) rs_pgrid_destroy(&grid);
  hid_t ds[] = {d_sv, d_fr, d_er, d_ip, d_np, d_done};
  for (size_t i = 0; i < sizeof ds / sizeof *ds; i++)
    if (ds[i] >= 0) H5Dclose(ds[i]);
  if (grp >= 0) H5Gclose(grp);
  if (file >= 0) H5Fclose(file);
  rs_job_destroy(&job);
  return err;
}
