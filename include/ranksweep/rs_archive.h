/* The sweep's one parallel HDF5 archive. Structure is created collectively,
 * once, from the expanded grid; afterwards every rank writes its own slices
 * independently (raw data only, so a crash never leaves broken metadata), and
 * a written mask per cell, set after the data, tells resume what is done. */
#ifndef RS_ARCHIVE_H
#define RS_ARCHIVE_H

#include <mpi.h>
#include <stdbool.h>
#include <stdio.h>

#include "ranksweep/rs_config.h"
#include "ranksweep/rs_measure.h"

/* What the archive needs to know of one run (computed by the engine). */
typedef struct {
  int nckpt;                 /* checkpoints of this run */
  const int64_t *ckpt_steps; /* their steps, ascending */
  int nlayers;               /* measured layers */
  int widths[RS_MAX_LAYERS + 1]; /* sizes of the measured layers */
  int spec_len[RS_MAX_LAYERS + 1]; /* rs_spectrum_len per measured layer */
  int nweights;              /* weight layers (norm rows) */
  int npoints;               /* evaluation points */
  int neps;                  /* thresholds in the ladder (+1 NumPy count) */
  int64_t nparams;           /* flat float64 parameter count */
  int64_t state_size;        /* training-state blob bytes */
  rs_save_weights save_weights;
  /* npoints indices of the evaluation points in the held-out set, or NULL
   * (stored as -1). Read on rank 0 only (which writes the run tables). */
  const int64_t *eval_index;
} rs_archive_run;

typedef struct {
  int nranks;
  int blas_threads;
  int shard;                 /* evaluation points per shard */
  bool move_aside;           /* open_or_create with resume: rename an unusable file aside */
  /* Provenance of the training products (rank 0's; NULL: not recorded): the
   * backend per run (one value when every run has the same) and libxsmm's
   * target instruction set. */
  const char *gemm_backend, *gemm_arch;
  /* The floating-point state a training thread runs under, per run like the
   * backend (rs_fpenv_describe after train.flush_denormals; NULL: not recorded). */
  const char *fp_state;
} rs_archive_info;

/* The data files a run may read, in the order of the data_file dimension:
 * images, labels, heldout_images, heldout_labels. */
#define RS_ARCHIVE_NFILES 4

/* What the archive records of one run beyond its shape (rank-independent). */
typedef struct {
  const char *name;        /* the run's name (its grid values) */
  const char *config;      /* the resolved configuration, one "key: value" line per key */
  const char *config_hash; /* SHA-256 (hex) of the canonical configuration */
  int64_t seed;
  const double *eps;       /* the run's eps ladder (rs_archive_run.neps thresholds) */
  const double *epochs;    /* the epoch of each checkpoint (rs_archive_run.nckpt values) */
  const char *data_path[RS_ARCHIVE_NFILES]; /* the data files read ("": none) */
  const char *data_sha[RS_ARCHIVE_NFILES];  /* SHA-256 (hex) of each file's bytes ("": none) */
} rs_archive_record;

/* One grid axis: its key and every run's value, as the grid names it (text)
 * and exactly (typed). */
typedef enum { RS_ARCHIVE_INT, RS_ARCHIVE_REAL, RS_ARCHIVE_TEXT } rs_archive_kind;
typedef struct {
  const char *key;         /* dotted job key, e.g. "train.lr" */
  rs_archive_kind kind;
  const char *const *text; /* per run: the value as 6-significant-digit text */
  const int64_t *i;        /* per run, RS_ARCHIVE_INT (integers and booleans) */
  const double *d;         /* per run, RS_ARCHIVE_REAL */
  const char *const *s;    /* per run, RS_ARCHIVE_TEXT (strings, paths, enums, lists) */
} rs_archive_axis;

/* A plain description of the sweep: everything an archive is created from
 * and checked against on resume. The engine builds it from the job
 * (src/engine/archive_desc.c); the archive knows nothing of jobs. */
typedef struct {
  const char *name, *hash, *text; /* job name, SHA-256 (hex) of its text, the text */
  int nruns;
  const rs_archive_run *runs;        /* nruns shapes */
  const rs_archive_record *records;  /* nruns records */
  int naxes;
  const rs_archive_axis *axes;       /* the grid axes in job order */
  /* Collective, called by creation only, before the records are written:
   * fills what is costly to compute into the records (the data files'
   * checksums and the configuration hashes that depend on them), so opening
   * an existing archive does not pay for it. NULL: the records are complete. */
  int (*finish_records)(void *ctx);
  void *ctx;
} rs_archive_desc;

typedef struct rs_archive rs_archive;

/* Collective. Creates PATH (refuses, RS_EEXISTS, if it exists) with the whole
 * structure for every run of the description, flushes it, and records
 * provenance. */
int rs_archive_create(MPI_Comm comm, const char *path, const rs_archive_desc *desc,
                      const rs_archive_info *info, rs_archive **out);
/* Collective. Opens PATH for resumption. RS_EARCHIVE (message names the file
 * and both hashes) when it belongs to another job file, and (naming the data
 * file) when a data file's SHA-256 now differs from the one recorded (the
 * checksums come from desc->finish_records). */
int rs_archive_open(MPI_Comm comm, const char *path, const rs_archive_desc *desc,
                    const rs_archive_info *info, rs_archive **out);

/* Independent writes, any rank, each followed by its mask. */
int rs_archive_write_shard(rs_archive *a, int run, int ckpt, int shard,
                           int p0, int np, const rs_lr_points *res);
int rs_archive_write_metrics(rs_archive *a, int run, int ckpt,
                             const rs_ckpt_metrics *m);
/* ckpt = -1: the final weights. RS_EARG for a run whose save_weights does
 * not keep them (none; checkpoint weights need all). */
int rs_archive_write_weights(rs_archive *a, int run, int ckpt,
                             const double *params, int64_t n);
/* Two alternating slots per run; the slot's header is written last. */
int rs_archive_write_state(rs_archive *a, int run, int64_t step,
                           const void *blob, int64_t n);
/* The newest valid state with step <= max_step; *step = -1 if none. */
int rs_archive_read_state(rs_archive *a, int run, int64_t max_step,
                          int64_t *step, void *blob, int64_t n);
/* Marks the run finished; first clears its two state slots (spent). */
int rs_archive_write_run_done(rs_archive *a, int run, bool diverged,
                              int64_t last_step);

/* Progress queries (any rank; reads the masks). */
int rs_archive_shard_done(rs_archive *a, int run, int ckpt, int shard, bool *done);
int rs_archive_metrics_done(rs_archive *a, int run, int ckpt, bool *done);
int rs_archive_run_done(rs_archive *a, int run, bool *done, bool *diverged);
/* Reads all masks at once into caller arrays (sizes nruns*C*S, nruns*C, nruns).
 * The file keeps one mask per evaluation point (/done/points); a shard of the
 * current shard grid (info->shard) is done when all its points are. */
int rs_archive_read_masks(rs_archive *a, uint8_t *shards, uint8_t *metrics,
                          uint8_t *runs);

/* Padded dimensions of an open archive (maxima over runs). */
typedef struct {
  int64_t nruns, nckpt, nlayers, npoints, neps, nspectrum, nweights, nshards,
      nparams, state_size, shard;
} rs_archive_dims;
int rs_archive_dims_get(const rs_archive *a, rs_archive_dims *out);

/* What is at a path, without MPI (serial, read-only). INCOMPLETE: an archive
 * whose creation was interrupted (empty file, an HDF5 file that cannot be
 * opened, or one without the "structure_complete" marker): nothing can have
 * been written to it, so the engine may delete and recreate it. FOREIGN:
 * something else; never delete it. */
typedef enum {
  RS_ARCHIVE_ABSENT,
  RS_ARCHIVE_INCOMPLETE,
  RS_ARCHIVE_FOREIGN,
  RS_ARCHIVE_READY
} rs_archive_status;
int rs_archive_probe(const char *path, rs_archive_status *status);

/* Refuses, before anything is created, a path the archive's files cannot
 * have: RS_PATH_MAX characters or more, a directory name longer than NAME_MAX,
 * or a file name that the files kept beside it (PATH.lock, PATH.status,
 * PATH.damaged-<time>) would push past NAME_MAX. what names it in the one
 * line ("output", "--reuse"). RS_EARG. */
int rs_archive_path_check(const char *path, const char *what);

/* Collective. What `run -o PATH [--resume]` needs. First takes PATH.lock
 * (one writer per archive; released by rs_archive_close; a lock left by a
 * killed sweep on this host is taken over), then: without resume, create
 * (RS_EEXISTS if PATH exists). With resume: READY -> rs_archive_open (a
 * stale PATH.creating removed); ABSENT -> create; an interrupted creation
 * (PATH.creating still there, an empty file, or ours without the structure
 * marker) -> delete, create, unless it holds results (a done/ mask cell set,
 * or PATH.status recording finished work): never deleted, RS_EARCHIVE;
 * anything else -> RS_EARCHIVE, untouched, unless info->move_aside: then it
 * is renamed to PATH.damaged-<time> and a new archive is created. *created
 * (may be NULL) tells which. A path rs_archive_path_check refuses is refused
 * first (RS_EARG). */
int rs_archive_open_or_create(MPI_Comm comm, const char *path, const rs_archive_desc *desc,
                              const rs_archive_info *info, bool resume, rs_archive **out,
                              bool *created);

/* Collective. When complete is true: computes the per-layer mean local ranks
 * from the per-point counts and marks the archive complete. Records end time. */
int rs_archive_finalize(rs_archive *a, bool complete);
/* Collective close; nulls the pointer. */
int rs_archive_close(rs_archive **a);

/* Collective. Sweeps that grow: copies from the archive at old_path (read
 * only) every run that finished there and whose configuration hash
 * (/runs/config_hash) and shapes equal a run of `a`, data first and masks
 * last, so the sweep computes only the others. *nreused (may be NULL) counts
 * the copied runs. RS_EARCHIVE when old_path is not a format-2 archive. */
int rs_archive_reuse(rs_archive *a, const char *old_path, int *nreused);

/* ---- the representation-spectrum pass (rs_spectrum_pass.h) ---- */

/* Collective. Opens an existing archive (every rank, MPI-IO) to add the
 * /spectrum group to it; nothing is checked against a job. */
int rs_archive_open_update(MPI_Comm comm, const char *path, rs_archive **out);
/* The job file's exact text (job/text); malloc'd, the caller frees it. */
int rs_archive_job_text(rs_archive *a, char **text);

/* The stored weight snapshots, [run] or [run * nckpt + ckpt] (nckpt: the
 * padded checkpoint count of rs_archive_dims_get). */
typedef struct {
  uint8_t *run_done;   /* the run finished */
  int32_t *nckpt;      /* its checkpoints */
  int64_t *steps;      /* the step of each checkpoint */
  int64_t *last_step;  /* the last step it trained */
  int64_t *nparams;    /* its parameter count */
  uint8_t *final;      /* its final weights are stored */
  uint8_t *all;        /* the weights of that checkpoint are stored */
} rs_archive_snapshots;
int rs_archive_snapshots_read(rs_archive *a, rs_archive_snapshots *s);
void rs_archive_snapshots_free(rs_archive_snapshots *s);
/* One snapshot: ckpt = -1 the final weights, otherwise that checkpoint's; n
 * parameters (the run's count). Any rank, independent. */
int rs_archive_read_weights(rs_archive *a, int run, int ckpt, double *params, int64_t n);

/* What one pass is (a later pass continues it only with the same settings)
 * and its padded sizes and coordinates. */
typedef struct {
  const char *points;     /* "train", "eval" or "count" */
  const char *repr;       /* "post" or "pre" */
  int64_t count;          /* the points drawn with "count", else -1 */
  int64_t nspectrum;      /* longest spectrum over runs and layers */
  int64_t neps, nnoise;   /* longest threshold and noise lists */
  const double *eps;      /* neps coordinate values (NaN where runs differ) */
  const double *noise;    /* nnoise coordinate values (NaN where runs differ) */
} rs_archive_spectrum_spec;
/* Collective. Creates /spectrum for these settings (datasets, dimension
 * scales, descriptions) or opens the one there, which must have the same
 * settings (RS_EARCHIVE otherwise: an interrupted pass resumes, another is
 * refused); flushes, then reads its masks into done (nruns * nckpt * nlayers,
 * 1 where a layer's spectrum is written). */
int rs_archive_spectrum_open(rs_archive *a, const rs_archive_spectrum_spec *spec, uint8_t *done);

/* One layer's spectrum and its summaries. */
typedef struct {
  int k;                        /* singular values */
  const double *sv;
  int neps;                     /* the run's thresholds */
  const int32_t *feature_rank;
  double effrank;
  int nnoise;                   /* the run's noise levels */
  const double *info_proxy;
  int32_t npoints;              /* the points it was taken over */
} rs_archive_layer_spectrum;
/* Independent write (one rank) of (run, ckpt, layer 1-based), mask last. */
int rs_archive_write_spectrum(rs_archive *a, int run, int ckpt, int layer,
                              const rs_archive_layer_spectrum *s);

/* ---- serial reading (`ranksweep show`, analysis) ---- */

/* Opens PATH read-only without MPI-IO (any process, MPI_COMM_SELF's view):
 * every dimension and run table is validated first, so a damaged file is
 * refused with one line instead of read. Close with rs_archive_close. */
int rs_archive_open_read(const char *path, rs_archive **out);

/* The root attributes. */
typedef struct {
  int64_t version;      /* format version of the file */
  char job_name[256];
  char job_hash[128];
  bool complete;        /* every run finished and the means were computed */
  bool has_provenance;  /* the /provenance group is there */
} rs_archive_header;
int rs_archive_header_get(rs_archive *a, rs_archive_header *h);
/* A /provenance attribute (docs/archive.md): text, or an integer.
 * RS_EARCHIVE when the archive has none of that name. */
int rs_archive_provenance_text(rs_archive *a, const char *key, char *buf, size_t cap);
int rs_archive_provenance_int(rs_archive *a, const char *key, int64_t *v);

/* The run tables, [run] or [run * padded dimension + i] (rs_archive_dims):
 * pointers into the handle, valid until it is closed. */
typedef struct {
  const int32_t *nckpt, *nlayers, *npoints, *neps, *nweights;
  const int32_t *widths, *spec_len; /* [run * nlayers + l] */
  const int64_t *steps;             /* [run * nckpt + c] */
  const int64_t *nparams;
  const double *eps;                /* [run * neps + e] */
} rs_archive_tables;
int rs_archive_tables_get(const rs_archive *a, rs_archive_tables *t);
/* Every run's name: nruns strings in one malloc'd block (free(*names)). */
int rs_archive_run_names(rs_archive *a, char ***names);
/* Every run's configuration hash (runs/config_hash, format 2), the same
 * way. */
int rs_archive_config_hashes(rs_archive *a, char ***hashes);
/* The epoch of every checkpoint, [run * nckpt + c] (NaN: padding, or a
 * format-1 archive, which records none). */
int rs_archive_read_epochs(rs_archive *a, double *epochs);
/* The mean local rank of every checkpoint of run whose points are all
 * written, computed from the stored counts as finalize does
 * (rs_lr_mean_counts): mean[(c * nlayers + l) * (neps + 1) + e], padded
 * dimensions, the NumPy column last; NaN where not computable. */
int rs_archive_run_means(rs_archive *a, int run, double *mean);
/* A checkpoint's scalar metrics (losses, accuracies, rate, info_y; nlayers
 * 0: no weight norms). NaN where not written. */
int rs_archive_read_metrics(rs_archive *a, int run, int ckpt, rs_ckpt_metrics *m);

/* ---- merge ---- */

/* Serial. Joins slice archives of one job file (`run --slice`) into a new
 * archive at out_path: the first input's description and records, then
 * every input's written cells (first input wins per cell, masks last).
 * RS_EARCHIVE for inputs of different job files or dimensions. */
int rs_archive_merge(const char *out_path, int ninputs, const char *const *inputs);

/* Once, before any archive call of a program: HDF5's own error stacks are not
 * printed (every HDF5 failure becomes one ranksweep error line; set
 * RANKSWEEP_HDF5_ERRORS=1 to see them too), and HDF5 does not run its clean-up
 * at exit, which on a damaged file can print "infinite loop closing library"
 * after the error line (archives are closed explicitly on every path). */
void rs_archive_lib_init(void);

#endif
