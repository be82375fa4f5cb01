/* Private to src/engine: the status file next to the archive
 * (ARCHIVE.status): what rank 0 writes into it (status.c) and the rhythm
 * that `ranksweep status` (status_print.c) judges liveness by. */
#ifndef RS_STATUS_H
#define RS_STATUS_H

#include <stdint.h>

/* Seconds between status-file updates; `status` calls a sweep stale after
 * RS__STATUS_STALE_INTERVALS of them without an update (and at least a minute:
 * one long measurement on rank 0 may delay a tick). */
#define RS__STATUS_EVERY 1.0
#define RS__STATUS_STALE_INTERVALS 10
#define RS__STATUS_STALE_MIN 60.0

/* One run shape of the ETA's cost model, per kind of work (a training step,
 * an evaluation point, a checkpoint's metrics): units seen, planned seconds
 * per unit, and measured wall and CPU seconds per unit (when units > 0). */
typedef struct {
  int64_t nparams, batch, npoints;
  double units[3], planned[3], measured[3], cpu[3];
} rs__status_cost;

/* What the status file says. */
typedef struct {
  const char *state, *archive, *job;
  int runs_done, runs_total, runs_training, ranks;
  int64_t ckpts_done, ckpts_total, steps_done, steps_total, wbytes_in, wbytes_out;
  double rate, elapsed, eta;
  double cpu_sum[3]; /* CPU seconds so far of training, local ranks, checkpoint metrics */
  int ncost; /* the first 8 shapes */
  rs__status_cost cost[8];
} rs__status_info;

/* Replaces ARCHIVE.status atomically (temporary file, fsync, rename). */
int rs__status_write(const rs__status_info *s);

#endif
