/* `plan`'s calibration on this machine (plan_probe.c): times a few training
 * steps of each distinct run shape and scales the plan's modelled costs. */
#ifndef RS_CLI_PLAN_PROBE_H
#define RS_CLI_PLAN_PROBE_H

#include <stdio.h>

#include "ranksweep/rs_job.h"

#define RS_PLAN_PROBE_MAX 64

typedef struct {
  rs_run_cost model;    /* the shape's modelled costs (its key) */
  double measured_step; /* CPU seconds of one step measured here */
  double factor;        /* measured / modelled step; 0: not timed */
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
