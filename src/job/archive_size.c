/* The size of a job's archive before it exists: the padded dimensions (the
 * maxima over the job's runs) that the archive's datasets take, and the bytes
 * they add up to. The job computes it while it validates every run (its limit
 * is a job check); the plan prints it. */
#include "job_internal.h"

void rs__archive_dims_init(rs__archive_dims *d) {
  *d = (rs__archive_dims){.C = 1};
}

void rs__archive_dims_add(rs__archive_dims *d, const rs_config *c) {
  rs__archive_dims_add_io(d, c, NULL);
}

void rs__archive_dims_add_io(rs__archive_dims *d, const rs_config *c, const rs_run_io *io) {
  rs_run_shape sh;
  rs_config_shape(c, io, &sh);
  int d0 = sh.io.d0, nl = sh.nmeasured;
  const int *w = sh.widths;
  double nck = rs_config_checkpoints(c, NULL, 0), np = (double)sh.nparams;
  double es = c->train.precision == RS_PREC_FLOAT64 ? 8 : 4;
  d->runs++;
  if (nck > d->C) d->C = nck;
  if (nl > d->L) d->L = nl;
  for (int l = 0; l < nl; l++)
    if ((w[l] < d0 ? w[l] : d0) > d->K) d->K = w[l] < d0 ? w[l] : d0;
  if (c->measure.points > d->P) d->P = c->measure.points;
  if (c->measure.neps > d->E) d->E = c->measure.neps;
  if (nl + 1 > d->W) d->W = nl + 1;
  if (c->measure.save_weights != RS_SAVE_NONE && np > d->NP) d->NP = np;
  if (c->measure.save_weights == RS_SAVE_ALL) d->all = true;
  if (3 * np * es + 256 > d->SB) d->SB = 3 * np * es + 256;
}

/* Mirrors the archive's datasets (src/archive/schema.c, rs__dsets) at the
 * padded dimensions. Two figures are approximations: the training state
 * (parameters plus two optimiser moments) and the weight-norm rows (one per
 * weight layer). */
int64_t rs__archive_dims_bytes(const rs__archive_dims *d) {
  int R = d->runs;
  double C = d->C, L = d->L, P = d->P, E = d->E, K = d->K, W = d->W, NP = d->NP, SB = d->SB;
  bool all = d->all;
  double e1 = E + 1, b = 0;
  b += R * C * L * e1 * 8;                  /* lr/mean */
  b += R * C * L * P * e1 * 4;              /* lr/counts */
  b += R * C * L * P * K * 4;               /* lr/spectra */
  b += R * C * L * P * 8 * 2;               /* lr/effrank, lr/stablerank */
  b += R * C * 8 * 6;                       /* the six scalar metrics */
  b += R * C * W * 8 * 2 + R * C * W * E * 4; /* weight norms and ranks */
  b += R * NP * 8 + (all ? R * C * NP * 8 : 0); /* weights */
  b += R * 2 * SB + R * 2 * 4 * 8;          /* training states */
  b += R * C * P + R * C * 2 + R * 4 + R * 8; /* masks, run status */
  b += R * (C * 8 + 64 + L * 8 + E * 8);    /* the run tables */
  return b > (double)INT64_MAX / 2 ? INT64_MAX / 2 : (int64_t)b;
}
