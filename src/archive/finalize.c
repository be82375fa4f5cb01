/* Finishing an archive: the mean local ranks from the stored counts, the
 * room check before the final metadata, the end time, close. */
#include "archive_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* Mean local rank of one run at every checkpoint whose points are all done
 * (pmask: the run's [C, P] point masks), from the stored counts
 * (rs_lr_mean_counts: the same bits whoever wrote them). buf is [C, L, E+1],
 * NaN where not computable; cnt holds one checkpoint's counts. */
int rs__run_means(rs_archive *a, int run, const uint8_t *pmask, double *buf, int32_t *cnt) {
  const rs__layout *L = &a->lay;
  int64_t E1 = L->E + 1;
  for (int64_t i = 0; i < L->C * L->L * E1; i++) buf[i] = NAN;
  int nl = L->nlayers[run], np = L->npoints[run], ne = L->neps[run];
  if (nl == 0 || np == 0) return RS_OK;
  for (int c = 0; c < L->nckpt[run]; c++) {
    bool all = true;
    for (int p = 0; p < np; p++) all &= pmask[(int64_t)c * L->P + p] != 0;
    if (!all) continue;
    hsize_t st[5] = {(hsize_t)run, (hsize_t)c, 0, 0, 0};
    hsize_t ct[5] = {1, 1, (hsize_t)nl, (hsize_t)np, (hsize_t)E1};
    RS_CALL(rs__dio(a, D_LR_COUNTS, st, ct, cnt, false));
    rs_lr_mean_counts(cnt, nl, np, (int)E1, ne, (int)L->E, buf + (int64_t)c * L->L * E1);
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
    rc = rs__run_means(a, (int)r, smask + r * L->C * L->P, buf, cnt);
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
  int fd = open(a->path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
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
  int room = rs__agree(a->comm, rs__room_to_finish(a));
  if (room != RS_OK) {
    a->no_room = true;
    return room;
  }
  int rc = rs__compute_means(a);
  /* every rank must reach the collective part whatever happened above */
  rc = rs__agree(a->comm, rc);
  int rc2 = rs__provenance_end(a);
  if (rc2 == RS_OK && complete && rc == RS_OK) rc2 = rs__attr_i64(a->file, RS__A_COMPLETE, 1);
  int rc3 = rs__flush(a);
  if (rc2 == RS_OK) rc2 = rc3;
  return rc != RS_OK ? rc : rc2;
}

int rs_archive_close(rs_archive **pa) {
  rs_archive *a = *pa;
  *pa = NULL;
  if (!a) return RS_OK;
  rs__close_objects(a);
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
