/* What `run -o PATH [--resume]` needs of an archive: the one-writer lock,
 * the decision about what is at PATH (create, open, start an interrupted
 * creation over, or move a damaged file aside), then create or open. */
#include "archive_internal.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* What rank 0 decided about an existing file, for --resume. */
enum { RS__GO_CREATE, RS__GO_OPEN, RS__GO_RECREATE, RS__GO_ASIDE };

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

/* Rank 0: whether a file that HDF5 opens holds a result: any cell of its
 * masks (group done/, its datasets of bytes) set. */
static herr_t rs__mask_any(hid_t g, const char *name, const H5L_info_t *li, void *any) {
  (void)li;
  hid_t d;
  RS__QUIET(H5Dopen2(g, name, H5P_DEFAULT), d);
  if (d < 0) return 0;
  /* masks are bytes; the group also holds its dimension scales (run, checkpoint, point) */
  hid_t t = H5Dget_type(d);
  bool mask = t >= 0 && H5Tget_class(t) == H5T_INTEGER && H5Tget_size(t) == 1;
  if (t >= 0) H5Tclose(t);
  if (!mask) {
    H5Dclose(d);
    return 0;
  }
  hid_t sp = H5Dget_space(d);
  hssize_t n = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
  if (sp >= 0) H5Sclose(sp);
  uint8_t *buf = n > 0 ? malloc((size_t)n) : NULL;
  herr_t e = -1;
  if (buf) RS__QUIET(H5Dread(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf), e);
  for (hssize_t i = 0; e >= 0 && i < n; i++)
    if (buf[i]) {
      *(bool *)any = true;
      break;
    }
  free(buf);
  H5Dclose(d);
  return *(bool *)any ? 1 : 0;
}

/* Rank 0: the evidence that the file at path once held results, which makes
 * it untouchable whatever PATH.creating says: a mask cell set (when HDF5
 * opens it), or a status file beside it recording finished work (a sweep
 * wrote it; a truncated archive no longer shows its masks). */
static bool rs__holds_results(const char *path, hid_t fid, char *why, size_t cap) {
  bool any = false;
  hid_t g = H5I_INVALID_HID;
  if (fid >= 0) RS__QUIET(H5Gopen2(fid, "done", H5P_DEFAULT), g);
  if (g >= 0) {
    herr_t e;
    RS__QUIET(H5Literate(g, H5_INDEX_NAME, H5_ITER_NATIVE, NULL, rs__mask_any, &any), e);
    (void)e;
    H5Gclose(g);
    if (any) {
      snprintf(why, cap, "cells of its done/ masks are set");
      return true;
    }
  }
  char sp[RS_PATH_MAX + 16], buf[4096] = "";
  snprintf(sp, sizeof sp, "%s.status", path);
  int fd = open(sp, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd >= 0) {
    ssize_t got = read(fd, buf, sizeof buf - 1);
    buf[got > 0 ? got : 0] = '\0';
    close(fd);
  }
  long long ck = 0, runs = 0;
  const char *p = strstr(buf, "\"checkpoints_done\":"), *q = strstr(buf, "\"runs_done\":");
  if (p) ck = strtoll(p + strlen("\"checkpoints_done\":"), NULL, 10);
  if (q) runs = strtoll(q + strlen("\"runs_done\":"), NULL, 10);
  if (ck > 0 || runs > 0) {
    snprintf(why, cap, "%s records %lld checkpoints and %lld runs done in it", sp, ck, runs);
    return true;
  }
  return false;
}

/* Rank 0. An interrupted creation may be deleted only on evidence that no
 * result can be in it: an empty file, an HDF5 file with nothing in it, one
 * of ours without the structure marker (results are written only after
 * it), or any file while PATH.creating still records that its creation never
 * finished. Anything else that is not a usable archive may hold results: it
 * is refused, or with move_aside renamed aside. A mark is only evidence while
 * nothing contradicts it (a stale one outlives a kill between the structure
 * marker and its removal): a file holding results is never deleted. */
static int rs__resume_decide(const char *path, bool move_aside, int *go) {
  rs_archive_status st;
  RS_CALL(rs_archive_probe(path, &st));
  bool marked = rs__creating_marked(path), creating = marked;
  if (st == RS_ARCHIVE_ABSENT) {
    *go = RS__GO_CREATE;
    return RS_OK;
  }
  if (st == RS_ARCHIVE_READY) {
    *go = RS__GO_OPEN;
    return RS_OK;
  }
  const char *what = "not a ranksweep archive";
  char why[RS_PATH_MAX + 128] = "";
  bool results = false;
  if (st == RS_ARCHIVE_INCOMPLETE) {
    struct stat sb;
    hid_t fid = H5I_INVALID_HID;
    if (stat(path, &sb) == 0 && sb.st_size == 0) creating = true;
    else RS__QUIET(H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT), fid);
    if (fid >= 0) { /* opens: no marker, or nothing at all in it */
      creating = true;
      results = rs__holds_results(path, fid, why, sizeof why);
      H5Fclose(fid);
    } else if (creating) {
      results = rs__holds_results(path, H5I_INVALID_HID, why, sizeof why);
    }
    what = "an HDF5 file that cannot be opened (damaged or truncated)";
  } else if (creating) {
    results = rs__holds_results(path, H5I_INVALID_HID, why, sizeof why);
  }
  if (creating && results) {
    if (move_aside) {
      *go = RS__GO_ASIDE;
      return RS_OK;
    }
    return rs_error(RS_EARCHIVE,
                    "%s: is not a usable archive but holds results (%s)%s; --resume never deletes "
                    "it: rerun with --move-aside to rename it to %s.damaged-<time> and start anew, "
                    "or remove it yourself",
                    path, why, marked ? ", although its .creating mark says its creation never finished" : "",
                    path);
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

int rs_archive_open_or_create(MPI_Comm comm, const char *path, const rs_archive_desc *desc,
                              const rs_archive_info *info, bool resume, rs_archive **out,
                              bool *created) {
  *out = NULL;
  if (created) *created = false;
  RS_CALL(rs_archive_path_check(path, "output"));
  int rank = 0;
  RS_CALL_MPI(MPI_Comm_rank(comm, &rank));
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
        (void)rs__creating_mark(path, false);
    }
    if (v[0] == RS_OK && v[1] == RS__GO_ASIDE) v[0] = rs__move_aside(path, aside, sizeof aside);
    if (v[0] != RS_OK && have_lock) rs__lock_drop(path);
  }
  int rc = rs__agree(comm, v[0]);
  RS_CALL_MPI(MPI_Bcast(&v[1], 1, MPI_INT, 0, comm));
  if (rc != RS_OK) return rc;
  if (rank == 0 && v[1] == RS__GO_ASIDE)
    fprintf(stderr, "ranksweep: %s: moved aside to %s; starting anew\n", path, aside);
  if (v[1] == RS__GO_OPEN) {
    rc = rs__agree(comm, rs_archive_open(comm, path, desc, info, out));
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
        rc = rs_archive_create(comm, path, desc, info, out);
        if (rc == RS_OK && created) *created = true;
      }
    }
  } else {
    rc = rs_archive_create(comm, path, desc, info, out);
    if (rc == RS_OK && created) *created = true;
  }
  if (rc != RS_OK) {
    if (rank == 0) rs__lock_drop(path);
    return rc;
  }
  /* A complete structure contradicts a mark left by a kill between the
   * structure marker and the mark's removal: drop it before any result. */
  if (rank == 0 && v[1] == RS__GO_OPEN) (void)rs__creating_mark(path, false);
  (*out)->locked = rank == 0;
  return RS_OK;
}
