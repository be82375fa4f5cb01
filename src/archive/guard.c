/* The file-system discipline around an archive: failure agreement across
 * ranks (rs__agree, and rs__step for the steps of a collective sequence,
 * used with RS_TRY), the system's reason for a failed write, the one-writer lock
 * (PATH.lock) and the creation mark (PATH.creating). */
#include "archive_internal.h"
#include "src/core/comm.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

/* Collective. Every rank learns whether any rank failed, and the code and
 * message of the lowest failing rank reach all of them (rs_comm_agree), so
 * every rank takes the same branch (a rank that went on alone into a
 * collective HDF5 call would wait forever) and rank 0, which prints, names
 * the real cause. */
int rs__agree(MPI_Comm comm, int rc) { return rs_comm_agree(comm, rc); }

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

/* What to do about a failed creation or open beside an archive, by errno:
 * the second half of the one line (after strerror's reason). */
const char *rs__sys_advice(int err) {
  switch (err) {
  case ENOENT: return "create the directory first, or choose another path";
  case ENOTDIR: return "a part of the path is a file, not a directory: choose another path";
  case ENAMETOOLONG: return "choose a shorter path";
  case EISDIR: return "the path names a directory: name the archive file inside it, e.g. DIR/sweep.h5";
  case EACCES:
  case EPERM:
  case EROFS: return "choose a directory you can write to";
  case ENOSPC:
  case EDQUOT: return "free space or choose another path";
  case ELOOP: return "a symbolic link is in the way: remove it or choose another path";
  default: return "check the path, or choose another";
  }
}

/* Suffixes of the files kept beside an archive; the longest decides how long
 * the archive's own file name may be. */
#define RS__SIDECAR_LONGEST ".damaged-YYYYmmddTHHMMSSZ"
#define RS__SIDECAR_ROOM_N 25
#define RS__STR_(x) #x
#define RS__STR(x) RS__STR_(x)
#define RS__SIDECAR_ROOM RS__SIDECAR_ROOM_N
_Static_assert(sizeof RS__SIDECAR_LONGEST - 1 == RS__SIDECAR_ROOM_N, "sidecar room");

int rs_archive_path_check(const char *path, const char *what) {
  size_t n = strlen(path);
  /* every buffer holding an archive path is RS_PATH_MAX bytes (plus room for
   * the sidecar suffixes), so a longer path is refused before anything exists */
  if (n >= RS_PATH_MAX)
    return rs_error(RS_EARG, "%s path is %zu characters; the limit is %d: %s; choose a shorter path",
                    what, n, RS_PATH_MAX - 1, strerror(ENAMETOOLONG));
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  for (const char *c = path; *c;) {
    const char *end = strchr(c, '/');
    size_t len = end ? (size_t)(end - c) : strlen(c);
    bool last = c == base;
    size_t limit = NAME_MAX - (last ? RS__SIDECAR_ROOM : 0);
    if (len > limit)
      return rs_error(RS_EARG,
                      "%s: %s %s is %zu characters; the limit is %zu%s: %s; choose a shorter name",
                      path, what, last ? "file name" : "directory name", len, limit,
                      last ? " (files kept beside an archive append up to " RS__STR(RS__SIDECAR_ROOM_N)
                             " characters to it)"
                           : "",
                      strerror(ENAMETOOLONG));
    c = end ? end + 1 : c + len;
  }
  return RS_OK;
}

static void rs__sidecar(char *buf, size_t cap, const char *path, const char *suffix) {
  snprintf(buf, cap, "%s%s", path, suffix);
}

/* The one line for a file beside the archive that could not be created
 * exclusively (err from open): a symlink or other non-regular file there is
 * refused as such (never followed); a regular file already there is RS_OK. */
int rs__sidecar_refuse(const char *file, int err, const char *what) {
  struct stat st;
  if (err == EEXIST && lstat(file, &st) == 0) {
    if (S_ISLNK(st.st_mode))
      return rs_error(RS_EIO,
                      "%s: is a symbolic link; ranksweep never writes through a link beside an "
                      "archive: remove it (and check who planted it) or choose another output path",
                      file);
    if (S_ISREG(st.st_mode)) return RS_OK; /* a stale regular file: keep it as it is */
    return rs_error(RS_EIO, "%s: exists and is not a regular file; remove it or choose another output path",
                    file);
  }
  return rs_error(RS_EIO, "%s: %s: %s; %s", file, what, strerror(err), rs__sys_advice(err));
}

/* Rank 0: PATH.creating on (before H5Fcreate) or off (structure complete, or
 * the failed file removed). The mark is created exclusively and never through
 * a symlink: the output directory may be writable by others (a shared project
 * directory, /tmp), and following a planted link would truncate or create a
 * file of theirs choosing. A regular file already there (a stale mark) is
 * left as it is. */
int rs__creating_mark(const char *path, bool on) {
  char c[RS_PATH_MAX + 16];
  rs__sidecar(c, sizeof c, path, ".creating");
  if (!on) {
    unlink(c);
    return RS_OK;
  }
  int fd = open(c, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd >= 0) {
    close(fd);
    return RS_OK;
  }
  return rs__sidecar_refuse(c, errno, "cannot create the creation mark");
}

bool rs__creating_marked(const char *path) {
  char c[RS_PATH_MAX + 16];
  rs__sidecar(c, sizeof c, path, ".creating");
  struct stat st;
  return lstat(c, &st) == 0;
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
    int fd = open(lp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
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
    int err = errno;
    struct stat sb;
    if (err != EEXIST || lstat(lp, &sb) != 0 || !S_ISREG(sb.st_mode)) {
      if (err == EEXIST && lstat(lp, &sb) != 0) continue; /* removed meanwhile: try again */
      return rs__sidecar_refuse(lp, err, "cannot create the lock file") == RS_OK
                 ? rs_error(RS_EIO, "%s: cannot take the lock", lp)
                 : RS_EIO;
    }
    char buf[512] = "", h[256] = "", when[64] = "?";
    long pid = 0;
    fd = open(lp, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
      ssize_t got = read(fd, buf, sizeof buf - 1);
      buf[got > 0 ? got : 0] = '\0';
      close(fd);
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

