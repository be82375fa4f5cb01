/* The sweep archive: one parallel HDF5 file whose whole structure is created
 * collectively from the expanded grid, then filled by independent raw writes
 * (data first, written mask last), plus the serial readers (show, merge). */
#include "ranksweep/rs_archive.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <hdf5_hl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <sys/types.h>
#include <unistd.h>

#include "ranksweep/rs_error.h"
#include "ranksweep/rs_fpenv.h"
#include "ranksweep/rs_job.h"
#include "rs_build.h"

char *openblas_get_config(void);

#define RS__FORMAT "ranksweep-archive"
/* 2: dimension scales, descriptions, UTF-8 strings, exact per-run records
 * (docs/archive.md). Version 1 archives are still readable (show). */
#define RS__FORMAT_VERSION 2
#define RS__FORMAT_OLDEST_READ 1
/* The data files a run may read, in the order of the data_file dimension. */
#define RS__NFILES 4
#define RS__SHA_LEN 65
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
  int since;  /* format version that added it (0: the first) */
} rs__dspec;

static const rs__dspec rs__tables[] = {
    {"runs/nckpt", 'i', "R", offsetof(rs__layout, nckpt), 0},
    {"runs/steps", 'l', "RC", offsetof(rs__layout, steps), 0},
    {"runs/nlayers", 'i', "R", offsetof(rs__layout, nlayers), 0},
    {"runs/widths", 'i', "RL", offsetof(rs__layout, widths), 0},
    {"runs/spec_len", 'i', "RL", offsetof(rs__layout, spec_len), 0},
    {"runs/npoints", 'i', "R", offsetof(rs__layout, npoints), 0},
    {"runs/neps", 'i', "R", offsetof(rs__layout, neps), 0},
    {"runs/eps", 'd', "RE", offsetof(rs__layout, eps), 0},
    {"runs/nweights", 'i', "R", offsetof(rs__layout, nweights), 0},
    {"runs/nparams", 'l', "R", offsetof(rs__layout, nparams), 0},
    {"runs/state_size", 'l', "R", offsetof(rs__layout, state_size), 0},
    {"runs/save_weights", 'c', "R", offsetof(rs__layout, save), 0},
};
#define RS__NTABLES (sizeof rs__tables / sizeof rs__tables[0])

enum {
  D_LR_MEAN, D_LR_COUNTS, D_LR_SPECTRA, D_LR_EFFRANK, D_LR_STABLE,
  D_LR_COUNTS_NP, D_LR_MEAN_EPS, D_LR_MEAN_NP,
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
    [D_LR_COUNTS_NP] = {"lr/counts_numpy", 'i', "RCLP", 0, 2},
    [D_LR_MEAN_EPS] = {"lr/mean_eps", 'd', "RCLE", 0, 2},
    [D_LR_MEAN_NP] = {"lr/mean_numpy", 'd', "RCL", 0, 2},
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

static const char *const rs__groups[] = {"job",     "runs",    "runs/params", "runs/values",
                                         "runs/grid", "lr",     "metrics",     "weights",
                                         "state",   "done",    "provenance"};

/* What the structure's strings and per-run records come from: the job (from
 * its file, or parsed back from an archive's job/text when merging). */
typedef struct {
  const char *name, *hash, *text;
  const rs_job *job;
  const int64_t *eval_index; /* R * P (rank 0 only), or NULL: -1 */
  const char *data_sha;      /* R * RS__NFILES * RS__SHA_LEN, or NULL: computed */
} rs__meta;

struct rs_archive {
  MPI_Comm comm; /* MPI_COMM_NULL: serial (sec2 driver) */
  int rank, size;
  char path[RS_PATH_MAX];
  hid_t file, dxpl;
  hid_t d[D_N];
  rs__layout lay;
  int64_t version; /* format version of the file */
  bool locked; /* rank 0 of a sweep holds PATH.lock (rs_archive_open_or_create) */
  bool no_room; /* finalize found no room for the final metadata */
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

static bool rs__present(const rs__layout *L, int id, int64_t version) {
  if (rs__dsets[id].since > version) return false;
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
  /* clamped: the value may come from a damaged file's provenance */
  L->shard = shard < 1 ? 1 : shard > L->P ? (L->P > 0 ? L->P : 1) : shard;
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

/* Variable-length UTF-8 strings (h5py and xarray read them as str). An
 * attribute that already exists keeps its type: version-1 archives hold
 * fixed-length ones, rewritten in place at their width. minw is kept for
 * the callers that size time stamps; a variable-length string needs none. */
static int rs__attr_str(hid_t loc, const char *name, const char *s, size_t minw) {
  (void)minw;
  if (H5Aexists(loc, name) > 0) {
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    hid_t ft = a < 0 ? -1 : H5Aget_type(a);
    herr_t e = -1;
    if (ft >= 0 && H5Tis_variable_str(ft) > 0) {
      e = H5Awrite(a, ft, &s);
    } else if (ft >= 0) {
      size_t w = H5Tget_size(ft), n = strlen(s);
      char *buf = calloc(w + 1, 1);
      if (buf) {
        memcpy(buf, s, n < w ? n : w);
        e = H5Awrite(a, ft, buf);
      }
      free(buf);
    }
    if (ft >= 0) H5Tclose(ft);
    if (a >= 0) H5Aclose(a);
    return e < 0 ? rs_error(RS_EHDF5, "archive: cannot write attribute %s", name) : RS_OK;
  }
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  int rc = rs__attr_put(loc, name, t, t, 0, &s);
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

/* Reads a string attribute (variable or fixed length) into buf (cap bytes,
 * always terminated). */
static int rs__attr_read_str(hid_t loc, const char *name, char *buf, size_t cap) {
  buf[0] = '\0';
  htri_t ex;
  RS__QUIET(H5Aexists(loc, name), ex);
  if (ex <= 0) return RS_EHDF5;
  hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
  hid_t ft = H5Aget_type(a);
  herr_t e = -1;
  if (H5Tget_class(ft) != H5T_STRING) {
    e = -1;
  } else if (H5Tis_variable_str(ft) > 0) {
    hid_t sp = H5Aget_space(a);
    char *v = NULL;
    if (H5Sget_simple_extent_npoints(sp) == 1) e = H5Aread(a, ft, &v);
    if (e >= 0 && v) snprintf(buf, cap, "%s", v);
    if (e >= 0) H5Dvlen_reclaim(ft, sp, H5P_DEFAULT, &v);
    H5Sclose(sp);
  } else {
    size_t w = H5Tget_size(ft);
    char *tmp = calloc(w + 1, 1);
    e = tmp ? H5Aread(a, ft, tmp) : -1;
    if (e >= 0) snprintf(buf, cap, "%s", tmp);
    free(tmp);
  }
  H5Tclose(ft);
  H5Aclose(a);
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
  H5Tset_cset(t, H5T_CSET_UTF8);
  return t;
}

/* An [n] or [n, cols] dataset of fixed-length UTF-8 strings (variable length
 * cannot be written in parallel). Width = the longest string; the netCDF
 * attribute _Encoding makes xarray return str. */
static int rs__write_strings2(hid_t file, MPI_Comm comm, int rank, const char *path, int n,
                              int cols, const char *const *s) {
  size_t w = 1, m = (size_t)n * (size_t)(cols > 0 ? cols : 1);
  for (size_t i = 0; i < m; i++)
    if (strlen(s[i]) > w) w = strlen(s[i]);
  char *buf = calloc(m * w + 1, 1);
  if (!buf) return rs_error(RS_ENOMEM, "archive: out of memory");
  for (size_t i = 0; i < m; i++) memcpy(buf + i * w, s[i], strlen(s[i]));
  hid_t t = rs__strtype(w);
  hsize_t dim[2] = {(hsize_t)n, (hsize_t)cols};
  hid_t sp = H5Screate_simple(cols > 0 ? 2 : 1, dim, NULL);
  hid_t p = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_alloc_time(p, H5D_ALLOC_TIME_EARLY);
  H5Pset_obj_track_times(p, 0);
  hid_t d = H5Dcreate2(file, path, t, sp, H5P_DEFAULT, p, H5P_DEFAULT);
  H5Pclose(p);
  H5Sclose(sp);
  int rc = d < 0 ? rs_error(RS_EHDF5, "archive: cannot create %s", path)
                 : rs__write_whole(d, t, comm, rank, buf, path);
  if (rc == RS_OK) rc = rs__attr_str(d, "_Encoding", "utf-8", 0);
  if (d >= 0) H5Dclose(d);
  H5Tclose(t);
  free(buf);
  return rc;
}

static int rs__write_strings(hid_t file, MPI_Comm comm, int rank, const char *path, int n,
                             const char *const *s) {
  return rs__write_strings2(file, comm, rank, path, n, 0, s);
}
static bool rs__extent_is(hid_t d, int n, const hsize_t *dims);

/* True when d holds exactly n elements in at most two dimensions. */
static bool rs__count_is(hid_t d, int n) {
  hid_t sp;
  RS__QUIET(H5Dget_space(d), sp);
  if (sp < 0) return false;
  hsize_t got[2];
  int r;
  RS__QUIET(H5Sget_simple_extent_ndims(sp), r);
  bool ok = r >= 1 && r <= 2 && H5Sget_simple_extent_dims(sp, got, NULL) == r;
  hsize_t total = ok ? got[0] * (r == 2 ? got[1] : 1) : 0;
  H5Sclose(sp);
  return ok && total == (hsize_t)n;
}

/* Reads a [n] (or [a, b] with a * b = n) fixed-string dataset into n malloc'd
 * strings (one block), row-major. */
static int rs__read_strings(hid_t file, const char *path, int n, char ***out) {
  *out = NULL;
  hid_t d;
  RS__QUIET(H5Dopen2(file, path, H5P_DEFAULT), d);
  if (d < 0) return rs_error(RS_EARCHIVE, "archive: cannot open %s", path);
  hid_t ft = H5Dget_type(d);
  size_t w = ft >= 0 && H5Tget_class(ft) == H5T_STRING ? H5Tget_size(ft) : 0;
  if (ft >= 0) H5Tclose(ft);
  if (w == 0 || w > 65536 || !rs__count_is(d, n)) {
    H5Dclose(d);
    return rs_error(RS_EARCHIVE, "archive: damaged: %s is not %d strings", path, n);
  }
  char *raw = calloc((size_t)n * w + 1, 1);
  char **v = malloc((size_t)n * sizeof *v + (size_t)n * (w + 1));
  if (!raw || !v) {
    free(raw);
    free(v);
    H5Dclose(d);
    return rs_error(RS_ENOMEM, "archive: out of memory");
  }
  hid_t t = H5Dget_type(d); /* its own character set: ASCII in version 1 */
  herr_t e = H5Tis_variable_str(t) > 0 ? -1 : H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw);
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
    if (!rs__present(&a->lay, i, a->version)) continue;
    RS__QUIET(H5Dopen2(a->file, rs__dsets[i].path, H5P_DEFAULT), a->d[i]);
    if (a->d[i] < 0)
      return rs_error(RS_EARCHIVE, "%s: damaged: %s cannot be opened (missing, or its header "
                                   "is unreadable)", a->path, rs__dsets[i].path);
    hsize_t dims[RS__MAXRANK];
    int n = rs__dims(&a->lay, rs__dsets[i].dims, dims);
    if (!rs__extent_is(a->d[i], n, dims))
      return rs_error(RS_EARCHIVE, "%s: damaged archive: %s is not of the archive's dimensions",
                      a->path, rs__dsets[i].path);
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
  /* Opening takes the format the file has; creation sets the 1.8 format
   * (rs__create says why not the newest). */
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

/* Test hooks, counted per process over result writes: RANKSWEEP_TEST_KILL_AT_WRITE=n
 * kills this process with SIGKILL in the middle of its n-th write, after the
 * data and before the mask (for a training state, after the blob, before its
 * header); RANKSWEEP_TEST_ENOSPC_AT_WRITE=n makes the n-th write and every
 * later one fail there as a full disk would (file systems that cannot
 * reserve space, see rs__reserve), so the tests can check that the sweep ends
 * cleanly and resumes without losing what was written. */
static int rs__test_kill_in_write(const rs_archive *a) {
  static long count = 0;
  static long at = -2, nospc = -2;
  if (at == -2) {
    const char *v = getenv("RANKSWEEP_TEST_KILL_AT_WRITE");
    const char *w = getenv("RANKSWEEP_TEST_ENOSPC_AT_WRITE");
    at = v ? atol(v) : -1;
    nospc = w ? atol(w) : -1;
  }
  ++count;
  if (at > 0 && count == at) raise(SIGKILL);
  if (nospc > 0 && count >= nospc)
    return rs_error(RS_EIO, "%s: cannot write results: %s (simulated by RANKSWEEP_TEST_ENOSPC_AT_WRITE)",
                    a->path, strerror(ENOSPC));
  return RS_OK;
}

/* ---------------------------------------------------------------- failure agreement */

/* Collective. Every rank learns whether any rank failed, and the code and
 * message of the lowest failing rank reach all of them, so every rank takes
 * the same branch (a rank that went on alone into a collective HDF5 call
 * would wait forever) and rank 0, which prints, names the real cause. */
static int rs__agree(MPI_Comm comm, int rc) {
  if (comm == MPI_COMM_NULL) return rc;
  int rank = 0, who = INT_MAX;
  MPI_Comm_rank(comm, &rank);
  int me = rc != RS_OK ? rank : INT_MAX;
  MPI_Allreduce(&me, &who, 1, MPI_INT, MPI_MIN, comm);
  if (who == INT_MAX) return RS_OK;
  char msg[1024];
  int code = rc;
  snprintf(msg, sizeof msg, "%s", rs_error_message());
  MPI_Bcast(&code, 1, MPI_INT, who, comm);
  MPI_Bcast(msg, (int)sizeof msg, MPI_CHAR, who, comm);
  if (rank != who) rs_error(code, "%s", msg);
  return code;
}

/* The system's reason for a failed write under path: errno when the I/O
 * layer left one that explains it, else "No space left on device" when the
 * file system is (nearly) full, else "". MPI-IO does not hand errno back
 * through HDF5, so the free-space check is what usually names a full disk. */
static void rs__sysreason(const char *path, int err, char *buf, size_t cap) {
  buf[0] = '\0';
  if (err == ENOSPC || err == EDQUOT || err == EFBIG || err == EROFS || err == EACCES ||
      err == EPERM || err == EIO) {
    snprintf(buf, cap, ": %s", strerror(err));
    return;
  }
  char dir[RS_PATH_MAX];
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  if (slash) slash[slash == dir] = '\0';
  else snprintf(dir, sizeof dir, ".");
  struct statvfs vs;
  if (statvfs(dir, &vs) == 0 && (uint64_t)vs.f_bavail * vs.f_frsize < ((uint64_t)1 << 16))
    snprintf(buf, cap, ": %s", strerror(ENOSPC));
}

/* rs_error with the system's reason appended (errno read first). */
static int rs__ioerr(int code, const char *path, const char *what) {
  int e = errno;
  char why[128];
  rs__sysreason(path, e, why, sizeof why);
  return rs_error(code, "%s: %s%s", path, what, why);
}

/* Appends the system's reason to the message of a failed step, once. */
static int rs__add_reason(int rc, const char *path, int err) {
  char why[128];
  rs__sysreason(path, err, why, sizeof why);
  if (why[0] && !strstr(rs_error_message(), why + 2)) {
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", rs_error_message());
    rs_error(rc, "%s%s", msg, why);
  }
  return rc;
}

void rs_archive_lib_init(void) {
  const char *e = getenv("RANKSWEEP_HDF5_ERRORS");
  if (!e || !*e || !strcmp(e, "0")) H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  H5dont_atexit();
}

/* ---------------------------------------------------------------- creation marker, lock */

static void rs__sidecar(char *buf, size_t cap, const char *path, const char *suffix) {
  snprintf(buf, cap, "%s%s", path, suffix);
}

/* Rank 0: PATH.creating on (before H5Fcreate) or off (structure complete, or
 * the failed file removed). */
static void rs__creating_mark(const char *path, bool on) {
  char c[RS_PATH_MAX + 16];
  rs__sidecar(c, sizeof c, path, ".creating");
  if (on) {
    int fd = open(c, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) close(fd);
  } else {
    unlink(c);
  }
}

static bool rs__creating_marked(const char *path) {
  char c[RS_PATH_MAX + 16];
  rs__sidecar(c, sizeof c, path, ".creating");
  return access(c, F_OK) == 0;
}

/* Rank 0: one writer per archive. PATH.lock is created with O_EXCL and holds
 * "host pid time". A lock whose pid is dead on this host is stale (a killed
 * sweep) and is taken over; a live holder, or one on another host (which
 * cannot be checked from here), is refused by name. The O_EXCL creation is
 * atomic on local file systems and on NFSv3+ and Lustre; the stale-lock
 * takeover is not (two resumes racing over one stale lock could both pass). */
static int rs__lock_take(const char *path) {
  char lp[RS_PATH_MAX + 16], host[256] = "";
  rs__sidecar(lp, sizeof lp, path, ".lock");
  gethostname(host, sizeof host - 1);
  for (int attempt = 0; attempt < 20; attempt++) {
    int fd = open(lp, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd >= 0) {
      char now[RS__TIME_LEN], line[512];
      rs__now(now);
      int n = snprintf(line, sizeof line, "%s %ld %s\n", host, (long)getpid(), now);
      bool ok = write(fd, line, (size_t)n) == n;
      close(fd);
      if (!ok) {
        unlink(lp);
        return rs__ioerr(RS_EIO, lp, "cannot write the lock file");
      }
      return RS_OK;
    }
    if (errno != EEXIST) return rs__ioerr(RS_EIO, lp, "cannot create the lock file");
    char buf[512] = "", h[256] = "", when[64] = "?";
    long pid = 0;
    FILE *f = fopen(lp, "r");
    if (f) {
      size_t got = fread(buf, 1, sizeof buf - 1, f);
      buf[got] = '\0';
      fclose(f);
    }
    if (sscanf(buf, "%255s %ld %63s", h, &pid, when) < 2 || pid <= 0) {
      /* being written by its creator this instant, or garbage: look again */
      struct timespec ts = {0, 50 * 1000 * 1000};
      if (attempt < 19) {
        nanosleep(&ts, NULL);
        continue;
      }
      return rs_error(RS_EARCHIVE,
                      "%s: locked by %s, which does not name its holder; if no sweep writes "
                      "this archive, remove the lock file",
                      path, lp);
    }
    bool here = strcmp(h, host) == 0;
    if (here && kill((pid_t)pid, 0) != 0 && errno == ESRCH) {
      unlink(lp); /* stale: its sweep was killed */
      continue;
    }
    if (here && attempt < 19) { /* a killed job's ranks may take a moment to exit */
      struct timespec ts = {0, 100 * 1000 * 1000};
      nanosleep(&ts, NULL);
      continue;
    }
    return rs_error(RS_EARCHIVE,
                    "%s: in use by another sweep (host %s, pid %ld, since %s); one writer per "
                    "archive. If that sweep is dead, remove %s",
                    path, h, pid, when, lp);
  }
  return rs_error(RS_EARCHIVE, "%s: cannot take the lock %s", path, lp);
}

static void rs__lock_drop(const char *path) {
  char lp[RS_PATH_MAX + 16];
  rs__sidecar(lp, sizeof lp, path, ".lock");
  unlink(lp);
}

/* Bytes of raw data the archive allocates at creation (every dataset is
 * allocated early and filled), without HDF5's small metadata. */
static uint64_t rs__layout_bytes(const rs__layout *L) {
  uint64_t total = 0;
  for (int i = 0; i < D_N; i++) {
    if (!rs__present(L, i, RS__FORMAT_VERSION)) continue;
    hsize_t dims[RS__MAXRANK];
    int n = rs__dims(L, rs__dsets[i].dims, dims);
    uint64_t b = rs__esize(rs__dsets[i].type);
    for (int k = 0; k < n; k++) b *= dims[k];
    total += b;
  }
  for (size_t t = 0; t < RS__NTABLES; t++) {
    hsize_t dims[RS__MAXRANK];
    int n = rs__dims(L, rs__tables[t].dims, dims);
    uint64_t b = rs__esize(rs__tables[t].type);
    for (int k = 0; k < n; k++) b *= dims[k];
    total += b;
  }
  return total;
}

/* Rank 0 (others learn the outcome): refuses before anything is created when
 * the file system holding path lacks the space the archive will allocate. */
static int rs__space_check(MPI_Comm comm, int rank, const char *path, const rs__layout *L) {
  int rc = RS_OK;
  /* Test hook: RANKSWEEP_TEST_NO_SPACE_CHECK=1 skips this check, so the tests
   * can reach a full disk in the middle of the creation. */
  const char *skip = getenv("RANKSWEEP_TEST_NO_SPACE_CHECK");
  if (rank == 0 && !(skip && skip[0] == '1')) {
    char dir[RS_PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) slash[slash == dir] = '\0';
    else snprintf(dir, sizeof dir, ".");
    struct statvfs vs;
    /* 1 MiB and 1% for HDF5's metadata and the status file */
    uint64_t need = rs__layout_bytes(L), want = need + need / 100 + ((uint64_t)1 << 20);
    if (statvfs(dir, &vs) == 0) {
      uint64_t avail = (uint64_t)vs.f_bavail * vs.f_frsize;
      if (avail < want)
        rc = rs_error(RS_EIO,
                      "%s: the archive needs about %.1f MB but %s has %.1f MB free: %s; free "
                      "space or choose another -o",
                      path, (double)want / 1e6, dir, (double)avail / 1e6, strerror(ENOSPC));
    }
  }
  return rs__agree(comm, rc);
}

/* Collective, after a failed creation: the file must be closed on every rank
 * (a file HDF5 could not close crashes MPI_Finalize later) and removed (it
 * holds nothing yet). Closing flushes metadata, which fails again on a full
 * disk, so the raw data's blocks are released first by truncating the file
 * (rank 0, once every rank has stopped writing to it). */
static void rs__create_abort(rs_archive *a) {
  if (a->comm != MPI_COMM_NULL) MPI_Barrier(a->comm);
  if (a->rank == 0 && truncate(a->path, 0) != 0) { /* best effort */
  }
  if (a->comm != MPI_COMM_NULL) MPI_Barrier(a->comm);
  herr_t e;
  for (int i = 0; i < D_N; i++)
    if (a->d[i] >= 0) {
      RS__QUIET(H5Dclose(a->d[i]), e);
      a->d[i] = H5I_INVALID_HID;
    }
  if (a->file >= 0) {
    RS__QUIET(H5Fclose(a->file), e);
    /* Once more after a failure: the space released above lets it finish. */
    if (e < 0) RS__QUIET(H5Fclose(a->file), e);
    a->file = H5I_INVALID_HID;
  }
  (void)e;
  if (a->comm != MPI_COMM_NULL) MPI_Barrier(a->comm);
  if (a->rank == 0) {
    unlink(a->path);
    rs__creating_mark(a->path, false);
  }
  rs__free(a);
}

/* Rank 0, right after the file exists: reserves on disk the blocks that the
 * early allocation will fill, so that a full disk shows up here, as one
 * error every rank learns of, and never inside HDF5's fill of a contiguous
 * dataset (HDF5 1.10 returns from a failed fill on one rank while the others
 * wait in its barrier: a hang). Nothing later needs new blocks: every dataset
 * is allocated at creation and results overwrite it in place. File systems
 * without fallocate keep only the statvfs check of rs__space_check. */
static int rs__reserve(const rs_archive *a) {
  if (a->rank != 0) return RS_OK;
  uint64_t bytes = rs__layout_bytes(&a->lay) + ((uint64_t)1 << 20);
  int fd = open(a->path, O_WRONLY);
  if (fd < 0) return rs__ioerr(RS_EIO, a->path, "cannot reserve space for the archive");
  int rc = RS_OK;
  if (fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, (off_t)bytes) != 0 && errno != EOPNOTSUPP &&
      errno != ENOSYS)
    rc = rs__ioerr(RS_EIO, a->path, "cannot reserve space for the archive");
  close(fd);
  return rc;
}

/* Rank 0, once the structure is complete: gives back what rs__reserve held
 * beyond the end of the file (best effort; only the margin for metadata). */
static void rs__unreserve(const rs_archive *a) {
  if (a->rank != 0) return;
  uint64_t bytes = rs__layout_bytes(&a->lay) + ((uint64_t)1 << 20);
  struct stat st;
  int fd = open(a->path, O_WRONLY);
  if (fd < 0) return;
  /* truncating to the current size drops blocks held beyond it */
  if (fstat(fd, &st) == 0 && (uint64_t)st.st_size < bytes && ftruncate(fd, st.st_size) != 0) {
  }
  close(fd);
}

/* ---------------------------------------------------------------- self-description */

/* What each dataset holds (the `description` and `units` attributes);
 * docs/archive.md is the long form. Paths ending in '/' cover a group's
 * per-key datasets. */
static const struct {
  const char *path, *desc, *units;
} rs__docs[] = {
    {"job/text", "the job file's exact text", NULL},
    {"runs/name", "run name: its grid values in axis order", NULL},
    {"runs/config", "fully resolved configuration: every job key, defaults included, one 'key: value' line each, doubles at full precision", NULL},
    {"runs/config_hash", "SHA-256 (hex) of the canonical configuration: runs/config without name and measure.shard, data paths replaced by the SHA-256 of their content; equal hashes give identical results", NULL},
    {"runs/seed", "the run's seed", NULL},
    {"runs/nckpt", "checkpoints of the run", NULL},
    {"runs/steps", "training step of each checkpoint", "steps"},
    {"runs/epochs", "epoch of each checkpoint: step * train.batch / data.train_size", "epochs"},
    {"runs/nlayers", "measured hidden layers of the run", NULL},
    {"runs/widths", "width of each measured layer", NULL},
    {"runs/spec_len", "singular values stored per point for each measured layer", NULL},
    {"runs/npoints", "evaluation points of the run", NULL},
    {"runs/eval_index", "index of each evaluation point in the run's held-out set (-1: padding)", NULL},
    {"runs/neps", "thresholds in the run's eps ladder", NULL},
    {"runs/eps", "the run's eps ladder: absolute thresholds on singular values (NaN: padding)", "1"},
    {"runs/nweights", "weight matrices of the run (output layer included)", NULL},
    {"runs/nparams", "parameters of the run", NULL},
    {"runs/state_size", "size of the run's training-state blob", "bytes"},
    {"runs/save_weights", "measure.save_weights: 0 none, 1 final, 2 all", NULL},
    {"runs/diverged", "1 if training diverged, 0 if not, -1 until the run finished", NULL},
    {"runs/last_step", "last step trained (-1 until the run finished)", "steps"},
    {"runs/data_path", "data files the run read (empty: none, synthetic data)", NULL},
    {"runs/data_sha256", "SHA-256 (hex) of each data file's bytes as stored on disk (empty: none)", NULL},
    {"runs/params/", "grid value as 6-significant-digit text (format 1; exact values in runs/grid)", NULL},
    {"runs/values/", "grid value parsed from runs/params (6 significant digits; exact values in runs/grid)", NULL},
    {"runs/grid/", "grid value at full precision", NULL},
    {"lr/mean", "mean local rank over the run's points: eps columns, -1/NaN padding, NumPy-tolerance rank in the last column", NULL},
    {"lr/counts", "rank of the layer's input Jacobian at each point: eps columns, -1 padding, NumPy-tolerance rank in the last column (index n_eps)", NULL},
    {"lr/counts_numpy", "rank of the layer's input Jacobian at each point with NumPy's tolerance sigma_max * max(m, n) * machine epsilon", NULL},
    {"lr/mean_eps", "local rank: mean over the run's points of the eps-rank of the layer's input Jacobian", NULL},
    {"lr/mean_numpy", "mean over the run's points of the NumPy-tolerance rank", NULL},
    {"lr/spectra", "singular values of the layer's input Jacobian at each point, descending (NaN beyond runs/spec_len)", "1"},
    {"lr/effrank", "effective rank exp(H(p)), p_i = s_i / sum s, of the layer's input Jacobian", NULL},
    {"lr/stablerank", "stable rank ||J||_F^2 / ||J||_2^2 of the layer's input Jacobian", NULL},
    {"metrics/train_loss", "training loss (cross entropy in nats, or mean squared error)", NULL},
    {"metrics/train_acc", "training accuracy (NaN for regression)", "1"},
    {"metrics/heldout_loss", "held-out loss (cross entropy in nats, or mean squared error)", NULL},
    {"metrics/heldout_acc", "held-out accuracy (NaN for regression)", "1"},
    {"metrics/rate", "VIB rate: mean KL divergence to the prior (NaN except VIB)", "nats"},
    {"metrics/info_y", "VIB H(Y) - cross entropy, a lower bound on I(Z;Y) (NaN except VIB)", "nats"},
    {"metrics/weight_fro", "Frobenius norm of each weight matrix", NULL},
    {"metrics/weight_spec", "spectral norm of each weight matrix", NULL},
    {"metrics/weight_rank", "eps-rank of each weight matrix at the run's thresholds", NULL},
    {"weights/final", "final parameters, flat", NULL},
    {"weights/all", "parameters at each checkpoint, flat", NULL},
    {"state/blob", "training state for resumption (two alternating slots; cleared when the run finishes)", "bytes"},
    {"state/header", "state slot headers: step, sequence, bytes, FNV-1a 64 checksum", NULL},
    {"done/points", "1 when the point's results of the checkpoint are written", NULL},
    {"done/metrics", "1 when the checkpoint's metrics are written", NULL},
    {"done/runs", "1 when the run finished", NULL},
    {"done/weights_final", "1 when the final weights are written", NULL},
    {"done/weights_all", "1 when the checkpoint's weights are written", NULL},
};

static const char *rs__doc(const char *path, const char **units) {
  for (size_t i = 0; i < sizeof rs__docs / sizeof rs__docs[0]; i++) {
    size_t n = strlen(rs__docs[i].path);
    bool prefix = rs__docs[i].path[n - 1] == '/';
    if (prefix ? strncmp(path, rs__docs[i].path, n) == 0 : strcmp(path, rs__docs[i].path) == 0) {
      *units = rs__docs[i].units;
      return rs__docs[i].desc;
    }
  }
  *units = NULL;
  return NULL;
}

/* Dimension letters (see rs__dspec) -> names; 'F' is the data_file axis.
 * In /runs the eps axis is eps_slot: /runs/eps is the 2-D ladder table and a
 * variable may not share its name with one of its dimensions. */
static const char *rs__dimname(char letter, const char *group) {
  switch (letter) {
  case 'R': return "run";
  case 'C': return "checkpoint";
  case 'L': return "layer";
  case 'P': return "point";
  case 'E': return strcmp(group, "runs") == 0 ? "eps_slot" : "eps";
  case 'e': return "threshold";
  case 'K': return "sv_index";
  case 'W': return "weight_layer";
  case 'N': return "param";
  case 'B': return "state_byte";
  case '2': return "state_slot";
  case '4': return "state_field";
  case 'F': return "data_file";
  default: return "unknown";
  }
}

static const char *rs__dimdoc(char letter) {
  switch (letter) {
  case 'R': return "run index (grid order); names in /runs/name";
  case 'C': return "checkpoint index of the run; steps in /runs/steps, epochs in /runs/epochs";
  case 'L': return "measured hidden layer, 1-based";
  case 'P': return "evaluation point; held-out indices in /runs/eval_index";
  case 'E': return "absolute eps threshold (NaN when runs have different ladders: see /runs/eps)";
  case 'e': return "rank column: the eps ladder, then the NumPy-tolerance rank (last column)";
  case 'K': return "singular value index, descending order";
  case 'W': return "weight matrix, 1-based, input side first";
  case 'N': return "flat parameter index";
  case 'B': return "byte of the training-state blob";
  case '2': return "training-state slot";
  case '4': return "state header field: step, seq, nbytes, fnv1a64";
  case 'F': return "data file: images, labels, heldout_images, heldout_labels";
  default: return "";
  }
}

#define RS__NETCDF_DIM "This is a netCDF dimension but not a netCDF variable."

typedef struct {
  char path[96];
  hid_t id;
} rs__scale;

typedef struct {
  rs__scale s[48];
  int n;
} rs__scales;

static void rs__scales_close(rs__scales *S) {
  for (int i = 0; i < S->n; i++) H5Dclose(S->s[i].id);
  S->n = 0;
}

/* Collective. The scale dataset of dimension `letter` in `group` (created on
 * first use, in the same order on every rank). Coordinates get values; the
 * other dimensions are netCDF "pure" dimensions (no values). */
static hid_t rs__scale_get(rs_archive *a, rs__scales *S, const char *group, char letter,
                           int64_t len) {
  char path[96];
  snprintf(path, sizeof path, "%.60s/%s", group, rs__dimname(letter, group));
  for (int i = 0; i < S->n; i++)
    if (strcmp(S->s[i].path, path) == 0) return S->s[i].id;
  if (S->n == (int)(sizeof S->s / sizeof S->s[0])) return H5I_INVALID_HID;
  const rs__layout *L = &a->lay;
  hsize_t dim = (hsize_t)len;
  bool coord = strchr("RCLWEeF", letter) != NULL;
  hid_t d = H5I_INVALID_HID;
  int rc = RS_OK;
  if (letter == 'F') {
    static const char *const files[RS__NFILES] = {"images", "labels", "heldout_images",
                                                  "heldout_labels"};
    rc = rs__write_strings(a->file, a->comm, a->rank, path, RS__NFILES, files);
    d = rc == RS_OK ? H5Dopen2(a->file, path, H5P_DEFAULT) : H5I_INVALID_HID;
  } else {
    char type = !coord ? 'f' : letter == 'R' || letter == 'C' ? 'l' : letter == 'E' || letter == 'e' ? 'd' : 'i';
    if (letter == 'E' && strcmp(group, "runs") == 0) type = 'i';
    d = rs__dcreate(a->file, path, type, 1, &dim);
    if (d >= 0 && coord) {
      void *buf = malloc((size_t)(len > 0 ? len : 1) * 8);
      if (!buf) {
        H5Dclose(d);
        return H5I_INVALID_HID;
      }
      bool uniform = true;
      for (int64_t r = 1; r < L->R; r++)
        uniform &= L->neps[r] == L->neps[0] &&
                   memcmp(L->eps + r * L->E, L->eps, (size_t)L->E * sizeof(double)) == 0;
      for (int64_t i = 0; i < len; i++) {
        switch (type) {
        case 'l': ((int64_t *)buf)[i] = i; break;
        case 'i': ((int32_t *)buf)[i] = (int32_t)(letter == 'E' ? i : i + 1); break;
        default: ((double *)buf)[i] = uniform && i < L->E ? L->eps[i] : NAN; break;
        }
      }
      rc = rs__write_whole(d, rs__memtype(type), a->comm, a->rank, buf, path);
      free(buf);
      if (rc == RS_OK && (letter == 'E' || letter == 'e') && type == 'd')
        rc = rs__attr_i64(d, "per_run", uniform ? 0 : 1);
    }
  }
  if (d < 0 || rc != RS_OK) {
    if (d >= 0) H5Dclose(d);
    return H5I_INVALID_HID;
  }
  char name[96];
  if (coord)
    snprintf(name, sizeof name, "%s", rs__dimname(letter, group));
  else
    snprintf(name, sizeof name, "%s%10lld", RS__NETCDF_DIM, (long long)len);
  if (H5DSset_scale(d, name) < 0 || rs__attr_str(d, "description", rs__dimdoc(letter), 0) != RS_OK) {
    H5Dclose(d);
    return H5I_INVALID_HID;
  }
  snprintf(S->s[S->n].path, sizeof S->s[S->n].path, "%s", path);
  S->s[S->n].id = d;
  return S->s[S->n++].id;
}

/* Collective. Attaches dimension scales to every axis of the dataset at
 * path (dims: its letters) and writes its description and units. */
static int rs__describe(rs_archive *a, rs__scales *S, const char *path, const char *dims) {
  hid_t d;
  RS__QUIET(H5Dopen2(a->file, path, H5P_DEFAULT), d);
  if (d < 0) return RS_OK; /* absent (an empty dimension) */
  char group[96];
  snprintf(group, sizeof group, "%.*s", (int)strcspn(path, "/"), path);
  hsize_t ext[RS__MAXRANK] = {0};
  hid_t sp = H5Dget_space(d);
  int rank = H5Sget_simple_extent_dims(sp, ext, NULL);
  H5Sclose(sp);
  int rc = RS_OK;
  for (int i = 0; rc == RS_OK && i < rank && dims[i]; i++) {
    hid_t s = rs__scale_get(a, S, group, dims[i], (int64_t)ext[i]);
    if (s < 0 || H5DSattach_scale(d, s, (unsigned)i) < 0)
      rc = rs_error(RS_EHDF5, "%s: cannot attach dimension %s to %s", a->path,
                    rs__dimname(dims[i], group), path);
  }
  const char *units, *desc = rs__doc(path, &units);
  if (rc == RS_OK && desc) rc = rs__attr_str(d, "description", desc, 0);
  if (rc == RS_OK && units) rc = rs__attr_str(d, "units", units, 0);
  H5Dclose(d);
  return rc;
}

/* Collective. The annotations of the whole structure, after its creation. */
static int rs__describe_all(rs_archive *a, const rs__meta *meta) {
  rs__scales S = {.n = 0};
  int rc = RS_OK;
  for (size_t t = 0; rc == RS_OK && t < RS__NTABLES; t++)
    rc = rs__describe(a, &S, rs__tables[t].path, rs__tables[t].dims);
  for (int i = 0; rc == RS_OK && i < D_N; i++)
    if (a->d[i] >= 0) rc = rs__describe(a, &S, rs__dsets[i].path, rs__dsets[i].dims);
  static const struct {
    const char *path, *dims;
  } extra[] = {{"runs/name", "R"},      {"runs/config", "R"},      {"runs/config_hash", "R"},
               {"runs/seed", "R"},      {"runs/epochs", "RC"},     {"runs/eval_index", "RP"},
               {"runs/data_path", "RF"}, {"runs/data_sha256", "RF"}};
  for (size_t i = 0; rc == RS_OK && i < sizeof extra / sizeof extra[0]; i++)
    rc = rs__describe(a, &S, extra[i].path, extra[i].dims);
  static const char *const sub[] = {"runs/params", "runs/values", "runs/grid"};
  for (int ax = 0; rc == RS_OK && ax < rs_job_naxes(meta->job); ax++)
    for (size_t g = 0; rc == RS_OK && g < 3; g++) {
      char p[RS_PATH_MAX];
      snprintf(p, sizeof p, "%s/%s", sub[g], rs_job_axis_key(meta->job, ax));
      rc = rs__describe(a, &S, p, "R");
      if (rc == RS_OK && g == 2) {
        hid_t d = H5Dopen2(a->file, p, H5P_DEFAULT);
        rc = d < 0 ? rs__h5err(a->path, "open a grid dataset")
                   : rs__attr_str(d, "key", rs_job_axis_key(meta->job, ax), 0);
        if (d >= 0) H5Dclose(d);
      }
    }
  if (rc == RS_OK) { /* the grid axes in job order (HDF5 lists names sorted) */
    size_t len = 1;
    for (int ax = 0; ax < rs_job_naxes(meta->job); ax++) len += strlen(rs_job_axis_key(meta->job, ax)) + 1;
    char *axes = calloc(len, 1);
    for (int ax = 0; axes && ax < rs_job_naxes(meta->job); ax++) {
      if (ax) strcat(axes, ",");
      strcat(axes, rs_job_axis_key(meta->job, ax));
    }
    hid_t g = H5Gopen2(a->file, "runs/grid", H5P_DEFAULT);
    rc = !axes || g < 0 ? rs__h5err(a->path, "describe runs/grid")
                        : rs__attr_str(g, "axes", axes, 0);
    if (rc == RS_OK) rc = rs__attr_str(g, "description", "grid axes at full precision; attribute axes: their keys in job order, comma-separated", 0);
    if (g >= 0) H5Gclose(g);
    free(axes);
  }
  hid_t jt = H5Dopen2(a->file, "job/text", H5P_DEFAULT);
  if (rc == RS_OK && jt >= 0) {
    rc = rs__attr_str(jt, "description", "the job file's exact text", 0);
    if (rc == RS_OK) rc = rs__attr_str(jt, "_Encoding", "utf-8", 0);
  }
  if (jt >= 0) H5Dclose(jt);
  rs__scales_close(&S);
  return rc;
}

/* ---------------------------------------------------------------- per-run records */

typedef struct {
  const char *sha; /* RS__NFILES * RS__SHA_LEN of one run */
  const rs_config *cfg;
} rs__digest_ctx;

static const char *rs__path_digest(const char *path, void *ctx) {
  const rs__digest_ctx *c = ctx;
  const char *paths[RS__NFILES] = {c->cfg->data.images, c->cfg->data.labels,
                                   c->cfg->data.heldout_images, c->cfg->data.heldout_labels};
  for (int f = 0; f < RS__NFILES; f++)
    if (strcmp(paths[f], path) == 0) return c->sha + f * RS__SHA_LEN;
  return NULL;
}

/* The SHA-256 of every data file of every run (rank 0 reads each distinct
 * path once; everyone receives them). Synthetic runs read none: "". */
static int rs__data_sha(MPI_Comm comm, int rank, const rs_job *job, char *sha) {
  int R = rs_job_nruns(job);
  memset(sha, 0, (size_t)R * RS__NFILES * RS__SHA_LEN);
  int rc = RS_OK;
  enum { RS__NUNIQ = 64 }; /* distinct data files remembered (a grid has few) */
  const char *uniq[RS__NUNIQ];
  char uniq_sha[RS__NUNIQ * RS__SHA_LEN];
  int nuniq = 0;
  if (rank == 0) {
    for (int r = 0; rc == RS_OK && r < R; r++) {
      const rs_config *c = rs_job_run(job, r);
      if (c->data.kind != RS_DATA_IDX) continue;
      const char *paths[RS__NFILES] = {c->data.images, c->data.labels, c->data.heldout_images,
                                       c->data.heldout_labels};
      for (int f = 0; rc == RS_OK && f < RS__NFILES; f++) {
        char *out = sha + ((size_t)r * RS__NFILES + f) * RS__SHA_LEN;
        if (!paths[f][0]) continue;
        bool found = false; /* an earlier run read the same path: one read per file */
        for (int u = 0; !found && u < nuniq; u++)
          if (strcmp(uniq[u], paths[f]) == 0) {
            memcpy(out, uniq_sha + (size_t)u * RS__SHA_LEN, RS__SHA_LEN);
            found = true;
          }
        if (!found) rc = rs_sha256_file(paths[f], out);
        if (!found && rc == RS_OK && nuniq < RS__NUNIQ) {
          uniq[nuniq] = paths[f];
          memcpy(uniq_sha + (size_t)nuniq++ * RS__SHA_LEN, out, RS__SHA_LEN);
        }
      }
    }
  }
  if (comm != MPI_COMM_NULL) {
    int v = rc;
    MPI_Bcast(&v, 1, MPI_INT, 0, comm);
    if (v != RS_OK) return rank == 0 ? rc : rs_error(v, "archive: data checksums failed on rank 0");
    MPI_Bcast(sha, R * RS__NFILES * RS__SHA_LEN, MPI_CHAR, 0, comm);
  }
  return rc;
}

/* Collective. The exact records of every run: resolved configuration and its
 * hash, seed, typed grid values, epochs, evaluation points, data files. */
static int rs__write_records(rs_archive *a, const rs__meta *meta) {
  const rs__layout *L = &a->lay;
  const rs_job *job = meta->job;
  int R = (int)L->R, rc = RS_OK;
  size_t shan = (size_t)R * RS__NFILES * RS__SHA_LEN;
  char *sha = malloc(shan);
  char **cfg = calloc((size_t)R * 2, sizeof *cfg);
  char *hash = malloc((size_t)R * RS__SHA_LEN);
  const char **ptr = calloc((size_t)R * RS__NFILES, sizeof *ptr);
  double *num = malloc((size_t)(L->R * (L->C > L->P ? L->C : L->P) + 1) * sizeof(double));
  if (!sha || !cfg || !hash || !ptr || !num) {
    rc = rs_error(RS_ENOMEM, "archive: out of memory");
    goto done;
  }
  if (meta->data_sha) memcpy(sha, meta->data_sha, shan);
  else rc = rs__data_sha(a->comm, a->rank, job, sha);
  for (int r = 0; rc == RS_OK && r < R; r++) {
    const rs_config *c = rs_job_run(job, r);
    rs__digest_ctx dc = {sha + (size_t)r * RS__NFILES * RS__SHA_LEN, c};
    cfg[r] = rs_config_resolved_text(c);
    cfg[R + r] = rs_config_canonical_text(c, rs__path_digest, &dc);
    if (!cfg[r] || !cfg[R + r]) rc = rs_error(RS_ENOMEM, "archive: out of memory");
    else rs_sha256_hex(cfg[R + r], strlen(cfg[R + r]), hash + (size_t)r * RS__SHA_LEN);
  }
  if (rc == RS_OK) rc = rs__write_strings(a->file, a->comm, a->rank, "runs/config", R, (const char *const *)cfg);
  for (int r = 0; r < R; r++) ptr[r] = hash + (size_t)r * RS__SHA_LEN;
  if (rc == RS_OK) rc = rs__write_strings(a->file, a->comm, a->rank, "runs/config_hash", R, ptr);
  for (int r = 0; r < R; r++)
    for (int f = 0; f < RS__NFILES; f++) ptr[r * RS__NFILES + f] = sha + ((size_t)r * RS__NFILES + f) * RS__SHA_LEN;
  if (rc == RS_OK)
    rc = rs__write_strings2(a->file, a->comm, a->rank, "runs/data_sha256", R, RS__NFILES, ptr);
  for (int r = 0; r < R; r++) {
    const rs_config *c = rs_job_run(job, r);
    bool idx = c->data.kind == RS_DATA_IDX;
    ptr[r * RS__NFILES + 0] = idx ? c->data.images : "";
    ptr[r * RS__NFILES + 1] = idx ? c->data.labels : "";
    ptr[r * RS__NFILES + 2] = idx ? c->data.heldout_images : "";
    ptr[r * RS__NFILES + 3] = idx ? c->data.heldout_labels : "";
  }
  if (rc == RS_OK)
    rc = rs__write_strings2(a->file, a->comm, a->rank, "runs/data_path", R, RS__NFILES, ptr);
  /* seed, epochs, evaluation points */
  if (rc == RS_OK) {
    hsize_t dim = (hsize_t)R;
    int64_t *seed = (int64_t *)num;
    for (int r = 0; r < R; r++) seed[r] = rs_job_run(job, r)->seed;
    hid_t d = rs__dcreate(a->file, "runs/seed", 'l', 1, &dim);
    rc = d < 0 ? rs__h5err(a->path, "create runs/seed")
               : rs__write_whole(d, H5T_NATIVE_INT64, a->comm, a->rank, seed, "runs/seed");
    if (d >= 0) H5Dclose(d);
  }
  if (rc == RS_OK) {
    hsize_t dims[2] = {(hsize_t)L->R, (hsize_t)L->C};
    for (int64_t r = 0; r < L->R; r++) {
      const rs_config *c = rs_job_run(job, (int)r);
      for (int64_t k = 0; k < L->C; k++)
        num[r * L->C + k] = k < L->nckpt[r] ? (double)L->steps[r * L->C + k] * c->train.batch /
                                                   c->data.train_size
                                             : NAN;
    }
    hid_t d = rs__dcreate(a->file, "runs/epochs", 'd', 2, dims);
    rc = d < 0 ? rs__h5err(a->path, "create runs/epochs")
               : rs__write_whole(d, H5T_NATIVE_DOUBLE, a->comm, a->rank, num, "runs/epochs");
    if (d >= 0) H5Dclose(d);
  }
  if (rc == RS_OK && L->P > 0) {
    hsize_t dims[2] = {(hsize_t)L->R, (hsize_t)L->P};
    int64_t *ev = (int64_t *)num;
    for (int64_t i = 0; i < L->R * L->P; i++) ev[i] = -1;
    if (a->rank == 0 && meta->eval_index)
      for (int64_t r = 0; r < L->R; r++)
        for (int64_t p = 0; p < L->npoints[r]; p++) ev[r * L->P + p] = meta->eval_index[r * L->P + p];
    hid_t d = rs__dcreate(a->file, "runs/eval_index", 'l', 2, dims);
    rc = d < 0 ? rs__h5err(a->path, "create runs/eval_index")
               : rs__write_whole(d, H5T_NATIVE_INT64, a->comm, a->rank, ev, "runs/eval_index");
    if (d >= 0) H5Dclose(d);
  }
  /* grid axes: format-1 text and parsed values, and the exact typed values */
  for (int ax = 0; rc == RS_OK && ax < rs_job_naxes(job); ax++) {
    const char *key = rs_job_axis_key(job, ax);
    const char **col = ptr;
    bool numeric = true;
    for (int r = 0; r < R; r++) {
      col[r] = rs_job_run_value(job, r, ax);
      numeric &= rs__parse_num(col[r], &num[r]);
    }
    char p1[RS_PATH_MAX], p2[RS_PATH_MAX], p3[RS_PATH_MAX];
    snprintf(p1, sizeof p1, "runs/params/%s", key);
    snprintf(p2, sizeof p2, "runs/values/%s", key);
    snprintf(p3, sizeof p3, "runs/grid/%s", key);
    rc = rs__write_strings(a->file, a->comm, a->rank, p1, R, col);
    hsize_t dim = (hsize_t)R;
    if (rc == RS_OK && numeric) {
      hid_t d = rs__dcreate(a->file, p2, 'd', 1, &dim);
      rc = d < 0 ? rs__h5err(a->path, "create runs/values")
                 : rs__write_whole(d, H5T_NATIVE_DOUBLE, a->comm, a->rank, num, p2);
      if (d >= 0) H5Dclose(d);
    }
    rs_config_value v0;
    if (rc == RS_OK) rc = rs_config_value_get(rs_job_run(job, 0), key, &v0);
    if (rc != RS_OK) break;
    if (v0.kind == RS_VALUE_STRING) {
      rs_config_value *vs = malloc((size_t)R * sizeof *vs);
      if (!vs) {
        rc = rs_error(RS_ENOMEM, "archive: out of memory");
        break;
      }
      for (int r = 0; rc == RS_OK && r < R; r++) {
        rc = rs_config_value_get(rs_job_run(job, r), key, &vs[r]);
        col[r] = vs[r].s;
      }
      if (rc == RS_OK) rc = rs__write_strings(a->file, a->comm, a->rank, p3, R, col);
      free(vs);
    } else {
      char type = v0.kind == RS_VALUE_INT ? 'l' : 'd';
      for (int r = 0; rc == RS_OK && r < R; r++) {
        rs_config_value v;
        rc = rs_config_value_get(rs_job_run(job, r), key, &v);
        if (type == 'l') ((int64_t *)num)[r] = v.i;
        else num[r] = v.d;
      }
      hid_t d = rc == RS_OK ? rs__dcreate(a->file, p3, type, 1, &dim) : H5I_INVALID_HID;
      if (rc == RS_OK)
        rc = d < 0 ? rs__h5err(a->path, "create runs/grid")
                   : rs__write_whole(d, rs__memtype(type), a->comm, a->rank, num, p3);
      if (d >= 0) H5Dclose(d);
    }
  }
done:
  for (int i = 0; cfg && i < 2 * R; i++) free(cfg[i]);
  free(cfg);
  free(sha);
  free(hash);
  free(ptr);
  free(num);
  return rc;
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
  int rc = rs__space_check(comm, a->rank, path, lay);
  if (rc != RS_OK) {
    rs__free(a);
    return rc;
  }
  /* PATH.creating exists exactly while the structure is unfinished: the
   * evidence that lets a resume delete a file it cannot open (see
   * rs_archive_open_or_create) without ever deleting one that holds results. */
  if (a->rank == 0) rs__creating_mark(path, true);
  hid_t fapl = rs__fapl(comm);
  /* Required for new archives: the 1.8 file format (superblock 2, object
   * headers 2), whose metadata carries checksums, so a damaged header is
   * refused instead of parsed (bit flips in the front 8 KB of an archive:
   * 159 of 200 refused against 77 with the earliest format, which `show`
   * printed as if sound). Not the newest format: superblock 3 records "open
   * for writing" and refuses to reopen after a kill until h5clear is run;
   * superblock 2 has no such flag (checked: SIGKILL mid-sweep, --resume
   * completes). Archives written in the earliest format still open. */
  H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V18);
  hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
  H5Pset_obj_track_times(fcpl, 0);
  errno = 0;
  RS__QUIET(H5Fcreate(path, H5F_ACC_EXCL, fcpl, fapl), a->file);
  rc = a->file < 0 ? rs__ioerr(RS_EIO, path, "cannot create the archive (exists, or directory not writable)") : RS_OK;
  H5Pclose(fcpl);
  H5Pclose(fapl);
  rc = rs__agree(comm, rc);
  if (rc != RS_OK) {
    if (a->file >= 0) {
      rs__create_abort(a);
      return rc;
    }
    if (a->rank == 0) rs__creating_mark(path, false);
    rs__free(a);
    return rc;
  }
  rs__test_kill(1);
  a->lay = *lay;
  a->version = RS__FORMAT_VERSION;
  memset(lay, 0, sizeof *lay);
  rs__layout *L = &a->lay;
  /* Every step ends in an agreement across ranks (rs__agree), so a failure
   * on any rank sends all of them to fail: together. */
#define RS__TRY(expr)                                                        \
  do {                                                                       \
    errno = 0;                                                               \
    rc = (expr);                                                             \
    if (rc != RS_OK) rc = rs__add_reason(rc, path, errno);                   \
    rc = rs__agree(comm, rc);                                                \
    if (rc != RS_OK) goto fail;                                              \
  } while (0)
  /* The format name reaches the disk first, so a file killed during creation
   * is still recognisable as ours (rs_archive_probe). */
  RS__TRY(rs__attr_str(a->file, "format", RS__FORMAT, 0));
  RS__TRY(rs__attr_i64(a->file, "format_version", RS__FORMAT_VERSION));
  RS__TRY(H5Fflush(a->file, H5F_SCOPE_GLOBAL) < 0 ? rs__h5err(path, "flush") : RS_OK);
  rs__test_kill(2);
  RS__TRY(rs__reserve(a));

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
    if (h >= 0) H5Gclose(h);
    rc = rs__agree(comm, h < 0 ? rs__add_reason(rs__h5err(path, "create a group"), path, errno) : RS_OK);
    if (rc != RS_OK) break;
  }
  H5Pclose(gcpl);
  RS__TRY(rc);

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
    RS__TRY(rc);
  }

  {
    int R = (int)L->R;
    const char **names = malloc((size_t)R * sizeof *names);
    if (!names) RS__TRY(rs_error(RS_ENOMEM, "archive: out of memory"));
    for (int r = 0; r < R; r++) names[r] = rs_job_run_name(meta->job, r);
    rc = rs__write_strings(a->file, comm, a->rank, "runs/name", R, names);
    free(names);
    if (rc != RS_OK) goto fail;
  }
  for (size_t t = 0; t < RS__NTABLES; t++) {
    hsize_t dims[RS__MAXRANK];
    int n = rs__dims(L, rs__tables[t].dims, dims);
    bool empty = false;
    for (int i = 0; i < n; i++) empty |= dims[i] == 0;
    if (empty) continue;
    hid_t d = rs__dcreate(a->file, rs__tables[t].path, rs__tables[t].type, n, dims);
    RS__TRY(d < 0 ? rs__h5err(path, "create a run table") : RS_OK);
    rc = rs__write_whole(d, rs__memtype(rs__tables[t].type), comm, a->rank,
                         *(void **)((char *)L + rs__tables[t].off), rs__tables[t].path);
    /* (data helper, issue 13) which entry of a VIB run's widths is the latent */
    if (rc == RS_OK && strcmp(rs__tables[t].path, "runs/widths") == 0)
      rc = rs__attr_str(d, "entries",
                        "measured layers 1..nlayers of each run: mlp = the hidden layers; vib = "
                        "the encoder's hidden layers, then the latent mean head of size K = "
                        "model.latent as entry nlayers-1 (0-based)", 0);
    H5Dclose(d);
    RS__TRY(rc);
  }
  for (int i = 0; i < D_N; i++) {
    if (!rs__present(L, i, RS__FORMAT_VERSION)) continue;
    hsize_t dims[RS__MAXRANK];
    int n = rs__dims(L, rs__dsets[i].dims, dims);
    a->d[i] = rs__dcreate(a->file, rs__dsets[i].path, rs__dsets[i].type, n, dims);
    RS__TRY(a->d[i] < 0 ? rs_error(RS_EHDF5, "%s: cannot create %s", path, rs__dsets[i].path) : RS_OK);
  }
  if (a->d[D_S_HEADER] >= 0)
    RS__TRY(rs__attr_str(a->d[D_S_HEADER], "columns", "step,seq,nbytes,fnv1a64", 0));
  RS__TRY(rs__write_records(a, meta));
  RS__TRY(rs__describe_all(a, meta));

  hid_t prov = H5Gopen2(a->file, "provenance", H5P_DEFAULT);
  rc = rs__write_provenance(prov, comm, a->rank, a->size, info);
  H5Gclose(prov);
  RS__TRY(rc);

  rs__test_kill(3);
  /* Everything above must be on disk before the marker that says so. */
  RS__TRY(H5Fflush(a->file, H5F_SCOPE_GLOBAL) < 0 ? rs__h5err(path, "flush") : RS_OK);
  rs__test_kill(4);
  RS__TRY(rs__attr_i64(a->file, "structure_complete", 1));
  RS__TRY(H5Fflush(a->file, H5F_SCOPE_GLOBAL) < 0 ? rs__h5err(path, "flush") : RS_OK);
  rs__unreserve(a);
  if (a->rank == 0) rs__creating_mark(path, false);
#undef RS__TRY
  *out = a;
  return RS_OK;
fail:
  rs__create_abort(a);
  return rc;
}

int rs_archive_create(MPI_Comm comm, const char *path, const rs_job *job,
                      const rs_archive_run *runs, const rs_archive_info *info,
                      rs_archive **out) {
  *out = NULL;
  rs__layout L;
  RS_CALL(rs__layout_from_job(job, runs, info, &L));
  /* the evaluation points (rank 0 only: it writes the run tables) */
  int64_t *ev = NULL;
  if (L.P > 0) {
    int rank = 0;
    if (comm != MPI_COMM_NULL) MPI_Comm_rank(comm, &rank);
    bool any = false;
    for (int64_t r = 0; rank == 0 && r < L.R; r++) any |= runs[r].eval_index != NULL;
    if (any && (ev = malloc((size_t)(L.R * L.P) * sizeof *ev)) != NULL) {
      for (int64_t i = 0; i < L.R * L.P; i++) ev[i] = -1;
      for (int64_t r = 0; r < L.R; r++)
        if (runs[r].eval_index)
          memcpy(ev + r * L.P, runs[r].eval_index, (size_t)runs[r].npoints * sizeof *ev);
    }
  }
  rs__meta meta = {rs_job_name(job), rs_job_hash(job), rs_job_text(job), job, ev, NULL};
  int rc = rs__create(comm, path, &L, &meta, info, out);
  rs__layout_free(&L);
  free(ev);
  if (rc != RS_OK) rs__error_trace(__FILE__, __LINE__, __func__);
  return rc;
}

/* ---------------------------------------------------------------- open */

/* ---------------------------------------------------------------- validation on open */

/* True when dataset d has exactly rank n and extents dims. */
static bool rs__extent_is(hid_t d, int n, const hsize_t *dims) {
  hid_t sp;
  RS__QUIET(H5Dget_space(d), sp);
  if (sp < 0) return false;
  hsize_t got[RS__MAXRANK + 1];
  int r;
  RS__QUIET(H5Sget_simple_extent_ndims(sp), r);
  bool ok = r == n && (n == 0 || H5Sget_simple_extent_dims(sp, got, NULL) == n);
  for (int i = 0; ok && i < n; i++) ok = got[i] == dims[i];
  H5Sclose(sp);
  return ok;
}

/* The root's dimension attributes, before anything is sized by them: each
 * within what a job can produce, and all the data they imply no larger than
 * the file (every dataset is allocated at creation). */
static int rs__dims_check(const char *path, const rs__layout *L) {
  static const struct {
    const char *name;
    size_t off;
    int64_t lo, hi;
  } lim[] = {
      {"n_runs", offsetof(rs__layout, R), 1, 100000000},
      {"n_ckpt", offsetof(rs__layout, C), 1, 100000000},
      {"n_layers", offsetof(rs__layout, L), 0, RS_MAX_LAYERS + 1},
      {"n_points", offsetof(rs__layout, P), 0, 1000000000},
      {"n_eps", offsetof(rs__layout, E), 0, RS_MAX_EPS},
      {"n_spectrum", offsetof(rs__layout, K), 0, 100000000},
      {"n_weights", offsetof(rs__layout, W), 0, RS_MAX_LAYERS + 2},
      {"n_params", offsetof(rs__layout, NP), 0, (int64_t)1 << 40},
      {"n_state", offsetof(rs__layout, SB), 0, (int64_t)1 << 44},
  };
  for (size_t i = 0; i < sizeof lim / sizeof lim[0]; i++) {
    int64_t v = *(const int64_t *)((const char *)L + lim[i].off);
    if (v < lim[i].lo || v > lim[i].hi)
      return rs_error(RS_EARCHIVE, "%s: damaged archive: attribute %s is %lld; expected %lld..%lld",
                      path, lim[i].name, (long long)v, (long long)lim[i].lo, (long long)lim[i].hi);
  }
  /* in floating point: the products of damaged values must not wrap */
  double need = 0;
  for (int i = 0; i < D_N; i++) {
    hsize_t dims[RS__MAXRANK];
    int n = rs__dims(L, rs__dsets[i].dims, dims);
    double b = (double)rs__esize(rs__dsets[i].type);
    for (int k = 0; k < n; k++) b *= (double)dims[k];
    if (i != D_W_ALL && i != D_DONE_WALL) need += b; /* (those two only with save_weights: all) */
  }
  struct stat st;
  if (stat(path, &st) == 0 && need > (double)st.st_size)
    return rs_error(RS_EARCHIVE,
                    "%s: damaged or truncated archive: its dimensions need %.0f bytes of data but "
                    "the file has %lld",
                    path, need, (long long)st.st_size);
  return RS_OK;
}

/* Every per-run table entry within the padded dimensions, before any reader
 * indexes with it (show, resume, merge). */
static int rs__tables_check(const char *path, const rs__layout *L) {
  for (int64_t r = 0; r < L->R; r++) {
    const char *bad = NULL;
    int64_t v = 0;
#define RS__RANGE(expr, lo, hi, name)                                        \
  if (!bad && ((v = (int64_t)(expr)) < (lo) || v > (hi))) bad = name
    RS__RANGE(L->nckpt[r], 1, L->C, "runs/nckpt");
    RS__RANGE(L->nlayers[r], 0, L->L, "runs/nlayers");
    RS__RANGE(L->npoints[r], 0, L->P, "runs/npoints");
    RS__RANGE(L->neps[r], 0, L->E, "runs/neps");
    RS__RANGE(L->nweights[r], 0, L->W, "runs/nweights");
    RS__RANGE(L->nparams[r], 0, INT64_MAX, "runs/nparams");
    RS__RANGE(L->state_size[r], 0, L->SB, "runs/state_size");
    RS__RANGE(L->save[r], RS_SAVE_NONE, RS_SAVE_ALL, "runs/save_weights");
    if (!bad && L->save[r] != RS_SAVE_NONE && L->nparams[r] > L->NP) bad = "runs/nparams";
    for (int64_t l = 0; !bad && l < L->nlayers[r]; l++) {
      RS__RANGE(L->widths[r * L->L + l], 1, INT32_MAX, "runs/widths");
      RS__RANGE(L->spec_len[r * L->L + l], 0, L->K, "runs/spec_len");
    }
    for (int64_t c = 0; !bad && c < L->nckpt[r]; c++) {
      RS__RANGE(L->steps[r * L->C + c], c ? L->steps[r * L->C + c - 1] + 1 : 0, INT64_MAX - 1,
                "runs/steps");
    }
#undef RS__RANGE
    if (bad)
      return rs_error(RS_EARCHIVE, "%s: damaged archive: %s of run %lld is %lld, out of range", path,
                      bad, (long long)r, (long long)v);
  }
  return RS_OK;
}



/* Reads the dims attributes and run tables of an open archive. */
static int rs__layout_read(hid_t file, const char *path, rs__layout *L) {
  memset(L, 0, sizeof *L);
  for (size_t i = 0; i < RS__NDIMATTR; i++)
    if (rs__attr_read_i64(file, rs__dimattrs[i].name, (int64_t *)((char *)L + rs__dimattrs[i].off)) != RS_OK)
      return rs_error(RS_EARCHIVE, "%s: archive lacks the %s attribute", path, rs__dimattrs[i].name);
  RS_CALL(rs__dims_check(path, L));
  RS_CALL(rs__layout_alloc(L));
  for (size_t t = 0; t < RS__NTABLES; t++) {
    hsize_t dims[RS__MAXRANK];
    int n = rs__dims(L, rs__tables[t].dims, dims);
    bool empty = false;
    for (int i = 0; i < n; i++) empty |= dims[i] == 0;
    if (empty) continue;
    hid_t d;
    RS__QUIET(H5Dopen2(file, rs__tables[t].path, H5P_DEFAULT), d);
    /* the extent first: H5S_ALL reads the file's extent into our buffer */
    bool shape = d >= 0 && rs__extent_is(d, n, dims);
    herr_t e = !shape ? -1
                      : H5Dread(d, rs__memtype(rs__tables[t].type), H5S_ALL, H5S_ALL, H5P_DEFAULT,
                                *(void **)((char *)L + rs__tables[t].off));
    if (d >= 0) H5Dclose(d);
    if (e < 0) {
      rs__layout_free(L);
      return rs_error(RS_EARCHIVE, "%s: damaged archive: %s is %s", path, rs__tables[t].path,
                      d < 0 ? "missing" : shape ? "unreadable" : "not of the archive's dimensions");
    }
  }
  for (int64_t r = 0; r < L->R; r++) L->weights_all |= L->save[r] == RS_SAVE_ALL;
  int rc = rs__tables_check(path, L);
  if (rc != RS_OK) rs__layout_free(L);
  return rc;
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
/* rs__classify's verdict on a root group whose header HDF5 cannot read (a
 * damaged file): not among the public statuses, since a probe hands such a
 * file on to the open, which refuses it as damaged (and --move-aside applies). */
#define RS__ARCHIVE_DAMAGED ((rs_archive_status)-1)

static rs_archive_status rs__classify(hid_t fid) {
  char fmt[64];
  int64_t done = 0;
  htri_t has;
  RS__QUIET(H5Aexists(fid, "format"), has);
  if (has < 0) return RS__ARCHIVE_DAMAGED;
  if (rs__attr_read_str(fid, "format", fmt, sizeof fmt) == RS_OK) {
    if (strcmp(fmt, RS__FORMAT) != 0) return RS_ARCHIVE_FOREIGN;
    if (rs__attr_read_i64(fid, "structure_complete", &done) != RS_OK || done != 1)
      return RS_ARCHIVE_INCOMPLETE;
    return RS_ARCHIVE_READY;
  }
  H5G_info_t gi;
  H5O_info_t oi;
  herr_t e1, e2 = -1;
  RS__QUIET(H5Gget_info(fid, &gi), e1);
  if (e1 >= 0) RS__QUIET(H5Oget_info2(fid, &oi, H5O_INFO_NUM_ATTRS), e2);
  if (e1 < 0 || e2 < 0) return RS__ARCHIVE_DAMAGED;
  if (gi.nlinks == 0 && oi.num_attrs == 0) return RS_ARCHIVE_INCOMPLETE;
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
  if (*status == RS__ARCHIVE_DAMAGED) *status = RS_ARCHIVE_READY; /* the open says damaged */
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
                    "%s: not a readable HDF5 file (damaged, creation interrupted before its "
                    "structure was flushed, or not an archive)",
                    path);
  }
  rs_archive_status cls = rs__classify(a->file);
  if (cls == RS__ARCHIVE_DAMAGED) {
    rs__free(a);
    return rs_error(RS_EARCHIVE, "%s: damaged: HDF5 cannot read its root group's header", path);
  }
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
  /* Older formats are read (show); only the current one is written to. */
  if (ver < RS__FORMAT_OLDEST_READ || ver > RS__FORMAT_VERSION ||
      (mode != H5F_ACC_RDONLY && ver != RS__FORMAT_VERSION)) {
    rs__free(a);
    if (ver > RS__FORMAT_VERSION)
      return rs_error(RS_EARCHIVE,
                      "%s: archive format version %lld is newer than this ranksweep (reads %d..%d): "
                      "use a newer ranksweep",
                      path, (long long)ver, RS__FORMAT_OLDEST_READ, RS__FORMAT_VERSION);
    return rs_error(RS_EARCHIVE,
                    "%s: archive format version %lld; this ranksweep writes version %d only "
                    "(finish it with the ranksweep that started it, or start a new archive)",
                    path, (long long)ver, RS__FORMAT_VERSION);
  }
  a->version = ver;
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

/* Rank 0: renames a file that --resume cannot use to PATH.damaged-<UTC time>
 * (never deleted: it may hold results someone wants back). */
static int rs__move_aside(const char *path, char *to, size_t cap) {
  char now[RS__TIME_LEN];
  time_t t = time(NULL);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(now, sizeof now, "%Y%m%dT%H%M%SZ", &tm);
  snprintf(to, cap, "%s.damaged-%s", path, now);
  if (access(to, F_OK) == 0 || rename(path, to) != 0)
    return rs__ioerr(RS_EIO, path, "cannot move the damaged archive aside");
  return RS_OK;
}

/* What rank 0 decided about an existing file, for --resume. */
enum { RS__GO_CREATE, RS__GO_OPEN, RS__GO_RECREATE, RS__GO_ASIDE };

/* Rank 0. An interrupted creation may be deleted only on evidence that no
 * result can be in it: an empty file, an HDF5 file with nothing in it, one
 * of ours without the structure marker (results are written only after
 * it), or any file while PATH.creating still records that its creation never
 * finished. Anything else that is not a usable archive may hold results: it
 * is refused, or with move_aside renamed aside. */
static int rs__resume_decide(const char *path, bool move_aside, int *go) {
  rs_archive_status st;
  RS_CALL(rs_archive_probe(path, &st));
  bool creating = rs__creating_marked(path);
  if (st == RS_ARCHIVE_ABSENT) {
    *go = RS__GO_CREATE;
    return RS_OK;
  }
  if (st == RS_ARCHIVE_READY) {
    *go = RS__GO_OPEN;
    return RS_OK;
  }
  const char *what = "not a ranksweep archive";
  if (st == RS_ARCHIVE_INCOMPLETE) {
    struct stat sb;
    hid_t fid = H5I_INVALID_HID;
    if (stat(path, &sb) == 0 && sb.st_size == 0) creating = true;
    else RS__QUIET(H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT), fid);
    if (fid >= 0) { /* opens: no marker, or nothing at all in it */
      creating = true;
      H5Fclose(fid);
    }
    what = "an HDF5 file that cannot be opened (damaged or truncated)";
  }
  if (creating) {
    *go = RS__GO_RECREATE;
    return RS_OK;
  }
  if (move_aside) {
    *go = RS__GO_ASIDE;
    return RS_OK;
  }
  return rs_error(RS_EARCHIVE,
                  "%s: exists and is %s; it may hold results, so --resume leaves it untouched "
                  "(rerun with --move-aside to rename it to %s.damaged-<time> and start anew)",
                  path, what, path);
}

int rs_archive_open_or_create(MPI_Comm comm, const char *path, const rs_job *job,
                              const rs_archive_run *runs, const rs_archive_info *info,
                              bool resume, rs_archive **out, bool *created) {
  *out = NULL;
  if (created) *created = false;
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  bool move_aside = info && info->move_aside;
  int v[2] = {RS_OK, RS__GO_CREATE};
  char aside[RS_PATH_MAX + 64] = "";
  bool have_lock = false;
  if (rank == 0) {
    v[0] = rs__lock_take(path);
    have_lock = v[0] == RS_OK;
    if (v[0] == RS_OK && resume) v[0] = rs__resume_decide(path, move_aside, &v[1]);
    if (v[0] == RS_OK && v[1] == RS__GO_RECREATE) {
      /* nothing can have been written to an interrupted creation: start over */
      if (unlink(path) != 0)
        v[0] = rs__ioerr(RS_EIO, path, "cannot remove the interrupted archive");
      else
        rs__creating_mark(path, false);
    }
    if (v[0] == RS_OK && v[1] == RS__GO_ASIDE) v[0] = rs__move_aside(path, aside, sizeof aside);
    if (v[0] != RS_OK && have_lock) rs__lock_drop(path);
  }
  int rc = rs__agree(comm, v[0]);
  MPI_Bcast(&v[1], 1, MPI_INT, 0, comm);
  if (rc != RS_OK) return rc;
  if (rank == 0 && v[1] == RS__GO_ASIDE)
    fprintf(stderr, "ranksweep: %s: moved aside to %s; starting anew\n", path, aside);
  if (v[1] == RS__GO_OPEN) {
    rc = rs__agree(comm, rs_archive_open(comm, path, job, runs, info, out));
    /* Damaged (not merely another job's archive): refused with the way out,
     * or with move_aside renamed aside and started anew. */
    bool damaged = rc == RS_EARCHIVE && strstr(rs_error_message(), "damaged") != NULL;
    if (damaged && !move_aside) {
      char msg[1024];
      snprintf(msg, sizeof msg, "%s", rs_error_message());
      rs_error(rc, "%s; --resume leaves it untouched (rerun with --move-aside to rename it to "
               "%s.damaged-<time> and start anew)", msg, path);
    }
    if (damaged && move_aside) {
      rc = rank == 0 ? rs__move_aside(path, aside, sizeof aside) : RS_OK;
      rc = rs__agree(comm, rc);
      if (rc == RS_OK) {
        if (rank == 0)
          fprintf(stderr, "ranksweep: %s: damaged; moved aside to %s; starting anew\n", path, aside);
        rc = rs_archive_create(comm, path, job, runs, info, out);
        if (rc == RS_OK && created) *created = true;
      }
    }
  } else {
    rc = rs_archive_create(comm, path, job, runs, info, out);
    if (rc == RS_OK && created) *created = true;
  }
  if (rc != RS_OK) {
    if (rank == 0) rs__lock_drop(path);
    return rc;
  }
  (*out)->locked = rank == 0;
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
    if (rc == RS_OK && a->d[D_LR_COUNTS_NP] >= 0) {
      /* the NumPy-tolerance count again, where no padding can shift it */
      for (size_t i = 0; i < n; i++) cnt[i] = res->counts[i * (ne + 1) + ne];
      rc = rs__dio(a, D_LR_COUNTS_NP, st, ct, cnt, true);
    }
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
  RS_CALL(rs__test_kill_in_write(a));
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
  RS_CALL(rs__test_kill_in_write(a));
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
  RS_CALL(rs__test_kill_in_write(a));
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
  double *buf = malloc((size_t)(2 * L->C * L->L * E1 + 1) * sizeof *buf);
  int32_t *cnt = malloc((size_t)(L->L * L->P * E1 + 1) * sizeof *cnt);
  int rc = !smask || !buf || !cnt ? rs_error(RS_ENOMEM, "archive: out of memory") : RS_OK;
  if (rc == RS_OK && ns) rc = rs__read_all(a, D_DONE_POINTS, smask);
  for (int64_t r = a->rank; rc == RS_OK && r < L->R; r += a->size) {
    rc = rs__run_means(a, (int)r, smask, buf, cnt);
    if (rc == RS_OK && L->L > 0) {
      hsize_t st[4] = {(hsize_t)r, 0, 0, 0}, ct[4] = {1, (hsize_t)L->C, (hsize_t)L->L, (hsize_t)E1};
      rc = rs__dio(a, D_LR_MEAN, st, ct, buf, true);
      /* the same means split into the eps ladder and the NumPy column */
      int64_t CL = L->C * L->L;
      double *eps = buf + CL * E1; /* scratch after the [C, L, E+1] block */
      for (int64_t i = 0; rc == RS_OK && i < CL; i++) {
        for (int64_t e = 0; e < L->E; e++) eps[i * L->E + e] = buf[i * E1 + e];
        eps[CL * L->E + i] = buf[i * E1 + L->E];
      }
      if (rc == RS_OK && a->d[D_LR_MEAN_EPS] >= 0) {
        ct[3] = (hsize_t)L->E;
        rc = rs__dio(a, D_LR_MEAN_EPS, st, ct, eps, true);
      }
      if (rc == RS_OK && a->d[D_LR_MEAN_NP] >= 0) rc = rs__dio(a, D_LR_MEAN_NP, st, ct, eps + CL * L->E, true);
    }
  }
  free(smask);
  free(buf);
  free(cnt);
  return rc;
}

/* Rank 0, before the final metadata is written: room on disk for it (1 MB
 * beyond the end of the file). HDF5 1.10 does not fail a parallel metadata
 * flush on all ranks alike: one rank that meets a full disk leaves the
 * others waiting in a different collective (a hang). So the flush happens
 * only when the room is there; otherwise the sweep ends with the system's
 * reason, every result already in the file, and --resume finishes it. */
static int rs__room_to_finish(const rs_archive *a) {
  if (a->rank != 0) return RS_OK;
  int fd = open(a->path, O_WRONLY);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) {
    if (fd >= 0) close(fd);
    return rs__ioerr(RS_EIO, a->path, "cannot check the room to finish the archive");
  }
  int rc = RS_OK;
  if (fallocate(fd, FALLOC_FL_KEEP_SIZE, st.st_size, (off_t)1 << 20) != 0 && errno != EOPNOTSUPP &&
      errno != ENOSYS)
    rc = rs__ioerr(RS_EIO, a->path,
                   "no room to write the archive's final metadata (its results are all "
                   "written; free some space, then run again with --resume to finish it)");
  close(fd);
  return rc;
}

int rs_archive_finalize(rs_archive *a, bool complete) {
  int room = a->comm != MPI_COMM_NULL ? rs__agree(a->comm, rs__room_to_finish(a))
                                      : rs__room_to_finish(a);
  if (room != RS_OK) {
    a->no_room = true;
    return room;
  }
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
  /* Out of room (rs_archive_finalize): nothing new was written since the
   * last flush, so the close has no metadata to write. */
  herr_t e = H5Fclose(a->file);
  if (a->no_room) e = 0;
  a->file = H5I_INVALID_HID;
  char path[RS_PATH_MAX];
  snprintf(path, sizeof path, "%s", a->path);
  if (a->locked) rs__lock_drop(path);
  rs__free(a);
  return e < 0 ? rs__h5err(path, "close") : RS_OK;
}

/* ---------------------------------------------------------------- reuse */

/* Whether run q of `o` and run r of `a` have the same shapes (everything the
 * run tables say about one run). */
static bool rs__run_shape_equal(const rs__layout *O, int64_t q, const rs__layout *N, int64_t r) {
  if (O->nckpt[q] != N->nckpt[r] || O->nlayers[q] != N->nlayers[r] || O->npoints[q] != N->npoints[r] ||
      O->neps[q] != N->neps[r] || O->nweights[q] != N->nweights[r] || O->nparams[q] != N->nparams[r] ||
      O->state_size[q] != N->state_size[r] || O->save[q] != N->save[r])
    return false;
  for (int c = 0; c < N->nckpt[r]; c++)
    if (O->steps[q * O->C + c] != N->steps[r * N->C + c]) return false;
  for (int l = 0; l < N->nlayers[r]; l++)
    if (O->widths[q * O->L + l] != N->widths[r * N->L + l] ||
        O->spec_len[q * O->L + l] != N->spec_len[r * N->L + l])
      return false;
  for (int e = 0; e < N->neps[r]; e++)
    if (memcmp(&O->eps[q * O->E + e], &N->eps[r * N->E + e], sizeof(double)) != 0) return false;
  return true;
}

/* Copies block ct of dataset id from run q of o to run r of a (same shape). */
static int rs__copy_run_block(rs_archive *o, int64_t q, rs_archive *a, int64_t r, int id,
                              const hsize_t *ct, void **buf, size_t *cap) {
  if (o->d[id] < 0 || a->d[id] < 0) return RS_OK;
  size_t n = rs__esize(rs__dsets[id].type);
  int rank = (int)strlen(rs__dsets[id].dims);
  for (int i = 0; i < rank; i++) n *= ct[i];
  if (n == 0) return RS_OK;
  if (n > *cap) {
    void *p = realloc(*buf, n);
    if (!p) return rs_error(RS_ENOMEM, "archive: out of memory");
    *buf = p;
    *cap = n;
  }
  hsize_t st[RS__MAXRANK] = {0};
  st[0] = (hsize_t)q;
  RS_CALL(rs__dio(o, id, st, ct, *buf, false));
  st[0] = (hsize_t)r;
  return rs__dio(a, id, st, ct, *buf, true);
}

/* Copies columns [0, ne) and the last column of a [.., Eo(+1)] block into a
 * [.., En(+1)] block, -1 elsewhere (the eps axes of the two archives may be
 * padded differently). */
static int rs__copy_eps_block(rs_archive *o, int64_t q, rs_archive *a, int64_t r, int id,
                              int rank, const hsize_t *ct, int64_t Eo, int64_t En, int ne,
                              bool last_col) {
  if (o->d[id] < 0 || a->d[id] < 0) return RS_OK;
  size_t rows = 1;
  for (int i = 0; i < rank - 1; i++) rows *= ct[i];
  int32_t *in = malloc(rows * (size_t)Eo * sizeof *in + 4), *out = malloc(rows * (size_t)En * sizeof *out + 4);
  int rc = !in || !out ? rs_error(RS_ENOMEM, "archive: out of memory") : RS_OK;
  hsize_t st[RS__MAXRANK] = {0}, c[RS__MAXRANK];
  memcpy(c, ct, (size_t)rank * sizeof *c);
  st[0] = (hsize_t)q;
  c[rank - 1] = (hsize_t)Eo;
  if (rc == RS_OK && rows > 0) rc = rs__dio(o, id, st, c, in, false);
  for (size_t i = 0; rc == RS_OK && i < rows; i++) {
    for (int64_t e = 0; e < En; e++) out[i * En + e] = -1;
    for (int e = 0; e < ne; e++) out[i * En + e] = in[i * Eo + e];
    if (last_col) out[i * En + En - 1] = in[i * Eo + Eo - 1];
  }
  st[0] = (hsize_t)r;
  c[rank - 1] = (hsize_t)En;
  if (rc == RS_OK && rows > 0) rc = rs__dio(a, id, st, c, out, true);
  free(in);
  free(out);
  return rc;
}

/* Copies one finished run, data first and masks last (the run's own mask
 * the very last), exactly as a sweep would have written it. */
static int rs__copy_run(rs_archive *o, int64_t q, rs_archive *a, int64_t r, const uint8_t *omask_wf,
                        const uint8_t *omask_wall, const uint8_t *omask_metrics,
                        const uint8_t *omask_points) {
  const rs__layout *O = &o->lay, *N = &a->lay;
  int nc = N->nckpt[r], nl = N->nlayers[r], np = N->npoints[r], ne = N->neps[r], W = N->nweights[r];
  int64_t NPr = N->nparams[r];
  int kr = 0;
  for (int l = 0; l < nl; l++)
    if (N->spec_len[r * N->L + l] > kr) kr = N->spec_len[r * N->L + l];
  void *buf = NULL;
  size_t cap = 0;
  int rc = RS_OK;
  if (nl > 0 && np > 0) {
    hsize_t ct[5] = {1, (hsize_t)nc, (hsize_t)nl, (hsize_t)np, 0};
    rc = rs__copy_eps_block(o, q, a, r, D_LR_COUNTS, 5, ct, O->E + 1, N->E + 1, ne, true);
    if (rc == RS_OK) rc = rs__copy_run_block(o, q, a, r, D_LR_COUNTS_NP, ct, &buf, &cap);
    if (rc == RS_OK) rc = rs__copy_run_block(o, q, a, r, D_LR_EFFRANK, ct, &buf, &cap);
    if (rc == RS_OK) rc = rs__copy_run_block(o, q, a, r, D_LR_STABLE, ct, &buf, &cap);
    ct[4] = (hsize_t)kr;
    if (rc == RS_OK && kr > 0) rc = rs__copy_run_block(o, q, a, r, D_LR_SPECTRA, ct, &buf, &cap);
  }
  {
    hsize_t ct[4] = {1, (hsize_t)nc, (hsize_t)W, 0};
    const int ids[] = {D_M_TRAIN_LOSS, D_M_TRAIN_ACC, D_M_HELD_LOSS, D_M_HELD_ACC, D_M_RATE, D_M_INFO_Y};
    for (size_t k = 0; rc == RS_OK && k < sizeof ids / sizeof ids[0]; k++)
      rc = rs__copy_run_block(o, q, a, r, ids[k], ct, &buf, &cap);
    if (rc == RS_OK && W > 0) rc = rs__copy_run_block(o, q, a, r, D_M_WFRO, ct, &buf, &cap);
    if (rc == RS_OK && W > 0) rc = rs__copy_run_block(o, q, a, r, D_M_WSPEC, ct, &buf, &cap);
    if (rc == RS_OK && W > 0 && N->E > 0 && O->E > 0)
      rc = rs__copy_eps_block(o, q, a, r, D_M_WRANK, 4, ct, O->E, N->E, ne, false);
  }
  if (rc == RS_OK && NPr > 0 && omask_wf[q]) {
    hsize_t ct[2] = {1, (hsize_t)NPr};
    rc = rs__copy_run_block(o, q, a, r, D_W_FINAL, ct, &buf, &cap);
  }
  for (int c = 0; rc == RS_OK && NPr > 0 && omask_wall && c < nc; c++) {
    if (!omask_wall[q * O->C + c] || a->d[D_W_ALL] < 0 || o->d[D_W_ALL] < 0) continue;
    hsize_t so[3] = {(hsize_t)q, (hsize_t)c, 0}, sn[3] = {(hsize_t)r, (hsize_t)c, 0}, ct[3] = {1, 1, (hsize_t)NPr};
    if ((size_t)NPr * 8 > cap) {
      void *p = realloc(buf, (size_t)NPr * 8);
      if (!p) rc = rs_error(RS_ENOMEM, "archive: out of memory");
      else {
        buf = p;
        cap = (size_t)NPr * 8;
      }
    }
    if (rc == RS_OK) rc = rs__dio(o, D_W_ALL, so, ct, buf, false);
    if (rc == RS_OK) rc = rs__dio(a, D_W_ALL, sn, ct, buf, true);
  }
  /* masks, as the sweep sets them: points, metrics, weights, then the run */
  for (int c = 0; rc == RS_OK && c < nc; c++) {
    for (int p = 0; rc == RS_OK && p < np;) {
      if (!omask_points[(q * O->C + c) * O->P + p]) {
        p++;
        continue;
      }
      int p0 = p;
      while (p < np && omask_points[(q * O->C + c) * O->P + p]) p++;
      rc = rs__set_points(a, (int)r, c, p0, p - p0);
    }
    hsize_t st[2] = {(hsize_t)r, (hsize_t)c};
    if (rc == RS_OK && omask_metrics[q * O->C + c]) rc = rs__set_mask(a, D_DONE_METRICS, 2, st);
    if (rc == RS_OK && omask_wall && omask_wall[q * O->C + c] && a->d[D_DONE_WALL] >= 0)
      rc = rs__set_mask(a, D_DONE_WALL, 2, st);
  }
  hsize_t st1[1] = {(hsize_t)r}, one[1] = {1};
  if (rc == RS_OK && omask_wf[q] && a->d[D_DONE_WFINAL] >= 0) rc = rs__set_mask(a, D_DONE_WFINAL, 1, st1);
  if (rc == RS_OK) rc = rs__copy_run_block(o, q, a, r, D_R_DIVERGED, one, &buf, &cap);
  if (rc == RS_OK) rc = rs__copy_run_block(o, q, a, r, D_R_LAST_STEP, one, &buf, &cap);
  if (rc == RS_OK) rc = rs__set_mask(a, D_DONE_RUNS, 1, st1);
  free(buf);
  return rc;
}

static int rs__agree_rc(MPI_Comm comm, int rc, const char *path) {
  if (comm == MPI_COMM_NULL) return rc;
  int bad = rc != RS_OK, any = 0;
  MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, comm);
  if (any && rc == RS_OK) rc = rs_error(RS_EARCHIVE, "%s: reuse failed on another rank", path);
  return rc;
}

int rs_archive_reuse(rs_archive *a, const char *old_path, int *nreused) {
  if (nreused) *nreused = 0;
  rs_archive *o = NULL;
  int rc = rs__open(MPI_COMM_NULL, old_path, H5F_ACC_RDONLY, &o);
  if (rc == RS_OK && o->version < 2)
    rc = rs_error(RS_EARCHIVE,
                  "--reuse %s: archive format version %lld records no configuration hashes; "
                  "reuse needs version %d",
                  old_path, (long long)o->version, RS__FORMAT_VERSION);
  rc = rs__agree_rc(a->comm, rc, old_path);
  if (rc != RS_OK) {
    if (o) rs__free(o);
    return rc;
  }
  const rs__layout *O = &o->lay, *N = &a->lay;
  char **ho = NULL, **hn = NULL;
  size_t nop = (size_t)(O->R * O->C * O->P), noc = (size_t)(O->R * O->C);
  uint8_t *odone = malloc((size_t)O->R), *ndone = malloc((size_t)N->R), *owf = calloc((size_t)O->R, 1);
  uint8_t *owall = o->d[D_DONE_WALL] >= 0 ? calloc(noc ? noc : 1, 1) : NULL;
  uint8_t *omet = malloc(noc ? noc : 1), *opts = malloc(nop ? nop : 1);
  int64_t *match = malloc((size_t)N->R * sizeof *match);
  if (!odone || !ndone || !owf || !omet || !opts || !match || (o->d[D_DONE_WALL] >= 0 && !owall))
    rc = rs_error(RS_ENOMEM, "archive: out of memory");
  if (rc == RS_OK) rc = rs__read_strings(o->file, "runs/config_hash", (int)O->R, &ho);
  if (rc == RS_OK) rc = rs__read_strings(a->file, "runs/config_hash", (int)N->R, &hn);
  if (rc == RS_OK) rc = rs__read_all(o, D_DONE_RUNS, odone);
  if (rc == RS_OK) rc = rs__read_all(a, D_DONE_RUNS, ndone);
  if (rc == RS_OK) rc = rs__read_all(o, D_DONE_WFINAL, owf);
  if (rc == RS_OK && owall) rc = rs__read_all(o, D_DONE_WALL, owall);
  if (rc == RS_OK && noc) rc = rs__read_all(o, D_DONE_METRICS, omet);
  if (rc == RS_OK && nop) rc = rs__read_all(o, D_DONE_POINTS, opts);
  /* the same matching on every rank (it depends on the files only) */
  int nmatch = 0;
  for (int64_t r = 0; rc == RS_OK && r < N->R; r++) {
    match[r] = -1;
    if (ndone[r]) continue;
    for (int64_t q = 0; q < O->R && match[r] < 0; q++)
      if (odone[q] && strcmp(ho[q], hn[r]) == 0 && rs__run_shape_equal(O, q, N, r)) match[r] = q;
    if (match[r] >= 0) nmatch++;
  }
  rc = rs__agree_rc(a->comm, rc, old_path);
  /* each rank copies its share of the runs: independent raw writes */
  for (int64_t r = 0, k = 0; rc == RS_OK && r < N->R; r++) {
    if (match[r] < 0) continue;
    if (k++ % a->size == a->rank) rc = rs__copy_run(o, match[r], a, r, owf, owall, omet, opts);
  }
  rc = rs__agree_rc(a->comm, rc, old_path);
  if (rc == RS_OK) {
    hid_t prov = H5Gopen2(a->file, "provenance", H5P_DEFAULT);
    rc = rs__attr_str(prov, "reused_from", old_path, 0);
    if (rc == RS_OK) rc = rs__attr_i64(prov, "reused_runs", nmatch);
    H5Gclose(prov);
  }
  /* everything copied is on disk and visible to every rank before the sweep
   * reads the masks */
  if (H5Fflush(a->file, H5F_SCOPE_GLOBAL) < 0 && rc == RS_OK) rc = rs__h5err(a->path, "flush");
  if (a->comm != MPI_COMM_NULL) MPI_Barrier(a->comm);
  free(ho);
  free(hn);
  free(odone);
  free(ndone);
  free(owf);
  free(owall);
  free(omet);
  free(opts);
  free(match);
  rs__free(o);
  if (rc == RS_OK && nreused) *nreused = nmatch;
  return rc;
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

/* Same threshold: eps values are typed by people, so compare to 1e-9. */
static bool rs__eps_eq(double a, double b) { return fabs(a - b) <= 1e-9 * fabs(b); }

/* Column e of run r holding eps x, or -1. */
static int rs__eps_col(const rs__layout *L, int64_t r, double x) {
  for (int e = 0; e < L->neps[r]; e++)
    if (rs__eps_eq(L->eps[r * L->E + e], x)) return e;
  return -1;
}

/* A CSV field: quoted when it holds a comma, quote or newline. */
static void rs__csv_str(FILE *out, const char *s) {
  if (!strpbrk(s, ",\"\n\r")) {
    fputs(s, out);
    return;
  }
  fputc('"', out);
  for (; *s; s++) {
    if (*s == '"') fputc('"', out);
    fputc(*s, out);
  }
  fputc('"', out);
}

/* A CSV number: the shortest text that reads back as the same double. */
static void rs__csv_num(FILE *out, double v, const char *fmt) {
  (void)fmt;
  fputc(',', out);
  if (isnan(v)) return;
  char b[40];
  for (int prec = 15; prec <= 17; prec++) {
    snprintf(b, sizeof b, "%.*g", prec, v);
    if (strtod(b, NULL) == v) break;
  }
  fputs(b, out);
}

int rs_archive_show(const char *path, const rs_show_opts *o, FILE *out) {
  int run = o->run;
  rs_archive *a;
  RS_CALL(rs__open(MPI_COMM_NULL, path, H5F_ACC_RDONLY, &a));
  const rs__layout *L = &a->lay;
  int rc = RS_OK;
  char s1[256], s2[128], s3[128], s4[128];
  if (run < -1 || run >= L->R)
    rc = rs_error(RS_EARG, "show: %s: run %d out of range [0, %lld)", path, run, (long long)L->R);
  if (rc == RS_OK && o->layer != -1 && (o->layer < 1 || o->layer > L->L))
    rc = rs_error(RS_EARG, "show: %s: --layer %d, the archive has hidden layers 1..%lld", path,
                  o->layer, (long long)L->L);
  /* The eps columns: every threshold of the shown runs, in ladder order of
   * first appearance (--eps: that one only, which some run must have). */
  double cols[RS_MAX_EPS * 8];
  int ncols = 0;
  for (int64_t r = 0; rc == RS_OK && r < L->R; r++) {
    if (run >= 0 && r != run) continue;
    for (int e = 0; e < L->neps[r]; e++) {
      double x = L->eps[r * L->E + e];
      bool seen = false;
      for (int k = 0; k < ncols; k++) seen |= rs__eps_eq(cols[k], x);
      if (!seen && ncols < (int)(sizeof cols / sizeof cols[0])) cols[ncols++] = x;
    }
  }
  if (rc == RS_OK && !isnan(o->eps)) {
    bool have = false;
    char list[512] = "";
    for (int k = 0; k < ncols; k++) {
      have |= rs__eps_eq(cols[k], o->eps);
      size_t n = strlen(list);
      snprintf(list + n, sizeof list - n, "%s%g", k ? ", " : "", cols[k]);
    }
    if (!have)
      rc = rs_error(RS_EARG, "show: %s has no eps %g%s (its thresholds: %s)", path, o->eps,
                    run >= 0 ? " in this run" : "", ncols ? list : "none");
    cols[0] = o->eps;
    ncols = 1;
  }
  if (rc != RS_OK) {
    rs_archive_close(&a);
    return rc;
  }
  int64_t complete = 0;
  if (!o->csv) {
    rs__attr_read_str(a->file, "job_name", s1, sizeof s1);
    rs__attr_read_str(a->file, "job_hash", s2, sizeof s2);
    rs__attr_read_i64(a->file, "complete", &complete);
    fprintf(out, "archive   %s (format %lld)\njob       %s\njob_hash  %s\ncomplete  %s\n", path,
            (long long)a->version, s1, s2, complete ? "yes" : "no");
    hid_t prov = H5Gopen2(a->file, "provenance", H5P_DEFAULT);
    if (prov >= 0) {
      static const char *const keys[] = {"ranksweep_version", "git_commit", "hdf5_version", "hostname",
                                         "start_time", "end_time", "openblas_config", "mpi_library",
                                         "reused_from"};
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
  }
  char **names = NULL;
  RS_CALL(rs__read_strings(a->file, "runs/name", (int)L->R, &names));
  int64_t E1 = L->E + 1;
  size_t ns = (size_t)(L->R * L->C * L->P), nm = (size_t)(L->R * L->C);
  uint8_t *smask = malloc(ns ? ns : 1), *mmask = malloc(nm ? nm : 1), *rmask = malloc((size_t)L->R);
  uint8_t *diverged = malloc((size_t)L->R);
  double *mean = malloc((size_t)(L->C * L->L * E1 + 1) * sizeof *mean);
  double *epochs = malloc((nm ? nm : 1) * sizeof *epochs);
  int32_t *cnt = malloc((size_t)(L->L * L->P * E1 + 1) * sizeof *cnt);
  if (!smask || !mmask || !rmask || !diverged || !mean || !cnt || !epochs)
    rc = rs_error(RS_ENOMEM, "archive: out of memory");
  if (rc == RS_OK && ns) rc = rs__read_all(a, D_DONE_POINTS, smask);
  if (rc == RS_OK) rc = rs__read_all(a, D_DONE_METRICS, mmask);
  if (rc == RS_OK) rc = rs__read_all(a, D_DONE_RUNS, rmask);
  if (rc == RS_OK) rc = rs__read_all(a, D_R_DIVERGED, diverged);
  for (size_t i = 0; epochs && i < nm; i++) epochs[i] = NAN;
  if (rc == RS_OK && nm) { /* format 1 has no epochs: shown as "-" */
    hid_t d;
    RS__QUIET(H5Dopen2(a->file, "runs/epochs", H5P_DEFAULT), d);
    if (d >= 0) {
      if (H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, epochs) < 0)
        rc = rs_error(RS_EHDF5, "%s: cannot read runs/epochs", path);
      H5Dclose(d);
    }
  }
  int namew = 4;
  for (int64_t r = 0; r < L->R; r++)
    if ((run < 0 || r == run) && (int)strlen(names[r]) > namew) namew = (int)strlen(names[r]);
  const int ids[4] = {D_M_TRAIN_LOSS, D_M_TRAIN_ACC, D_M_HELD_LOSS, D_M_HELD_ACC};
  int l0 = o->layer > 0 ? o->layer - 1 : 0;
  if (rc == RS_OK && o->csv) {
    fprintf(out, "run,name,status,checkpoint,step,epoch,layer,eps,local_rank,local_rank_numpy,"
                 "train_loss,train_acc,heldout_loss,heldout_acc\n");
  } else if (rc == RS_OK && run < 0) {
    fprintf(out, "\nmean local rank at each run's last measured checkpoint (numpy: NumPy's tolerance)\n");
    fprintf(out, "%4s  %-*s  %-8s %-15s %10s %9s %10s %9s  %5s", "run", namew, "name", "status", "step/steps",
            "train_loss", "train_acc", "held_loss", "held_acc", "layer");
    for (int k = 0; k < ncols; k++) {
      snprintf(s1, sizeof s1, "eps=%g", cols[k]);
      fprintf(out, " %10s", s1);
    }
    if (isnan(o->eps)) fprintf(out, " %10s", "numpy");
    fputc('\n', out);
  }
  for (int64_t r = 0; rc == RS_OK && r < L->R; r++) {
    if (run >= 0 && r != run) continue;
    int last = -1, lastlr = -1;
    for (int c = 0; c < L->nckpt[r]; c++)
      if (mmask[r * L->C + c]) last = c;
    rc = rs__run_means(a, (int)r, smask, mean, cnt);
    for (int c = 0; c < L->nckpt[r]; c++)
      if (L->nlayers[r] > 0 && !isnan(mean[(int64_t)c * L->L * E1 + L->E])) lastlr = c;
    const char *status = rmask[r] ? (diverged[r] == 1 ? "diverged" : "done") : last >= 0 ? "partial" : "pending";
    int l1 = o->layer > 0 ? (o->layer <= L->nlayers[r] ? o->layer : 0) : L->nlayers[r];
    double v[4] = {NAN, NAN, NAN, NAN};
    if (o->csv) {
      for (int c = 0; rc == RS_OK && c < L->nckpt[r]; c++) {
        bool have_m = mmask[r * L->C + c] != 0, have_lr = L->nlayers[r] > 0 && !isnan(mean[(int64_t)c * L->L * E1 + L->E]);
        if (!have_m && !have_lr) continue;
        for (int i = 0; i < 4; i++) v[i] = NAN;
        for (int i = 0; rc == RS_OK && have_m && i < 4; i++) rc = rs__read_scalar2(a, ids[i], (int)r, c, &v[i]);
        for (int l = l0; rc == RS_OK && l < l1; l++)
          for (int k = 0; k < (ncols ? ncols : 1); k++) {
            int e = ncols ? rs__eps_col(L, r, cols[k]) : -1;
            if (ncols && e < 0) continue; /* this run has no such eps */
            const double *m = mean + ((int64_t)c * L->L + l) * E1;
            fprintf(out, "%lld,", (long long)r);
            rs__csv_str(out, names[r]);
            fprintf(out, ",%s,%d,%lld", status, c, (long long)L->steps[r * L->C + c]);
            rs__csv_num(out, epochs[r * L->C + c], "%.17g");
            fprintf(out, ",%d", l + 1);
            rs__csv_num(out, e >= 0 ? cols[k] : NAN, "%.17g");
            rs__csv_num(out, e >= 0 ? m[e] : NAN, "%.17g");
            rs__csv_num(out, m[L->E], "%.17g");
            for (int i = 0; i < 4; i++) rs__csv_num(out, v[i], "%.17g");
            fputc('\n', out);
          }
        if (L->nlayers[r] == 0 && have_m) { /* metrics only */
          fprintf(out, "%lld,", (long long)r);
          rs__csv_str(out, names[r]);
          fprintf(out, ",%s,%d,%lld", status, c, (long long)L->steps[r * L->C + c]);
          rs__csv_num(out, epochs[r * L->C + c], "%.17g");
          fprintf(out, ",,,,");
          for (int i = 0; i < 4; i++) rs__csv_num(out, v[i], "%.17g");
          fputc('\n', out);
        }
      }
      continue;
    }
    for (int i = 0; rc == RS_OK && last >= 0 && i < 4; i++) rc = rs__read_scalar2(a, ids[i], (int)r, last, &v[i]);
    char steps[64], lastc[32] = "-";
    if (last >= 0) snprintf(lastc, sizeof lastc, "%lld", (long long)L->steps[r * L->C + last]);
    snprintf(steps, sizeof steps, "%s/%lld", lastc, (long long)L->steps[r * L->C + L->nckpt[r] - 1]);
    rs__fmt(s1, 32, v[0], "%.4g");
    rs__fmt(s2, 32, v[1], "%.4f");
    rs__fmt(s3, 32, v[2], "%.4g");
    rs__fmt(s4, 32, v[3], "%.4f");
    if (run < 0) {
      fprintf(out, "%4lld  %-*s  %-8s %-15s %10s %9s %10s %9s", (long long)r, namew, names[r], status, steps,
              s1, s2, s3, s4);
      if (lastlr < 0 || l1 <= l0) fprintf(out, "  %5s", "-");
      for (int l = l0; lastlr >= 0 && l < l1; l++) {
        if (l > l0) fprintf(out, "%*s", 4 + 2 + namew + 2 + 8 + 1 + 15 + 11 + 10 + 11 + 10, "");
        fprintf(out, "  %5d", l + 1);
        const double *m = mean + ((int64_t)lastlr * L->L + l) * E1;
        for (int k = 0; k < ncols; k++) {
          int e = rs__eps_col(L, r, cols[k]);
          rs__fmt(s1, 32, e >= 0 ? m[e] : NAN, "%.2f");
          fprintf(out, " %10s", s1);
        }
        if (isnan(o->eps)) {
          rs__fmt(s1, 32, m[L->E], "%.2f");
          fprintf(out, " %10s", s1);
        }
        if (l + 1 < l1) fputc('\n', out);
      }
      if (lastlr >= 0 && lastlr != last) fprintf(out, "  (LR of step %lld)", (long long)L->steps[r * L->C + lastlr]);
      fputc('\n', out);
      continue;
    }
    /* one run: its curve at one eps (--eps, or the middle of its ladder) */
    int em = !isnan(o->eps) ? rs__eps_col(L, r, o->eps) : L->neps[r] > 0 ? L->neps[r] / 2 : (int)L->E;
    char eps[64];
    if (em >= 0 && em < L->neps[r]) snprintf(eps, sizeof eps, "eps=%g", L->eps[r * L->E + em]);
    else snprintf(eps, sizeof eps, "numpy");
    fprintf(out, "\nrun %lld  %s  %s  steps %s\n", (long long)r, names[r], status, steps);
    fprintf(out, "curve: mean local rank per layer at %s\n%5s %10s %10s %10s %9s %10s %9s", eps, "ckpt", "step",
            "epoch", "train_loss", "train_acc", "held_loss", "held_acc");
    for (int l = l0; l < l1; l++) {
      snprintf(s1, sizeof s1, "L%d@%s", l + 1, eps);
      fprintf(out, " %12s", s1);
    }
    fputc('\n', out);
    for (int c = 0; rc == RS_OK && c < L->nckpt[r]; c++) {
      for (int i = 0; rc == RS_OK && i < 4; i++) rc = rs__read_scalar2(a, ids[i], (int)r, c, &v[i]);
      rs__fmt(s1, 32, v[0], "%.4g");
      rs__fmt(s2, 32, v[1], "%.4f");
      rs__fmt(s3, 32, v[2], "%.4g");
      rs__fmt(s4, 32, v[3], "%.4f");
      char ep[32];
      rs__fmt(ep, sizeof ep, epochs[r * L->C + c], "%.4g");
      fprintf(out, "%5d %10lld %10s %10s %9s %10s %9s", c, (long long)L->steps[r * L->C + c], ep, s1, s2, s3, s4);
      for (int l = l0; l < l1; l++) {
        rs__fmt(s1, 32, mean[((int64_t)c * L->L + l) * E1 + em], "%.2f");
        fprintf(out, " %12s", s1);
      }
      fputc('\n', out);
    }
  }
  free(names);
  free(smask);
  free(mmask);
  free(rmask);
  free(diverged);
  free(mean);
  free(epochs);
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
          if (rc == RS_OK) rc = rs__copy_block(in, out, D_LR_COUNTS_NP, st, ct, buf, cap);
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

/* The job an archive was written from, parsed back from its job/text. */
static int rs__read_job(hid_t file, const char *path, rs_job **job) {
  *job = NULL;
  hid_t d;
  RS__QUIET(H5Dopen2(file, "job/text", H5P_DEFAULT), d);
  if (d < 0) return rs_error(RS_EARCHIVE, "%s: archive lacks job/text", path);
  hid_t ft = H5Dget_type(d);
  size_t w = H5Tget_size(ft);
  char *text = calloc(w + 1, 1);
  herr_t e = text ? H5Dread(d, ft, H5S_ALL, H5S_ALL, H5P_DEFAULT, text) : -1;
  H5Tclose(ft);
  H5Dclose(d);
  if (e < 0) {
    free(text);
    return rs_error(RS_EHDF5, "%s: cannot read job/text", path);
  }
  char origin[RS_PATH_MAX + 16];
  snprintf(origin, sizeof origin, "%s:job/text", path);
  int rc = rs_job_parse(text, strlen(text), origin, job);
  free(text);
  return rc;
}

/* Reads a whole [R, F] fixed-string dataset into the flat SHA table. */
static int rs__read_sha(hid_t file, const char *path, int64_t R, char *sha) {
  char **v = NULL;
  RS_CALL(rs__read_strings(file, "runs/data_sha256", (int)(R * RS__NFILES), &v));
  for (int64_t i = 0; i < R * RS__NFILES; i++) snprintf(sha + i * RS__SHA_LEN, RS__SHA_LEN, "%s", v[i]);
  free(v);
  (void)path;
  return RS_OK;
}

/* One attribute of src written to the group dst (H5Aiterate2 callback). */
static herr_t rs__copy_attr(hid_t src, const char *name, const H5A_info_t *info, void *dst) {
  (void)info;
  hid_t a = H5Aopen(src, name, H5P_DEFAULT);
  if (a < 0) return -1;
  hid_t ft = H5Aget_type(a), sp = H5Aget_space(a);
  hid_t mt = ft >= 0 ? H5Tget_native_type(ft, H5T_DIR_ASCEND) : -1;
  hssize_t n = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
  size_t sz = mt >= 0 ? H5Tget_size(mt) : 0;
  void *buf = n >= 0 && sz ? calloc((size_t)(n ? n : 1), sz) : NULL;
  herr_t e = -1;
  if (buf && H5Aread(a, mt, buf) >= 0) {
    hid_t b = H5Acreate2(*(hid_t *)dst, name, ft, sp, H5P_DEFAULT, H5P_DEFAULT);
    e = b >= 0 && H5Awrite(b, mt, buf) >= 0 ? 0 : -1;
    if (b >= 0) H5Aclose(b);
    if (H5Tdetect_class(mt, H5T_VLEN) > 0 || H5Tis_variable_str(mt) > 0)
      H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, buf);
  }
  free(buf);
  if (mt >= 0) H5Tclose(mt);
  if (ft >= 0) H5Tclose(ft);
  if (sp >= 0) H5Sclose(sp);
  H5Aclose(a);
  return e;
}

/* Copies the attributes of the group src_file/src_path into a new group
 * dst_loc/dst_name. Not H5Ocopy: HDF5 1.10 crashes copying dense attribute
 * storage (more than 8 attributes, 1.8 file format) that holds variable-length
 * strings. */
static int rs__copy_attrs(hid_t src_file, const char *src_path, hid_t dst_loc, const char *dst_name) {
  hid_t s = H5Gopen2(src_file, src_path, H5P_DEFAULT);
  if (s < 0) return -1;
  hid_t d = H5Gcreate2(dst_loc, dst_name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  herr_t e = d < 0 ? -1 : H5Aiterate2(s, H5_INDEX_NAME, H5_ITER_NATIVE, NULL, rs__copy_attr, &d);
  if (d >= 0) H5Gclose(d);
  H5Gclose(s);
  return e < 0 ? -1 : 0;
}

int rs_archive_merge(const char *out_path, int ninputs, const char *const *inputs) {
  if (ninputs < 1) return rs_error(RS_EARG, "merge: no input archives");
  rs_archive **in = calloc((size_t)ninputs, sizeof *in);
  if (!in) return rs_error(RS_ENOMEM, "archive: out of memory");
  rs_archive *out = NULL;
  rs_job *job = NULL;
  int64_t *ev = NULL;
  char *sha = NULL;
  int rc = RS_OK;
  char hash0[128] = "", name0[256] = "";
  for (int i = 0; i < ninputs && rc == RS_OK; i++) {
    rc = rs__open(MPI_COMM_NULL, inputs[i], H5F_ACC_RDONLY, &in[i]);
    if (rc != RS_OK) break;
    if (in[i]->version != RS__FORMAT_VERSION) {
      rc = rs_error(RS_EARCHIVE, "merge: %s has archive format version %lld; merge needs version %d",
                    inputs[i], (long long)in[i]->version, RS__FORMAT_VERSION);
      break;
    }
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
  {
    const rs__layout *L0 = &in[0]->lay;
    hid_t f0 = in[0]->file;
    rc = rs__read_job(f0, inputs[0], &job);
    if (rc == RS_OK && rs_job_nruns(job) != L0->R)
      rc = rs_error(RS_EARCHIVE, "merge: %s: its job text expands to %d runs, the archive holds %lld",
                    inputs[0], rs_job_nruns(job), (long long)L0->R);
    /* per-run records that cannot be recomputed here: taken from the first input */
    sha = malloc((size_t)L0->R * RS__NFILES * RS__SHA_LEN);
    ev = malloc((size_t)(L0->R * L0->P + 1) * sizeof *ev);
    if (rc == RS_OK && (!sha || !ev)) rc = rs_error(RS_ENOMEM, "archive: out of memory");
    if (rc == RS_OK) rc = rs__read_sha(f0, inputs[0], L0->R, sha);
    if (rc == RS_OK && L0->P > 0) {
      hid_t d = H5Dopen2(f0, "runs/eval_index", H5P_DEFAULT);
      if (d < 0 || H5Dread(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, ev) < 0)
        rc = rs_error(RS_EHDF5, "merge: cannot read runs/eval_index of %s", inputs[0]);
      if (d >= 0) H5Dclose(d);
    }
    if (rc == RS_OK) {
      /* rs__create takes ownership of a layout: hand it a copy */
      rs__layout lay = in[0]->lay, copy = lay;
      rc = rs__layout_alloc(&copy);
      for (size_t t = 0; rc == RS_OK && t < RS__NTABLES; t++) {
        hsize_t dims[RS__MAXRANK];
        int n = rs__dims(&lay, rs__tables[t].dims, dims);
        size_t cnt = rs__esize(rs__tables[t].type);
        for (int i = 0; i < n; i++) cnt *= dims[i];
        memcpy(*(void **)((char *)&copy + rs__tables[t].off), *(void **)((char *)&lay + rs__tables[t].off), cnt);
      }
      rs__meta meta = {name0, hash0, rs_job_text(job), job, ev, sha};
      int64_t shard = 0;
      hid_t pv = H5Gopen2(f0, "provenance", H5P_DEFAULT);
      if (pv >= 0) {
        rs__attr_read_i64(pv, "shard_size", &shard);
        H5Gclose(pv);
      }
      rs_archive_info info = {1, 0, shard > 0 ? (int)shard : 1, false};
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
      if (rs__copy_attrs(in[i]->file, "provenance", prov, dst) < 0)
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
  free(ev);
  free(sha);
  rs_job_destroy(&job);
  return rc;
}
