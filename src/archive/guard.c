/* The file-system discipline around an archive: failure agreement across
 * ranks (rs__agree, and rs__step for the steps of a collective sequence,
 * used with RS_TRY), the system's reason for a failed write, the one-writer lock
 * (PATH.lock) and the creation mark (PATH.creating). */
#include "archive_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

/* Collective. Every rank learns whether any rank failed, and the code and
 * message of the lowest failing rank reach all of them, so every rank takes
 * the same branch (a rank that went on alone into a collective HDF5 call
 * would wait forever) and rank 0, which prints, names the real cause. */
int rs__agree(MPI_Comm comm, int rc) {
  if (comm == MPI_COMM_NULL) return rc;
  int rank = 0, who = INT_MAX;
  RS_CALL_MPI(MPI_Comm_rank(comm, &rank));
  int me = rc != RS_OK ? rank : INT_MAX;
  RS_CALL_MPI(MPI_Allreduce(&me, &who, 1, MPI_INT, MPI_MIN, comm));
  if (who == INT_MAX) return RS_OK;
  char msg[1024];
  int code = rc;
  snprintf(msg, sizeof msg, "%s", rs_error_message());
  RS_CALL_MPI(MPI_Bcast(&code, 1, MPI_INT, who, comm));
  RS_CALL_MPI(MPI_Bcast(msg, (int)sizeof msg, MPI_CHAR, who, comm));
  if (rank != who) rs_error(code, "%s", msg);
  return code;
}

/* Collective. One step of a sequence that every rank must leave together
 * (the creation of an archive): a failure gets the system's reason appended
 * (errno as the step left it) and is agreed by every rank (rs__agree). Clears
 * errno for the next step. Used as RS_TRY(rc, rs__step(comm, path, expr), label). */
int rs__step(MPI_Comm comm, const char *path, int rc) {
  int err = errno;
  errno = 0;
  if (rc != RS_OK) rc = rs__add_reason(rc, path, err);
  return rs__agree(comm, rc);
}

/* Collective barrier (no-op without a communicator). */
int rs__barrier(MPI_Comm comm) {
  if (comm != MPI_COMM_NULL) RS_CALL_MPI(MPI_Barrier(comm));
  return RS_OK;
}

void rs__parent_dir(const char *path, char *dir, size_t cap) {
  snprintf(dir, cap, "%s", path);
  char *slash = strrchr(dir, '/');
  if (slash) slash[slash == dir] = '\0';
  else snprintf(dir, cap, ".");
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
  rs__parent_dir(path, dir, sizeof dir);
  struct statvfs vs;
  if (statvfs(dir, &vs) == 0 && (uint64_t)vs.f_bavail * vs.f_frsize < ((uint64_t)1 << 16))
    snprintf(buf, cap, ": %s", strerror(ENOSPC));
}

/* rs_error with the system's reason appended (errno read first). */
int rs__ioerr(int code, const char *path, const char *what) {
  int e = errno;
  char why[128];
  rs__sysreason(path, e, why, sizeof why);
  return rs_error(code, "%s: %s%s", path, what, why);
}

/* Appends the system's reason to the message of a failed step, once. */
int rs__add_reason(int rc, const char *path, int err) {
  char why[128];
  rs__sysreason(path, err, why, sizeof why);
  if (why[0] && !strstr(rs_error_message(), why + 2)) {
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", rs_error_message());
    rs_error(rc, "%s%s", msg, why);
  }
  return rc;
}

static void rs__sidecar(char *buf, size_t cap, const char *path, const char *suffix) {
  snprintf(buf, cap, "%s%s", path, suffix);
}

/* Rank 0: PATH.creating on (before H5Fcreate) or off (structure complete, or
 * the failed file removed). */
void rs__creating_mark(const char *path, bool on) {
  char c[RS_PATH_MAX + 16];
  rs__sidecar(c, sizeof c, path, ".creating");
  if (on) {
    int fd = open(c, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) close(fd);
  } else {
    unlink(c);
  }
}

bool rs__creating_marked(const char *path) {
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
int rs__lock_take(const char *path) {
  char lp[RS_PATH_MAX + 16], host[256] = "";
  rs__sidecar(lp, sizeof lp, path, ".lock");
  gethostname(host, sizeof host - 1);
  for (int attempt = 0; attempt < 20; attempt++) {
    int fd = open(lp, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd >= 0) {
      char now[RS__TIME_LEN], line[512];
      rs__utc_now(now);
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
    if (!here) /* a dead node's lock looks like a live one from here: the user decides */
      return rs_error(RS_EARCHIVE,
                      "%s: in use by another sweep (host %s, pid %ld, since %s); one writer per "
                      "archive. %s cannot be checked from %s: if that sweep is dead (its job has "
                      "ended, or the node is down in sinfo), remove %s",
                      path, h, pid, when, h, host, lp);
    return rs_error(RS_EARCHIVE,
                    "%s: in use by another sweep (host %s, pid %ld, since %s); one writer per "
                    "archive. If that sweep is dead, remove %s",
                    path, h, pid, when, lp);
  }
  return rs_error(RS_EARCHIVE, "%s: cannot take the lock %s", path, lp);
}

void rs__lock_drop(const char *path) {
  char lp[RS_PATH_MAX + 16];
  rs__sidecar(lp, sizeof lp, path, ".lock");
  unlink(lp);
}

