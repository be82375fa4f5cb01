/* Creating an archive: the space check and reservation, the whole structure
 * written collectively and flushed, then the structure_complete marker; a
 * failed creation removes its file on every rank. */
#include "archive_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#ifdef RS_TEST_HOOKS
/* Test hooks, compiled only into the test suite's ranksweep-hooks and
 * archive_writer (tests/meson.build), never into the users' ranksweep:
 * RANKSWEEP_TEST_KILL_IN_CREATE=k kills every rank with SIGKILL at point k of
 * the creation (1 after H5Fcreate, 2 after the format flush, 3 with all
 * datasets created but unflushed, 4 flushed but before the marker);
 * RANKSWEEP_TEST_NO_SPACE_CHECK=1 skips the space check, so the tests can
 * reach a full disk in the middle of the creation. */
static void rs__test_kill(int k) {
  const char *v = getenv("RANKSWEEP_TEST_KILL_IN_CREATE");
  if (v && atoi(v) == k) raise(SIGKILL);
}
static bool rs__test_skip_space_check(void) {
  const char *skip = getenv("RANKSWEEP_TEST_NO_SPACE_CHECK");
  return skip && skip[0] == '1';
}
#else
#define rs__test_kill(k) ((void)0)
#define rs__test_skip_space_check() false
#endif

/* Rank 0 (others learn the outcome): refuses before anything is created when
 * the file system holding path lacks the space the archive will allocate. */
static int rs__space_check(MPI_Comm comm, int rank, const char *path, const rs__layout *L) {
  int rc = RS_OK;
  if (rank == 0 && !rs__test_skip_space_check()) {
    char dir[RS_PATH_MAX];
    rs__parent_dir(path, dir, sizeof dir);
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
  /* (already failing: a failed barrier has nothing left to report to) */
  (void)rs__barrier(a->comm);
  if (a->rank == 0 && truncate(a->path, 0) != 0) { /* best effort */
  }
  (void)rs__barrier(a->comm);
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
  (void)rs__barrier(a->comm);
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
  int fd = open(a->path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
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
  int fd = open(a->path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return;
  /* truncating to the current size drops blocks held beyond it */
  if (fstat(fd, &st) == 0 && (uint64_t)st.st_size < bytes && ftruncate(fd, st.st_size) != 0) {
  }
  close(fd);
}

/* One step of the creation: every rank runs expr, all agree on the outcome
 * (rs__step appends the system's reason), and a failure on any rank sends
 * every rank to the function's fail label together, so each collective call
 * below is made by all ranks or by none. Needs `int rc` and `rs_archive *a`. */
#define RS__STEP(expr) RS_TRY(rc, rs__step(a->comm, a->path, (expr)), fail)

/* Collective, before anything exists: refuses an existing output (naming a
 * directory given as the output), too little space, or a creation mark that
 * cannot be made. PATH.creating exists exactly while the structure is
 * unfinished: the evidence that lets a resume delete a file it cannot open
 * (see rs_archive_open_or_create) without ever deleting one that holds
 * results. */
static int rs__create_refusals(MPI_Comm comm, int rank, const char *path, const rs__layout *lay) {
  bool ex = false;
  int rc = rs__exists(comm, rank, path, &ex);
  struct stat sb;
  if (rc == RS_OK && ex)
    rc = rs__agree(comm, rank == 0 && stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)
                             ? rs_error(RS_EEXISTS,
                                        "%s: is a directory (%s); the output names the archive "
                                        "file to create: give a file name inside it, e.g. %s/sweep.h5",
                                        path, strerror(EISDIR), path)
                             : RS_OK);
  if (rc != RS_OK || ex)
    return rc != RS_OK ? rc : rs_error(RS_EEXISTS,
                    "%s: output exists; ranksweep never overwrites an archive (pass --resume to "
                    "continue it, or choose another path)",
                    path);
  RS_CALL(rs__space_check(comm, rank, path, lay));
  return rs__agree(comm, rank == 0 ? rs__creating_mark(path, true) : RS_OK);
}

/* Collective: the parallel file access list and the file itself, created
 * exclusively; the outcome agreed by every rank (a->file stays invalid on a
 * rank where H5Fcreate failed). */
static int rs__create_file(rs_archive *a, const char *path) {
  hid_t fapl = rs__fapl(a->comm);
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
  int rc = a->file < 0 ? rs__ioerr(RS_EIO, path, "cannot create the archive (exists, or directory not writable)") : RS_OK;
  H5Pclose(fcpl);
  H5Pclose(fapl);
  return rs__agree(a->comm, rc);
}

/* The format name reaches the disk first, so a file killed during creation
 * is still recognisable as ours (rs_archive_probe); then the space the
 * datasets will fill is reserved. */
static int rs__create_format(rs_archive *a) {
  int rc = RS_OK;
  RS__STEP(rs__attr_str(a->file, RS__A_FORMAT, RS__FORMAT));
  RS__STEP(rs__attr_i64(a->file, RS__A_FORMAT_VERSION, RS__FORMAT_VERSION));
  RS__STEP(rs__flush(a));
  rs__test_kill(2);
  RS__STEP(rs__reserve(a));
fail:
  return rc;
}

/* The root's attributes: the job, the dimensions, the eps ladder when every
 * run shares it, and complete = 0. */
static int rs__create_root_attrs(rs_archive *a, const rs_archive_desc *desc) {
  const rs__layout *L = &a->lay;
  int rc = RS_OK;
  RS__STEP(rs__attr_str(a->file, RS__A_JOB_NAME, desc->name));
  RS__STEP(rs__attr_str(a->file, RS__A_JOB_HASH, desc->hash));
  for (size_t i = 0; i < RS__NDIMATTR; i++)
    RS__STEP(rs__attr_i64(a->file, rs__dimattrs[i].name,
                          *(const int64_t *)((const char *)L + rs__dimattrs[i].off)));
  bool uniform = true;
  for (int64_t r = 1; r < L->R; r++)
    uniform &= L->neps[r] == L->neps[0] &&
               memcmp(L->eps + r * L->E, L->eps, (size_t)L->E * sizeof(double)) == 0;
  if (uniform && L->neps[0] > 0)
    RS__STEP(rs__attr_put(a->file, "eps", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, (hsize_t)L->neps[0],
                          L->eps));
  RS__STEP(rs__attr_i64(a->file, RS__A_COMPLETE, 0));
fail:
  return rc;
}

static int rs__create_groups(rs_archive *a) {
  hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
  H5Pset_obj_track_times(gcpl, 0);
  int rc = RS_OK;
  for (size_t g = 0; rc == RS_OK && g < RS__NGROUPS; g++) {
    hid_t h = H5Gcreate2(a->file, rs__groups[g], H5P_DEFAULT, gcpl, H5P_DEFAULT);
    if (h >= 0) H5Gclose(h);
    rc = rs__step(a->comm, a->path, h < 0 ? rs__h5err(a->path, "create a group") : RS_OK);
  }
  H5Pclose(gcpl);
  return rc;
}

/* The job file's exact text. Its creation is agreed before the collective
 * write, so a rank that could not create it never leaves the others waiting
 * in H5Dwrite; the string type is n bytes, so exactly the text's n bytes are
 * written (no terminator). */
static int rs__create_job_text(rs_archive *a, const char *text) {
  const char *dpath = rs__records[R_JOB_TEXT].path;
  size_t n = strlen(text);
  hid_t t = rs__strtype(n);
  hid_t sp = H5Screate(H5S_SCALAR);
  hid_t p = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_obj_track_times(p, 0);
  hid_t d = H5Dcreate2(a->file, dpath, t, sp, H5P_DEFAULT, p, H5P_DEFAULT);
  H5Pclose(p);
  H5Sclose(sp);
  int rc = rs__step(a->comm, a->path, d < 0 ? rs__h5err(a->path, "create job/text") : RS_OK);
  if (rc == RS_OK)
    rc = rs__step(a->comm, a->path, rs__write_whole(d, t, a->comm, a->rank, text, dpath));
  if (d >= 0) H5Dclose(d);
  H5Tclose(t);
  return rc;
}

/* The runs' names; the list is agreed to exist before the collective write. */
static int rs__create_names(rs_archive *a, const rs_archive_desc *desc) {
  int R = (int)a->lay.R;
  const char **names = malloc((size_t)(R ? R : 1) * sizeof *names);
  int rc = rs__step(a->comm, a->path, names ? RS_OK : rs_error(RS_ENOMEM, "archive: out of memory"));
  if (rc == RS_OK) {
    for (int r = 0; r < R; r++) names[r] = desc->records[r].name;
    rc = rs__step(a->comm, a->path,
                  rs__write_strings(a->file, a->comm, a->rank, rs__records[R_NAME].path, R, names));
  }
  free(names);
  return rc;
}

/* Run table t (skipped when one of its dimensions is zero), created and
 * written whole; the dataset is closed on every path. */
static int rs__create_table(rs_archive *a, size_t t) {
  const rs__layout *L = &a->lay;
  hsize_t dims[RS__MAXRANK];
  int n;
  if (!rs__table_dims(L, t, dims, &n)) return RS_OK;
  hid_t d = rs__dcreate(a->file, rs__tables[t].path, rs__tables[t].type, n, dims);
  int rc = rs__step(a->comm, a->path, d < 0 ? rs__h5err(a->path, "create a run table") : RS_OK);
  if (rc != RS_OK) {
    if (d >= 0) H5Dclose(d);
    return rc;
  }
  rc = rs__write_whole(d, rs__memtype(rs__tables[t].type), a->comm, a->rank,
                       *(void *const *)((const char *)L + rs__tables[t].off), rs__tables[t].path);
  /* which entry of a VIB run's widths is the latent */
  if (rc == RS_OK && rs__tables[t].off == offsetof(rs__layout, widths))
    rc = rs__attr_str(d, "entries",
                      "measured layers 1..nlayers of each run: mlp = the hidden layers; vib = "
                      "the encoder's hidden layers, then the latent mean head of size K = "
                      "model.latent as entry nlayers-1 (0-based)");
  H5Dclose(d);
  return rs__step(a->comm, a->path, rc);
}

/* Every dataset of this format version, allocated at creation and kept open
 * in a->d (rs__create_abort closes them on failure). */
static int rs__create_datasets(rs_archive *a) {
  int rc = RS_OK;
  for (int i = 0; i < D_N; i++) {
    if (!rs__present(&a->lay, i, RS__FORMAT_VERSION)) continue;
    hsize_t dims[RS__MAXRANK];
    int n = rs__dims(&a->lay, rs__dsets[i].dims, dims);
    a->d[i] = rs__dcreate(a->file, rs__dsets[i].path, rs__dsets[i].type, n, dims);
    RS__STEP(a->d[i] < 0 ? rs_error(RS_EHDF5, "%s: cannot create %s", a->path, rs__dsets[i].path)
                         : RS_OK);
  }
  if (a->d[D_S_HEADER] >= 0)
    RS__STEP(rs__attr_str(a->d[D_S_HEADER], "columns", "step,seq,nbytes,fnv1a64"));
fail:
  return rc;
}

static int rs__create_provenance(rs_archive *a, const rs_archive_info *info) {
  hid_t prov = H5Gopen2(a->file, RS__G_PROVENANCE, H5P_DEFAULT);
  int rc = rs__write_provenance(prov, a->comm, a->rank, a->size, info);
  H5Gclose(prov);
  return rs__step(a->comm, a->path, rc);
}

/* Collective. Builds the whole file, in the order of HDF5's parallel
 * examples: refuse, create the file with the MPI-IO access list, write its
 * attributes, groups, run tables and datasets, flush, then mark it complete.
 * Every step is agreed across ranks (RS__STEP), so a failure on any rank
 * sends all of them to rs__create_abort together. Takes ownership of *lay on
 * success. */
int rs__create(MPI_Comm comm, const char *path, rs__layout *lay, const rs_archive_desc *desc,
               const rs_archive_info *info, rs_archive **out) {
  *out = NULL;
  rs_archive *a;
  RS_CALL(rs__new(comm, path, &a));
  int rc = rs__create_refusals(comm, a->rank, path, lay);
  if (rc != RS_OK) {
    rs__free(a);
    return rc;
  }
  rc = rs__create_file(a, path);
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
  errno = 0;
  /* (the helpers' steps are agreed inside them: no second agreement here) */
  RS_TRY(rc, rs__create_format(a), fail);
  RS_TRY(rc, rs__create_root_attrs(a, desc), fail);
  RS_TRY(rc, rs__create_groups(a), fail);
  RS_TRY(rc, rs__create_job_text(a, desc->text), fail);
  RS_TRY(rc, rs__create_names(a, desc), fail);
  for (size_t t = 0; t < RS__NTABLES; t++) RS_TRY(rc, rs__create_table(a, t), fail);
  RS_TRY(rc, rs__create_datasets(a), fail);
  if (desc->finish_records) RS__STEP(desc->finish_records(desc->ctx));
  RS__STEP(rs__write_records(a, desc));
  RS__STEP(rs__describe_all(a, desc));
  RS_TRY(rc, rs__create_provenance(a, info), fail);
  rs__test_kill(3);
  /* Everything above must be on disk before the marker that says so. */
  RS__STEP(rs__flush(a));
  rs__test_kill(4);
  RS__STEP(rs__attr_i64(a->file, RS__A_STRUCTURE_COMPLETE, 1));
  RS__STEP(rs__flush(a));
  rs__unreserve(a);
  if (a->rank == 0) rs__creating_mark(path, false);
  *out = a;
  return RS_OK;
fail:
  rs__create_abort(a);
  return rc;
}

int rs_archive_create(MPI_Comm comm, const char *path, const rs_archive_desc *desc,
                      const rs_archive_info *info, rs_archive **out) {
  *out = NULL;
  rs__layout L;
  RS_CALL(rs__layout_from_desc(desc, info, &L));
  int rc = rs__create(comm, path, &L, desc, info, out);
  rs__layout_free(&L);
  if (rc != RS_OK) rs__error_trace(__FILE__, __LINE__, __func__);
  return rc;
}
