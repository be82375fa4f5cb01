/* The job: a base configuration plus a grid of overrides that expands into
 * runs (rs_config). Parsing, the runs and axes, the embedded default job
 * (jobs/quick.yaml compiled in), the sweep plan and the generated key reference. */
#ifndef RS_JOB_H
#define RS_JOB_H

#include <stdio.h>

#include "ranksweep/rs_config.h"

/* ---- jobs ---- */
typedef struct rs_job rs_job;

/* Parses a job file. On error returns RS_EJOB with rs_error_message() set to
 * one line "FILE:LINE: KEY: what was expected". */
int rs_job_load(const char *path, rs_job **job);
/* Same from text; `origin` names the source in messages. */
int rs_job_parse(const char *text, size_t len, const char *origin, rs_job **job);
void rs_job_destroy(rs_job **job);

const char *rs_job_name(const rs_job *job);
int rs_job_nruns(const rs_job *job);
const rs_config *rs_job_run(const rs_job *job, int run);
/* "lr=0.0001,weight_decay=0.01,seed=3" (axis order; "base" for a 1-run job). */
const char *rs_job_run_name(const rs_job *job, int run);
/* Grid axes: dotted keys in file order, and each run's value as text. */
int rs_job_naxes(const rs_job *job);
const char *rs_job_axis_key(const rs_job *job, int axis);
const char *rs_job_run_value(const rs_job *job, int run, int axis);
/* The job file's exact text and its SHA-256 (64 hex characters). */
const char *rs_job_text(const rs_job *job);
const char *rs_job_hash(const rs_job *job);

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
/* Single-core seconds of one run's units of work under the plan's model,
 * calibrated on this project's machine (docs/benchmarks.md, "Plan and ETA"): one
 * training step, one evaluation point's measurement at one checkpoint (all
 * measured layers), one checkpoint's metrics. The sweep's ETA starts here. */
typedef struct {
  double step, point, ckpt;
} rs_run_cost;
void rs_config_cost(const rs_config *c, rs_run_cost *out);
/* The same with the run's data dimensions (NULL: rs_config_io's estimate). */
void rs_config_cost_io(const rs_config *c, const rs_run_io *io, rs_run_cost *out);

/* `plan` options: ranks > 1 adds the wall time on that many ranks (one
 * dispatcher, ranks - 1 workers) and a SLURM --time with headroom.
 * calibrate, when set, may correct each run's modelled costs (the CLI times
 * a training step, two points' local rank and a checkpoint's metrics of
 * each run shape on the machine it runs on); it is called once per run not
 * reused, with the run's data dimensions (NULL: the estimate).
 * io, when set, gives run r's data dimensions from its data files and
 * returns true (false: unknown, the plan takes rs_config_io's estimate).
 * reused, when set, marks the runs an old archive already holds (plan
 * --reuse, named reused_from): they are listed as reused and cost nothing. */
typedef struct {
  int ranks;
  int (*calibrate)(void *ctx, const rs_config *c, const rs_run_io *io, rs_run_cost *k);
  void *calibrate_ctx;
  bool (*io)(void *ctx, int run, const rs_config *c, rs_run_io *io);
  void *io_ctx;
  const bool *reused;
  const char *reused_from;
} rs_plan_opts;
int rs_job_plan_print_opts(const rs_job *job, const rs_plan_opts *o, FILE *out);

/* The key reference (key, type, default, allowed values, meaning) as a
 * Markdown table generated from the key table. Returns RS_OK or RS_EIO. */
int rs_job_describe_keys(FILE *out);

/* ---- exact records of a run (src/job/resolved.c) ---- */

/* Every key of the key table, defaults included, one "key: value" line each
 * in table order; doubles as the shortest text that reads back exactly, strings and paths
 * quoted, lists as [a, b]. malloc'd; NULL when out of memory. */
char *rs_config_resolved_text(const rs_config *c);
/* What a path key contributes to the canonical text (e.g. the SHA-256 of the
 * file's content); NULL gives "?". */
typedef const char *(*rs_path_digest)(const char *path, void *ctx);
/* The resolved text without the keys that cannot change results (name,
 * measure.shard), each non-empty path replaced by digest(path). Runs with
 * equal canonical texts produce identical results. malloc'd. */
char *rs_config_canonical_text(const rs_config *c, rs_path_digest digest, void *ctx);

/* One key's value, typed: integers and booleans as int64, reals as double,
 * everything else (strings, paths, enums, lists) as text. */
typedef enum { RS_VALUE_INT, RS_VALUE_DOUBLE, RS_VALUE_STRING } rs_value_kind;
typedef struct {
  rs_value_kind kind;
  int64_t i;
  double d;
  char s[RS_PATH_MAX];
} rs_config_value;
int rs_config_value_get(const rs_config *c, const char *key, rs_config_value *v);

#endif
