/* The sweep engine: rank 0 expands the grid and hands out training runs and
 * evaluation-point shards; workers train replicas, measure and write their own
 * slices of the one archive. */
#ifndef RS_SWEEP_H
#define RS_SWEEP_H

#include <mpi.h>
#include <stdbool.h>
#include <stdio.h>

#include "ranksweep/rs_job.h"
#include "ranksweep/rs_error.h" /* RS_EXIT_*: rs_sweep_run returns one */


typedef struct {
  const char *archive;   /* output path */
  bool resume;           /* continue an existing archive */
  int blas_threads;      /* OpenBLAS threads per rank (default 1) */
  int shard;             /* evaluation points per shard (0: job's measure.shard or automatic) */
  int slice_index;       /* --slice I/N: this process group runs runs r with r % N == I */
  int slice_count;       /* 0: all runs */
  bool quiet;            /* no progress lines */
  double progress_every; /* seconds between progress lines (default 2) */
  int drain_signal;      /* signal that drains (default SIGUSR1); SIGTERM always drains */
  int bench_dispatch;    /* >0: hand out this many empty tasks and report the rate */
  const char *reuse;     /* --reuse OLD.h5: copy runs whose resolved configuration matches */
  bool move_aside;       /* --resume on a damaged archive: rename it aside and start anew */
  bool profile;          /* --profile: where the CPU time went, over all ranks, at the end */
} rs_sweep_opts;

void rs_sweep_opts_default(rs_sweep_opts *o);
/* Flag-only handlers for the drain signal, SIGTERM and SIGINT. Call before
 * MPI_Init so that a signal during start-up drains instead of killing. */
void rs_sweep_signals_install(int drain_signal);
bool rs_sweep_drain_requested(void);
/* Collective over comm. Returns an RS_EXIT_* code, identical on every rank:
 * rs_exit_code of the agreed error, or RS_EXIT_WORK_REMAINS when drained. */
int rs_sweep_run(MPI_Comm comm, const rs_job *job, const rs_sweep_opts *o);

/* Serial: every run's configuration hash as the archive records it
 * (runs/config_hash: the canonical configuration with data files named by
 * the SHA-256 of their content), 65 characters per run (64 hex digits and a
 * NUL) into hash; what `run --reuse` matches runs by, for `plan --reuse`. */
int rs_job_config_hashes(const rs_job *job, char *hash);

/* Status file next to the archive (ARCHIVE.status), replaced atomically. */
typedef struct {
  bool json; /* the status file itself (validated) instead of a readable summary */
} rs_status_opts;
int rs_status_print(const char *archive, const rs_status_opts *o, FILE *out);

#endif
