/* `plan`'s calibration on this machine (plan_probe.c): times a few training
 * steps, two points' local rank and one checkpoint's metrics of each distinct
 * run shape and scales the plan's three modelled costs by what it measured. */
#ifndef RS_CLI_PLAN_PROBE_H
#define RS_CLI_PLAN_PROBE_H

#include <stdio.h>

#include "ranksweep/rs_job.h"

#define RS_PLAN_PROBE_MAX 64

/* The three costs of rs_run_cost, in that order. */
enum { RS_PROBE_STEP, RS_PROBE_POINT, RS_PROBE_CKPT, RS_PROBE_COSTS };

typedef struct {
  rs_run_cost model; /* the shape's modelled costs (its key) */
  /* measured here / modelled: CPU seconds of a training step, of one
   * evaluation point's local rank (its share of the weight factorisations
   * included), of one checkpoint's metrics at the run's data sizes; 0: not
   * timed; -1 (all three): a small shape, the model as it is */
  double factor[RS_PROBE_COSTS];
} rs_plan_probe_entry;

typedef struct {
  rs_plan_probe_entry e[RS_PLAN_PROBE_MAX];
  int n, nmeasured;
  double spent; /* CPU seconds spent timing */
} rs_plan_probe;

/* rs_plan_opts.calibrate: ctx is an rs_plan_probe, zeroed before the plan. */
int rs_plan_probe_calibrate(void *ctx, const rs_config *c, const rs_run_io *io, rs_run_cost *k);
/* One paragraph on what was measured (nothing when no run was seen). */
void rs_plan_probe_print(const rs_plan_probe *p, FILE *out);

#endif
