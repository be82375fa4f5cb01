/* The archive's layout: format constants, the padded dimensions and per-run
 * tables (rs__layout), the dataset table (every path of the file's results,
 * its type and dimension letters), the dimension names and the `description`
 * text of every dataset. The one place that knows the file's paths. */
#include "archive_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const rs__dimattr rs__dimattrs[RS__NDIMATTR] = {
    {"n_runs", offsetof(rs__layout, R)},     {"n_ckpt", offsetof(rs__layout, C)},
    {"n_layers", offsetof(rs__layout, L)},   {"n_points", offsetof(rs__layout, P)},
    {"n_eps", offsetof(rs__layout, E)},      {"n_spectrum", offsetof(rs__layout, K)},
    {"n_weights", offsetof(rs__layout, W)},  {"n_params", offsetof(rs__layout, NP)},
    {"n_state", offsetof(rs__layout, SB)},
};

const rs__dspec rs__tables[RS__NTABLES] = {
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

const rs__dspec rs__dsets[D_N] = {
    [D_LR_MEAN] = {"lr/mean", 'd', "RCLe", 0, 0},
    [D_LR_COUNTS] = {"lr/counts", 'i', "RCLPe", 0, 0},
    [D_LR_SPECTRA] = {"lr/spectra", 'f', "RCLPK", 0, 0},
    [D_LR_EFFRANK] = {"lr/effrank", 'd', "RCLP", 0, 0},
    [D_LR_STABLE] = {"lr/stablerank", 'd', "RCLP", 0, 0},
    [D_LR_COUNTS_NP] = {"lr/counts_numpy", 'i', "RCLP", 0, 2},
    [D_LR_MEAN_EPS] = {"lr/mean_eps", 'd', "RCLE", 0, 2},
    [D_LR_MEAN_NP] = {"lr/mean_numpy", 'd', "RCL", 0, 2},
    [D_M_TRAIN_LOSS] = {"metrics/train_loss", 'd', "RC", 0, 0},
    [D_M_TRAIN_ACC] = {"metrics/train_acc", 'd', "RC", 0, 0},
    [D_M_HELD_LOSS] = {"metrics/heldout_loss", 'd', "RC", 0, 0},
    [D_M_HELD_ACC] = {"metrics/heldout_acc", 'd', "RC", 0, 0},
    [D_M_RATE] = {"metrics/rate", 'd', "RC", 0, 0},
    [D_M_INFO_Y] = {"metrics/info_y", 'd', "RC", 0, 0},
    [D_M_WFRO] = {"metrics/weight_fro", 'd', "RCW", 0, 0},
    [D_M_WSPEC] = {"metrics/weight_spec", 'd', "RCW", 0, 0},
    [D_M_WRANK] = {"metrics/weight_rank", 'i', "RCWE", 0, 0},
    [D_W_FINAL] = {"weights/final", 'd', "RN", 0, 0},
    [D_W_ALL] = {"weights/all", 'd', "RCN", 0, 0},
    [D_S_BLOB] = {"state/blob", 'b', "R2B", 0, 0},
    [D_S_HEADER] = {"state/header", 'l', "R24", 0, 0},
    [D_R_DIVERGED] = {"runs/diverged", 'c', "R", 0, 0},
    [D_R_LAST_STEP] = {"runs/last_step", 'l', "R", 0, 0},
    [D_DONE_POINTS] = {"done/points", 'b', "RCP", 0, 0},
    [D_DONE_METRICS] = {"done/metrics", 'b', "RC", 0, 0},
    [D_DONE_RUNS] = {"done/runs", 'b', "R", 0, 0},
    [D_DONE_WFINAL] = {"done/weights_final", 'b', "R", 0, 0},
    [D_DONE_WALL] = {"done/weights_all", 'b', "RC", 0, 0},
};

const rs__dspec rs__records[R_N] = {
    [R_NAME] = {"runs/name", 's', "R", 0, 0},
    [R_CONFIG] = {"runs/config", 's', "R", 0, 2},
    [R_CONFIG_HASH] = {"runs/config_hash", 's', "R", 0, 2},
    [R_SEED] = {"runs/seed", 'l', "R", 0, 2},
    [R_EPOCHS] = {"runs/epochs", 'd', "RC", 0, 2},
    [R_EVAL_INDEX] = {"runs/eval_index", 'l', "RP", 0, 2},
    [R_DATA_PATH] = {"runs/data_path", 's', "RF", 0, 2},
    [R_DATA_SHA] = {"runs/data_sha256", 's', "RF", 0, 2},
    [R_JOB_TEXT] = {"job/text", 's', "", 0, 0},
};

/* (the path is relative to /spectrum; off unused) */
const rs__dspec rs__spectrum_dsets[S_N] = {
    [S_SV] = {"sv", 'd', "RCLK", 0, 2},
    [S_FR] = {"feature_rank", 'i', "RCLE", 0, 2},
    [S_ER] = {"effrank", 'd', "RCL", 0, 2},
    [S_IP] = {"info_proxy", 'd', "RCLN", 0, 2},
    [S_NP] = {"npoints", 'i', "RC", 0, 2},
    [S_DONE] = {"done", 'b', "RCL", 0, 2},
};

const char *const rs__groups[RS__NGROUPS] = {"job",     "runs",    "runs/params", "runs/values",
                                         "runs/grid", "lr",     "metrics",     "weights",
                                         "state",   "done",    "provenance"};

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

hid_t rs__memtype(char t) {
  switch (t) {
  case 'd': return H5T_NATIVE_DOUBLE;
  case 'f': return H5T_NATIVE_FLOAT;
  case 'i': return H5T_NATIVE_INT32;
  case 'l': return H5T_NATIVE_INT64;
  case 'c': return H5T_NATIVE_INT8;
  default: return H5T_NATIVE_UINT8;
  }
}

hid_t rs__filetype(char t) {
  switch (t) {
  case 'd': return H5T_IEEE_F64LE;
  case 'f': return H5T_IEEE_F32LE;
  case 'i': return H5T_STD_I32LE;
  case 'l': return H5T_STD_I64LE;
  case 'c': return H5T_STD_I8LE;
  default: return H5T_STD_U8LE;
  }
}

/* The HDF5 class a dataset of type letter t has ('s': fixed-length strings). */
H5T_class_t rs__h5class(char t) {
  switch (t) {
  case 's': return H5T_STRING;
  case 'd': case 'f': return H5T_FLOAT;
  default: return H5T_INTEGER;
  }
}

size_t rs__esize(char t) {
  switch (t) {
  case 'd': case 'l': return 8;
  case 'f': case 'i': return 4;
  default: return 1;
  }
}

/* The fill value marking an unwritten cell: NaN, -1, or 0 for masks/bytes. */
void rs__fill(char t, void *out) {
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

int rs__dims(const rs__layout *L, const char *spec, hsize_t *dims) {
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
    case 'F': v = RS__NFILES; break;
    default: v = *s - '0'; break;
    }
    dims[n++] = (hsize_t)v;
  }
  return n;
}

bool rs__table_dims(const rs__layout *L, size_t t, hsize_t *dims, int *n) {
  *n = rs__dims(L, rs__tables[t].dims, dims);
  for (int i = 0; i < *n; i++)
    if (dims[i] == 0) return false;
  return true;
}

bool rs__present(const rs__layout *L, int id, int64_t version) {
  if (rs__dsets[id].since > version) return false;
  hsize_t dims[RS__MAXRANK];
  int n = rs__dims(L, rs__dsets[id].dims, dims);
  for (int i = 0; i < n; i++)
    if (dims[i] == 0) return false;
  return id != D_W_ALL && id != D_DONE_WALL ? true : L->weights_all;
}

void rs__layout_free(rs__layout *L) {
  for (size_t t = 0; t < RS__NTABLES; t++) {
    void **p = (void **)((char *)L + rs__tables[t].off);
    free(*p);
    *p = NULL;
  }
}

int rs__layout_alloc(rs__layout *L) {
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

int64_t rs__layout_nshards(const rs__layout *L, int64_t run) {
  return (L->npoints[run] + L->shard - 1) / L->shard;
}

/* The shard grid of this process (not part of the file's structure). */
void rs__set_shard(rs__layout *L, int64_t shard) {
  /* clamped: the value may come from a damaged file's provenance */
  L->shard = shard < 1 ? 1 : shard > L->P ? (L->P > 0 ? L->P : 1) : shard;
  L->S = (L->P + L->shard - 1) / L->shard;
}

int rs__layout_from_desc(const rs_archive_desc *desc, const rs_archive_info *info,
                         rs__layout *L) {
  memset(L, 0, sizeof *L);
  int R = desc->nruns;
  const rs_archive_run *runs = desc->runs;
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
    for (int e = 0; e < x->neps; e++) L->eps[r * L->E + e] = desc->records[r].eps[e];
    L->nweights[r] = x->nweights;
    L->nparams[r] = x->nparams;
    L->state_size[r] = x->state_size;
    L->save[r] = (int8_t)x->save_weights;
  }
  return RS_OK;
}

/* Bytes of raw data the archive allocates at creation (every dataset is
 * allocated early and filled), without HDF5's small metadata. */
uint64_t rs__layout_bytes(const rs__layout *L) {
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

const char *rs__doc(const char *path, const char **units) {
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
const char *rs__dimname(char letter, const char *group) {
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

const char *rs__dimdoc(char letter) {
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

/* The root's dimension attributes, before anything is sized by them: each
 * within what a job can produce, and all the data they imply no larger than
 * the file (every dataset is allocated at creation). */
int rs__dims_check(const char *path, const rs__layout *L) {
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
int rs__tables_check(const char *path, const rs__layout *L) {
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

/* True when equal; otherwise names the first difference in msg. */
bool rs__layout_equal(const rs__layout *x, const rs__layout *y, char *msg, size_t cap) {
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
