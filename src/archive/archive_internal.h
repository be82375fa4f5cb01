/* Private to the archive module: the format constants, the layout of an
 * archive (padded dimensions and per-run tables), the dataset table, the
 * archive handle, and the helpers the module's files share. Nothing outside
 * src/archive includes this. */
#ifndef RS_ARCHIVE_INTERNAL_H
#define RS_ARCHIVE_INTERNAL_H

#include <hdf5.h>
#include <hdf5_hl.h>
#include <mpi.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ranksweep/rs_archive.h"
#include "ranksweep/rs_error.h"

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

/* The root attributes holding the padded dimensions (schema.c). */
typedef struct {
  const char *name;
  size_t off;
} rs__dimattr;
#define RS__NDIMATTR 9
extern const rs__dimattr rs__dimattrs[RS__NDIMATTR];

/* Dims letters: R C L P E K W S N(params) B(state bytes), e = E+1, digits. */
typedef struct {
  const char *path;
  char type; /* d f64, f f32, i i32, l i64, c i8, b u8 */
  const char *dims;
  size_t off; /* static run tables: field of rs__layout */
  int since;  /* format version that added it (0: the first) */
} rs__dspec;

/* The per-run tables that define the layout (schema.c). */
#define RS__NTABLES 12
extern const rs__dspec rs__tables[RS__NTABLES];

/* The result datasets, opened once per archive (schema.c). */
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
extern const rs__dspec rs__dsets[D_N];

/* The datasets of /spectrum (the representation-spectrum pass, schema.c):
 * dims letters R C L, K its spectrum length, E its thresholds, N its noise
 * levels. */
enum { S_SV, S_FR, S_ER, S_IP, S_NP, S_DONE, S_N };
#define RS__SPECTRUM_GROUP "spectrum"
extern const rs__dspec rs__spectrum_dsets[S_N];

/* The per-run records and the job text, written once at creation
 * (schema.c; type 's': fixed-length strings; dims letters as above, F the
 * data_file axis), in the order they are described. */
enum { R_NAME, R_CONFIG, R_CONFIG_HASH, R_SEED, R_EPOCHS, R_EVAL_INDEX, R_DATA_PATH, R_DATA_SHA,
       R_JOB_TEXT, R_N };
extern const rs__dspec rs__records[R_N];
/* Groups: the grid axes' per-key datasets (format-1 text, parsed values,
 * exact typed values) and the provenance. */
#define RS__G_PARAMS "runs/params"
#define RS__G_VALUES "runs/values"
#define RS__G_GRID "runs/grid"
#define RS__G_PROVENANCE "provenance"
/* Root attributes besides the dimensions: what the file is, which job wrote
 * it, and whether its structure and its results are complete. */
#define RS__A_FORMAT "format"
#define RS__A_FORMAT_VERSION "format_version"
#define RS__A_STRUCTURE_COMPLETE "structure_complete"
#define RS__A_JOB_NAME "job_name"
#define RS__A_JOB_HASH "job_hash"
#define RS__A_COMPLETE "complete"
/* Attributes read back by the archive itself: the grid's axes (on
 * RS__G_GRID) and the shard size of the last writer (on RS__G_PROVENANCE). */
#define RS__A_AXES "axes"
#define RS__A_SHARD_SIZE "shard_size"

/* The name of a dimension scale without values (a netCDF "pure" dimension). */
#define RS__NETCDF_DIM "This is a netCDF dimension but not a netCDF variable."

/* The groups of a new archive, in creation order (schema.c). */
#define RS__NGROUPS 11
extern const char *const rs__groups[RS__NGROUPS];

struct rs_archive {
  MPI_Comm comm; /* MPI_COMM_NULL: serial (sec2 driver) */
  int rank, size;
  char path[RS_PATH_MAX];
  hid_t file, dxpl;
  hid_t d[D_N];
  hid_t sgroup, s[S_N]; /* /spectrum, once rs_archive_spectrum_open made it */
  rs__layout lay;
  int64_t version; /* format version of the file */
  bool locked; /* rank 0 of a sweep holds PATH.lock (rs_archive_open_or_create) */
  bool no_room; /* finalize found no room for the final metadata */
};

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

/* schema.c */
hid_t rs__memtype(char t);
hid_t rs__filetype(char t);
H5T_class_t rs__h5class(char t);
size_t rs__esize(char t);
void rs__fill(char t, void *out);
int rs__dims(const rs__layout *L, const char *spec, hsize_t *dims);
/* Run table t's dimensions into dims (*n of them); false when one is zero
 * (the table is then neither created nor read). */
bool rs__table_dims(const rs__layout *L, size_t t, hsize_t *dims, int *n);
bool rs__present(const rs__layout *L, int id, int64_t version);
void rs__layout_free(rs__layout *L);
int rs__layout_alloc(rs__layout *L);
int64_t rs__layout_nshards(const rs__layout *L, int64_t run);
void rs__set_shard(rs__layout *L, int64_t shard);
int rs__layout_from_desc(const rs_archive_desc *desc, const rs_archive_info *info,
                         rs__layout *L);
uint64_t rs__layout_bytes(const rs__layout *L);
const char *rs__doc(const char *path, const char **units);
const char *rs__dimname(char letter, const char *group);
const char *rs__dimdoc(char letter);
int rs__dims_check(const char *path, const rs__layout *L);
int rs__tables_check(const char *path, const rs__layout *L);
bool rs__layout_equal(const rs__layout *x, const rs__layout *y, char *msg, size_t cap);

/* h5util.c */
void rs__utc_now(char *buf);
uint64_t rs__fnv1a(const void *p, int64_t n);
int rs__h5err(const char *path, const char *what);
int rs__flush(rs_archive *a);
int rs__attr_put(hid_t loc, const char *name, hid_t ftype, hid_t mtype, hsize_t n,
                 const void *val);
int rs__attr_i64(hid_t loc, const char *name, int64_t v);
int rs__attr_str(hid_t loc, const char *name, const char *s);
int rs__attr_read_i64(hid_t loc, const char *name, int64_t *v);
int rs__attr_read_str(hid_t loc, const char *name, char *buf, size_t cap);
hid_t rs__dcreate(hid_t file, const char *path, char type, int rank, const hsize_t *dims);
int rs__io(hid_t d, const char *path, hid_t mtype, hid_t dxpl, int rank,
           const hsize_t *start, const hsize_t *count, void *buf, bool wr);
int rs__dio(rs_archive *a, int id, const hsize_t *start, const hsize_t *count, void *buf,
            bool wr);
int rs__write_whole(hid_t d, hid_t mtype, MPI_Comm comm, int rank, const void *buf,
                    const char *path);
hid_t rs__strtype(size_t w);
int rs__write_strings2(hid_t file, MPI_Comm comm, int rank, const char *path, int n,
                       int cols, const char *const *s);
int rs__write_strings(hid_t file, MPI_Comm comm, int rank, const char *path, int n,
                      const char *const *s);
int rs__read_strings(hid_t file, const char *path, int n, char ***out);
bool rs__parse_num(const char *s, double *v);
int rs__bcast_str(char *buf, int cap, MPI_Comm comm);
hid_t rs__fapl(MPI_Comm comm);
bool rs__extent_is(hid_t d, int n, const hsize_t *dims);
int rs__read_all(rs_archive *a, int id, void *buf);
/* (the handle) */
int rs__new(MPI_Comm comm, const char *path, rs_archive **out);
void rs__close_objects(rs_archive *a);
void rs__free(rs_archive *a);
int rs__exists(MPI_Comm comm, int rank, const char *path, bool *exists);

/* provenance.c */
int rs__provenance_resume(rs_archive *a, const rs_archive_info *info);
int rs__provenance_end(rs_archive *a);
int rs__write_provenance(hid_t prov, MPI_Comm comm, int rank, int size,
                         const rs_archive_info *info);

/* describe.c */
int rs__describe_all(rs_archive *a, const rs_archive_desc *desc);

/* records.c */
int rs__write_records(rs_archive *a, const rs_archive_desc *desc);

/* guard.c */
int rs__agree(MPI_Comm comm, int rc);
int rs__step(MPI_Comm comm, const char *path, int rc);
int rs__barrier(MPI_Comm comm);
/* The folder that holds path ("." for a bare name, "/" for a top-level file). */
void rs__parent_dir(const char *path, char *dir, size_t cap);
int rs__ioerr(int code, const char *path, const char *what);
int rs__add_reason(int rc, const char *path, int err);
int rs__creating_mark(const char *path, bool on);
int rs__sidecar_refuse(const char *file, int err, const char *what);
const char *rs__sys_advice(int err);
bool rs__creating_marked(const char *path);
int rs__lock_take(const char *path);
void rs__lock_drop(const char *path);

/* create.c */
int rs__create(MPI_Comm comm, const char *path, rs__layout *lay, const rs_archive_desc *desc,
               const rs_archive_info *info, rs_archive **out);

/* open.c */
int rs__open(MPI_Comm comm, const char *path, unsigned mode, rs_archive **out);

/* finalize.c */
int rs__run_means(rs_archive *a, int run, const uint8_t *pmask, double *buf, int32_t *cnt);

/* write.c */
int rs__set_mask(rs_archive *a, int id, const hsize_t *start);
int rs__set_points(rs_archive *a, int run, int ckpt, int p0, int np);
int rs__state_header(rs_archive *a, int run, int64_t h[2][4], bool wr, int slot);

/* read.c: the description an archive was created from, read back (merge
 * creates its output from the first input's). Everything is owned by the
 * store; the layout's tables of the archive stay referenced. */
typedef struct {
  rs_archive_desc desc;
  char name[256], hash[128], axes[4096];
  void *blocks[64];
  int nblocks;
} rs__desc_store;
int rs__desc_read(rs_archive *a, rs__desc_store *st);
void rs__desc_free(rs__desc_store *st);

/* The blob of a slot without its header: what a kill between the two writes
 * leaves behind. Exposed for the tests only (write.c). */
int rs__archive_write_state_blob(rs_archive *a, int run, int slot, const void *blob, int64_t n);

#endif
