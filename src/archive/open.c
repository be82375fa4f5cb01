/* Opening an archive: probe (what is at a path), open with validation of
 * every dimension and run table, and open for resumption (job hash, layout,
 * provenance). */
#include "archive_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* rs__classify's verdict on a root group whose header HDF5 cannot read (a
 * damaged file): not among the public statuses, since a probe hands such a
 * file on to the open, which refuses it as damaged (and --move-aside applies). */
#define RS__ARCHIVE_DAMAGED ((rs_archive_status)-1)

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
  /* The per-run records (names, configurations, seeds, data files): a resume
   * keeps them, so a damaged one is refused here rather than carried on. */
  for (int i = 0; i < R_N; i++) {
    if (i == R_JOB_TEXT || rs__records[i].since > a->version) continue;
    hid_t d;
    RS__QUIET(H5Dopen2(a->file, rs__records[i].path, H5P_DEFAULT), d);
    hsize_t dims[RS__MAXRANK];
    int n = rs__dims(&a->lay, rs__records[i].dims, dims);
    bool shape = d >= 0 && rs__extent_is(d, n, dims);
    hid_t t = shape ? H5Dget_type(d) : H5I_INVALID_HID;
    bool ok = t >= 0 && H5Tget_class(t) == rs__h5class(rs__records[i].type);
    if (t >= 0) H5Tclose(t);
    if (d >= 0) H5Dclose(d);
    if (!ok)
      return rs_error(RS_EARCHIVE, "%s: damaged archive: %s is %s", a->path, rs__records[i].path,
                      d < 0 ? "missing" : !shape ? "not of the archive's dimensions"
                                                 : "not of its type");
  }
  return RS_OK;
}

void rs_archive_lib_init(void) {
  const char *e = getenv("RANKSWEEP_HDF5_ERRORS");
  if (!e || !*e || !strcmp(e, "0")) H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  H5dont_atexit();
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
    int n;
    if (!rs__table_dims(L, t, dims, &n)) continue;
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

static rs_archive_status rs__classify(hid_t fid) {
  char fmt[64];
  int64_t done = 0;
  htri_t has;
  RS__QUIET(H5Aexists(fid, RS__A_FORMAT), has);
  if (has < 0) return RS__ARCHIVE_DAMAGED;
  if (rs__attr_read_str(fid, RS__A_FORMAT, fmt, sizeof fmt) == RS_OK) {
    if (strcmp(fmt, RS__FORMAT) != 0) return RS_ARCHIVE_FOREIGN;
    if (rs__attr_read_i64(fid, RS__A_STRUCTURE_COMPLETE, &done) != RS_OK || done != 1)
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

int rs__open(MPI_Comm comm, const char *path, unsigned mode, rs_archive **out) {
  *out = NULL;
  rs_archive *a;
  RS_CALL(rs__new(comm, path, &a));
  bool ex = false;
  int rc = rs__exists(comm, a->rank, path, &ex);
  if (rc != RS_OK || !ex) {
    rs__free(a);
    return rc != RS_OK ? rc : rs_error(RS_EIO, "%s: no such archive", path);
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
  rs__attr_read_i64(a->file, RS__A_FORMAT_VERSION, &ver);
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
  rc = rs__layout_read(a->file, path, &a->lay);
  if (rc == RS_OK) {
    int64_t shard = 0; /* the writer's shard grid, until a resume sets its own */
    hid_t pv;
    RS__QUIET(H5Gopen2(a->file, RS__G_PROVENANCE, H5P_DEFAULT), pv);
    if (pv >= 0) {
      rs__attr_read_i64(pv, RS__A_SHARD_SIZE, &shard);
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

/* Collective. A resume continues the archive only on the data it was
 * started on: every data file's SHA-256 now must equal the one recorded
 * (runs/data_sha256; an empty record, synthetic data or an archive from
 * before .npy files were recorded, checks nothing). */
static int rs__data_unchanged(rs_archive *a, const rs_archive_desc *desc) {
  if (!desc->finish_records || a->version < 2) return RS_OK;
  RS_CALL(desc->finish_records(desc->ctx));
  int n = (int)a->lay.R * RS__NFILES;
  char **sha = NULL;
  RS_CALL(rs__read_strings(a->file, rs__records[R_DATA_SHA].path, n, &sha));
  int rc = RS_OK;
  for (int i = 0; rc == RS_OK && i < n; i++) {
    const rs_archive_record *r = &desc->records[i / RS__NFILES];
    const char *now = r->data_sha[i % RS__NFILES], *then = sha[i];
    if (then[0] && strcmp(then, now ? now : "") != 0)
      rc = rs_error(RS_EARCHIVE,
                    "%s: data file %s changed since this archive was started (SHA-256 %.16s... "
                    "recorded, %.16s... now); --resume continues only on the same data: restore "
                    "the file, or start a new archive with another -o",
                    a->path, r->data_path[i % RS__NFILES], then, now && now[0] ? now : "(none)");
  }
  free(sha);
  return rc;
}

int rs_archive_open(MPI_Comm comm, const char *path, const rs_archive_desc *desc,
                    const rs_archive_info *info, rs_archive **out) {
  *out = NULL;
  rs_archive *a;
  RS_CALL(rs__open(comm, path, H5F_ACC_RDWR, &a));
  char hash[128];
  rs__attr_read_str(a->file, RS__A_JOB_HASH, hash, sizeof hash);
  if (strcmp(hash, desc->hash) != 0) {
    rs__free(a);
    return rs_error(RS_EARCHIVE,
                    "%s: archive belongs to another job file (archive job_hash %s, this job %s); "
                    "to carry its finished runs into this job's sweep, write a new archive "
                    "with -o NEW.h5 --reuse %s",
                    path, hash, desc->hash, path);
  }
  rs__layout want;
  int rc = rs__layout_from_desc(desc, info, &want);
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
  rc = rs__data_unchanged(a, desc);
  if (rc == RS_OK) rc = rs__provenance_resume(a, info);
  if (rc == RS_OK) rc = rs__flush(a);
  if (rc != RS_OK) {
    rs__free(a);
    return rc;
  }
  *out = a;
  return RS_OK;
}

