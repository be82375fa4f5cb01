/* Data sets: synthetic generators, MNIST-format IDX files and NumPy .npy
 * arrays, drawn from the
 * run's own random streams so a run's data depend only on its configuration. */
#ifndef RS_DATA_H
#define RS_DATA_H

#include "ranksweep/rs_config.h"

typedef struct {
  int dim;            /* input dimension d0 */
  int outputs;        /* classes (classification) or target dimension */
  bool classification;
  int ntrain, nheld, neval;
  double *xtrain;     /* ntrain x dim, row-major */
  int *ltrain;        /* labels (classification) or NULL */
  double *ytrain;     /* ntrain x outputs targets (regression) or NULL */
  double *xheld;      /* nheld x dim held-out set (loss/accuracy) */
  int *lheld;
  double *yheld;
  double *xeval;      /* neval x dim: the local-rank evaluation points, a
                         fixed subset of the held-out set (RS_STREAM_EVAL) */
  int64_t *eval_index;/* their indices into the held-out set */
} rs_dataset;

/* Builds the data set of one run (cfg->data, cfg->seed, cfg->measure.points).
 * Errors (missing file, bad magic, truncated, count mismatch, too few images,
 * a bad .npy header or dtype, labels out of range, NaN)
 * return RS_EDATA with a one-line message naming the file and the problem. */
int rs_dataset_create(const rs_config *cfg, rs_dataset **out);
void rs_dataset_destroy(rs_dataset **d);

/* Reads an IDX file (gzip or raw, detected from the content). Returns the
 * dimensions (n, and for images rows*cols) and the raw bytes (malloc'd). */
int rs_idx_read(const char *path, int expect_ndim, int64_t *n, int64_t *itemsize,
                unsigned char **bytes);
/* rs_dataset_create keeps the IDX files it decodes in a small per-process
 * cache (keyed by path, device, inode, size and mtime) so a sweep decodes
 * each file once. This frees it; datasets never point into it. */
void rs_data_cache_clear(void);
/* What fetches a data file of the shipped jobs when it is missing (the MNIST
 * digits' script, Debian's Fashion-MNIST package), as one clause for an error
 * message; NULL for any other path. */
const char *rs_data_fetch_hint(const char *path);
/* data.normalize with auto resolved: fixed for idx, per_feature for npy. */
rs_normalize rs_data_normalize_mode(const rs_config *cfg);

#endif
