/* The job module's additions to the rs_job API declared in rs_config.h: the
 * embedded default job (jobs/quick.yaml compiled in), the sweep plan and the
 * generated key reference. */
#ifndef RS_JOB_H
#define RS_JOB_H

#include <stdio.h>

#include "ranksweep/rs_config.h"

/* The exact text of jobs/quick.yaml as compiled into the library. */
const char *rs_job_default_text(void);
/* Parses the embedded default; messages name "jobs/quick.yaml (embedded)". */
int rs_job_load_default(rs_job **job);

/* Where the job came from ("jobs/x.yaml" or the origin passed to
 * rs_job_parse). */
const char *rs_job_origin(const rs_job *job);

/* Prints every run (index, name, axis values) and the totals: runs, training
 * steps, checkpoints, Jacobian SVDs, parameters and a rough one-core time
 * estimate with its assumptions. Returns RS_OK or RS_EIO. */
int rs_job_plan_print(const rs_job *job, FILE *out);

/* `plan` options: ranks > 1 adds the wall time on that many ranks (one
 * dispatcher, ranks - 1 workers) and a SLURM --time with headroom. */
typedef struct {
  int ranks;
} rs_plan_opts;
int rs_job_plan_print_opts(const rs_job *job, const rs_plan_opts *o, FILE *out);

/* Single-core seconds of one run's units of work under the plan's model,
 * calibrated on this project's machine (docs/benchmarks-plan.md): one
 * training step, one evaluation point's measurement at one checkpoint (all
 * measured layers), one checkpoint's metrics. The sweep's ETA starts here. */
typedef struct {
  double step, point, ckpt;
} rs_run_cost;
void rs_config_cost(const rs_config *c, rs_run_cost *out);

/* The key reference (key, type, default, allowed values, meaning) as a
 * Markdown table generated from the key table. Returns RS_OK or RS_EIO. */
int rs_job_describe_keys(FILE *out);

#endif
