/* The sweep archive: one parallel HDF5 file whose whole structure is created
 * collectively from the expanded grid, then filled by independent raw writes
 * (data first, written mask last), plus the serial readers (show, merge). */
#include "ranksweep/rs_archive.h"

#include <errno.h>
#include <hdf5.h>
#include <math.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ranksweep/rs_error.h"
#include "ranksweep/rs_fpenv.h"
#include "rs_build.h"

char *openblas_get_config(void);

#define RS__FORMAT "ranksweep-archive"
#define RS__FORMAT_VERSION 1
/* Chunks hold whole runs (as many as fit); a run larger than this is split
 * along checkpoints, then layers, then points. Small data stays contiguous. */
#define RS__CHUNK_BYTES ((hsize_t)1 << 20)
#define RS__TIME_LEN 32
#define RS__MAXRANK 5

/* ---------------------------------------------------------------- layout */

/* Padded dimensions and the per-run tables that define them. Everything an
 * archive's shape depends on; compared field by field on resume and merge.
 * The shard size is not among them: masks are per point, so archives written
 * with different shard sizes hold the same bytes. shard and S (shards of the
 * longest run) are the current process's view, used to map masks to shards. */
typedef struct {
  int64_t R, C, L, P, E, K, W, NP, SB;
  int64_t S, shard;
  int32_t *nckpt, *nlayers, *widths, *spec_len, *npoints, *neps, *nweights;
  int64_t *nparams, *state_size, *steps;
  int8_t *save;
  double *eps;
  bool weights_all;
} rs__layout;

static const struct {
  const char *name;
  size_t off;
} rs__dimattrs[] = {
    {"n_runs", offsetof(rs__layout, R)},     {"n_ckpt", offsetof(rs__layout, C)},
    {"n_layers", offsetof(rs__layout, L)},   {"n_points", offsetof(rs__layout, P)},
    {"n_eps", offsetof(rs__layout, E)},      {"n_spectrum", offsetof(rs__layout, K)},
    {"n_weights", offsetof(rs__layout, W)},  {"n_params", offsetof(rs__layout, NP)},
    {"n_state", offsetof(rs__layout, SB)},
};
#define RS__NDIMATTR (sizeof rs__dimattrs / sizeof rs__dimattrs[0])

/* Dims letters: R C L P E K W S N(params) B(state bytes), e = E+1, digits. */
typedef struct {
  const char *path;
  char type; /* d f64, f f32, i i32, l i64, c i8, b u8 */
  const char *dims;
  size_t off; /* static run tables: field of rs__layout */
} rs__dspec;

static const rs__dspec rs__tables[] = {
    {"runs/nckpt", 'i', "R", offsetof(rs__layout, nckpt)},
    {"runs/steps", 'l', "RC", offsetof(rs__layout, steps)},
    {"runs/nlayers", 'i', "R", offsetof(rs__layout, nlayers)},
    {"runs/widths", 'i', "RL", offsetof(rs__layout, widths)},
    {"runs/spec_len", 'i', "RL", offsetof(rs__layout, spec_len)},
    {"runs/npoints", 'i', "R", offsetof(rs__layout, npoints)},
    {"runs/neps", 'i', "R", offsetof(rs__layout, neps)},
    {"runs/eps", 'd', "RE", offsetof(rs__layout, eps)},
    {"runs/nweights", 'i', "R", offsetof(rs__layout, nweights)},
    {"runs/nparams", 'l', "R", offsetof(rs__layout, nparams)},
    {"runs/state_size", 'l', "R", offsetof(rs__layout, state_size)},
    {"runs/save_weights", 'c', "R", offsetof(rs__layout, save)},
};
#define RS__NTABLES (sizeof rs__tables / sizeof rs__tables[0])

enum {
  D_LR_MEAN, D_LR_COUNTS, D_LR_SPECTRA, D_LR_EFFRANK, D_LR_STABLE,
  D_M_TRAIN_LOSS, D_M_TRAIN_ACC, D_M_HELD_LOSS, D_M_HELD_ACC, D_M_RATE, D_M_INFO_Y,
  D_M_WFRO, D_M_WSPEC, D_M_WRANK,
  D_W_FINAL, D_W_ALL,
  D_S_BLOB, D_S_HEADER,
  D_R_DIVERGED, D_R_LAST_STEP,
  D_DONE_POINTS, D_DONE_METRICS, D_DONE_RUNS, D_DONE_WFINAL, D_DONE_WALL,
  D_N
};

static const rs__dspec rs__dsets[D_N] = {
    [D_LR_MEAN] = {"lr/mean", 'd', "RCLe", 0},
    [D_LR_COUNTS] = {"lr/counts", 'i', "RCLPe", 0},
    [D_LR_SPECTRA] = {"lr/spectra", 'f', "RCLPK", 0},
    [D_LR_EFFRANK] = {"lr/effrank", 'd', "RCLP", 0},
    [D_LR_STABLE] = {"lr/stablerank", 'd', "RCLP", 0},
    [D_M_TRAIN_LOSS] = {"metrics/train_loss", 'd', "RC", 0},
    [D_M_TRAIN_ACC] = {"metrics/train_acc", 'd', "RC", 0},
    [D_M_HELD_LOSS] = {"metrics/heldout_loss", 'd', "RC", 0},
    [D_M_HELD_ACC] = {"metrics/heldout_acc", 'd', "RC", 0},
    [D_M_RATE] = {"metrics/rate", 'd', "RC", 0},
    [D_M_INFO_Y] = {"metrics/info_y", 'd', "RC", 0},
    [D_M_WFRO] = {"metrics/weight_fro", 'd', "RCW", 0},
    [D_M_WSPEC] = {"metrics/weight_spec", 'd', "RCW", 0},
    [D_M_WRANK] = {"metrics/weight_rank", 'i', "RCWE", 0},
    [D_W_FINAL] = {"weights/final", 'd', "RN", 0},
    [D_W_ALL] = {"weights/all", 'd', "RCN", 0},
    [D_S_BLOB] = {"state/blob", 'b', "R2B", 0},
    [D_S_HEADER] = {"state/header", 'l', "R24", 0},
    [D_R_DIVERGED] = {"runs/diverged", 'c', "R", 0},
    [D_R_LAST_STEP] = {"runs/last_step", 'l', "R", 0},
    [D_DONE_POINTS] = {"done/points", 'b', "RCP", 0},
    [D_DONE_METRICS] = {"done/metrics", 'b', "RC", 0},
    [D_DONE_RUNS] = {"done/runs", 'b', "R", 0},
    [D_DONE_WFINAL] = {"done/weights_final", 'b', "R", 0},
    [D_DONE_WALL] = {"done/weights_all", 'b', "RC", 0},
};

static const char *const rs__groups[] = {"job", "runs", "runs/params", "runs/values", "lr",
                                         "metrics", "weights", "state", "done", "provenance"};

/* What the structure's strings come from: a job, or an existing archive. */
typedef struct {
  const char *name, *hash, *text;
  int naxes;
  const char **keys;      /* naxes */
  const char **run_names; /* R */
  const char **values;    /* R * naxes, run-major */
} rs__meta;

struct rs_archive {
  MPI_Comm comm; /* MPI_COMM_NULL: serial (sec2 driver) */
  int rank, size;
  char path[RS_PATH_MAX];
  hid_t file, dxpl;
  hid_t d[D_N];
  rs__layout lay;
};

/* ---------------------------------------------------------------- small helpers */

static hid_t rs__memtype(char t) {
  switch (t) {
  case 'd': return H5T_NATIVE_DOUBLE;
  case 'f': return H5T_NATIVE_FLOAT;
  case 'i': return H5T_NATIVE_INT32;
  case 'l': return H5T_NATIVE_INT64;
  case 'c': return H5T_NATIVE_INT8;
  default: return H5T_NATIVE_UINT8;
  }
}

static hid_t rs__filetype(char t) {
  switch (t) {
  case 'd': return H5T_IEEE_F64LE;
  case 'f': return H5T_IEEE_F32LE;
  case 'i': return H5T_STD_I32LE;
  case 'l': return H5T_STD_I64LE;
  case 'c': return H5T_STD_I8LE;
  default: return H5T_STD_U8LE;
  }
}

static size_t rs__esize(char t) {
  switch (t) {
  case 'd': case 'l': return 8;
  case 'f': case 'i': return 4;
  default: return 1;
  }
}

/* The fill value marking an unwritten cell: NaN, -1, or 0 for masks/bytes. */
static void rs__fill(char t, void *out) {
  double d = NAN;
  float f = NAN;
  int32_t i = -1;
  int64_t l = -1;
  int8_t c = -1;
  uint8_t b = 0;
  switch (t) {
  case 'd': memcpy(out, &d, 8); break;
  case 'f': memcpy(out, &f, 4); break;
  case 'i': memcpy(out, &i, 4); break;
  case 'l': memcpy(out, &l, 8); break;
  case 'c': memcpy(out, &c, 1); break;
  default: memcpy(out, &b, 1); break;
  }
}

static int rs__dims(const rs__layout *L, const char *spec, hsize_t *dims) {
  int n = 0;
  for (const char *s = spec; *s; s++) {
    int64_t v;
    switch (*s) {
    case 'R': v = L->R; break;
    case 'C': v = L->C; break;
    case 'L': v = L->L; break;
    case 'P': v = L->P; break;
    case 'E': v = L->E; break;
    case 'e': v = L->E + 1; break;
    case 'K': v = L->K; break;
    case 'W': v = L->W; break;
    case 'N': v = L->NP; break;
    case 'B': v = L->SB; break;
    default: v = *s - '0'; break;
    }
    dims[n++] = (hsize_t)v;
  }
  return n;
}

static bool rs__present(const rs__layout *L, int id) {
  hsize_t dims[RS__MAXRANK];
  int n = rs__dims(L, rs__dsets[id].dims, dims);
  for (int i = 0; i < n; i++)
    if (dims[i] == 0) return false;
  return id != D_W_ALL && id != D_DONE_WALL ? true : L->weights_all;
}

static void rs__now(char *buf) {
  time_t t = time(NULL);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(buf, RS__TIME_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static uint64_t rs__fnv1a(const void *p, int64_t n) {
  const unsigned char *b = p;
  uint64_t h = 1469598103934665603ull;
  for (int64_t i = 0; i < n; i++) {
    h ^= b[i];
    h *= 1099511628211ull;
  }
  return h;
}

/* HDF5 prints its error stack by default; expected failures (probing a file)
 * must stay quiet. */
#define RS__QUIET(expr, out)                                                 \
  do {                                                                       \
    H5E_auto2_t rs__f;                                                       \
    void *rs__d;                                                             \
    H5Eget_auto2(H5E_DEFAULT, &rs__f, &rs__d);                               \
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);                                   \
    out = (expr);                                                            \
    H5Eset_auto2(H5E_DEFAULT, rs__f, rs__d);                                 \
  } while (0)

static int rs__h5err(const char *path, const char *what) {
  return rs_error(RS_EHDF5, "%s: HDF5 failed to %s", path, what);
}

static void rs__layout_free(rs__layout *L) {
  for (size_t t = 0; t < RS__NTABLES; t++) {
    void **p = (void **)((char *)L + rs__tables[t].off);
    free(*p);
    *p = NULL;
  }
}

static int rs__layout_alloc(rs__layout *L) {
  for (size_t t = 0; t < RS__NTABLES; t++) {
    hsize_t dims[RS__MAXRANK];
    int n = rs__dims(L, rs__tables[t].dims, dims);
    size_t cnt = 1;
    for (int i = 0; i < n; i++) cnt *= dims[i];
    void **p = (void **)((char *)L + rs__tables[t].off);
    *p = malloc((cnt ? cnt : 1) * rs__esize(rs__tables[t].type));
    if (!*p) {
      rs__layout_free(L);
      return rs_error(RS_ENOMEM, "archive: out of memory for the run tables");
    }
    /* padding cells hold the fill value, so tables compare bytewise */
    char fill[8];
    rs__fill(rs__tables[t].type, fill);
    for (size_t i = 0; i < cnt; i++)
      memcpy((char *)*p + i * rs__esize(rs__tables[t].type), fill, rs__esize(rs__tables[t].type));
  }
  return RS_OK;
}

static int64_t rs__nshards(const rs__layout *L, int64_t run) {
  return (L->npoints[run] + L->shard - 1) / L->shard;
}

/* The shard grid of this process (not part of the file's structure). */
static void rs__set_shard(rs__layout *L, int64_t shard) {
  L->shard = shard > 0 ? shard : 1;
  L->S = (L->P + L->shard - 1) / L->shard;
}

static int rs__layout_from_job(const rs_job *job, const rs_archive_run *runs,
                               const rs_archive_info *info, rs__layout *L) {
  memset(L, 0, sizeof *L);
  int R = rs_job_nruns(job);
  if (R <= 0) return rs_error(RS_EARG, "archive: the job has no runs");
  if (!info || info->shard <= 0)
    return rs_error(RS_EARG, "archive: shard size must be positive (got %d)", info ? info->shard : 0);
  L->R = R;
  L->shard = info->shard;
  for (int r = 0; r < R; r++) {
    const rs_archive_run *x = &runs[r];
    if (x->nckpt <= 0 || x->nlayers < 0 || x->nlayers > RS_MAX_LAYERS + 1 || x->npoints < 0 ||
        x->neps < 0 || x->neps > RS_MAX_EPS || x->nweights < 0 || x->nweights > RS_MAX_LAYERS + 2 ||
        x->nparams < 0 || x->state_size < 0)
      return rs_error(RS_EARG, "archive: run %d has inconsistent sizes", r);
    if (x->neps != rs_job_run(job, r)->measure.neps)
      return rs_error(RS_EARG, "archive: run %d: neps %d differs from its configuration (%d)", r,
                      x->neps, rs_job_run(job, r)->measure.neps);
    if (x->nckpt > L->C) L->C = x->nckpt;
    if (x->nlayers > L->L) L->L = x->nlayers;
    if (x->npoints > L->P) L->P = x->npoints;
    if (x->neps > L->E) L->E = x->neps;
    if (x->nweights > L->W) L->W = x->nweights;
    /* weights are stored only for runs that save them */
    if (x->save_weights != RS_SAVE_NONE && x->nparams > L->NP) L->NP = x->nparams;
    if (x->state_size > L->SB) L->SB = x->state_size;
    for (int l = 0; l < x->nlayers; l++)
      if (x->spec_len[l] > L->K) L->K = x->spec_len[l];
    if (x->save_weights == RS_SAVE_ALL) L->weights_all = true;
  }
  RS_CALL(rs__layout_alloc(L));
  rs__set_shard(L, info->shard);
  for (int r = 0; r < R; r++) {
    const rs_archive_run *x = &runs[r];
    L->nckpt[r] = x->nckpt;
    for (int c = 0; c < x->nckpt; c++) L->steps[r * L->C + c] = x->ckpt_steps[c];
    L->nlayers[r] = x->nlayers;
    for (int l = 0; l < x->nlayers; l++) {
      L->widths[r * L->L + l] = x->widths[l];
      L->spec_len[r * L->L + l] = x->spec_len[l];
    }
    L->npoints[r] = x->npoints;
    L->neps[r] = x->neps;
    for (int e = 0; e < x->neps; e++) L->eps[r * L->E + e] = rs_job_run(job, r)->measure.eps[e];
    L->nweights[r] = x->nweights;
    L->nparams[r] = x->nparams;
    L->state_size[r] = x->state_size;
    L->save[r] = (int8_t)x->save_weights;
  }
  return RS_OK;
}

/* ---------------------------------------------------------------- attributes */

static int rs__attr_put(hid_t loc, const char *name, hid_t ftype, hid_t mtype, hsize_t n,
                        const void *val) {
  htri_t ex = H5Aexists(loc, name);
  hid_t a;
  if (ex > 0) {
    a = H5Aopen(loc, name, H5P_DEFAULT);
  } else {
    hid_t sp = n == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, NULL);
    a = H5Acreate2(loc, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Sclose(sp);
  }
  if (a < 0) return rs_error(RS_EHDF5, "archive: cannot create attribute %s", name);
  herr_t e = H5Awrite(a, mtype, val);
  H5Aclose(a);
  return e < 0 ? rs_error(RS_EHDF5, "archive: cannot write attribute %s", name) : RS_OK;
}

static int rs__attr_i64(hid_t loc, const char *name, int64_t v) {
  return rs__attr_put(loc, name, H5T_STD_I64LE, H5T_NATIVE_INT64, 0, &v);
}

/* Fixed-length strings (width = max(len, minw, 1)); rewriting in place keeps
 * the width chosen at creation, so later updates never restructure headers. */
static int rs__attr_str(hid_t loc, const char *name, const char *s, size_t minw) {
  size_t n = strlen(s);
  size_t w = n > minw ? n : minw;
  if (w == 0) w = 1;
  hid_t t = H5Tcopy(H5T_C_S1);
  if (H5Aexists(loc, name) > 0) {
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    hid_t ft = H5Aget_type(a);
    w = H5Tget_size(ft);
    H5Tclose(ft);
    H5Aclose(a);
  }
  H5Tset_size(t, w);
  H5Tset_strpad(t, H5T_STR_NULLPAD);
  char *buf = calloc(w, 1);
  if (!buf) {
    H5Tclose(t);
    return rs_error(RS_ENOMEM, "archive: out of memory");
  }
  memcpy(buf, s, n < w ? n : w);
  int rc = rs__attr_put(loc, name, t, t, 0, buf);
  free(buf);
  H5Tclose(t);
  return rc;
}

static int rs__attr_read_i64(hid_t loc, const char *name, int64_t *v) {
  htri_t ex;
  RS__QUIET(H5Aexists(loc, name), ex);
  if (ex <= 0) return RS_EHDF5;
  hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
  herr_t e = H5Aread(a, H5T_NATIVE_INT64, v);
  H5Aclose(a);
  return e < 0 ? RS_EHDF5 : RS_OK;
}

/* Reads a string attribute into buf (cap bytes, always terminated). */
static int rs__attr_read_str(hid_t loc, const char *name, char *buf, size_t cap) {
  buf[0] = '\0';
  htri_t ex;
  RS__QUIET(H5Aexists(loc, name), ex);
  if (ex <= 0) return RS_EHDF5;
  hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
  hid_t ft = H5Aget_type(a);
  size_t w = H5Tget_size(ft);
  H5Tclose(ft);
  char *tmp = calloc(w + 1, 1);
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, w);
  H5Tset_strpad(t, H5T_STR_NULLPAD);
  herr_t e = tmp ? H5Aread(a, t, tmp) : -1;
  H5Tclose(t);
  H5Aclose(a);
  if (e >= 0) snprintf(buf, cap, "%s", tmp);
  free(tmp);
  return e < 0 ? RS_EHDF5 : RS_OK;
}

/* ---------------------------------------------------------------- dataset I/O */

static hid_t rs__dcpl(int rank, const hsize_t *dims, char type, hsize_t esize) {
  hid_t p = H5Pcreate(H5P_DATASET_CREATE);
  hsize_t total = esize;
  for (int i = 0; i < rank; i++) total *= dims[i];
  if (total > RS__CHUNK_BYTES) {
    hsize_t c[RS__MAXRANK];
    for (int i = 0; i < rank; i++) c[i] = dims[i];
    for (int d = 0; d < rank; d++) {
      hsize_t inner = esize;
      for (int j = d + 1; j < rank; j++) inner *= c[j];
      hsize_t fit = RS__CHUNK_BYTES / inner;
      if (fit < 1) fit = 1;
      if (fit < c[d]) c[d] = fit;
      if (inner <= RS__CHUNK_BYTES) break;
    }
    H5Pset_chunk(p, rank, c);
  }
  /* Required: storage and fill exist before any independent write, so those
   * writes never touch metadata and unwritten cells read as fill. */
  H5Pset_alloc_time(p, H5D_ALLOC_TIME_EARLY);
  H5Pset_fill_time(p, H5D_FILL_TIME_ALLOC);
  char fill[8];
  rs__fill(type, fill);
  H5Pset_fill_value(p, rs__memtype(type), fill);
  /* Optional: no timestamps in object headers (archives compare clean). */
  H5Pset_obj_track_times(p, 0);
  return p;
}

static hid_t rs__dcreate(hid_t file, const char *path, char type, int rank, const hsize_t *dims) {
  hid_t sp = H5Screate_simple(rank, dims, NULL);
  hid_t p = rs__dcpl(rank, dims, type, rs__esize(type));
  hid_t d = H5Dcreate2(file, path, rs__filetype(type), sp, H5P_DEFAULT, p, H5P_DEFAULT);
  H5Pclose(p);
  H5Sclose(sp);
  return d;
}

/* Hyperslab read or write of a block starting at start with extent count. */
static int rs__io(hid_t d, const char *path, hid_t mtype, hid_t dxpl, int rank,
                  const hsize_t *start, const hsize_t *count, void *buf, bool wr) {
  hid_t fs = H5Dget_space(d);
  hid_t ms = H5Screate_simple(rank, count, NULL);
  herr_t e = H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
  if (e >= 0)
    e = wr ? H5Dwrite(d, mtype, ms, fs, dxpl, buf) : H5Dread(d, mtype, ms, fs, dxpl, buf);
  H5Sclose(ms);
  H5Sclose(fs);
  if (e < 0) return rs_error(RS_EHDF5, "archive: cannot %s %s", wr ? "write" : "read", path);
  return RS_OK;
}

/* One archive dataset: block [start, start+count) in its full rank. */
static int rs__dio(rs_archive *a, int id, const hsize_t *start, const hsize_t *count, void *buf,
                   bool wr) {
  if (a->d[id] < 0)
    return rs_error(RS_EARG, "%s: archive has no %s dataset", a->path, rs__dsets[id].path);
  return rs__io(a->d[id], rs__dsets[id].path, rs__memtype(rs__dsets[id].type), a->dxpl,
                (int)strlen(rs__dsets[id].dims), start, count, buf, wr);
}

/* Collective whole-dataset write of identical data: rank 0 writes, the others
 * take part with empty selections. */
static int rs__write_whole(hid_t d, hid_t mtype, MPI_Comm comm, int rank, const void *buf,
                           const char *path) {
  hid_t dxpl = H5P_DEFAULT;
  hid_t fs = H5Dget_space(d);
  hid_t ms = H5Scopy(fs);
  if (comm != MPI_COMM_NULL) {
    dxpl = H5Pcreate(H5P_DATASET_XFER);
    H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE);
    if (rank != 0) {
      H5Sselect_none(fs);
      H5Sselect_none(ms);
    }
  }
  herr_t e = H5Dwrite(d, mtype, ms, fs, dxpl, buf);
  if (dxpl != H5P_DEFAULT) H5Pclose(dxpl);
  H5Sclose(ms);
  H5Sclose(fs);
  return e < 0 ? rs_error(RS_EHDF5, "archive: cannot write %s", path) : RS_OK;
}

static hid_t rs__strtype(size_t w) {
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, w ? w : 1);
  H5Tset_strpad(t, H5T_STR_NULLPAD);
  return t;
}

/* A [n] dataset of fixed-length strings (variable length cannot be written in
 * parallel). Width = the longest string. */
static int rs__write_strings(hid_t file, MPI_Comm comm, int rank, const char *path, int n,
                             const char *const *s) {
  size_t w = 1;
  for (int i = 0; i < n; i++)
    if (strlen(s[i]) > w) w = strlen(s[i]);
  char *buf = calloc((size_t)n * w, 1);
  if (!buf) return rs_error(RS_ENOMEM, "archive: out of memory");
  for (int i = 0; i < n; i++) memcpy(buf + (size_t)i * w, s[i], strlen(s[i]));
  hid_t t = rs__strtype(w);
  hsize_t dim = (hsize_t)n;
  hid_t sp = H5Screate_simple(1, &dim, NULL);
  hid_t p = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_alloc_time(p, H5D_ALLOC_TIME_EARLY);
  H5Pset_obj_track_times(p, 0);
  hid_t d = H5Dcreate2(file, path, t, sp, H5P_DEFAULT, p, H5P_DEFAULT);
  H5Pclose(p);
  H5Sclose(sp);
  int rc = d < 0 ? rs_error(RS_EHDF5, "archive: cannot create %s", path)
                 : rs__write_whole(d, t, comm, rank, buf, path);
  if (d >= 0) H5Dclose(d);
  H5Tclose(t);
  free(buf);
  return rc;
}

/* Reads a [n] fixed-string dataset into n malloc'd strings (one block). */
static int rs__read_strings(hid_t file, const char *path, int n, char ***out) {
  *out = NULL;
  hid_t d = H5Dopen2(file, path, H5P_DEFAULT);
  if (d < 0) return rs_error(RS_EHDF5, "archive: cannot open %s", path);
  hid_t ft = H5Dget_type(d);
  size_t w = H5Tget_size(ft);
  H5Tclose(ft);
  char *raw = calloc((size_t)n * w + 1, 1);
  char **v = malloc((size_t)n * sizeof *v + (size_t)n * (w + 1));
  if (!raw || !v) {
    free(raw);
    free(v);
    H5Dclose(d);
    return rs_error(RS_ENOMEM, "archive: out of memory");
  }
  hid_t t = rs__strtype(w);
  herr_t e = H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw);
  H5Tclose(t);
  H5Dclose(d);
  char *pool = (char *)(v + n);
  for (int i = 0; i < n; i++) {
    v[i] = pool + (size_t)i * (w + 1);
    memcpy(v[i], raw + (size_t)i * w, w);
    v[i][w] = '\0';
  }
  free(raw);
  if (e < 0) {
    free(v);
    return rs_error(RS_EHDF5, "archive: cannot read %s", path);
  }
  *out = v;
  return RS_OK;
}

static bool rs__parse_num(const char *s, double *v) {
  if (!*s) return false;
  char *end;
  errno = 0;
  *v = strtod(s, &end);
  return *end == '\0' && errno == 0;
}

/* ---------------------------------------------------------------- structure */

static int rs__bcast_str(char *buf, int cap, MPI_Comm comm) {
  if (comm == MPI_COMM_NULL) return RS_OK;
  if (MPI_Bcast(buf, cap, MPI_CHAR, 0, comm) != MPI_SUCCESS)
    return rs_error(RS_EMPI, "archive: MPI_Bcast failed");
  return RS_OK;
}

/* Everything that is not scientific content: versions, host, ranks, times. */
static int rs__write_provenance(hid_t prov, MPI_Comm comm, int rank, int size,
                                const rs_archive_info *info) {
  char mpi[MPI_MAX_LIBRARY_VERSION_STRING] = "", hdf5[64], blas[512] = "", now[RS__TIME_LEN] = "";
  char host[256] = "", hosts[2048] = "";
  if (rank == 0) {
    int len = 0;
    MPI_Get_library_version(mpi, &len);
    char *nl = strchr(mpi, '\n');
    if (nl) *nl = '\0';
    const char *cfg = openblas_get_config();
    snprintf(blas, sizeof blas, "%s", cfg ? cfg : "");
    rs__now(now);
  }
  unsigned maj, min, rel;
  H5get_libversion(&maj, &min, &rel);
  snprintf(hdf5, sizeof hdf5, "%u.%u.%u", maj, min, rel);
  gethostname(host, sizeof host - 1);
  if (comm != MPI_COMM_NULL) {
    char *all = malloc((size_t)size * sizeof host);
    if (!all) return rs_error(RS_ENOMEM, "archive: out of memory");
    MPI_Allgather(host, (int)sizeof host, MPI_CHAR, all, (int)sizeof host, MPI_CHAR, comm);
    for (int i = 0; i < size; i++) {
      const char *h = all + (size_t)i * sizeof host;
      bool seen = false;
      for (int j = 0; j < i; j++) seen |= strcmp(h, all + (size_t)j * sizeof host) == 0;
      if (!seen && strlen(hosts) + strlen(h) + 2 < sizeof hosts) {
        if (hosts[0]) strcat(hosts, ",");
        strcat(hosts, h);
      }
    }
    free(all);
    memcpy(host, hosts, sizeof host - 1);
    host[sizeof host - 1] = '\0';
  } else {
    snprintf(hosts, sizeof hosts, "%s", host);
  }
  RS_CALL(rs__bcast_str(mpi, sizeof mpi, comm));
  RS_CALL(rs__bcast_str(blas, sizeof blas, comm));
  RS_CALL(rs__bcast_str(now, sizeof now, comm));
  char first_host[256];
  snprintf(first_host, sizeof first_host, "%.*s", (int)strcspn(hosts, ","), hosts);
  RS_CALL(rs__attr_str(prov, "ranksweep_version", RS_VERSION, 0));
  RS_CALL(rs__attr_str(prov, "git_commit", RS_GIT_COMMIT, 0));
  RS_CALL(rs__attr_str(prov, "mpi_library", mpi, 0));
  RS_CALL(rs__attr_str(prov, "hdf5_version", hdf5, 0));
  RS_CALL(rs__attr_str(prov, "openblas_config", blas, 0));
  /* The kernel as its own field: it changes floating-point bits (see
   * docs/design.md, "What bit-identity covers"); _last is rewritten on resume. */
  RS_CALL(rs__attr_str(prov, "blas_kernel", rs_blas_kernel(), 32));
  RS_CALL(rs__attr_str(prov, "blas_kernel_last", rs_blas_kernel(), 32));
  RS_CALL(rs__attr_i64(prov, "blas_kernel_changes", 0));
  RS_CALL(rs__attr_str(prov, "cpu_isa", rs_cpu_best_isa(), 16));
  RS_CALL(rs__attr_i64(prov, "nranks", size));
  RS_CALL(rs__attr_i64(prov, "blas_threads", info ? info->blas_threads : 0));
  RS_CALL(rs__attr_i64(prov, "shard_size", info ? info->shard : 0));
  RS_CALL(rs__attr_str(prov, "hostname", first_host, 0));
  RS_CALL(rs__attr_str(prov, "hosts", hosts, 0));
  RS_CALL(rs__attr_str(prov, "start_time", now, RS__TIME_LEN));
  RS_CALL(rs__attr_str(prov, "end_time", "", RS__TIME_LEN));
  RS_CALL(rs__attr_i64(prov, "resume_count", 0));
  RS_CALL(rs__attr_str(prov, "last_resume_time", "", RS__TIME_LEN));
  return RS_OK;
}

static int rs__open_dsets(rs_archive *a) {
  for (int i = 0; i < D_N; i++) {
    a->d[i] = H5I_INVALID_HID;
    if (!rs__present(&a->lay, i)) continue;
    a->d[i] = H5Dopen2(a->file, rs__dsets[i].path, H5P_DEFAULT);
    if (a->d[i] < 0) return rs_error(RS_EARCHIVE, "%s: archive lacks %s", a->path, rs__dsets[i].path);
  }
  return RS_OK;
}

static hid_t rs__fapl(MPI_Comm comm) {
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  if (comm != MPI_COMM_NULL) {
    H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL);
    /* Optional: metadata writes collective. Metadata READS must stay
     * independent (no H5Pset_all_coll_metadata_ops): a rank alone reading a
     * chunk index after reopening would otherwise wait for the others. */
    H5Pset_coll_metadata_write(fapl, 1);
  }
  /* Default (earliest) format on purpose: the newest superblock records "open
   * for writing" and refuses to reopen after a kill until h5clear is run. */
  return fapl;
}

static rs_archive *rs__new(MPI_Comm comm, const char *path) {
  rs_archive *a = calloc(1, sizeof *a);
  if (!a) return NULL;
  a->comm = comm;
  a->rank = 0;
  a->size = 1;
  if (comm != MPI_COMM_NULL) {
    MPI_Comm_rank(comm, &a->rank);
    MPI_Comm_size(comm, &a->size);
  }
  snprintf(a->path, sizeof a->path, "%s", path);
  a->file = H5I_INVALID_HID;
  a->dxpl = H5P_DEFAULT;
  for (int i = 0; i < D_N; i++) a->d[i] = H5I_INVALID_HID;
  if (comm != MPI_COMM_NULL) {
    a->dxpl = H5Pcreate(H5P_DATASET_XFER);
    H5Pset_dxpl_mpio(a->dxpl, H5FD_MPIO_INDEPENDENT);
  }
  return a;
}

static void rs__free(rs_archive *a) {
  if (!a) return;
  for (int i = 0; i < D_N; i++)
    if (a->d[i] >= 0) H5Dclose(a->d[i]);
  if (a->file >= 0) H5Fclose(a->file);
  if (a->dxpl != H5P_DEFAULT) H5Pclose(a->dxpl);
  rs__layout_free(&a->lay);
  free(a);
}

static int rs__exists(MPI_Comm comm, int rank, const char *path) {
  int ex = 0;
  if (rank == 0) ex = access(path, F_OK) == 0;
  if (comm != MPI_COMM_NULL) MPI_Bcast(&ex, 1, MPI_INT, 0, comm);
  return ex;
}

/* Test hook: RANKSWEEP_TEST_KILL_IN_CREATE=k kills every rank with SIGKILL
 * at point k of the creation (1 after H5Fcreate, 2 after the format flush,
 * 3 with all datasets created but unflushed, 4 flushed but before the marker). */
static void rs__test_kill(int k) {
  const char *v = getenv("RANKSWEEP_TEST_KILL_IN_CREATE");
  if (v && atoi(v) == k) raise(SIGKILL);
}

/* Test hook: RANKSWEEP_TEST_KILL_AT_WRITE=n kills this process with SIGKILL
 * in the middle of its n-th result write: after the data, before the mask (or
 * for a training state, after the blob, before its header). */
static void rs__test_kill_in_write(void) {
  static long count = 0;
  static long at = -2;
  if (at == -2) {
    const char *v = getenv("RANKSWEEP_TEST_KILL_AT_WRITE");
    at = v ? atol(v) : -1;
  }
  if (at > 0 && ++count == at) raise(SIGKILL);
}

/* Collective. Builds the whole file. Takes ownership of *lay on success. */
static int rs__create(MPI_Comm comm, const char *path, rs__layout *lay, const rs__meta *meta,
                      const rs_archive_info *info, rs_archive **out) {
  *out = NULL;
  rs_archive *a = rs__new(comm, path);
  if (!a) return rs_error(RS_ENOMEM, "archive: out of memory");
  if (rs__exists(comm, a->rank, path)) {
    rs__free(a);
    return rs_error(RS_EEXISTS,
                    "%s: output exists; ranksweep never overwrites an archive (pass --resume to "
                    "continue it, or choose another path)",
                    path);
  }
  hid_t fapl = rs__fapl(comm);
  hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
  H5Pset_obj_track_times(fcpl, 0);
  RS__QUIET(H5Fcreate(path, H5F_ACC_EXCL, fcpl, fapl), a->file);
  H5Pclose(fcpl);
  H5Pclose(fapl);
  if (a->file < 0) {
    rs__free(a);
    return rs_error(RS_EIO, "%s: cannot create the archive (exists, or directory not writable)", path);
  }
  rs__test_kill(1);
  a->lay = *lay;
  memset(lay, 0, sizeof *lay);
  rs__layout *L = &a->lay;
  int rc = RS_OK;
#define RS__TRY(expr)                                                        \
  do {                                                                       \
    rc = (expr);                                                             \
    if (rc != RS_OK) goto fail;                                              \
  } while (0)
  /* The format name reaches the disk first, so a file killed during creation
   * is still recognisable as ours (rs_archive_probe). */
  RS__TRY(rs__attr_str(a->file, "format", RS__FORMAT, 0));
  RS__TRY(rs__attr_i64(a->file, "format_version", RS__FORMAT_VERSION));
  if (H5Fflush(a->file, H5F_SCOPE_GLOBAL) < 0) RS__TRY(rs__h5err(path, "flush"));
  rs__test_kill(2);

  RS__TRY(rs__attr_str(a->file, "job_name", meta->name, 0));
  RS__TRY(rs__attr_str(a->file, "job_hash", meta->hash, 0));
  for (size_t i = 0; i < RS__NDIMATTR; i++)
    RS__TRY(rs__attr_i64(a->file, rs__dimattrs[i].name, *(int64_t *)((char *)L + rs__dimattrs[i].off)));
  bool uniform = true;
  for (int64_t r = 1; r < L->R; r++)
    uniform &= L->neps[r] == L->neps[0] &&
               memcmp(L->eps + r * L->E, L->eps, (size_t)L->E * sizeof(double)) == 0;
  if (uniform && L->neps[0] > 0)
    RS__TRY(rs__attr_put(a->file, "eps", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, (hsize_t)L->neps[0], L->eps));
  RS__TRY(rs__attr_i64(a->file, "complete", 0));

  hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
  H5Pset_obj_track_times(gcpl, 0);
  for (size_t g = 0; g < sizeof rs__groups / sizeof rs__groups[0]; g++) {
    hid_t h = H5Gcreate2(a->file, rs__groups[g], H5P_DEFAULT, gcpl, H5P_DEFAULT);
    if (h < 0) {
      H5Pclose(gcpl);
      RS__TRY(rs__h5err(path, "create a group"));
    }
    H5Gclose(h);
  }
  H5Pclose(gcpl);

  { /* the job file's exact text */
    size_t n = strlen(meta->text);
    hid_t t = rs__strtype(n);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t p = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_obj_track_times(p, 0);
    hid_t d = H5Dcreate2(a->file, "job/text", t, sp, H5P_DEFAULT, p, H5P_DEFAULT);
    H5Pclose(p);
    H5Sclose(sp);
    char *buf = calloc(n ? n : 1, 1);
    if (buf) memcpy(buf, meta->text, n);
    rc = d < 0 || !buf ? rs__h5err(path, "create job/text")
                       : rs__write_whole(d, t, comm, a->rank, buf, "job/text");
    free(buf);
    if (d >= 0) H5Dclose(d);
    H5Tclose(t);
    if (rc != RS_OK) goto fail;
  }

  RS__TRY(rs__write_strings(a->file, comm, a->rank, "runs/name", (int)L->R, meta->run_names));
  for (int ax = 0; ax < meta->naxes; ax++) {
    const char **col = malloc((size_t)L->R * sizeof *col);
    double *num = malloc((size_t)L->R * sizeof *num);
    if (!col || !num) {
      free(col);
      free(num);
      RS__TRY(rs_error(RS_ENOMEM, "archive: out of memory"));
    }
    bool numeric = true;
    for (int64_t r = 0; r < L->R; r++) {
      col[r] = meta->values[r * meta->naxes + ax];
      numeric &= rs__parse_num(col[r], &num[r]);
    }
    char p1[RS_PATH_MAX], p2[RS_PATH_MAX];
    snprintf(p1, sizeof p1, "runs/params/%s", meta->keys[ax]);
    snprintf(p2, sizeof p2, "runs/values/%s", meta->keys[ax]);
    rc = rs__write_strings(a->file, comm, a->rank, p1, (int)L->R, col);
    if (rc == RS_OK && numeric) {
      hsize_t dim = (hsize_t)L->R;
      hid_t d = rs__dcreate(a->file, p2, 'd', 1, &dim);
      rc = d < 0 ? rs__h5err(path, "create runs/values")
                 : rs__write_whole(d, H5T_NATIVE_DOUBLE, comm, a->rank, num, p2);
      if (d >= 0) H5Dclose(d);
    }
    free(col);
    free(num);
    if (rc != RS_OK) goto fail;
  }
  for (size_t t = 0; t < RS__NTABLES; t++) {
    hsize_t dims[RS__MAXRANK];
    int n = rs__dims(L, rs__tables[t].dims, dims);
    bool empty = false;
    for (int i = 0; i < n; i++) empty |= dims[i] == 0;
    if (empty) continue;
    hid_t d = rs__dcreate(a->file, rs__tables[t].path, rs__tables[t].type, n, dims);
    if (d < 0) RS__TRY(rs__h5err(path, "create a run table"));
    rc = rs__write_whole(d, rs__memtype(rs__tables[t].type), comm, a->rank,
                         *(void **)((char *)L + rs__tables[t].off), rs__tables[t].path);
    /* (data helper, issue 13) which entry of a VIB run's widths is the latent */
    if (rc == RS_OK && strcmp(rs__tables[t].path, "runs/widths") == 0)
      rc = rs__attr_str(d, "entries",
                        "measured layers 1..nlayers of each run: mlp = the hidden layers; vib = "
                        "the encoder's hidden layers, then the latent mean head of size K = "
                        "model.latent as entry nlayers-1 (0-based)", 0);
    H5Dclose(d);
    if (rc != RS_OK) goto fail;
  }
  for (int i = 0; i < D_N; i++) {
    if (!rs__present(L, i)) continue;
    hsize_t dims[RS__MAXRANK];
    int n = rs__dims(L, rs__dsets[i].dims, dims);
    a->d[i] = rs__dcreate(a->file, rs__dsets[i].path, rs__dsets[i].type, n, dims);
    if (a->d[i] < 0) RS__TRY(rs_error(RS_EHDF5, "%s: cannot create %s", path, rs__dsets[i].path));
  }
  if (a->d[D_S_HEADER] >= 0)
    RS__TRY(rs__attr_str(a->d[D_S_HEADER], "columns", "step,seq,nbytes,fnv1a64", 0));

  hid_t prov = H5Gopen2(a->file, "provenance", H5P_DEFAULT);
  rc = rs__write_provenance(prov, comm, a->rank, a->size, info);
  H5Gclose(prov);
  if (rc != RS_OK) goto fail;

  rs__test_kill(3);
  /* Everything above must be on disk before the marker that says so. */
  if (H5Fflush(a->file, H5F_SCOPE_GLOBAL) < 0) RS__TRY(rs__h5err(path, "flush"));
  rs__test_kill(4);
  RS__TRY(rs__attr_i64(a->file, "structure_complete", 1));
  if (H5Fflush(a->file, H5F_SCOPE_GLOBAL) < 0) RS__TRY(rs__h5err(path, "flush"));
#undef RS__TRY
  *out = a;
  return RS_OK;
fail:
  rs__free(a);
  return rc;
}

int rs_archive_create(MPI_Comm comm, const char *path, const rs_job *job,
                      const rs_archive_run *runs, const rs_archive_info *info,
                      rs_archive **out) {
  *out = NULL;
  rs__layout L;
  RS_CALL(rs__layout_from_job(job, runs, info, &L));
  int R = rs_job_nruns(job), naxes = rs_job_naxes(job);
  const char **keys = malloc(((size_t)naxes + (size_t)R + (size_t)R * naxes + 1) * sizeof *keys);
  if (!keys) {
    rs__layout_free(&L);
    return rs_error(RS_ENOMEM, "archive: out of memory");
  }
  const char **names = keys + naxes, **vals = names + R;
  for (int ax = 0; ax < naxes; ax++) keys[ax] = rs_job_axis_key(job, ax);
  for (int r = 0; r < R; r++) {
    names[r] = rs_job_run_name(job, r);
    for (int ax = 0; ax < naxes; ax++) vals[r * naxes + ax] = rs_job_run_value(job, r, ax);
  }
  rs__meta meta = {rs_job_name(job), rs_job_hash(job), rs_job_text(job), naxes, keys, names, vals};
  int rc = rs__create(comm, path, &L, &meta, info, out);
  rs__layout_free(&L);
  free(keys);
  if (rc != RS_OK) rs__error_trace(__FILE__, __LINE__, __func__);
  return rc;
}

/* ---------------------------------------------------------------- open */

/* Reads the dims attributes and run tables of an open archive. */
static int rs__layout_read(hid_t file, const char *path, rs__layout *L) {
  memset(L, 0, sizeof *L);
  for (size_t i = 0; i < RS__NDIMATTR; i++)
    if (rs__attr_read_i64(file, rs__dimattrs[i].name, (int64_t *)((char *)L + rs__dimattrs[i].off)) != RS_OK)
      return rs_error(RS_EARCHIVE, "%s: archive lacks the %s attribute", path, rs__dimattrs[i].name);
  RS_CALL(rs__layout_alloc(L));
  for (size_t t = 0; t < RS__NTABLES; t++) {
    hsize_t dims[RS__MAXRANK];
    int n = rs__dims(L, rs__tables[t].dims, dims);
    bool empty = false;
    for (int i = 0; i < n; i++) empty |= dims[i] == 0;
    if (empty) continue;
    hid_t d;
    RS__QUIET(H5Dopen2(file, rs__tables[t].path, H5P_DEFAULT), d);
    herr_t e = d < 0 ? -1
                     : H5Dread(d, rs__memtype(rs__tables[t].type), H5S_ALL, H5S_ALL, H5P_DEFAULT,
                               *(void **)((char *)L + rs__tables[t].off));
    if (d >= 0) H5Dclose(d);
    if (e < 0) {
      rs__layout_free(L);
      return rs_error(RS_EARCHIVE, "%s: archive lacks a readable %s", path, rs__tables[t].path);
    }
  }
  for (int64_t r = 0; r < L->R; r++) L->weights_all |= L->save[r] == RS_SAVE_ALL;
  return RS_OK;
}

/* True when equal; otherwise names the first difference in msg. */
static bool rs__layout_equal(const rs__layout *x, const rs__layout *y, char *msg, size_t cap) {
  for (size_t i = 0; i < RS__NDIMATTR; i++) {
    int64_t u = *(const int64_t *)((const char *)x + rs__dimattrs[i].off);
    int64_t v = *(const int64_t *)((const char *)y + rs__dimattrs[i].off);
    if (u != v) {
      snprintf(msg, cap, "%s %lld vs %lld", rs__dimattrs[i].name, (long long)u, (long long)v);
      return false;
    }
  }
  for (size_t t = 0; t < RS__NTABLES; t++) {
    hsize_t dims[RS__MAXRANK];
    int n = rs__dims(x, rs__tables[t].dims, dims);
    size_t cnt = rs__esize(rs__tables[t].type);
    for (int i = 0; i < n; i++) cnt *= dims[i];
    if (memcmp(*(void *const *)((const char *)x + rs__tables[t].off),
               *(void *const *)((const char *)y + rs__tables[t].off), cnt) != 0) {
      snprintf(msg, cap, "%s differs", rs__tables[t].path);
      return false;
    }
  }
  return true;
}

/* What an open HDF5 file is: ours and complete, ours but interrupted during
 * creation (no marker; or nothing at all in it, as right after H5Fcreate),
 * or something else. */
static rs_archive_status rs__classify(hid_t fid) {
  char fmt[64];
  int64_t done = 0;
  if (rs__attr_read_str(fid, "format", fmt, sizeof fmt) == RS_OK) {
    if (strcmp(fmt, RS__FORMAT) != 0) return RS_ARCHIVE_FOREIGN;
    if (rs__attr_read_i64(fid, "structure_complete", &done) != RS_OK || done != 1)
      return RS_ARCHIVE_INCOMPLETE;
    return RS_ARCHIVE_READY;
  }
  H5G_info_t gi;
  H5O_info_t oi;
  if (H5Gget_info(fid, &gi) >= 0 && H5Oget_info2(fid, &oi, H5O_INFO_NUM_ATTRS) >= 0 &&
      gi.nlinks == 0 && oi.num_attrs == 0)
    return RS_ARCHIVE_INCOMPLETE;
  return RS_ARCHIVE_FOREIGN;
}

/* Serial, read-only check of what is at path (see rs_archive_status). */
int rs_archive_probe(const char *path, rs_archive_status *status) {
  struct stat st;
  if (stat(path, &st) != 0) {
    *status = RS_ARCHIVE_ABSENT;
    return RS_OK;
  }
  unsigned char sig[8] = {0};
  FILE *f = fopen(path, "rb");
  if (!f) return rs_error(RS_EIO, "%s: cannot read", path);
  size_t got = fread(sig, 1, 8, f);
  fclose(f);
  static const unsigned char h5sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
  if (memcmp(sig, h5sig, got) != 0) { /* (an empty file matches: got = 0) */
    *status = RS_ARCHIVE_FOREIGN;
    return RS_OK;
  }
  if (got < 8) { /* empty, or killed while writing the superblock */
    *status = RS_ARCHIVE_INCOMPLETE;
    return RS_OK;
  }
  hid_t fid;
  RS__QUIET(H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT), fid);
  if (fid < 0) {
    *status = RS_ARCHIVE_INCOMPLETE;
    return RS_OK;
  }
  *status = rs__classify(fid);
  H5Fclose(fid);
  return RS_OK;
}

static int rs__open(MPI_Comm comm, const char *path, unsigned mode, rs_archive **out) {
  *out = NULL;
  rs_archive *a = rs__new(comm, path);
  if (!a) return rs_error(RS_ENOMEM, "archive: out of memory");
  if (!rs__exists(comm, a->rank, path)) {
    rs__free(a);
    return rs_error(RS_EIO, "%s: no such archive", path);
  }
  hid_t fapl = rs__fapl(comm);
  RS__QUIET(H5Fopen(path, mode, fapl), a->file);
  H5Pclose(fapl);
  if (a->file < 0) {
    rs__free(a);
    return rs_error(RS_EARCHIVE,
                    "%s: not a readable HDF5 file (creation interrupted before its structure was "
                    "flushed, or not an archive)",
                    path);
  }
  rs_archive_status cls = rs__classify(a->file);
  if (cls == RS_ARCHIVE_FOREIGN) {
    rs__free(a);
    return rs_error(RS_EARCHIVE, "%s: not a ranksweep archive (no format attribute \"%s\")", path,
                    RS__FORMAT);
  }
  if (cls == RS_ARCHIVE_INCOMPLETE) {
    rs__free(a);
    return rs_error(RS_EARCHIVE,
                    "%s: archive structure incomplete (creation was interrupted, so nothing was "
                    "written): delete it and start again",
                    path);
  }
  int64_t ver = 0;
  rs__attr_read_i64(a->file, "format_version", &ver);
  if (ver != RS__FORMAT_VERSION) {
    rs__free(a);
    return rs_error(RS_EARCHIVE, "%s: archive format version %lld, this ranksweep reads %d", path,
                    (long long)ver, RS__FORMAT_VERSION);
  }
  int rc = rs__layout_read(a->file, path, &a->lay);
  if (rc == RS_OK) {
    int64_t shard = 0; /* the writer's shard grid, until a resume sets its own */
    hid_t pv;
    RS__QUIET(H5Gopen2(a->file, "provenance", H5P_DEFAULT), pv);
    if (pv >= 0) {
      rs__attr_read_i64(pv, "shard_size", &shard);
      H5Gclose(pv);
    }
    rs__set_shard(&a->lay, shard);
    rc = rs__open_dsets(a);
  }
  if (rc != RS_OK) {
    rs__free(a);
    return rc;
  }
  *out = a;
  return RS_OK;
}

int rs_archive_open(MPI_Comm comm, const char *path, const rs_job *job,
                    const rs_archive_run *runs, const rs_archive_info *info,
                    rs_archive **out) {
  *out = NULL;
  rs_archive *a;
  RS_CALL(rs__open(comm, path, H5F_ACC_RDWR, &a));
  char hash[128];
  rs__attr_read_str(a->file, "job_hash", hash, sizeof hash);
  if (strcmp(hash, rs_job_hash(job)) != 0) {
    rs__free(a);
    return rs_error(RS_EARCHIVE,
                    "%s: archive belongs to another job file (archive job_hash %s, this job %s)",
                    path, hash, rs_job_hash(job));
  }
  rs__layout want;
  int rc = rs__layout_from_job(job, runs, info, &want);
  if (rc != RS_OK) {
    rs__free(a);
    return rc;
  }
  char why[256];
  bool same = rs__layout_equal(&a->lay, &want, why, sizeof why);
  rs__layout_free(&want);
  rs__set_shard(&a->lay, info->shard);
  if (!same) {
    rs__free(a);
    return rs_error(RS_EARCHIVE,
                    "%s: archive dimensions differ from this job's expansion (archive vs now: %s)",
                    path, why);
  }
  /* In-place rewrites of attributes created with these widths: no
   * restructuring of metadata, then flushed at once. */
  char now[RS__TIME_LEN] = "";
  if (a->rank == 0) rs__now(now);
  rc = rs__bcast_str(now, sizeof now, comm);
  hid_t prov = H5Gopen2(a->file, "provenance", H5P_DEFAULT);
  int64_t n = 0;
  rs__attr_read_i64(prov, "resume_count", &n);
  if (rc == RS_OK) rc = rs__attr_i64(prov, "resume_count", n + 1);
  if (rc == RS_OK) rc = rs__attr_str(prov, "last_resume_time", now, RS__TIME_LEN);
  if (rc == RS_OK && info) rc = rs__attr_i64(prov, "nranks_last", a->size);
  char kernel0[64] = "";
  if (rc == RS_OK && rs__attr_read_str(prov, "blas_kernel", kernel0, sizeof kernel0) == RS_OK) {
    /* Archives from before this field have none: nothing to compare. */
    const char *now_k = rs_blas_kernel();
    if (strcmp(kernel0, now_k) != 0) {
      int64_t changes = 0;
      rs__attr_read_i64(prov, "blas_kernel_changes", &changes);
      rc = rs__attr_i64(prov, "blas_kernel_changes", changes + 1);
      if (a->rank == 0)
        fprintf(stderr,
                "ranksweep: warning: %s was started with OpenBLAS kernel '%s' and resumes with "
                "'%s': runs trained across the change are not bit-identical to uninterrupted "
                "ones\n",
                path, kernel0, now_k);
    }
    if (rc == RS_OK) rc = rs__attr_str(prov, "blas_kernel_last", now_k, 32);
  }
  H5Gclose(prov);
  if (rc == RS_OK && H5Fflush(a->file, H5F_SCOPE_GLOBAL) < 0) rc = rs__h5err(path, "flush");
  if (rc != RS_OK) {
    rs__free(a);
    return rc;
  }
  *out = a;
  return RS_OK;
}

int rs_archive_open_or_create(MPI_Comm comm, const char *path, const rs_job *job,
                              const rs_archive_run *runs, const rs_archive_info *info,
                              bool resume, rs_archive **out, bool *created) {
  *out = NULL;
  if (created) *created = false;
  if (!resume) {
    RS_CALL(rs_archive_create(comm, path, job, runs, info, out));
    if (created) *created = true;
    return RS_OK;
  }
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  rs_archive_status st = RS_ARCHIVE_ABSENT;
  int v[2] = {RS_OK, 0};
  if (rank == 0) {
    v[0] = rs_archive_probe(path, &st);
    v[1] = (int)st;
    /* nothing can have been written to an interrupted creation: start over */
    if (v[0] == RS_OK && st == RS_ARCHIVE_INCOMPLETE && unlink(path) != 0)
      v[0] = rs_error(RS_EIO, "%s: cannot remove the interrupted archive: %s", path, strerror(errno));
  }
  MPI_Bcast(v, 2, MPI_INT, 0, comm);
  if (v[0] != RS_OK) {
    if (rank != 0) rs_error(v[0], "%s: cannot inspect the archive (see rank 0)", path);
    return v[0];
  }
  st = (rs_archive_status)v[1];
  if (st == RS_ARCHIVE_FOREIGN)
    return rs_error(RS_EARCHIVE, "%s: exists and is not a ranksweep archive; refusing to touch it", path);
  if (st == RS_ARCHIVE_READY) return rs_archive_open(comm, path, job, runs, info, out);
  RS_CALL(rs_archive_create(comm, path, job, runs, info, out));
  if (created) *created = true;
  return RS_OK;
}

/* ---------------------------------------------------------------- writes */

static int rs__check_run(const rs_archive *a, int run) {
  if (run < 0 || run >= a->lay.R)
    return rs_error(RS_EARG, "%s: run %d out of range [0, %lld)", a->path, run, (long long)a->lay.R);
  return RS_OK;
}

static int rs__check_ckpt(const rs_archive *a, int run, int ckpt) {
  RS_CALL(rs__check_run(a, run));
  if (ckpt < 0 || ckpt >= a->lay.nckpt[run])
    return rs_error(RS_EARG, "%s: run %d: checkpoint %d out of range [0, %d)", a->path, run, ckpt,
                    a->lay.nckpt[run]);
  return RS_OK;
}

static int rs__set_mask(rs_archive *a, int id, int rank, const hsize_t *start) {
  uint8_t one = 1;
  hsize_t count[RS__MAXRANK] = {1, 1, 1, 1, 1};
  (void)rank;
  return rs__dio(a, id, start, count, &one, true);
}

/* Marks points [p0, p0+np) of (run, ckpt) done in archive `a` (one write). */
static int rs__set_points(rs_archive *a, int run, int ckpt, int p0, int np) {
  uint8_t ones[4096];
  memset(ones, 1, sizeof ones);
  for (int q = 0; q < np; q += (int)sizeof ones) {
    int n = np - q < (int)sizeof ones ? np - q : (int)sizeof ones;
    hsize_t st[3] = {(hsize_t)run, (hsize_t)ckpt, (hsize_t)(p0 + q)}, ct[3] = {1, 1, (hsize_t)n};
    RS_CALL(rs__dio(a, D_DONE_POINTS, st, ct, ones, true));
  }
  return RS_OK;
}

int rs_archive_write_shard(rs_archive *a, int run, int ckpt, int shard, int p0, int np,
                           const rs_lr_points *res) {
  RS_CALL(rs__check_ckpt(a, run, ckpt));
  const rs__layout *L = &a->lay;
  int64_t want = L->npoints[run] - (int64_t)shard * L->shard;
  if (want > L->shard) want = L->shard;
  if (shard < 0 || shard >= rs__nshards(L, run) || p0 != shard * L->shard || np != want)
    return rs_error(RS_EARG, "%s: run %d: shard %d (points %d..%d) does not match the shard grid",
                    a->path, run, shard, p0, p0 + np);
  if (res->neps != L->neps[run])
    return rs_error(RS_EARG, "%s: run %d: %d eps in the results, %d in the archive", a->path, run,
                    res->neps, L->neps[run]);
  int nl = L->nlayers[run], ne = res->neps;
  int64_t E1 = L->E + 1, K = L->K;
  if (nl == 0) goto mask;
  {
    size_t n = (size_t)nl * np;
    int32_t *cnt = malloc(n * (size_t)E1 * sizeof *cnt);
    float *sp = K > 0 ? malloc(n * (size_t)K * sizeof *sp) : NULL;
    if (!cnt || (K > 0 && !sp)) {
      free(cnt);
      free(sp);
      return rs_error(RS_ENOMEM, "archive: out of memory");
    }
    /* eps columns first, padding, the NumPy-tolerance count always last */
    for (size_t i = 0; i < n; i++) {
      for (int64_t e = 0; e < E1; e++) cnt[i * E1 + e] = -1;
      for (int e = 0; e < ne; e++) cnt[i * E1 + e] = res->counts[i * (ne + 1) + e];
      cnt[i * E1 + L->E] = res->counts[i * (ne + 1) + ne];
    }
    hsize_t st[5] = {(hsize_t)run, (hsize_t)ckpt, 0, (hsize_t)p0, 0};
    hsize_t ct[5] = {1, 1, (hsize_t)nl, (hsize_t)np, (hsize_t)E1};
    int rc = rs__dio(a, D_LR_COUNTS, st, ct, cnt, true);
    if (rc == RS_OK && sp && res->spectra) {
      size_t off = 0;
      for (int l = 0; l < nl; l++) {
        int len = L->spec_len[run * L->L + l];
        for (int p = 0; p < np; p++)
          for (int64_t k = 0; k < K; k++)
            sp[((size_t)l * np + p) * K + k] =
                k < len ? (float)res->spectra[off + (size_t)p * len + k] : NAN;
        off += (size_t)np * len;
      }
      ct[4] = (hsize_t)K;
      rc = rs__dio(a, D_LR_SPECTRA, st, ct, sp, true);
    }
    free(cnt);
    free(sp);
    if (rc != RS_OK) return rc;
    if (res->effrank) RS_CALL(rs__dio(a, D_LR_EFFRANK, st, ct, res->effrank, true));
    if (res->stablerank) RS_CALL(rs__dio(a, D_LR_STABLE, st, ct, res->stablerank, true));
  }
mask:;
  rs__test_kill_in_write();
  return rs__set_points(a, run, ckpt, p0, np);
}

int rs_archive_write_metrics(rs_archive *a, int run, int ckpt, const rs_ckpt_metrics *m) {
  RS_CALL(rs__check_ckpt(a, run, ckpt));
  const rs__layout *L = &a->lay;
  if (m->nlayers != L->nweights[run])
    return rs_error(RS_EARG, "%s: run %d: %d weight layers in the metrics, %d in the archive",
                    a->path, run, m->nlayers, L->nweights[run]);
  hsize_t st[4] = {(hsize_t)run, (hsize_t)ckpt, 0, 0}, one[4] = {1, 1, 1, 1};
  const double scal[6] = {m->train_loss, m->heldout_loss, m->train_acc, m->heldout_acc, m->rate, m->info_y};
  const int ids[6] = {D_M_TRAIN_LOSS, D_M_HELD_LOSS, D_M_TRAIN_ACC, D_M_HELD_ACC, D_M_RATE, D_M_INFO_Y};
  for (int i = 0; i < 6; i++) RS_CALL(rs__dio(a, ids[i], st, one, (void *)&scal[i], true));
  int W = m->nlayers;
  if (W > 0) {
    hsize_t ct[4] = {1, 1, (hsize_t)W, (hsize_t)L->E};
    RS_CALL(rs__dio(a, D_M_WFRO, st, ct, (void *)m->wfro, true));
    RS_CALL(rs__dio(a, D_M_WSPEC, st, ct, (void *)m->wspec, true));
    if (L->E > 0) {
      int32_t buf[(RS_MAX_LAYERS + 2) * RS_MAX_EPS];
      for (int w = 0; w < W; w++)
        for (int64_t e = 0; e < L->E; e++) buf[w * L->E + e] = e < L->neps[run] ? m->wrank[w][e] : -1;
      RS_CALL(rs__dio(a, D_M_WRANK, st, ct, buf, true));
    }
  }
  rs__test_kill_in_write();
  return rs__set_mask(a, D_DONE_METRICS, 2, st);
}

int rs_archive_write_weights(rs_archive *a, int run, int ckpt, const double *params, int64_t n) {
  RS_CALL(rs__check_run(a, run));
  if (n != a->lay.nparams[run])
    return rs_error(RS_EARG, "%s: run %d: %lld parameters, the archive expects %lld", a->path, run,
                    (long long)n, (long long)a->lay.nparams[run]);
  if (a->lay.save[run] == RS_SAVE_NONE || (ckpt >= 0 && a->lay.save[run] != RS_SAVE_ALL))
    return rs_error(RS_EARG, "%s: run %d does not save %s weights (measure.save_weights)", a->path, run,
                    ckpt < 0 ? "final" : "checkpoint");
  if (ckpt < 0) {
    hsize_t st[2] = {(hsize_t)run, 0}, ct[2] = {1, (hsize_t)n};
    if (n > 0) RS_CALL(rs__dio(a, D_W_FINAL, st, ct, (void *)params, true));
    return rs__set_mask(a, D_DONE_WFINAL, 1, st);
  }
  RS_CALL(rs__check_ckpt(a, run, ckpt));
  hsize_t st[3] = {(hsize_t)run, (hsize_t)ckpt, 0}, ct[3] = {1, 1, (hsize_t)n};
  if (n > 0) RS_CALL(rs__dio(a, D_W_ALL, st, ct, (void *)params, true));
  return rs__set_mask(a, D_DONE_WALL, 2, st);
}

static int rs__state_header(rs_archive *a, int run, int64_t h[2][4], bool wr, int slot) {
  hsize_t st[3] = {(hsize_t)run, (hsize_t)(slot < 0 ? 0 : slot), 0};
  hsize_t ct[3] = {1, (hsize_t)(slot < 0 ? 2 : 1), 4};
  return rs__dio(a, D_S_HEADER, st, ct, slot < 0 ? &h[0][0] : &h[slot][0], wr);
}

/* The blob of a slot without its header: what a kill between the two writes
 * leaves behind. Exposed for the tests only. */
int rs__archive_write_state_blob(rs_archive *a, int run, int slot, const void *blob, int64_t n);
int rs__archive_write_state_blob(rs_archive *a, int run, int slot, const void *blob, int64_t n) {
  hsize_t st[3] = {(hsize_t)run, (hsize_t)slot, 0}, ct[3] = {1, 1, (hsize_t)n};
  return rs__dio(a, D_S_BLOB, st, ct, (void *)blob, true);
}

int rs_archive_write_state(rs_archive *a, int run, int64_t step, const void *blob, int64_t n) {
  RS_CALL(rs__check_run(a, run));
  if (n != a->lay.state_size[run] || n <= 0 || step < 0)
    return rs_error(RS_EARG, "%s: run %d: state of %lld bytes at step %lld, the archive expects %lld bytes",
                    a->path, run, (long long)n, (long long)step, (long long)a->lay.state_size[run]);
  int64_t h[2][4];
  RS_CALL(rs__state_header(a, run, h, false, -1));
  /* overwrite the older (or invalid) slot; the newer one stays intact */
  int slot = h[0][1] <= h[1][1] ? 0 : 1;
  int64_t seq = (h[0][1] > h[1][1] ? h[0][1] : h[1][1]) + 1;
  if (seq < 0) seq = 0;
  for (int i = 0; i < 4; i++) h[slot][i] = -1;
  RS_CALL(rs__state_header(a, run, h, true, slot)); /* invalidate first */
  RS_CALL(rs__archive_write_state_blob(a, run, slot, blob, n));
  rs__test_kill_in_write();
  h[slot][0] = step;
  h[slot][1] = seq;
  h[slot][2] = n;
  uint64_t ck = rs__fnv1a(blob, n);
  memcpy(&h[slot][3], &ck, 8);
  return rs__state_header(a, run, h, true, slot); /* header last */
}

int rs_archive_read_state(rs_archive *a, int run, int64_t max_step, int64_t *step, void *blob,
                          int64_t n) {
  *step = -1;
  RS_CALL(rs__check_run(a, run));
  if (a->d[D_S_HEADER] < 0 || n != a->lay.state_size[run]) return RS_OK;
  int64_t h[2][4];
  RS_CALL(rs__state_header(a, run, h, false, -1));
  int order[2] = {0, 1};
  if (h[1][1] > h[0][1]) {
    order[0] = 1;
    order[1] = 0;
  }
  for (int i = 0; i < 2; i++) {
    int s = order[i];
    if (h[s][0] < 0 || h[s][1] < 0 || h[s][2] != n || h[s][0] > max_step) continue;
    hsize_t st[3] = {(hsize_t)run, (hsize_t)s, 0}, ct[3] = {1, 1, (hsize_t)n};
    RS_CALL(rs__dio(a, D_S_BLOB, st, ct, blob, false));
    uint64_t ck = rs__fnv1a(blob, n);
    if (memcmp(&ck, &h[s][3], 8) != 0) continue; /* torn: never hand it out */
    *step = h[s][0];
    return RS_OK;
  }
  return RS_OK;
}

int rs_archive_write_run_done(rs_archive *a, int run, bool diverged, int64_t last_step) {
  RS_CALL(rs__check_run(a, run));
  /* A finished run's training state is spent: clear both slots (back to the
   * fill values) so a finished archive does not depend on how often the run
   * was interrupted, drained or resumed. Before the mask: a kill in between
   * leaves an unfinished run without state, which restarts; never the reverse. */
  if (a->d[D_S_HEADER] >= 0 && a->lay.state_size[run] > 0) {
    int64_t h[2][4];
    for (int i = 0; i < 8; i++) h[i / 4][i % 4] = -1;
    RS_CALL(rs__state_header(a, run, h, true, -1));
    uint8_t *z = calloc(2, (size_t)a->lay.SB);
    if (!z) return rs_error(RS_ENOMEM, "archive: out of memory");
    hsize_t bs[3] = {(hsize_t)run, 0, 0}, bc[3] = {1, 2, (hsize_t)a->lay.SB};
    int rc = rs__dio(a, D_S_BLOB, bs, bc, z, true);
    free(z);
    RS_CALL(rc);
  }
  hsize_t st[1] = {(hsize_t)run}, ct[1] = {1};
  int8_t d = diverged ? 1 : 0;
  RS_CALL(rs__dio(a, D_R_DIVERGED, st, ct, &d, true));
  RS_CALL(rs__dio(a, D_R_LAST_STEP, st, ct, &last_step, true));
  return rs__set_mask(a, D_DONE_RUNS, 1, st);
}

/* ---------------------------------------------------------------- queries */

static int rs__mask_get(rs_archive *a, int id, const hsize_t *st, bool *done) {
  uint8_t v = 0;
  hsize_t ct[3] = {1, 1, 1};
  RS_CALL(rs__dio(a, id, st, ct, &v, false));
  *done = v != 0;
  return RS_OK;
}

int rs_archive_shard_done(rs_archive *a, int run, int ckpt, int shard, bool *done) {
  *done = false;
  RS_CALL(rs__check_ckpt(a, run, ckpt));
  const rs__layout *L = &a->lay;
  if (shard < 0 || shard >= rs__nshards(L, run))
    return rs_error(RS_EARG, "%s: run %d: shard %d out of range", a->path, run, shard);
  int64_t p0 = shard * L->shard, np = L->npoints[run] - p0 < L->shard ? L->npoints[run] - p0 : L->shard;
  uint8_t *m = malloc((size_t)np);
  if (!m) return rs_error(RS_ENOMEM, "archive: out of memory");
  hsize_t st[3] = {(hsize_t)run, (hsize_t)ckpt, (hsize_t)p0}, ct[3] = {1, 1, (hsize_t)np};
  int rc = rs__dio(a, D_DONE_POINTS, st, ct, m, false);
  *done = rc == RS_OK;
  for (int64_t i = 0; i < np && *done; i++) *done = m[i] != 0;
  free(m);
  return rc;
}

int rs_archive_metrics_done(rs_archive *a, int run, int ckpt, bool *done) {
  *done = false;
  RS_CALL(rs__check_ckpt(a, run, ckpt));
  hsize_t st[2] = {(hsize_t)run, (hsize_t)ckpt};
  return rs__mask_get(a, D_DONE_METRICS, st, done);
}

int rs_archive_run_done(rs_archive *a, int run, bool *done, bool *diverged) {
  *done = false;
  if (diverged) *diverged = false;
  RS_CALL(rs__check_run(a, run));
  hsize_t st[1] = {(hsize_t)run}, ct[1] = {1};
  RS_CALL(rs__mask_get(a, D_DONE_RUNS, st, done));
  if (diverged) {
    int8_t d = 0;
    RS_CALL(rs__dio(a, D_R_DIVERGED, st, ct, &d, false));
    *diverged = d == 1;
  }
  return RS_OK;
}

static int rs__read_all(rs_archive *a, int id, void *buf) {
  if (a->d[id] < 0) return RS_OK;
  if (H5Dread(a->d[id], rs__memtype(rs__dsets[id].type), H5S_ALL, H5S_ALL, a->dxpl, buf) < 0)
    return rs_error(RS_EHDF5, "%s: cannot read %s", a->path, rs__dsets[id].path);
  return RS_OK;
}

int rs_archive_read_masks(rs_archive *a, uint8_t *shards, uint8_t *metrics, uint8_t *runs) {
  if (shards) {
    /* a shard is done when every one of its points is */
    const rs__layout *L = &a->lay;
    size_t np = (size_t)(L->R * L->C * L->P);
    uint8_t *pm = malloc(np ? np : 1);
    if (!pm) return rs_error(RS_ENOMEM, "archive: out of memory");
    int rc = np ? rs__read_all(a, D_DONE_POINTS, pm) : RS_OK;
    for (int64_t r = 0; r < L->R; r++)
      for (int64_t c = 0; c < L->C; c++)
        for (int64_t sh = 0; sh < L->S; sh++) {
          int64_t p0 = sh * L->shard, p1 = p0 + L->shard < L->npoints[r] ? p0 + L->shard : L->npoints[r];
          bool all = c < L->nckpt[r] && p0 < p1;
          for (int64_t p = p0; all && p < p1; p++) all = pm[(r * L->C + c) * L->P + p] != 0;
          shards[(r * L->C + c) * L->S + sh] = all;
        }
    free(pm);
    RS_CALL(rc);
  }
  if (metrics) RS_CALL(rs__read_all(a, D_DONE_METRICS, metrics));
  if (runs) RS_CALL(rs__read_all(a, D_DONE_RUNS, runs));
  return RS_OK;
}

int rs_archive_dims_get(const rs_archive *a, rs_archive_dims *out) {
  const rs__layout *L = &a->lay;
  out->nruns = L->R;
  out->nckpt = L->C;
  out->nlayers = L->L;
  out->npoints = L->P;
  out->neps = L->E;
  out->nspectrum = L->K;
  out->nweights = L->W;
  out->nshards = L->S;
  out->nparams = L->NP;
  out->state_size = L->SB;
  out->shard = L->shard;
  return RS_OK;
}

/* ---------------------------------------------------------------- finalize */

/* Mean local rank of one run at every checkpoint whose shards are all done:
 * an exact int64 sum over points divided once, so the result is the same bits
 * whoever wrote the counts. buf is [C, L, E+1], NaN where not computable. */
static int rs__run_means(rs_archive *a, int run, const uint8_t *pmask, double *buf, int32_t *cnt) {
  const rs__layout *L = &a->lay;
  int64_t E1 = L->E + 1;
  for (int64_t i = 0; i < L->C * L->L * E1; i++) buf[i] = NAN;
  int nl = L->nlayers[run], np = L->npoints[run], ne = L->neps[run];
  if (nl == 0 || np == 0) return RS_OK;
  for (int c = 0; c < L->nckpt[run]; c++) {
    bool all = true;
    for (int p = 0; p < np; p++) all &= pmask[((int64_t)run * L->C + c) * L->P + p] != 0;
    if (!all) continue;
    hsize_t st[5] = {(hsize_t)run, (hsize_t)c, 0, 0, 0};
    hsize_t ct[5] = {1, 1, (hsize_t)nl, (hsize_t)np, (hsize_t)E1};
    RS_CALL(rs__dio(a, D_LR_COUNTS, st, ct, cnt, false));
    for (int l = 0; l < nl; l++)
      for (int64_t e = 0; e < E1; e++) {
        if (e >= ne && e != L->E) continue;
        int64_t sum = 0;
        for (int p = 0; p < np; p++) sum += cnt[((int64_t)l * np + p) * E1 + e];
        buf[((int64_t)c * L->L + l) * E1 + e] = (double)sum / (double)np;
      }
  }
  return RS_OK;
}

static int rs__compute_means(rs_archive *a) {
  const rs__layout *L = &a->lay;
  int64_t E1 = L->E + 1;
  size_t ns = (size_t)(L->R * L->C * L->P);
  uint8_t *smask = malloc(ns ? ns : 1);
  double *buf = malloc((size_t)(L->C * L->L * E1 + 1) * sizeof *buf);
  int32_t *cnt = malloc((size_t)(L->L * L->P * E1 + 1) * sizeof *cnt);
  int rc = !smask || !buf || !cnt ? rs_error(RS_ENOMEM, "archive: out of memory") : RS_OK;
  if (rc == RS_OK && ns) rc = rs__read_all(a, D_DONE_POINTS, smask);
  for (int64_t r = a->rank; rc == RS_OK && r < L->R; r += a->size) {
    rc = rs__run_means(a, (int)r, smask, buf, cnt);
    if (rc == RS_OK && L->L > 0) {
      hsize_t st[4] = {(hsize_t)r, 0, 0, 0}, ct[4] = {1, (hsize_t)L->C, (hsize_t)L->L, (hsize_t)E1};
      rc = rs__dio(a, D_LR_MEAN, st, ct, buf, true);
    }
  }
  free(smask);
  free(buf);
  free(cnt);
  return rc;
}

int rs_archive_finalize(rs_archive *a, bool complete) {
  int rc = rs__compute_means(a);
  /* every rank must reach the collective part whatever happened above */
  if (a->comm != MPI_COMM_NULL) {
    int bad = rc != RS_OK, any = 0;
    MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, a->comm);
    if (any && rc == RS_OK) rc = rs_error(RS_EHDF5, "%s: another rank failed to finalize", a->path);
  }
  char now[RS__TIME_LEN] = "";
  if (a->rank == 0) rs__now(now);
  int rc2 = rs__bcast_str(now, sizeof now, a->comm);
  hid_t prov = H5Gopen2(a->file, "provenance", H5P_DEFAULT);
  if (rc2 == RS_OK) rc2 = rs__attr_str(prov, "end_time", now, RS__TIME_LEN);
  H5Gclose(prov);
  if (rc2 == RS_OK && complete && rc == RS_OK) rc2 = rs__attr_i64(a->file, "complete", 1);
  if (H5Fflush(a->file, H5F_SCOPE_GLOBAL) < 0 && rc2 == RS_OK) rc2 = rs__h5err(a->path, "flush");
  return rc != RS_OK ? rc : rc2;
}

int rs_archive_close(rs_archive **pa) {
  rs_archive *a = *pa;
  *pa = NULL;
  if (!a) return RS_OK;
  for (int i = 0; i < D_N; i++)
    if (a->d[i] >= 0) H5Dclose(a->d[i]);
  for (int i = 0; i < D_N; i++) a->d[i] = H5I_INVALID_HID;
  herr_t e = H5Fclose(a->file);
  a->file = H5I_INVALID_HID;
  char path[RS_PATH_MAX];
  snprintf(path, sizeof path, "%s", a->path);
  rs__free(a);
  return e < 0 ? rs__h5err(path, "close") : RS_OK;
}

/* ---------------------------------------------------------------- show */

static void rs__fmt(char *b, size_t n, double v, const char *f) {
  if (isnan(v))
    snprintf(b, n, "-");
  else
    snprintf(b, n, f, v);
}

static int rs__read_scalar2(rs_archive *a, int id, int run, int ckpt, double *v) {
  hsize_t st[2] = {(hsize_t)run, (hsize_t)ckpt}, ct[2] = {1, 1};
  return rs__dio(a, id, st, ct, v, false);
}

void rs_show_opts_default(rs_show_opts *o) {
  o->run = -1;
  o->csv = false;
  o->eps = NAN;
  o->layer = -1;
}

int rs_archive_show(const char *path, const rs_show_opts *o, FILE *out) {
  int run = o->run;
  rs_archive *a;
  RS_CALL(rs__open(MPI_COMM_NULL, path, H5F_ACC_RDONLY, &a));
  const rs__layout *L = &a->lay;
  int rc = RS_OK;
  char s1[256], s2[128], s3[128], s4[128];
  int64_t complete = 0;
  rs__attr_read_str(a->file, "job_name", s1, sizeof s1);
  rs__attr_read_str(a->file, "job_hash", s2, sizeof s2);
  rs__attr_read_i64(a->file, "complete", &complete);
  fprintf(out, "archive   %s\njob       %s\njob_hash  %s\ncomplete  %s\n", path, s1, s2,
          complete ? "yes" : "no");
  hid_t prov = H5Gopen2(a->file, "provenance", H5P_DEFAULT);
  if (prov >= 0) {
    static const char *const keys[] = {"ranksweep_version", "git_commit", "hdf5_version", "hostname",
                                       "start_time", "end_time", "openblas_config", "mpi_library"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
      char v[1024];
      if (rs__attr_read_str(prov, keys[i], v, sizeof v) == RS_OK) fprintf(out, "  %-18s %s\n", keys[i], v);
    }
    int64_t nr = 0, bt = 0, res = 0;
    rs__attr_read_i64(prov, "nranks", &nr);
    rs__attr_read_i64(prov, "blas_threads", &bt);
    rs__attr_read_i64(prov, "resume_count", &res);
    fprintf(out, "  %-18s %lld (blas threads %lld, resumed %lld times)\n", "nranks", (long long)nr,
            (long long)bt, (long long)res);
    H5Gclose(prov);
  }
  fprintf(out, "runs %lld, checkpoints <= %lld, layers <= %lld, points <= %lld\n",
          (long long)L->R, (long long)L->C, (long long)L->L, (long long)L->P);
  char **names = NULL;
  RS_CALL(rs__read_strings(a->file, "runs/name", (int)L->R, &names));
  int64_t E1 = L->E + 1;
  size_t ns = (size_t)(L->R * L->C * L->P), nm = (size_t)(L->R * L->C);
  uint8_t *smask = malloc(ns ? ns : 1), *mmask = malloc(nm ? nm : 1), *rmask = malloc((size_t)L->R);
  uint8_t *diverged = malloc((size_t)L->R);
  double *mean = malloc((size_t)(L->C * L->L * E1 + 1) * sizeof *mean);
  int32_t *cnt = malloc((size_t)(L->L * L->P * E1 + 1) * sizeof *cnt);
  if (!smask || !mmask || !rmask || !diverged || !mean || !cnt) rc = rs_error(RS_ENOMEM, "archive: out of memory");
  if (rc == RS_OK && ns) rc = rs__read_all(a, D_DONE_POINTS, smask);
  if (rc == RS_OK) rc = rs__read_all(a, D_DONE_METRICS, mmask);
  if (rc == RS_OK) rc = rs__read_all(a, D_DONE_RUNS, rmask);
  if (rc == RS_OK) rc = rs__read_all(a, D_R_DIVERGED, diverged);
  if (rc == RS_OK && (run < -1 || run >= L->R))
    rc = rs_error(RS_EARG, "%s: run %d out of range [0, %lld)", path, run, (long long)L->R);
  fprintf(out, "\n%4s  %-32s %-8s %-14s %10s %8s %10s %8s  %s\n", "run", "name", "status", "steps",
          "train_loss", "train_acc", "held_loss", "held_acc", "mean local rank at the last measured checkpoint (layer: eps...|numpy)");
  for (int64_t r = 0; rc == RS_OK && r < L->R; r++) {
    if (run >= 0 && r != run) continue;
    int last = -1, lastlr = -1;
    for (int c = 0; c < L->nckpt[r]; c++)
      if (mmask[r * L->C + c]) last = c;
    rc = rs__run_means(a, (int)r, smask, mean, cnt);
    for (int c = 0; c < L->nckpt[r]; c++)
      if (L->nlayers[r] > 0 && !isnan(mean[(int64_t)c * L->L * E1])) lastlr = c;
    double v[4] = {NAN, NAN, NAN, NAN};
    const int ids[4] = {D_M_TRAIN_LOSS, D_M_TRAIN_ACC, D_M_HELD_LOSS, D_M_HELD_ACC};
    for (int i = 0; rc == RS_OK && last >= 0 && i < 4; i++) rc = rs__read_scalar2(a, ids[i], (int)r, last, &v[i]);
    const char *status = rmask[r] ? (diverged[r] == 1 ? "diverged" : "done") : last >= 0 ? "partial" : "pending";
    char steps[64], lastc[32] = "-";
    if (last >= 0) snprintf(lastc, sizeof lastc, "%lld", (long long)L->steps[r * L->C + last]);
    snprintf(steps, sizeof steps, "%s/%lld", lastc, (long long)L->steps[r * L->C + L->nckpt[r] - 1]);
    rs__fmt(s1, 32, v[0], "%.4g");
    rs__fmt(s2, 32, v[1], "%.4f");
    rs__fmt(s3, 32, v[2], "%.4g");
    rs__fmt(s4, 32, v[3], "%.4f");
    fprintf(out, "%4lld  %-32s %-8s %-14s %10s %8s %10s %8s ", (long long)r, names[r], status, steps, s1, s2, s3, s4);
    if (lastlr < 0) fprintf(out, " -");
    for (int l = 0; lastlr >= 0 && l < L->nlayers[r]; l++) {
      fprintf(out, " L%d:", l + 1);
      for (int e = 0; e < L->neps[r]; e++) fprintf(out, "%s%.2f", e ? "/" : "", mean[((int64_t)lastlr * L->L + l) * E1 + e]);
      fprintf(out, "|%.2f", mean[((int64_t)lastlr * L->L + l) * E1 + L->E]);
    }
    fprintf(out, "\n");
    if (run >= 0 && rc == RS_OK) {
      int em = L->neps[r] > 0 ? L->neps[r] / 2 : (int)L->E;
      char eps[64];
      if (L->neps[r] > 0) snprintf(eps, sizeof eps, "eps %g", L->eps[r * L->E + em]);
      else snprintf(eps, sizeof eps, "the NumPy tolerance");
      fprintf(out, "\ncurve of run %lld (mean local rank per layer at %s)\n%5s %10s %10s %9s %10s %9s  %s\n",
              (long long)r, eps, "ckpt", "step", "train_loss", "train_acc", "held_loss", "held_acc",
              "LR layer 1, 2, ...");
      for (int c = 0; rc == RS_OK && c < L->nckpt[r]; c++) {
        for (int i = 0; rc == RS_OK && i < 4; i++) rc = rs__read_scalar2(a, ids[i], (int)r, c, &v[i]);
        rs__fmt(s1, 32, v[0], "%.4g");
        rs__fmt(s2, 32, v[1], "%.4f");
        rs__fmt(s3, 32, v[2], "%.4g");
        rs__fmt(s4, 32, v[3], "%.4f");
        fprintf(out, "%5d %10lld %10s %9s %10s %9s ", c, (long long)L->steps[r * L->C + c], s1, s2, s3, s4);
        for (int l = 0; l < L->nlayers[r]; l++) {
          rs__fmt(s1, 32, mean[((int64_t)c * L->L + l) * E1 + em], "%.2f");
          fprintf(out, " %8s", s1);
        }
        fprintf(out, "\n");
      }
    }
  }
  free(names);
  free(smask);
  free(mmask);
  free(rmask);
  free(diverged);
  free(mean);
  free(cnt);
  int rc2 = rs_archive_close(&a);
  return rc != RS_OK ? rc : rc2;
}

/* ---------------------------------------------------------------- merge */

/* Copies block [st, st+ct) of dataset id from one archive to another. */
static int rs__copy_block(rs_archive *in, rs_archive *out, int id, const hsize_t *st,
                          const hsize_t *ct, void **buf, size_t *cap) {
  if (in->d[id] < 0 || out->d[id] < 0) return RS_OK;
  size_t n = rs__esize(rs__dsets[id].type);
  for (size_t i = 0; i < strlen(rs__dsets[id].dims); i++) n *= ct[i];
  if (n > *cap) {
    void *p = realloc(*buf, n);
    if (!p) return rs_error(RS_ENOMEM, "archive: out of memory");
    *buf = p;
    *cap = n;
  }
  RS_CALL(rs__dio(in, id, st, ct, *buf, false));
  return rs__dio(out, id, st, ct, *buf, true);
}

static int rs__merge_one(rs_archive *in, rs_archive *out, void **buf, size_t *cap) {
  const rs__layout *L = &out->lay;
  int64_t E1 = L->E + 1;
  size_t ns = (size_t)(L->R * L->C * L->P), nm = (size_t)(L->R * L->C);
  uint8_t *m[2][5] = {{0}};
  const int mids[5] = {D_DONE_POINTS, D_DONE_METRICS, D_DONE_RUNS, D_DONE_WFINAL, D_DONE_WALL};
  const size_t msz[5] = {ns, nm, (size_t)L->R, (size_t)L->R, nm};
  int rc = RS_OK;
  for (int k = 0; k < 2; k++)
    for (int i = 0; i < 5; i++) {
      m[k][i] = calloc(msz[i] ? msz[i] : 1, 1);
      if (!m[k][i]) rc = rs_error(RS_ENOMEM, "archive: out of memory");
      else if (msz[i]) rc = rs__read_all(k ? out : in, mids[i], m[k][i]);
      if (rc != RS_OK) goto done;
    }
  /* first input wins: a cell already set in the output is left alone */
  for (int64_t r = 0; r < L->R && rc == RS_OK; r++) {
    int nl = L->nlayers[r];
    for (int c = 0; c < L->nckpt[r] && rc == RS_OK; c++) {
      /* runs of consecutive points set in the input and not yet in the output */
      const uint8_t *pin = m[0][0] + (r * L->C + c) * L->P, *pout = m[1][0] + (r * L->C + c) * L->P;
      for (int p = 0; p < L->npoints[r] && rc == RS_OK;) {
        if (!pin[p] || pout[p]) {
          p++;
          continue;
        }
        int p0 = p;
        while (p < L->npoints[r] && pin[p] && !pout[p]) p++;
        hsize_t st[5] = {(hsize_t)r, (hsize_t)c, 0, (hsize_t)p0, 0};
        hsize_t ct[5] = {1, 1, (hsize_t)nl, (hsize_t)(p - p0), (hsize_t)E1};
        if (nl > 0) {
          rc = rs__copy_block(in, out, D_LR_COUNTS, st, ct, buf, cap);
          ct[4] = (hsize_t)L->K;
          if (rc == RS_OK) rc = rs__copy_block(in, out, D_LR_SPECTRA, st, ct, buf, cap);
          if (rc == RS_OK) rc = rs__copy_block(in, out, D_LR_EFFRANK, st, ct, buf, cap);
          if (rc == RS_OK) rc = rs__copy_block(in, out, D_LR_STABLE, st, ct, buf, cap);
        }
        if (rc == RS_OK) rc = rs__set_points(out, (int)r, c, p0, p - p0);
      }
      size_t i = (size_t)(r * L->C + c);
      hsize_t st[4] = {(hsize_t)r, (hsize_t)c, 0, 0};
      if (m[0][1][i] && !m[1][1][i] && rc == RS_OK) {
        const int ids[] = {D_M_TRAIN_LOSS, D_M_TRAIN_ACC, D_M_HELD_LOSS, D_M_HELD_ACC, D_M_RATE, D_M_INFO_Y,
                           D_M_WFRO, D_M_WSPEC, D_M_WRANK};
        hsize_t ct[4] = {1, 1, (hsize_t)L->W, (hsize_t)L->E};
        for (size_t k = 0; k < sizeof ids / sizeof ids[0] && rc == RS_OK; k++)
          rc = rs__copy_block(in, out, ids[k], st, ct, buf, cap);
        if (rc == RS_OK) rc = rs__set_mask(out, D_DONE_METRICS, 2, st);
      }
      if (m[0][4][i] && !m[1][4][i] && rc == RS_OK) {
        hsize_t ct[3] = {1, 1, (hsize_t)L->NP};
        rc = rs__copy_block(in, out, D_W_ALL, st, ct, buf, cap);
        if (rc == RS_OK) rc = rs__set_mask(out, D_DONE_WALL, 2, st);
      }
    }
    hsize_t st[3] = {(hsize_t)r, 0, 0};
    if (m[0][3][r] && !m[1][3][r] && rc == RS_OK) {
      hsize_t ct[2] = {1, (hsize_t)L->NP};
      rc = rs__copy_block(in, out, D_W_FINAL, st, ct, buf, cap);
      if (rc == RS_OK) rc = rs__set_mask(out, D_DONE_WFINAL, 1, st);
    }
    if (m[0][2][r] && !m[1][2][r] && rc == RS_OK) {
      hsize_t ct[1] = {1};
      rc = rs__copy_block(in, out, D_R_DIVERGED, st, ct, buf, cap);
      if (rc == RS_OK) rc = rs__copy_block(in, out, D_R_LAST_STEP, st, ct, buf, cap);
      if (rc == RS_OK) rc = rs__set_mask(out, D_DONE_RUNS, 1, st);
    }
    /* training state: taken from the first input whose slots hold one */
    if (rc == RS_OK && in->d[D_S_HEADER] >= 0) {
      int64_t hi[2][4], ho[2][4];
      rc = rs__state_header(in, (int)r, hi, false, -1);
      if (rc == RS_OK) rc = rs__state_header(out, (int)r, ho, false, -1);
      bool have_in = hi[0][1] >= 0 || hi[1][1] >= 0, have_out = ho[0][1] >= 0 || ho[1][1] >= 0;
      if (rc == RS_OK && have_in && !have_out) {
        hsize_t bs[3] = {(hsize_t)r, 0, 0}, bc[3] = {1, 2, (hsize_t)L->SB};
        rc = rs__copy_block(in, out, D_S_BLOB, bs, bc, buf, cap);
        if (rc == RS_OK) rc = rs__state_header(out, (int)r, hi, true, -1);
      }
    }
  }
done:
  for (int k = 0; k < 2; k++)
    for (int i = 0; i < 5; i++) free(m[k][i]);
  return rc;
}

int rs_archive_merge(const char *out_path, int ninputs, const char *const *inputs) {
  if (ninputs < 1) return rs_error(RS_EARG, "merge: no input archives");
  rs_archive **in = calloc((size_t)ninputs, sizeof *in);
  if (!in) return rs_error(RS_ENOMEM, "archive: out of memory");
  rs_archive *out = NULL;
  char **names = NULL, **keys = NULL, *text = NULL;
  char ***vals = NULL;
  const char **kv = NULL;
  int naxes = 0, rc = RS_OK;
  char hash0[128] = "", name0[256] = "";
  for (int i = 0; i < ninputs && rc == RS_OK; i++) {
    rc = rs__open(MPI_COMM_NULL, inputs[i], H5F_ACC_RDONLY, &in[i]);
    if (rc != RS_OK) break;
    char h[128];
    rs__attr_read_str(in[i]->file, "job_hash", h, sizeof h);
    if (i == 0) {
      snprintf(hash0, sizeof hash0, "%s", h);
      rs__attr_read_str(in[i]->file, "job_name", name0, sizeof name0);
      continue;
    }
    char why[256];
    if (strcmp(h, hash0) != 0)
      rc = rs_error(RS_EARCHIVE, "merge: %s has job_hash %s but %s has %s: archives of different job files",
                    inputs[i], h, inputs[0], hash0);
    else if (!rs__layout_equal(&in[0]->lay, &in[i]->lay, why, sizeof why))
      rc = rs_error(RS_EARCHIVE, "merge: %s and %s have different dimensions (%s)", inputs[0], inputs[i], why);
  }
  if (rc != RS_OK) goto done;
  rs__layout lay;
  {
    const rs__layout *L0 = &in[0]->lay;
    hid_t f0 = in[0]->file;
    rc = rs__read_strings(f0, "runs/name", (int)L0->R, &names);
    /* job text */
    hid_t d = rc == RS_OK ? H5Dopen2(f0, "job/text", H5P_DEFAULT) : -1;
    if (d >= 0) {
      hid_t ft = H5Dget_type(d);
      size_t w = H5Tget_size(ft);
      H5Tclose(ft);
      text = calloc(w + 1, 1);
      hid_t t = rs__strtype(w);
      if (!text || H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, text) < 0)
        rc = rs_error(RS_EHDF5, "merge: cannot read job/text of %s", inputs[0]);
      H5Tclose(t);
      H5Dclose(d);
    } else if (rc == RS_OK) {
      rc = rs_error(RS_EARCHIVE, "merge: %s lacks job/text", inputs[0]);
    }
    /* grid axes: the datasets under runs/params, in creation order */
    hid_t g = rc == RS_OK ? H5Gopen2(f0, "runs/params", H5P_DEFAULT) : -1;
    if (g >= 0) {
      H5G_info_t gi;
      H5Gget_info(g, &gi);
      naxes = (int)gi.nlinks;
      keys = calloc((size_t)naxes + 1, sizeof *keys);
      vals = calloc((size_t)naxes + 1, sizeof *vals);
      kv = calloc((size_t)(L0->R * naxes + naxes + 1), sizeof *kv);
      for (int ax = 0; ax < naxes && rc == RS_OK; ax++) {
        char kname[RS_PATH_MAX], p[RS_PATH_MAX + 16];
        H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, (hsize_t)ax, kname, sizeof kname, H5P_DEFAULT);
        keys[ax] = strdup(kname);
        snprintf(p, sizeof p, "runs/params/%s", kname);
        rc = rs__read_strings(f0, p, (int)L0->R, &vals[ax]);
      }
      H5Gclose(g);
      for (int64_t r = 0; rc == RS_OK && r < L0->R; r++)
        for (int ax = 0; ax < naxes; ax++) kv[r * naxes + ax] = vals[ax][r];
    }
    if (rc == RS_OK) {
      lay = in[0]->lay;
      /* rs__create takes ownership of a layout: hand it a copy */
      rs__layout copy = lay;
      rc = rs__layout_alloc(&copy);
      for (size_t t = 0; rc == RS_OK && t < RS__NTABLES; t++) {
        hsize_t dims[RS__MAXRANK];
        int n = rs__dims(&lay, rs__tables[t].dims, dims);
        size_t cnt = rs__esize(rs__tables[t].type);
        for (int i = 0; i < n; i++) cnt *= dims[i];
        memcpy(*(void **)((char *)&copy + rs__tables[t].off), *(void **)((char *)&lay + rs__tables[t].off), cnt);
      }
      rs__meta meta = {name0, hash0, text, naxes, (const char **)keys, (const char **)names, kv};
      int64_t shard = 0;
      hid_t pv = H5Gopen2(f0, "provenance", H5P_DEFAULT);
      if (pv >= 0) {
        rs__attr_read_i64(pv, "shard_size", &shard);
        H5Gclose(pv);
      }
      rs_archive_info info = {1, 0, shard > 0 ? (int)shard : 1};
      if (rc == RS_OK) rc = rs__create(MPI_COMM_NULL, out_path, &copy, &meta, &info, &out);
      rs__layout_free(&copy);
    }
  }
  void *buf = NULL;
  size_t cap = 0;
  for (int i = 0; i < ninputs && rc == RS_OK; i++) rc = rs__merge_one(in[i], out, &buf, &cap);
  free(buf);
  if (rc == RS_OK) {
    /* provenance: the inputs and their own provenance groups */
    hid_t prov = H5Gopen2(out->file, "provenance", H5P_DEFAULT);
    size_t len = 1;
    for (int i = 0; i < ninputs; i++) len += strlen(inputs[i]) + 1;
    char *list = calloc(len, 1);
    for (int i = 0; list && i < ninputs; i++) {
      if (i) strcat(list, "\n");
      strcat(list, inputs[i]);
    }
    rc = list ? rs__attr_str(prov, "merged_from", list, 0) : rs_error(RS_ENOMEM, "archive: out of memory");
    free(list);
    for (int i = 0; i < ninputs && rc == RS_OK; i++) {
      char dst[64];
      snprintf(dst, sizeof dst, "input_%d", i);
      if (H5Ocopy(in[i]->file, "provenance", prov, dst, H5P_DEFAULT, H5P_DEFAULT) < 0)
        rc = rs_error(RS_EHDF5, "merge: cannot copy the provenance of %s", inputs[i]);
    }
    H5Gclose(prov);
  }
  if (rc == RS_OK) {
    uint8_t *rm = malloc((size_t)out->lay.R);
    rc = rm ? rs__read_all(out, D_DONE_RUNS, rm) : rs_error(RS_ENOMEM, "archive: out of memory");
    bool all = true;
    for (int64_t r = 0; rm && r < out->lay.R; r++) all &= rm[r] != 0;
    free(rm);
    if (rc == RS_OK) rc = rs_archive_finalize(out, all);
  }
done:
  if (out) {
    int rc2 = rs_archive_close(&out);
    if (rc == RS_OK) rc = rc2;
  }
  for (int i = 0; i < ninputs; i++)
    if (in[i]) rs__free(in[i]);
  free(in);
  free(names);
  free(text);
  for (int ax = 0; keys && ax < naxes; ax++) {
    free(keys[ax]);
    free(vals[ax]);
  }
  free(keys);
  free(vals);
  free(kv);
  return rc;
}
