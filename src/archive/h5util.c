/* HDF5 helpers of the archive: attributes (numbers and UTF-8 strings),
 * dataset creation with the archive's chunking and fill values, hyperslab
 * I/O, collective whole writes and fixed-length string datasets; and the
 * handle's allocation and release. */
#include "archive_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void rs__utc_now(char *buf) {
  time_t t = time(NULL);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(buf, RS__TIME_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

uint64_t rs__fnv1a(const void *p, int64_t n) {
  const unsigned char *b = p;
  uint64_t h = 1469598103934665603ull;
  for (int64_t i = 0; i < n; i++) {
    h ^= b[i];
    h *= 1099511628211ull;
  }
  return h;
}

/* Every HDF5 failure of the archive becomes one line naming the file. */
int rs__h5err(const char *path, const char *what) {
  return rs_error(RS_EHDF5, "%s: HDF5 failed to %s", path, what);
}

/* The file an HDF5 object lives in, for messages ("archive" when HDF5 cannot
 * tell). */
static const char *rs__fname(hid_t loc, char *buf, size_t cap) {
  ssize_t n;
  RS__QUIET(H5Fget_name(loc, buf, cap), n);
  return n > 0 && (size_t)n < cap ? buf : "archive";
}

/* "FILE: cannot DOING OBJECT/NAME" for a failed attribute call on loc. */
static int rs__attr_err(hid_t loc, const char *doing, const char *name) {
  char file[1024], obj[256];
  ssize_t n;
  RS__QUIET(H5Iget_name(loc, obj, sizeof obj), n);
  if (n <= 0 || (size_t)n >= sizeof obj || strcmp(obj, "/") == 0) obj[0] = '\0';
  return rs_error(RS_EHDF5, "%s: cannot %s attribute %s/%s", rs__fname(loc, file, sizeof file),
                  doing, obj, name);
}

/* "FILE: cannot DOING PATH" for a failed dataset call on an object of FILE. */
static int rs__dset_err(int code, hid_t loc, const char *doing, const char *path) {
  char file[1024];
  return rs_error(code, "%s: cannot %s %s", rs__fname(loc, file, sizeof file), doing, path);
}

int rs__attr_put(hid_t loc, const char *name, hid_t ftype, hid_t mtype, hsize_t n,
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
  if (a < 0) return rs__attr_err(loc, "create", name);
  herr_t e = H5Awrite(a, mtype, val);
  H5Aclose(a);
  return e < 0 ? rs__attr_err(loc, "write", name) : RS_OK;
}

int rs__attr_i64(hid_t loc, const char *name, int64_t v) {
  return rs__attr_put(loc, name, H5T_STD_I64LE, H5T_NATIVE_INT64, 0, &v);
}

/* Variable-length UTF-8 strings (h5py and xarray read them as str). An
 * attribute that already exists keeps its type: version-1 archives hold
 * fixed-length ones, rewritten in place at their width. */
int rs__attr_str(hid_t loc, const char *name, const char *s) {
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
    return e < 0 ? rs__attr_err(loc, "write", name) : RS_OK;
  }
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  int rc = rs__attr_put(loc, name, t, t, 0, &s);
  H5Tclose(t);
  return rc;
}

int rs__attr_read_i64(hid_t loc, const char *name, int64_t *v) {
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
int rs__attr_read_str(hid_t loc, const char *name, char *buf, size_t cap) {
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

hid_t rs__dcreate(hid_t file, const char *path, char type, int rank, const hsize_t *dims) {
  hid_t sp = H5Screate_simple(rank, dims, NULL);
  hid_t p = rs__dcpl(rank, dims, type, rs__esize(type));
  hid_t d = H5Dcreate2(file, path, rs__filetype(type), sp, H5P_DEFAULT, p, H5P_DEFAULT);
  H5Pclose(p);
  H5Sclose(sp);
  return d;
}

/* Hyperslab read or write of a block starting at start with extent count. */
int rs__io(hid_t d, const char *path, hid_t mtype, hid_t dxpl, int rank,
           const hsize_t *start, const hsize_t *count, void *buf, bool wr) {
  hid_t fs = H5Dget_space(d);
  hid_t ms = H5Screate_simple(rank, count, NULL);
  herr_t e = H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
  if (e >= 0)
    e = wr ? H5Dwrite(d, mtype, ms, fs, dxpl, buf) : H5Dread(d, mtype, ms, fs, dxpl, buf);
  H5Sclose(ms);
  H5Sclose(fs);
  return e < 0 ? rs__dset_err(RS_EHDF5, d, wr ? "write" : "read", path) : RS_OK;
}

/* One archive dataset: block [start, start+count) in its full rank. */
int rs__dio(rs_archive *a, int id, const hsize_t *start, const hsize_t *count, void *buf,
            bool wr) {
  if (a->d[id] < 0)
    return rs_error(RS_EARG, "%s: archive has no %s dataset", a->path, rs__dsets[id].path);
  return rs__io(a->d[id], rs__dsets[id].path, rs__memtype(rs__dsets[id].type), a->dxpl,
                (int)strlen(rs__dsets[id].dims), start, count, buf, wr);
}

/* Collective whole-dataset write of identical data: rank 0 writes, the others
 * take part with empty selections. */
int rs__write_whole(hid_t d, hid_t mtype, MPI_Comm comm, int rank, const void *buf,
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
  return e < 0 ? rs__dset_err(RS_EHDF5, d, "write", path) : RS_OK;
}

hid_t rs__strtype(size_t w) {
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, w ? w : 1);
  H5Tset_strpad(t, H5T_STR_NULLPAD);
  H5Tset_cset(t, H5T_CSET_UTF8);
  return t;
}

/* An [n] or [n, cols] dataset of fixed-length UTF-8 strings (variable length
 * cannot be written in parallel). Width = the longest string; the netCDF
 * attribute _Encoding makes xarray return str. */
int rs__write_strings2(hid_t file, MPI_Comm comm, int rank, const char *path, int n,
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
  int rc = d < 0 ? rs__dset_err(RS_EHDF5, file, "create", path)
                 : rs__write_whole(d, t, comm, rank, buf, path);
  if (rc == RS_OK) rc = rs__attr_str(d, "_Encoding", "utf-8");
  if (d >= 0) H5Dclose(d);
  H5Tclose(t);
  free(buf);
  return rc;
}

int rs__write_strings(hid_t file, MPI_Comm comm, int rank, const char *path, int n,
                      const char *const *s) {
  return rs__write_strings2(file, comm, rank, path, n, 0, s);
}

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
int rs__read_strings(hid_t file, const char *path, int n, char ***out) {
  *out = NULL;
  hid_t d;
  RS__QUIET(H5Dopen2(file, path, H5P_DEFAULT), d);
  if (d < 0) return rs__dset_err(RS_EARCHIVE, file, "open", path);
  hid_t ft = H5Dget_type(d);
  size_t w = ft >= 0 && H5Tget_class(ft) == H5T_STRING ? H5Tget_size(ft) : 0;
  if (ft >= 0) H5Tclose(ft);
  if (w == 0 || w > 65536 || !rs__count_is(d, n)) {
    H5Dclose(d);
    char fn[1024];
    return rs_error(RS_EARCHIVE, "%s: damaged: %s is not %d strings",
                    rs__fname(file, fn, sizeof fn), path, n);
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
  if (e < 0) {
    free(raw);
    free(v);
    return rs__dset_err(RS_EHDF5, file, "read", path);
  }
  char *pool = (char *)(v + n);
  for (int i = 0; i < n; i++) {
    v[i] = pool + (size_t)i * (w + 1);
    memcpy(v[i], raw + (size_t)i * w, w);
    v[i][w] = '\0';
  }
  free(raw);
  *out = v;
  return RS_OK;
}

bool rs__parse_num(const char *s, double *v) {
  if (!*s) return false;
  char *end;
  errno = 0;
  *v = strtod(s, &end);
  return *end == '\0' && errno == 0;
}

int rs__bcast_str(char *buf, int cap, MPI_Comm comm) {
  if (comm == MPI_COMM_NULL) return RS_OK;
  RS_CALL_MPI(MPI_Bcast(buf, cap, MPI_CHAR, 0, comm));
  return RS_OK;
}

hid_t rs__fapl(MPI_Comm comm) {
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

/* True when dataset d has exactly rank n and extents dims. */
bool rs__extent_is(hid_t d, int n, const hsize_t *dims) {
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

int rs__read_all(rs_archive *a, int id, void *buf) {
  if (a->d[id] < 0) return RS_OK;
  if (H5Dread(a->d[id], rs__memtype(rs__dsets[id].type), H5S_ALL, H5S_ALL, a->dxpl, buf) < 0)
    return rs_error(RS_EHDF5, "%s: cannot read %s", a->path, rs__dsets[id].path);
  return RS_OK;
}

/* Flushes the whole file (collective with a communicator). */
int rs__flush(rs_archive *a) {
  return H5Fflush(a->file, H5F_SCOPE_GLOBAL) < 0 ? rs__h5err(a->path, "flush") : RS_OK;
}

/* ---- the handle */

/* A handle for path over comm (MPI_COMM_NULL: serial), nothing open yet. */
int rs__new(MPI_Comm comm, const char *path, rs_archive **out) {
  *out = NULL;
  int rank = 0, size = 1;
  if (comm != MPI_COMM_NULL) {
    RS_CALL_MPI(MPI_Comm_rank(comm, &rank));
    RS_CALL_MPI(MPI_Comm_size(comm, &size));
  }
  rs_archive *a = calloc(1, sizeof *a);
  if (!a) return rs_error(RS_ENOMEM, "archive: out of memory");
  a->comm = comm;
  a->rank = rank;
  a->size = size;
  snprintf(a->path, sizeof a->path, "%s", path);
  a->file = H5I_INVALID_HID;
  a->dxpl = H5P_DEFAULT;
  for (int i = 0; i < D_N; i++) a->d[i] = H5I_INVALID_HID;
  for (int i = 0; i < S_N; i++) a->s[i] = H5I_INVALID_HID;
  a->sgroup = H5I_INVALID_HID;
  if (comm != MPI_COMM_NULL) {
    a->dxpl = H5Pcreate(H5P_DATASET_XFER);
    H5Pset_dxpl_mpio(a->dxpl, H5FD_MPIO_INDEPENDENT);
  }
  *out = a;
  return RS_OK;
}

/* Closes every dataset and group the handle holds open (not the file). */
void rs__close_objects(rs_archive *a) {
  for (int i = 0; i < D_N; i++) {
    if (a->d[i] >= 0) H5Dclose(a->d[i]);
    a->d[i] = H5I_INVALID_HID;
  }
  for (int i = 0; i < S_N; i++) {
    if (a->s[i] >= 0) H5Dclose(a->s[i]);
    a->s[i] = H5I_INVALID_HID;
  }
  if (a->sgroup >= 0) H5Gclose(a->sgroup);
  a->sgroup = H5I_INVALID_HID;
}

void rs__free(rs_archive *a) {
  if (!a) return;
  rs__close_objects(a);
  if (a->file >= 0) H5Fclose(a->file);
  if (a->dxpl != H5P_DEFAULT) H5Pclose(a->dxpl);
  rs__layout_free(&a->lay);
  free(a);
}

/* Collective: whether path exists, as rank 0 sees it. */
int rs__exists(MPI_Comm comm, int rank, const char *path, bool *exists) {
  int ex = 0;
  if (rank == 0) ex = access(path, F_OK) == 0;
  if (comm != MPI_COMM_NULL) RS_CALL_MPI(MPI_Bcast(&ex, 1, MPI_INT, 0, comm));
  *exists = ex != 0;
  return RS_OK;
}
