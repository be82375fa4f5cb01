/* Private to src/engine: the engine's shared state (rs__engine), the geometry
 * of runs, checkpoints and shards over it, the clocks, the drain flag's
 * accessors, and the entry points the engine's files call in one another.
 * The message protocol is in protocol.h, the task queue in queue.h, progress
 * and the ETA's cost model in progress.h. */
#ifndef RS_ENGINE_INTERNAL_H
#define RS_ENGINE_INTERNAL_H

#include <mpi.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ranksweep/rs_archive.h"
#include "ranksweep/rs_data.h"
#include "ranksweep/rs_measure.h"
#include "ranksweep/rs_sweep.h"
#include "src/core/comm.h" /* rs__fatal_mpi, rs_comm_agree */

/* ---- signals.c: the flag the handlers set ---- */
void rs__drain_set(void);
void rs__drain_clear(void); /* tests only: a new sweep in the same process */

/* ---- clocks (runs.c) ---- */
/* Process CPU seconds: what one uncontended core would have spent (the plan's
 * calibration); wall seconds (rs__now) drive the ETA. */
double rs__cpu(void);
double rs__now(void);
void rs__sleep_us(long us);

/* ---- the engine's shared state ---- */
/* The kinds of work of `run --profile` (sweep.c prints them). */
enum {
  RS__PROF_TRAIN,    /* training steps, products included */
  RS__PROF_MEASURE,  /* local ranks of evaluation points */
  RS__PROF_METRICS,  /* checkpoint metrics */
  RS__PROF_ARCHIVE,  /* archive writes, finalize and close */
  RS__PROF_SPECTRUM, /* the spectrum pass (its own reads and writes included) */
  RS__NPROF
};

typedef struct {
  int run;
  rs_dataset *data;
  uint64_t used;
} rs__ctx;

#define RS__NCTX 4

typedef struct rs__engine {
  MPI_Comm comm;
  int rank, size;
  const rs_job *job;
  const rs_sweep_opts *o;
  rs_archive *ar;
  int nruns;
  rs_archive_run *runs;
  int64_t **steps;       /* checkpoint steps per run */
  char *gemm;            /* rank 0: training-product backend per run (provenance) */
  char *fp_state;        /* rank 0: floating-point state per run (provenance) */
  int shard;             /* points per shard */
  int maxc, maxs;        /* checkpoint and shard maxima (mask strides) */
  uint8_t *mask_shard;   /* [r][c][s], rank 0 (and serial) */
  uint8_t *mask_metrics; /* [r][c] */
  uint8_t *mask_run;     /* [r] */
  rs__ctx ctx[RS__NCTX]; /* data sets of the last runs seen, least recently used replaced */
  uint64_t ctx_clock;
  /* the measurement plan of the last (run, checkpoint) seen: the weight
   * factorisations are done once per checkpoint, not once per shard */
  rs_lr_plan *plan;
  double *plan_params;
  int64_t plan_cap;
  int plan_run, plan_ckpt;
  /* buffers for one shard's results */
  int32_t *counts;
  double *spectra, *effrank, *stablerank;
  size_t cap_counts, cap_spectra, cap_pl;
  /* rank 0: checkpoint weights sent to and received from workers (bytes) */
  int64_t wbytes_out, wbytes_in;
  /* a trainer: the checkpoint it handed off and has not heard is measured
   * (-1: none). Until then it persists no newer training state, so the
   * newest state stays at or before that checkpoint (the resume point). */
  int pending_run, pending_ckpt;
  bool save_now; /* the pending checkpoint was measured: persist a state */
  /* a worker: compute seconds and units not yet reported to rank 0 */
  double acc_train_s, acc_ck_s, acc_train_c, acc_ck_c;
  int64_t acc_train_n;
  /* this rank's CPU seconds by kind of work over the whole sweep (the
   * training products' share of training from their share of its wall time,
   * as their clock is a wall clock); `run --profile` sums and prints them */
  double prof[RS__NPROF];
  double prof_train_wall, prof_products_wall, prof_products_flops;
  /* RANKSWEEP_TRACE_TRAIN=FILE (NULL when unset): every trainer appends
   * "start RUN STEP" where training (re)starts and "at RUN STEP" after each
   * chunk, one write per line (O_APPEND), so a test can count the steps a
   * kill made it retrain. */
  FILE *trace;
} rs__engine;

/* Adds the CPU seconds since c0 to kind k of the profile; returns the clock now. */
static inline double rs__prof_add(rs__engine *E, int k, double c0) {
  double c = rs__cpu();
  E->prof[k] += c - c0;
  return c;
}

/* ---- runs.c: runs, checkpoints and shards ---- */
bool rs__in_slice(const rs__engine *E, int r);
int rs__nshards(const rs__engine *E, int r);
/* The first evaluation point of shard s of run r. */
int rs__shard_first(const rs__engine *E, int r, int s);
/* Points in shard s of run r (the last shard may be short). */
int rs__shard_points(const rs__engine *E, int r, int s);
uint8_t *rs__mshard(rs__engine *E, int r, int c, int s);
uint8_t *rs__mmetrics(rs__engine *E, int r, int c);
bool rs__ckpt_complete(rs__engine *E, int r, int c);
/* The first checkpoint not yet complete: training resumes at or before it. */
int64_t rs__resume_step(rs__engine *E, int r);
/* Every run of this slice is done. */
bool rs__all_done(const rs__engine *E);
/* The data set of a run, from the small cache of the last runs seen. */
int rs__dataset(rs__engine *E, int run, rs_dataset **out);
/* Collective: rank 0 describes every run's shape (building its trainer to
 * check it), everyone receives the shapes and checkpoint steps. */
int rs__describe_runs(rs__engine *E);
/* Frees what rs__describe_runs, the masks, the data sets and the
 * measurement buffers hold. */
void rs__engine_free(rs__engine *E);

/* ---- train.c: training and measuring (worker ranks and serial mode) ---- */
/* What a trainer does at its protocol points: serial mode and a worker rank
 * differ only here (ctx is theirs). Any but checkpoint may be NULL. */
typedef struct {
  void *ctx;
  /* after every chunk of steps, before the periodic state (a worker takes
   * rank 0's checkpoint-done notices) */
  int (*chunk)(void *ctx, rs__engine *E);
  /* training is at `step` (resumed: where a resume really restarted) */
  int (*progress)(void *ctx, rs__engine *E, int run, int64_t step, bool resumed);
  /* is a drain requested? */
  int (*drain)(void *ctx, rs__engine *E, bool *yes);
  /* checkpoint ckpt reached, its metrics written: have it measured */
  int (*checkpoint)(void *ctx, rs__engine *E, int run, int ckpt, int64_t step,
                    const double *params, int64_t n);
} rs__trainer_hooks;

/* Trains run `run` from the newest persisted state at or before
 * resume_max_step, handing every checkpoint from there on to
 * hooks->checkpoint. Sets *drained when it stopped early on a drain request
 * (its state persisted first). */
int rs__train_run(rs__engine *E, int run, int64_t resume_max_step, const rs__trainer_hooks *h,
                  bool *diverged, bool *drained, int64_t *last_step);
/* Measures shard `shard` of checkpoint ckpt of run `run` and writes it.
 * params: the checkpoint's weights, or NULL when this rank measured an
 * earlier shard of the same checkpoint (its plan still holds them). */
int rs__measure_shard(rs__engine *E, int run, int ckpt, int shard, const double *params);

/* What the dispatcher and serial mode do when a run is finished (trained and
 * all its checkpoints measured): the orchestration marks it in the archive. */
typedef struct {
  void *ctx;
  int (*run_done)(void *ctx, int run, bool diverged, int64_t last_step);
} rs__done_hook;

typedef struct rs__progress rs__progress; /* progress.h */

/* ---- worker.c: a worker rank asks rank 0 for tasks until told to stop ---- */
int rs__worker(rs__engine *E);
/* ---- dispatcher.c (rank 0 with workers) ---- */
/* Hands out every task of this slice; *complete when all runs are done. */
int rs__dispatch(rs__engine *E, rs__progress *P, const rs__done_hook *done, bool *complete);
/* Answers each worker's first request with "stop" (rank 0 could not start
 * the dispatcher: the workers must not wait for it forever). */
int rs__stop_workers(rs__engine *E);
/* --bench-dispatch: hands out ntasks empty tasks and prints the rate. */
int rs__bench_dispatch(rs__engine *E, int ntasks);
/* ---- serial.c (one rank): trains and measures everything inline ---- */
int rs__serial(rs__engine *E, rs__progress *P, const rs__done_hook *done, bool *complete);

#endif
