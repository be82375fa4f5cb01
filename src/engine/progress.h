/* Private to src/engine: rank 0's view of the sweep's progress (runs,
 * checkpoints, steps), the ETA's cost model, the progress line and the
 * status file it refreshes. */
#ifndef RS_PROGRESS_H
#define RS_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

#include "engine_internal.h"

/* ---- the ETA: a cost model of the remaining work, calibrated online ----
 * Remaining work = for every unfinished run, steps left x seconds per step
 * + points left to measure x seconds per point + checkpoints left x seconds
 * of a checkpoint's metrics, each rate that of the run's shape (runs of equal
 * parameters, batch, points, layers and precision share it). Rates start from
 * the plan's model (rs_config_cost) and become the measured compute seconds
 * per unit as workers report them (recent work weighted most, RS__COST_TAU);
 * a shape not yet seen uses its prior scaled by what the seen shapes ran at
 * relative to theirs. The sum is divided over the workers, but is never less
 * than the longest single run's remaining training. */
enum { RS__COST_STEP, RS__COST_POINT, RS__COST_CKPT, RS__NCOST };
#define RS__COST_TAU 120.0
typedef struct {
  int64_t nparams, batch, npoints, nlayers, prec;
  double secs[RS__NCOST], cpu[RS__NCOST], units[RS__NCOST], prior[RS__NCOST];
} rs__shape;

struct rs__progress {
  double t_start, t_last_print, t_last_status;
  bool status_failing; /* the last status write failed (said once, not every tick) */
  int64_t steps_total, steps_at_start;
  int64_t *run_step; /* current step per run */
  int64_t ckpts_total, ckpts_done, ckpts_at_start;
  int runs_total, runs_done, runs_training;
  double rate; /* steps per second, smoothed */
  int64_t rate_steps;
  double rate_t;
  rs__shape *shape;  /* the cost model: per run shape, compute seconds and units seen */
  int *shape_of;     /* per run */
  int nshape;
  int64_t *pts_left; /* per run: evaluation points still to measure */
  int64_t *ck_left;  /* per run: checkpoints whose metrics are still to compute */
  double cpu_sum[RS__NCOST]; /* CPU seconds of all workers by kind, this invocation */
};

/* Counts what the masks say is done and sets up the cost model (rank 0). */
int rs__progress_init(rs__engine *E, rs__progress *P);
void rs__progress_free(rs__progress *P);
/* kind's compute seconds (wall and CPU) for `units` units of run r. */
void rs__cost_add(rs__progress *P, int r, int kind, double secs, double cpu, double units);
/* Seconds left: the remaining work over the workers (-1: unknown). */
double rs__eta(const rs__engine *E, const rs__progress *P);
/* A checkpoint's metrics are written: one fewer left for the ETA. */
void rs__progress_metrics_done(rs__engine *E, rs__progress *P, int r, int c);
/* Where a resumed trainer really restarted: not counted as progress. */
void rs__progress_resumed(rs__progress *P, int r, int64_t step);
/* Run r is finished: counted, and its steps all done. */
void rs__progress_run_done(rs__engine *E, rs__progress *P, int r);
/* The progress line (every progress_every seconds unless quiet) and the
 * status file (every RS__STATUS_EVERY seconds); force: both now. */
void rs__progress_tick(const rs__engine *E, rs__progress *P, bool force, const char *state);
/* Is a tick due (the dispatcher's idle loop)? */
bool rs__progress_due(const rs__engine *E, const rs__progress *P);

#endif
