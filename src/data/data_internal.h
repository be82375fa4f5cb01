/* Internals of the data module shared between its source files and its unit
 * tests: the data seed, the synthetic task definitions (so tests can check the
 * generated data against the task that produced it), the idx subset choice and
 * the cached IDX reader. Not part of the public API. */
#ifndef RS_DATA_INTERNAL_H
#define RS_DATA_INTERNAL_H

#include <stdint.h>

#include "ranksweep/rs_config.h"
#include "ranksweep/rs_data.h"
#include "ranksweep/rs_rng.h"

/* The seed that keys every data stream: data.seed when >= 0, else the run's. */
uint64_t rs__data_seed(const rs_config *cfg);

/* Gaussian mixture class means, classes x dim row-major, from
 * RS_STREAM_TEACHER index 0 (mean_scale * N(0,1) in row-major order). */
void rs__mixture_means(const rs_config *cfg, uint64_t seed, double *mu);

/* The random teacher of the `teacher` kind: y = W2 tanh(W1 P^T x). */
typedef struct {
  int dim, rank, width, outputs;
  double *P;  /* dim x rank, N(0, 1/dim) */
  double *W1; /* width x rank, N(0, 1/rank) */
  double *W2; /* outputs x width, N(0, 1/width) */
} rs__teacher;

int rs__teacher_create(const rs_config *cfg, uint64_t seed, rs__teacher **out);
void rs__teacher_destroy(rs__teacher **t);
/* y (outputs) = f(P^T x) without noise. work: rank + width doubles. */
void rs__teacher_eval(const rs__teacher *t, const double *x, double *y,
                      double *work);

/* Generates the train and held-out sets of a synthetic kind into d, whose
 * arrays are already allocated for d->ntrain and d->nheld samples. */
int rs__synthetic_fill(const rs_config *cfg, uint64_t seed, rs_dataset *d);

/* idx subset choice from RS_STREAM_DATA index 2. separate == 0: one file of
 * navail items holds both sets; a permutation of 0..navail-1 gives train =
 * its first ntrain entries and held = the next nheld. separate != 0: train is
 * the first ntrain of a permutation of 0..navail-1, then held is the first
 * nheld of a permutation of 0..nheld_avail-1 drawn next from the same stream.
 * Returns RS_ENOMEM or RS_OK. */
int rs__idx_subsets(uint64_t seed, int64_t navail, int separate,
                    int64_t nheld_avail, int64_t ntrain, int64_t nheld,
                    int64_t *train_idx, int64_t *held_idx);

#define RS__NPY_MAX_DIMS 8

/* A decoded IDX or .npy file shared between the cache and its users. Values
 * are stored in the machine's byte order, C order, example-major. */
typedef struct {
  int refs; /* guarded by the cache lock */
  int64_t n, itemsize;  /* examples (first dimension), values per example */
  unsigned char *bytes; /* n * itemsize values of elemsize bytes, read-only once published */
  char dtype;           /* 'u' unsigned integer, 'i' signed integer, 'f' IEEE float */
  int elemsize;         /* bytes per value (IDX: 1) */
  int ndim;             /* dimensions of the stored array, shape[0] == n */
  int64_t shape[RS__NPY_MAX_DIMS];
  char descr[16];       /* .npy: the dtype as written, e.g. "<f4"; IDX: "u1" */
  /* Input statistics over every example of the file (uint8 values as v/255),
   * for the global and per_feature normalisations: NULL until rs__data_stats. */
  double gmean, gstd;
  double *fmean, *fstd; /* itemsize each */
} rs__idx_buf;

/* rs_idx_read, but repeated reads of an unchanged file (same path, device,
 * inode, size and mtime) are served from a small per-process cache without
 * decoding or copying. Each successful get must be paired with a put; the
 * buffer stays valid until then even if the cache is cleared meanwhile. */
int rs__idx_get(const char *path, int expect_ndim, rs__idx_buf **out);
void rs__idx_put(rs__idx_buf **b);

/* A NumPy .npy file (versions 1.0, 2.0, 3.0; C order; numeric dtypes) through
 * the same cache. Errors name the file and what was expected. */
int rs__npy_get(const char *path, rs__idx_buf **out);

/* The cache shared by both formats: tag tells formats (and IDX ranks) apart;
 * decode fills b->n, itemsize, bytes, dtype, elemsize, ndim, shape, descr
 * from an open regular file (and closes fd). */
struct stat;
typedef int (*rs__decode_fn)(const char *path, int fd, int tag, rs__idx_buf *b);
int rs__data_get(const char *path, const char *what, int tag, rs__decode_fn decode,
                 rs__idx_buf **out);
/* Fills gmean, gstd, fmean, fstd of an input file (uint8 as v/255) unless
 * already done; thread-safe on a shared buffer (the fields are written once,
 * under a lock, before any reader of them is let through). */
int rs__data_stats(const char *path, rs__idx_buf *b);

#endif
