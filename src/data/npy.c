/* NumPy .npy files read directly: the format's magic, version (1.0, 2.0,
 * 3.0), header dictionary and raw C-order data, validated strictly with one
 * line naming the file, and decoded into the data module's shared cache. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ranksweep/rs_error.h"
#include "data_internal.h"

#define RS__NPY_TAG 0
/* numpy itself refuses headers above 10000 bytes unless told otherwise
 * (max_header_size); a little slack for hand-written files. */
#define RS__NPY_MAX_HEADER 65536
#define RS__NPY_EXPECT "expected a file written by numpy.save"

/* Reads exactly len bytes unless the file ends; returns the count or -1. */
static int64_t rs__read_full(int fd, void *buf, size_t len) {
  size_t got = 0;
  while (got < len) {
    size_t want = len - got;
    if (want > ((size_t)1 << 30)) want = (size_t)1 << 30;
    ssize_t r = read(fd, (char *)buf + got, want);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return -1;
    if (r == 0) break;
    got += (size_t)r;
  }
  return (int64_t)got;
}

static bool rs__host_little(void) {
  const uint16_t one = 1;
  return *(const unsigned char *)&one == 1;
}

/* ---- the header dictionary: {'descr': '<f4', 'fortran_order': False,
 * 'shape': (3, 4), } as numpy writes it (Python literal syntax) ---- */
typedef struct {
  const char *p, *end;
} rs__cursor;

static void rs__skip_ws(rs__cursor *c) {
  while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
    c->p++;
}

static bool rs__string(rs__cursor *c, char *out, size_t cap) {
  if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) return false;
  char q = *c->p++;
  size_t n = 0;
  while (c->p < c->end && *c->p != q) {
    if (*c->p == '\\' || n + 1 >= cap) return false;
    out[n++] = *c->p++;
  }
  if (c->p >= c->end) return false;
  c->p++;
  out[n] = '\0';
  return true;
}

static bool rs__word(rs__cursor *c, const char *w) {
  size_t n = strlen(w);
  if ((size_t)(c->end - c->p) < n || strncmp(c->p, w, n) != 0) return false;
  c->p += n;
  return true;
}

static int rs__hdr_err(const char *path, const char *what) {
  return rs_error(RS_EDATA, "%s: bad .npy header: %s (expected a dict with 'descr', "
                  "'fortran_order' and 'shape', as numpy.save writes)", path, what);
}

typedef struct {
  char descr[16];
  bool fortran;
  int ndim;
  int64_t shape[RS__NPY_MAX_DIMS];
} rs__npy_header;

static int rs__parse_header(const char *path, const char *text, size_t len, rs__npy_header *h) {
  rs__cursor c = {text, text + len};
  bool have_descr = false, have_fortran = false, have_shape = false;
  rs__skip_ws(&c);
  if (c.p >= c.end || *c.p != '{') return rs__hdr_err(path, "no '{'");
  c.p++;
  for (;;) {
    rs__skip_ws(&c);
    if (c.p < c.end && *c.p == '}') {
      c.p++;
      break;
    }
    char key[32];
    if (!rs__string(&c, key, sizeof key)) return rs__hdr_err(path, "a key is not a quoted name");
    rs__skip_ws(&c);
    if (c.p >= c.end || *c.p != ':') return rs__hdr_err(path, "no ':' after a key");
    c.p++;
    rs__skip_ws(&c);
    if (strcmp(key, "descr") == 0) {
      if (c.p < c.end && *c.p == '[')
        return rs_error(RS_EDATA, "%s: structured dtype (record fields) is not supported "
                        "(expected a plain numeric array)", path);
      if (!rs__string(&c, h->descr, sizeof h->descr))
        return rs__hdr_err(path, "'descr' is not a short quoted type string");
      have_descr = true;
    } else if (strcmp(key, "fortran_order") == 0) {
      if (rs__word(&c, "True")) h->fortran = true;
      else if (rs__word(&c, "False")) h->fortran = false;
      else return rs__hdr_err(path, "'fortran_order' is neither True nor False");
      have_fortran = true;
    } else if (strcmp(key, "shape") == 0) {
      if (c.p >= c.end || *c.p != '(') return rs__hdr_err(path, "'shape' is not a tuple");
      c.p++;
      h->ndim = 0;
      for (;;) {
        rs__skip_ws(&c);
        if (c.p < c.end && *c.p == ')') {
          c.p++;
          break;
        }
        if (c.p >= c.end || *c.p < '0' || *c.p > '9')
          return rs__hdr_err(path, "'shape' holds something other than sizes");
        int64_t v = 0;
        while (c.p < c.end && *c.p >= '0' && *c.p <= '9') {
          if (v > (INT64_MAX - 9) / 10) return rs__hdr_err(path, "a size in 'shape' overflows");
          v = v * 10 + (*c.p++ - '0');
        }
        if (c.p < c.end && *c.p == 'L') c.p++; /* Python 2 long */
        if (h->ndim == RS__NPY_MAX_DIMS)
          return rs_error(RS_EDATA, "%s: more than %d dimensions (expected at most %d)", path,
                          RS__NPY_MAX_DIMS, RS__NPY_MAX_DIMS);
        h->shape[h->ndim++] = v;
        rs__skip_ws(&c);
        if (c.p < c.end && *c.p == ',') c.p++;
        else if (c.p < c.end && *c.p == ')') continue;
        else return rs__hdr_err(path, "'shape' is not a tuple of sizes");
      }
      have_shape = true;
    } else {
      char what[96];
      snprintf(what, sizeof what, "unknown key '%s'", key);
      return rs__hdr_err(path, what);
    }
    rs__skip_ws(&c);
    if (c.p < c.end && *c.p == ',') c.p++;
    else if (!(c.p < c.end && *c.p == '}')) return rs__hdr_err(path, "entries not separated by ','");
  }
  rs__skip_ws(&c);
  if (c.p != c.end) return rs__hdr_err(path, "text after the closing '}'");
  if (!have_descr || !have_fortran || !have_shape)
    return rs__hdr_err(path, !have_descr     ? "no 'descr'"
                             : !have_fortran ? "no 'fortran_order'"
                                             : "no 'shape'");
  return RS_OK;
}

/* '<f4' -> kind 'f', size 4, swap if the order is not the machine's. */
static int rs__parse_descr(const char *path, const char *d, char *kind, int *size, bool *swap) {
  char order = d[0];
  const char *expect = "expected uint8, float32 or float64 inputs; integer or float labels";
  if (strchr("<>|=", order) == NULL || d[1] == '\0')
    return rs_error(RS_EDATA, "%s: dtype '%s' is not a simple type string (%s)", path, d,
                    expect);
  char k = d[1];
  char *end = NULL;
  long sz = strtol(d + 2, &end, 10);
  if (k == 'O')
    return rs_error(RS_EDATA, "%s: dtype '%s' holds Python objects, which only Python can "
                    "read (%s)", path, d, expect);
  if (end == d + 2 || *end != '\0' ||
      (!((k == 'u' || k == 'i') && (sz == 1 || sz == 2 || sz == 4 || sz == 8)) &&
       !(k == 'f' && (sz == 4 || sz == 8))))
    return rs_error(RS_EDATA, "%s: dtype '%s' is not supported (%s)", path, d, expect);
  *kind = k;
  *size = (int)sz;
  bool little = rs__host_little();
  *swap = sz > 1 && ((order == '<' && !little) || (order == '>' && little));
  return RS_OK;
}

static void rs__swap(unsigned char *p, size_t count, int size) {
  for (size_t i = 0; i < count; i++, p += size)
    for (int a = 0, b = size - 1; a < b; a++, b--) {
      unsigned char t = p[a];
      p[a] = p[b];
      p[b] = t;
    }
}

static int rs__check_finite(const char *path, const rs__idx_buf *b) {
  size_t total = (size_t)(b->n * b->itemsize);
  for (size_t k = 0; k < total; k++) {
    double v = b->elemsize == 4 ? (double)((const float *)(void *)b->bytes)[k]
                                : ((const double *)(void *)b->bytes)[k];
    if (!isfinite(v))
      return rs_error(RS_EDATA, "%s: value %zu (example %lld, entry %lld) is %s (expected "
                      "finite numbers)", path, k, (long long)(k / (size_t)b->itemsize),
                      (long long)(k % (size_t)b->itemsize), isnan(v) ? "NaN" : "infinite");
  }
  return RS_OK;
}

/* The preamble: the magic, the format version and the header's length
 * (hlen_bytes: the size of that length's field). */
static int rs__npy_preamble(const char *path, int fd, size_t *hlen_bytes, size_t *hlen) {
  unsigned char pre[12];
  int64_t got = rs__read_full(fd, pre, 8);
  if (got < 0) return rs_error(RS_EDATA, "%s: cannot read: %s", path, strerror(errno));
  if (got < 8 || memcmp(pre, "\x93NUMPY", 6) != 0) {
    const char *hint = got >= 2 && pre[0] == 0x1f && pre[1] == 0x8b
                           ? "; it is gzip data, perhaps an IDX file for data.kind idx"
                       : got >= 4 && pre[0] == 0 && pre[1] == 0 && pre[2] == 0x08
                           ? "; it looks like an IDX file, for data.kind idx"
                       : got >= 2 && pre[0] == 'P' && pre[1] == 'K'
                           ? "; it is a zip archive, perhaps an .npz: save each array "
                             "with numpy.save"
                           : "";
    return rs_error(RS_EDATA, "%s: not a .npy file: %s (expected the magic \\x93NUMPY%s)", path,
                    got < 8 ? "shorter than the 8-byte preamble" : "bad magic", hint);
  }
  int major = pre[6], minor = pre[7];
  *hlen_bytes = major == 1 ? 2 : 4;
  if ((major != 1 && major != 2 && major != 3) || minor != 0)
    return rs_error(RS_EDATA, "%s: .npy format version %d.%d is not supported (expected 1.0, "
                    "2.0 or 3.0)", path, major, minor);
  got = rs__read_full(fd, pre + 8, *hlen_bytes);
  if (got != (int64_t)*hlen_bytes)
    return rs_error(RS_EDATA, "%s: truncated header: no header length (%s)", path,
                    RS__NPY_EXPECT);
  *hlen = pre[8] | (size_t)pre[9] << 8;
  if (*hlen_bytes == 4) *hlen |= (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
  if (*hlen == 0 || *hlen > RS__NPY_MAX_HEADER)
    return rs_error(RS_EDATA, "%s: header length %zu (expected 1 to %d bytes, %s)", path, *hlen,
                    RS__NPY_MAX_HEADER, RS__NPY_EXPECT);
  return RS_OK;
}

/* The header's text (hlen bytes), read and parsed into h. */
static int rs__npy_header_read(const char *path, int fd, size_t hlen, rs__npy_header *h) {
  char *text = malloc(hlen + 1);
  if (text == NULL) return rs_error(RS_ENOMEM, "%s: out of memory for the header", path);
  int err = RS_OK;
  int64_t got = rs__read_full(fd, text, hlen);
  if (got != (int64_t)hlen) {
    err = rs_error(RS_EDATA, "%s: truncated header: %lld of %zu bytes (%s)", path,
                   got < 0 ? 0LL : (long long)got, hlen, RS__NPY_EXPECT);
    goto done;
  }
  text[hlen] = '\0';
  RS_TRY(err, rs__parse_header(path, text, hlen, h), done);
done:
  free(text);
  return err;
}

/* The array's layout: C order, at least one dimension, every size in
 * 1..2^31-1; *n examples of *per values each, of size bytes. */
static int rs__npy_shape(const char *path, const rs__npy_header *h, int size, int64_t *n,
                         int64_t *per) {
  if (h->fortran && h->ndim > 1)
    return rs_error(RS_EDATA, "%s: fortran_order is True (expected C order: save "
                    "numpy.ascontiguousarray(a))", path);
  if (h->ndim == 0)
    return rs_error(RS_EDATA, "%s: a 0-dimensional array (expected examples along the first "
                    "dimension)", path);
  *per = 1;
  for (int i = 0; i < h->ndim; i++) {
    if (h->shape[i] <= 0 || h->shape[i] > INT32_MAX)
      return rs_error(RS_EDATA, "%s: dimension %d is %lld (expected a size between 1 and "
                      "2^31-1)", path, i, (long long)h->shape[i]);
    if (i > 0) {
      if (*per > INT32_MAX / h->shape[i])
        return rs_error(RS_EDATA, "%s: more than 2^31-1 values per example (expected a "
                        "plausible shape)", path);
      *per *= h->shape[i];
    }
  }
  *n = h->shape[0];
  if (*n > (INT64_MAX / size) / *per)
    return rs_error(RS_EDATA, "%s: %lld examples of %lld values is too large", path,
                    (long long)*n, (long long)*per);
  return RS_OK;
}

/* The data after the header (start bytes into the file): exactly n x per
 * values of size bytes, into b->bytes. */
static int rs__npy_data_read(const char *path, int fd, off_t start, const rs__npy_header *h,
                             int64_t n, int64_t per, int size, rs__idx_buf *b) {
  size_t total = (size_t)(n * per * size);
  /* The stat size bounds the allocation: a header claiming terabytes gives
   * "truncated", not an allocation failure. */
  struct stat st;
  off_t have_bytes = fstat(fd, &st) == 0 ? st.st_size : 0;
  if (have_bytes - start < (off_t)total)
    return rs_error(RS_EDATA, "%s: truncated data: %lld of %zu bytes after the header "
                    "(expected %lld x %lld values of %d bytes, dtype %s)", path,
                    (long long)(have_bytes > start ? have_bytes - start : 0), total,
                    (long long)n, (long long)per, size, h->descr);
  b->bytes = malloc(total);
  if (b->bytes == NULL)
    return rs_error(RS_ENOMEM, "%s: out of memory reading %zu bytes", path, total);
  int64_t got = rs__read_full(fd, b->bytes, total);
  if (got != (int64_t)total)
    return rs_error(RS_EDATA, "%s: truncated data: %lld of %zu bytes after the header%s%s",
                    path, got < 0 ? 0LL : (long long)got, total, got < 0 ? ": " : "",
                    got < 0 ? strerror(errno) : "");
  unsigned char extra;
  got = rs__read_full(fd, &extra, 1);
  if (got != 0)
    return rs_error(RS_EDATA, "%s: trailing bytes after %lld x %lld values (expected exactly "
                    "the data the header describes)", path, (long long)n, (long long)per);
  return RS_OK;
}

static int rs__npy_decode(const char *path, int fd, int tag, rs__idx_buf *b) {
  (void)tag;
  int err = RS_OK;
  size_t hlen_bytes = 0, hlen = 0;
  RS_TRY(err, rs__npy_preamble(path, fd, &hlen_bytes, &hlen), done);
  rs__npy_header h = {0};
  RS_TRY(err, rs__npy_header_read(path, fd, hlen, &h), done);
  char kind = 0;
  int size = 1;
  bool swap = false;
  RS_TRY(err, rs__parse_descr(path, h.descr, &kind, &size, &swap), done);
  int64_t n = 0, per = 1;
  RS_TRY(err, rs__npy_shape(path, &h, size, &n, &per), done);
  RS_TRY(err, rs__npy_data_read(path, fd, (off_t)(8 + hlen_bytes + hlen), &h, n, per, size, b),
         done);
  if (swap) rs__swap(b->bytes, (size_t)(n * per), size);
  b->n = n;
  b->itemsize = per;
  b->dtype = kind;
  b->elemsize = size;
  b->ndim = h.ndim;
  memcpy(b->shape, h.shape, sizeof h.shape);
  snprintf(b->descr, sizeof b->descr, "%s", h.descr);
  if (kind == 'f') err = rs__check_finite(path, b);
done:
  close(fd);
  return err;
}

int rs__npy_get(const char *path, rs__idx_buf **out) {
  return rs__data_get(path, ".npy", RS__NPY_TAG, rs__npy_decode, out);
}
