/* Shared by the engine's tests: an engine state (rs__engine) over a job given
 * as YAML text, with run shapes set by hand (no data set, trainer or
 * archive), so the queue, the cost model and the dispatcher run alone. */
#ifndef ENGINE_FIXTURE_H
#define ENGINE_FIXTURE_H

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "ranksweep/rs_config.h"
#include "ranksweep/rs_error.h"
#include "ranksweep/rs_job.h"
#include "src/engine/engine_internal.h"

/* A grid of `runs` runs (seeds 1..runs) of 600 steps, a log schedule of 5
 * checkpoints and `points` evaluation points. */
static inline char *fx_job_text(int runs, int points) {
  static char text[2048];
  char seeds[512] = "";
  for (int r = 0; r < runs; r++)
    snprintf(seeds + strlen(seeds), sizeof seeds - strlen(seeds), "%s%d", r ? ", " : "", r + 1);
  snprintf(text, sizeof text,
           "name: engine-test\nseed: 3\n"
           "data: {kind: gaussian_mixture, dim: 6, classes: 2, train_size: 64, heldout_size: 64}\n"
           "model: {widths: [8, 8]}\n"
           "train: {optimizer: sgd, lr: 0.01, batch: 16, steps: 600}\n"
           "measure: {schedule: log, log_points: 5, points: %d, shard: 8}\n"
           "grid: {seed: [%s]}\n",
           points, seeds);
  return text;
}

/* E over the job: every run with `points` points, nparams_of(r) parameters,
 * its checkpoint steps, empty masks; shard points per shard. */
static inline void fx_engine(rs__engine *E, rs_sweep_opts *o, rs_job **job, int runs,
                             int points, int shard, MPI_Comm comm, int rank, int size) {
  const char *text = fx_job_text(runs, points);
  ck_assert_int_eq(rs_job_parse(text, strlen(text), "engine-test.yaml", job), RS_OK);
  memset(E, 0, sizeof *E);
  *E = (rs__engine){.comm = comm, .rank = rank, .size = size, .job = *job, .o = o,
                    .nruns = rs_job_nruns(*job), .shard = shard};
  ck_assert_int_eq(E->nruns, runs);
  E->runs = calloc((size_t)runs, sizeof *E->runs);
  E->steps = calloc((size_t)runs, sizeof *E->steps);
  E->maxc = E->maxs = 1;
  for (int r = 0; r < runs; r++) {
    const rs_config *cfg = rs_job_run(*job, r);
    int n = rs_config_checkpoints(cfg, NULL, 0);
    E->steps[r] = calloc((size_t)n, sizeof **E->steps);
    rs_config_checkpoints(cfg, E->steps[r], n);
    E->runs[r] = (rs_archive_run){.nckpt = n, .ckpt_steps = E->steps[r], .nlayers = 2,
                                  .npoints = points, .nparams = 10 + r % 3};
    if (n > E->maxc) E->maxc = n;
    if (rs__nshards(E, r) > E->maxs) E->maxs = rs__nshards(E, r);
  }
  size_t nrc = (size_t)runs * E->maxc;
  E->mask_shard = calloc(nrc * E->maxs, 1);
  E->mask_metrics = calloc(nrc, 1);
  E->mask_run = calloc((size_t)runs, 1);
}

#endif
