/* The mean local rank of a checkpoint from its stored per-point counts: an
 * exact integer sum divided once, so the result is the same bits whoever
 * computed the counts and in whatever order they arrived. */
#include "ranksweep/rs_measure.h"

void rs_lr_mean_counts(const int32_t *counts, int nlayers, int npoints, int stride, int neps,
                       int numpy_col, double *out) {
  if (npoints <= 0) return;
  for (int l = 0; l < nlayers; l++)
    for (int e = 0; e < stride; e++) {
      if (e >= neps && e != numpy_col) continue;
      int64_t sum = 0;
      for (int p = 0; p < npoints; p++) sum += counts[((int64_t)l * npoints + p) * stride + e];
      out[(int64_t)l * stride + e] = (double)sum / (double)npoints;
    }
}
