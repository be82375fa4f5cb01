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

/* Estimated bytes of the job's archive (raw data of every dataset at the
 * padded dimensions; HDF5's metadata adds well under 1 MB). The exact figure
 * is checked against the free space when `run` creates the archive. */
int64_t rs_job_archive_bytes(const rs_job *job);

/* The key reference (key, type, default, allowed values, meaning) as a
 * Markdown table generated from the key table. Returns RS_OK or RS_EIO. */
int rs_job_describe_keys(FILE *out);

#endif
