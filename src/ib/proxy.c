/* Information proxies read off the singular values of a centred
 * representation matrix H (docs/theory.md, "Information proxies"): feature rank on the
 * per-point scale s / sqrt(N), effective rank, and the Gaussian-channel bound. */
#include "ranksweep/rs_ib.h"

#include <math.h>

#include "ranksweep/rs_measure.h"

int rs_ib_feature_rank(const double *s, int n, int64_t npoints, double eps) {
  return rs_count_above(s, n, sqrt((double)npoints), eps);
}

double rs_ib_effective_rank(const double *s, int n) {
  double sum = 0.0;
  for (int i = 0; i < n; i++) sum += fabs(s[i]);
  if (!(sum > 0.0)) return 0.0;
  double h = 0.0;
  for (int i = 0; i < n; i++) {
    double p = fabs(s[i]) / sum;
    if (p > 0.0) h -= p * log(p);
  }
  return exp(h);
}

double rs_ib_gauss_channel(const double *s, int n, int64_t npoints, double sigma) {
  double denom = (double)npoints * sigma * sigma, acc = 0.0;
  for (int i = 0; i < n; i++) acc += log1p(s[i] * s[i] / denom);
  return 0.5 * acc;
}
