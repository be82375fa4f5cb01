/* The sweep: rank 0 dispatches (training runs, then evaluation-point shards of
 * each checkpoint as the weights arrive), workers train and measure, everyone
 * writes its own slices of the archive. With one rank, the same steps run
 * inline. Results never depend on who computed them or in what order. */
#include "ranksweep/rs_sweep.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ranksweep/rs_archive.h"
#include "ranksweep/rs_data.h"
#include "ranksweep/rs_error.h"
#include "ranksweep/rs_fpenv.h"
#include "ranksweep/rs_job.h"
#include "ranksweep/rs_measure.h"
#include "ranksweep/rs_model.h"
#include "ranksweep/rs_spectrum_pass.h"

#include "archive_desc.h"

void openblas_set_num_threads(int n);

/* ---- signals: the handler only sets a flag ---- */
static volatile sig_atomic_t rs__drain_flag = 0;
static void rs__on_signal(int sig) {
  (void)sig;
  rs__drain_flag = 1;
}

void rs_sweep_signals_install(int drain_signal) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = rs__on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(drain_signal > 0 ? drain_signal : SIGUSR1, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
}

bool rs_sweep_drain_requested(void) { return rs__drain_flag != 0; }

void rs_sweep_opts_default(rs_sweep_opts *o) {
  memset(o, 0, sizeof *o);
  o->blas_threads = 1;
  o->progress_every = 2.0;
  o->drain_signal = SIGUSR1;
}

/* ---- messages ---- */
/* TAG_CKPT: a trainer reached a checkpoint (kind K_NONE: asks who measures
 * it, answered by TAG_CKREPLY; kind K_SHARD: it measured the checkpoint
 * itself). TAG_CKDONE: rank 0 tells a trainer that the checkpoint it handed
 * off is measured, so its next training state may replace older ones. */
enum { TAG_REQ = 1, TAG_TASK, TAG_PARAMS, TAG_CKPT, TAG_PROGRESS, TAG_DRAIN, TAG_CKREPLY,
       TAG_CKDONE };
/* TAG_CKREPLY flags */
enum { CK_SELF = 0, CK_SEND = 1, CK_ALREADY = 2 };
enum {
  K_NONE = 0,   /* REQ: nothing completed (first request) */
  K_SHARD,      /* TASK: measure a shard / REQ: shard completed */
  K_TRAIN,      /* TASK: train a run / REQ: run trained to the end */
  K_DRAINED,    /* REQ: training stopped early on a drain request */
  K_STOP,       /* TASK: no more work, leave the loop */
  K_BENCH,      /* TASK/REQ: an empty task for the dispatcher benchmark */
  K_ERROR       /* REQ: the worker failed (message printed by the worker) */
};
typedef struct {
  int64_t kind, run, ckpt, shard, p0, np, step, flag, nparams;
  double secs; /* compute seconds behind this message (the ETA's cost model) */
  double secs2;
} rs__msg;

/* Process CPU seconds: what one uncontended core would have spent (the plan's
 * calibration); wall seconds (rs__now) drive the ETA. */
static double rs__cpu(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static double rs__now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static void rs__sleep_us(long us) {
  struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
  nanosleep(&ts, NULL);
}

/* Open MPI's blocking receive spins on a core. Idle ranks would steal the
 * cores of working ones, so waiting is a short spin then backed-off sleeps. */
static int rs__probe_sleepy(MPI_Comm comm, int src, int tag, MPI_Status *st,
                            bool stop_on_drain) {
  double t0 = rs__now();
  long nap = 20;
  for (;;) {
    int flag = 0;
    if (MPI_Iprobe(src, tag, comm, &flag, st) != MPI_SUCCESS)
      return rs_error(RS_EMPI, "MPI_Iprobe failed");
    if (flag) return RS_OK;
    if (stop_on_drain && rs__drain_flag) return RS_EINTERRUPTED;
    if (rs__now() - t0 < 2e-4) continue;
    rs__sleep_us(nap);
    if (nap < 1000) nap *= 2;
  }
}

static int rs__send(MPI_Comm comm, const rs__msg *m, int dest, int tag) {
  if (MPI_Send(m, (int)sizeof *m, MPI_BYTE, dest, tag, comm) != MPI_SUCCESS)
    return rs_error(RS_EMPI, "MPI_Send failed");
  return RS_OK;
}

/* ---- the engine's shared state ---- */
typedef struct {
  int run;
  rs_dataset *data;
  uint64_t used;
} rs__ctx;

#define RS__NCTX 4

typedef struct {
  MPI_Comm comm;
  int rank, size;
  const rs_job *job;
  const rs_sweep_opts *o;
  rs_archive *ar;
  int nruns;
  rs_archive_run *runs;
  int64_t **steps;       /* checkpoint steps per run */
  int shard;             /* points per shard */
  int maxc, maxs;        /* checkpoint and shard maxima (mask strides) */
  uint8_t *mask_shard;   /* [r][c][s], rank 0 (and serial) */
  uint8_t *mask_metrics; /* [r][c] */
  uint8_t *mask_run;     /* [r] */
  rs__ctx ctx[RS__NCTX];
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
} rs__engine;

/* RANKSWEEP_TRACE_TRAIN=FILE: every trainer appends "start RUN STEP" where
 * training (re)starts and "at RUN STEP" after each chunk, one write per line
 * (O_APPEND), so a test can count the steps a kill made it retrain. */
static FILE *rs__trace_file(void) {
  static FILE *f = NULL;
  static bool tried = false;
  if (!tried) {
    tried = true;
    const char *p = getenv("RANKSWEEP_TRACE_TRAIN");
    if (p && *p && (f = fopen(p, "a"))) setvbuf(f, NULL, _IOLBF, 0);
  }
  return f;
}

static void rs__trace(const char *what, int run, int64_t step) {
  FILE *f = rs__trace_file();
  if (f) fprintf(f, "%s %d %lld\n", what, run, (long long)step);
}

static bool rs__in_slice(const rs__engine *E, int r) {
  return E->o->slice_count <= 0 || r % E->o->slice_count == E->o->slice_index;
}

static int rs__nshards(const rs__engine *E, int r) {
  return (E->runs[r].npoints + E->shard - 1) / E->shard;
}

static uint8_t *rs__mshard(rs__engine *E, int r, int c, int s) {
  return &E->mask_shard[((size_t)r * E->maxc + c) * E->maxs + s];
}

static int rs__dataset(rs__engine *E, int run, rs_dataset **out) {
  rs__ctx *victim = &E->ctx[0];
  for (int i = 0; i < RS__NCTX; i++) {
    if (E->ctx[i].data && E->ctx[i].run == run) {
      E->ctx[i].used = ++E->ctx_clock;
      *out = E->ctx[i].data;
      return RS_OK;
    }
    if (!E->ctx[i].data || E->ctx[i].used < victim->used) victim = &E->ctx[i];
  }
  rs_dataset_destroy(&victim->data);
  RS_CALL(rs_dataset_create(rs_job_run(E->job, run), &victim->data));
  victim->run = run;
  victim->used = ++E->ctx_clock;
  *out = victim->data;
  return RS_OK;
}

/* ---- per-run shapes (rank 0 computes, everyone receives) ---- */
/* The model the trainer built has the shape rs_config_shape states, and for
 * synthetic data the data set has the dimensions the plan assumed. */
static int rs__shape_agrees(int run, const rs_config *cfg, const rs_run_shape *sh,
                            const rs_netview *v, int64_t nparams) {
  rs_run_io cio;
  rs_config_io(cfg, &cio);
  if (cfg->data.kind != RS_DATA_IDX && cfg->data.kind != RS_DATA_NPY &&
      (cio.d0 != sh->io.d0 || cio.outputs != sh->io.outputs ||
       cio.classification != sh->io.classification))
    return rs_error(RS_EINTERNAL, "run %d: the data set is %d -> %d, its configuration says "
                    "%d -> %d", run, sh->io.d0, sh->io.outputs, cio.d0, cio.outputs);
  bool same = v->nmeasure == sh->nmeasured && v->nlayers == sh->nweights &&
              v->sizes[0] == sh->io.d0 && v->sizes[v->nlayers] == sh->io.outputs &&
              nparams == sh->nparams;
  for (int l = 1; same && l <= v->nmeasure; l++) same = v->sizes[l] == sh->widths[l - 1];
  if (same) return RS_OK;
  return rs_error(RS_EINTERNAL,
                  "run %d: the model has %d measured layers and %lld parameters, its shape "
                  "%d and %lld", run, v->nmeasure, (long long)nparams, sh->nmeasured,
                  (long long)sh->nparams);
}

static int rs__describe_runs(rs__engine *E) {
  E->runs = calloc((size_t)E->nruns, sizeof *E->runs);
  E->steps = calloc((size_t)E->nruns, sizeof *E->steps);
  /* No rank returns before the agreement below: the others would wait in it. */
  int err = !E->runs || !E->steps ? rs_error(RS_ENOMEM, "out of memory") : RS_OK;
  if (E->rank == 0 && err == RS_OK) {
    for (int r = 0; r < E->nruns && err == RS_OK; r++) {
      const rs_config *cfg = rs_job_run(E->job, r);
      rs_archive_run *ri = &E->runs[r];
      int64_t tmp[1];
      int n = rs_config_checkpoints(cfg, tmp, 0);
      E->steps[r] = malloc(sizeof(int64_t) * (size_t)n);
      if (!E->steps[r]) {
        err = rs_error(RS_ENOMEM, "out of memory");
        break;
      }
      rs_config_checkpoints(cfg, E->steps[r], n);
      ri->nckpt = n;
      /* The shape comes from rs_config_shape over the data set's dimensions
       * (the plan's rule); the trainer is built to refuse a bad run before
       * anything starts and to size its state, and must agree. */
      rs_dataset *data = NULL;
      rs_trainer *t = NULL;
      rs_netview v;
      rs_run_shape sh;
      err = rs__dataset(E, r, &data);
      if (err == RS_OK) err = rs_trainer_create(cfg, data, &t);
      if (err == RS_OK) err = rs_trainer_view(t, &v);
      if (err == RS_OK) {
        rs_config_shape(cfg, &(rs_run_io){data->dim, data->outputs, data->classification}, &sh);
        err = rs__shape_agrees(r, cfg, &sh, &v, (int64_t)rs_trainer_nparams(t));
      }
      if (err == RS_OK) {
        ri->nlayers = sh.nmeasured;
        for (int l = 1; l <= sh.nmeasured; l++) {
          ri->widths[l - 1] = sh.widths[l - 1];
          ri->spec_len[l - 1] = rs_spectrum_len(&v, l);
        }
        ri->nweights = sh.nweights;
        ri->npoints = data->neval;
        ri->neps = cfg->measure.neps;
        ri->nparams = sh.nparams;
        ri->state_size = (int64_t)rs_trainer_state_size(t);
        ri->save_weights = cfg->measure.save_weights;
        /* rank 0 only (it writes the archive's run tables); freed at the end */
        int64_t *ev = malloc(sizeof *ev * (size_t)(data->neval > 0 ? data->neval : 1));
        if (ev && data->neval > 0) memcpy(ev, data->eval_index, sizeof *ev * (size_t)data->neval);
        ri->eval_index = ev;
      }
      rs_trainer_destroy(&t);
    }
  }
  /* Everyone learns whether rank 0 succeeded before any further collective. */
  int ok = err == RS_OK, all = 0;
  MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, E->comm);
  if (!all) return err != RS_OK ? err : rs_error(RS_EINTERNAL, "another rank failed to describe the runs");
  MPI_Bcast(E->runs, (int)(sizeof *E->runs * (size_t)E->nruns), MPI_BYTE, 0, E->comm);
  for (int r = 0; r < E->nruns && err == RS_OK; r++)
    if (E->rank != 0 && !(E->steps[r] = malloc(sizeof(int64_t) * (size_t)E->runs[r].nckpt)))
      err = rs_error(RS_ENOMEM, "out of memory");
  ok = err == RS_OK;
  MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, E->comm);
  if (!all) return err != RS_OK ? err : rs_error(RS_EINTERNAL, "another rank is out of memory");
  for (int r = 0; r < E->nruns; r++) {
    MPI_Bcast(E->steps[r], E->runs[r].nckpt, MPI_INT64_T, 0, E->comm);
    E->runs[r].ckpt_steps = E->steps[r];
    if (E->rank != 0) E->runs[r].eval_index = NULL;
  }
  E->maxc = E->maxs = 1;
  for (int r = 0; r < E->nruns; r++) {
    if (E->runs[r].nckpt > E->maxc) E->maxc = E->runs[r].nckpt;
    int s = rs__nshards(E, r);
    if (s > E->maxs) E->maxs = s;
  }
  return RS_OK;
}

/* ---- measurement of one shard ---- */
static int rs__measure_shard(rs__engine *E, int run, int ckpt, int shard,
                             const double *params) {
  const rs_config *cfg = rs_job_run(E->job, run);
  const rs_archive_run *ri = &E->runs[run];
  rs_dataset *data;
  /* Same floating-point state as the trainer, whichever rank measures. */
  RS_CALL(rs_fpenv_flush_denormals(cfg->train.flush_denormals));
  RS_CALL(rs__dataset(E, run, &data));
  if (!E->plan || E->plan_run != run || E->plan_ckpt != ckpt) {
    /* No weights sent: rank 0 believes this rank holds them already. */
    if (!params)
      return rs_error(RS_EINTERNAL, "rank %d: shard of run %d checkpoint %d without its weights",
                      E->rank, run, ckpt);
    rs_lr_plan_destroy(&E->plan);
    if (ri->nparams > E->plan_cap) {
      free(E->plan_params);
      E->plan_params = malloc(sizeof(double) * (size_t)ri->nparams);
      E->plan_cap = E->plan_params ? ri->nparams : 0;
      if (!E->plan_params) return rs_error(RS_ENOMEM, "out of memory for weights");
    }
    memcpy(E->plan_params, params, sizeof(double) * (size_t)ri->nparams);
    rs_netview v;
    RS_CALL(rs_netview_from_params(cfg, data, E->plan_params, &v));
    RS_CALL(rs_lr_plan_create(&v, &E->plan));
    E->plan_run = run;
    E->plan_ckpt = ckpt;
  }
  int p0 = shard * E->shard;
  int np = ri->npoints - p0 < E->shard ? ri->npoints - p0 : E->shard;
  size_t nc = (size_t)ri->nlayers * np * (ri->neps + 1);
  size_t ns = 0;
  for (int l = 0; l < ri->nlayers; l++) ns += (size_t)np * ri->spec_len[l];
  size_t npl = (size_t)ri->nlayers * np;
  if (nc > E->cap_counts) {
    free(E->counts);
    E->counts = malloc(nc * sizeof *E->counts);
    E->cap_counts = nc;
  }
  if (ns > E->cap_spectra) {
    free(E->spectra);
    E->spectra = malloc(ns * sizeof *E->spectra);
    E->cap_spectra = ns;
  }
  if (npl > E->cap_pl) {
    free(E->effrank);
    free(E->stablerank);
    E->effrank = malloc(npl * sizeof *E->effrank);
    E->stablerank = malloc(npl * sizeof *E->stablerank);
    E->cap_pl = npl;
  }
  if (!E->counts || !E->spectra || !E->effrank || !E->stablerank)
    return rs_error(RS_ENOMEM, "out of memory for a shard of %d points", np);
  rs_lr_points res = {.neps = cfg->measure.neps, .eps = cfg->measure.eps,
                      .counts = E->counts, .spectra = E->spectra,
                      .effrank = E->effrank, .stablerank = E->stablerank};
  RS_CALL(rs_lr_plan_points(E->plan, data->xeval + (size_t)p0 * data->dim, np, 1, &res));
  RS_CALL(rs_archive_write_shard(E->ar, run, ckpt, shard, p0, np, &res));
  return RS_OK;
}

/* ---- training one run ---- */
typedef int (*rs__emit_fn)(rs__engine *E, int run, int ckpt, int64_t step,
                           const double *params, int64_t n);

/* Receives a pending drain notice from rank 0, if there is one. */
static bool rs__take_drain_notice(rs__engine *E) {
  int flag = 0;
  MPI_Status st;
  MPI_Iprobe(0, TAG_DRAIN, E->comm, &flag, &st);
  if (flag) {
    rs__msg m;
    MPI_Recv(&m, (int)sizeof m, MPI_BYTE, 0, TAG_DRAIN, E->comm, MPI_STATUS_IGNORE);
  }
  return flag != 0;
}

/* Drain requests reach a worker as a signal of its own or a message. */
static bool rs__drain_requested(rs__engine *E) {
  if (rs__drain_flag) return true;
  if (E->size > 1 && E->rank != 0 && rs__take_drain_notice(E)) {
    rs__drain_flag = 1;
    return true;
  }
  return false;
}

/* Progress and the compute time behind it (rank 0 calibrates the ETA). */
static void rs__send_progress(rs__engine *E, int run, int64_t step, double *last) {
  if (E->size == 1 || E->rank == 0) return;
  double t = rs__now();
  if (t - *last < 0.5) return;
  *last = t;
  rs__msg m = {.kind = K_NONE, .run = run, .step = step, .np = E->acc_train_n,
               .secs = E->acc_train_s, .secs2 = E->acc_train_c};
  E->acc_train_n = 0;
  E->acc_train_s = E->acc_train_c = 0;
  MPI_Send(&m, (int)sizeof m, MPI_BYTE, 0, TAG_PROGRESS, E->comm);
}

/* Takes every pending checkpoint-done notice; the one for the checkpoint
 * this trainer handed off lets it persist a newer state. */
static void rs__take_ckdone(rs__engine *E) {
  for (;;) {
    int flag = 0;
    MPI_Status st;
    MPI_Iprobe(0, TAG_CKDONE, E->comm, &flag, &st);
    if (!flag) return;
    rs__msg m;
    MPI_Recv(&m, (int)sizeof m, MPI_BYTE, 0, TAG_CKDONE, E->comm, MPI_STATUS_IGNORE);
    if (m.run == E->pending_run && m.ckpt == E->pending_ckpt) {
      E->pending_run = E->pending_ckpt = -1;
      E->save_now = true;
    }
  }
}

/* Serial mode: rank 0 trains, so the progress line and the status file are
 * refreshed from inside the training loop. */
typedef struct rs__progress rs__progress;
static rs__progress *rs__serial_progress;
static void rs__serial_tick(rs__engine *E);
static void rs__serial_tick_at(rs__engine *E, int run, int64_t step);

/* Trains run `run` from the newest persisted state at or before
 * resume_max_step, emitting every checkpoint from there on. Sets *drained when
 * it stopped early on a drain request (its state persisted first). */
static int rs__train_run(rs__engine *E, int run, int64_t resume_max_step,
                         rs__emit_fn emit, bool *diverged, bool *drained,
                         int64_t *last_step) {
  const rs_config *cfg = rs_job_run(E->job, run);
  const rs_archive_run *ri = &E->runs[run];
  rs_dataset *data;
  rs_trainer *t = NULL;
  double *params = NULL;
  void *blob = NULL;
  int err = RS_OK;
  *diverged = *drained = false;
  E->pending_run = E->pending_ckpt = -1;
  E->save_now = false;
  RS_CALL(rs__dataset(E, run, &data));
  RS_CALL(rs_trainer_create(cfg, data, &t));
  params = malloc(sizeof(double) * (size_t)ri->nparams);
  blob = malloc((size_t)ri->state_size);
  if (!params || !blob) {
    err = rs_error(RS_ENOMEM, "out of memory for run %d", run);
    goto done;
  }
  if (resume_max_step > 0) {
    int64_t s = -1;
    err = rs_archive_read_state(E->ar, run, resume_max_step, &s, blob, ri->state_size);
    if (err == RS_OK && s > 0) err = rs_trainer_state_load(t, blob);
    if (err != RS_OK) goto done;
    if (E->size > 1 && E->rank != 0) {
      /* Where training really resumes: not counted as progress. */
      rs__msg m = {.kind = K_NONE, .run = run, .step = rs_trainer_step(t), .flag = 1};
      MPI_Send(&m, (int)sizeof m, MPI_BYTE, 0, TAG_PROGRESS, E->comm);
    }
  }
  rs__trace("start", run, rs_trainer_step(t));
  int64_t every = cfg->train.state_every;
  const int64_t check = 256; /* steps between drain checks */
  double last_progress = 0;
  for (int c = 0; c < ri->nckpt && err == RS_OK; c++) {
    int64_t target = E->steps[run][c];
    if (target < rs_trainer_step(t)) continue;
    while (rs_trainer_step(t) < target) {
      int64_t s = rs_trainer_step(t);
      int64_t next = target;
      if (s + check < next) next = s + check;
      if (every > 0 && (s / every + 1) * every < next) next = (s / every + 1) * every;
      double t0 = rs__now(), c0 = rs__cpu();
      if ((err = rs_trainer_run_to(t, next, diverged)) != RS_OK || *diverged) break;
      E->acc_train_s += rs__now() - t0;
      E->acc_train_c += rs__cpu() - c0;
      E->acc_train_n += next - s;
      if (E->size > 1) rs__take_ckdone(E);
      /* Periodic states, but none while a handed-off checkpoint may be
       * unmeasured: a resume restarts at or before it, and the two state
       * slots must not both move past it. */
      bool periodic = every > 0 && next % every == 0 && next != target;
      if (E->pending_run < 0 && (periodic || (every > 0 && E->save_now))) {
        E->save_now = false;
        if ((err = rs_trainer_state_save(t, blob)) != RS_OK) break;
        if ((err = rs_archive_write_state(E->ar, run, next, blob, ri->state_size)) != RS_OK) break;
      }
      rs__trace("at", run, next);
      rs__send_progress(E, run, next, &last_progress);
      if (E->size == 1 && rs__serial_progress) rs__serial_tick_at(E, run, next);
      if (rs__drain_requested(E)) {
        if ((err = rs_trainer_state_save(t, blob)) != RS_OK) break;
        err = rs_archive_write_state(E->ar, run, rs_trainer_step(t), blob, ri->state_size);
        *drained = true;
        break;
      }
    }
    if (err != RS_OK || *diverged || *drained) break;
    rs_netview v;
    bool mdone = false;
    if ((err = rs_archive_metrics_done(E->ar, run, c, &mdone)) != RS_OK) break;
    if (!mdone) {
      rs_ckpt_metrics m;
      double t0 = rs__now(), c0 = rs__cpu();
      if ((err = rs_trainer_view(t, &v)) != RS_OK) break;
      if ((err = rs_trainer_metrics(t, cfg, data, &m)) != RS_OK) break;
      if ((err = rs_archive_write_metrics(E->ar, run, c, &m)) != RS_OK) break;
      E->acc_ck_s += rs__now() - t0;
      E->acc_ck_c += rs__cpu() - c0;
    }
    rs_trainer_get_params(t, params);
    if (ri->save_weights == RS_SAVE_ALL &&
        (err = rs_archive_write_weights(E->ar, run, c, params, ri->nparams)) != RS_OK) break;
    if ((err = emit(E, run, c, target, params, ri->nparams)) != RS_OK) break;
  }
  *last_step = rs_trainer_step(t);
  if (err == RS_OK && !*drained && ri->save_weights != RS_SAVE_NONE) {
    rs_trainer_get_params(t, params);
    err = rs_archive_write_weights(E->ar, run, -1, params, ri->nparams);
  }
done:
  free(params);
  free(blob);
  rs_trainer_destroy(&t);
  if (err != RS_OK) rs__error_trace(__FILE__, __LINE__, __func__);
  return err;
}

/* The first checkpoint not yet complete: training resumes at or before it. */
static int64_t rs__resume_step(rs__engine *E, int r) {
  for (int c = 0; c < E->runs[r].nckpt; c++) {
    bool complete = E->mask_metrics[(size_t)r * E->maxc + c];
    for (int s = 0; s < rs__nshards(E, r) && complete; s++)
      complete = *rs__mshard(E, r, c, s);
    if (!complete) return E->steps[r][c];
  }
  return E->steps[r][E->runs[r].nckpt - 1];
}

/* ---- progress and status ---- */
struct rs__progress {
  double t_start, t_last_print, t_last_status;
  int64_t steps_total, steps_at_start;
  int64_t *run_step; /* current step per run */
  int64_t ckpts_total, ckpts_done, ckpts_at_start;
  int runs_total, runs_done, runs_training;
  double rate; /* steps per second, smoothed */
  int64_t rate_steps;
  double rate_t;
  /* the ETA's cost model: per run shape, compute seconds and units seen */
  struct rs__shape *shape;
  int *shape_of;     /* per run */
  int nshape;
  int64_t *pts_left; /* per run: evaluation points still to measure */
  int64_t *ck_left;  /* per run: checkpoints whose metrics are still to compute */
};

/* ---- the ETA: a cost model of the remaining work, calibrated online ----
 * Remaining work = for every unfinished run, steps left x seconds per step
 * + points left to measure x seconds per point + checkpoints left x seconds
 * of a checkpoint's metrics, each rate that of the run's shape (runs of equal
 * parameters, batch, points and layers share it). Rates start from the plan's
 * model (rs_config_cost) and become the measured compute seconds per unit as
 * workers report them (recent work weighted most, RS__COST_TAU); a shape not yet seen uses its prior scaled by what the
 * seen shapes ran at relative to theirs. The sum is divided over the workers,
 * but is never less than the longest single run's remaining training. */
enum { RS__COST_STEP, RS__COST_POINT, RS__COST_CKPT, RS__NCOST };
#define RS__COST_TAU 120.0
struct rs__shape {
  int64_t nparams, batch, npoints, nlayers, prec;
  double secs[RS__NCOST], cpu[RS__NCOST], units[RS__NCOST], prior[RS__NCOST];
};

static void rs__cost_add(const rs__engine *E, rs__progress *P, int r, int kind, double secs,
                         double cpu, double units) {
  (void)E;
  if (units <= 0 || secs < 0 || r < 0 || !P->shape) return;
  struct rs__shape *sh = &P->shape[P->shape_of[r]];
  /* Exponentially weighted: what came before fades with a time constant of
   * RS__COST_TAU seconds of this kind's compute, so the rate follows a
   * machine whose load changes, or a run that slows late. */
  double keep = exp(-secs / RS__COST_TAU);
  sh->secs[kind] = sh->secs[kind] * keep + secs;
  sh->cpu[kind] = sh->cpu[kind] * keep + cpu;
  sh->units[kind] = sh->units[kind] * keep + units;
  if (kind == RS__COST_POINT) P->pts_left[r] -= (int64_t)units;
  if (P->pts_left[r] < 0) P->pts_left[r] = 0;
}

static double rs__unit_cost(const rs__progress *P, const struct rs__shape *sh, int kind) {
  if (sh->units[kind] > 0 && sh->secs[kind] > 0) return sh->secs[kind] / sh->units[kind];
  double seen = 0, model = 0;
  for (int i = 0; i < P->nshape; i++)
    if (P->shape[i].units[kind] > 0 && P->shape[i].secs[kind] > 0) {
      seen += P->shape[i].secs[kind];
      model += P->shape[i].units[kind] * P->shape[i].prior[kind];
    }
  return sh->prior[kind] * (model > 0 ? seen / model : 1.0);
}

static int rs__shapes_init(rs__engine *E, rs__progress *P) {
  size_t n = E->nruns > 0 ? (size_t)E->nruns : 1;
  P->shape = calloc(n, sizeof *P->shape);
  P->shape_of = calloc(n, sizeof *P->shape_of);
  P->pts_left = calloc(n, sizeof *P->pts_left);
  P->ck_left = calloc(n, sizeof *P->ck_left);
  if (!P->shape || !P->shape_of || !P->pts_left || !P->ck_left)
    return rs_error(RS_ENOMEM, "out of memory");
  for (int r = 0; r < E->nruns; r++) {
    const rs_config *cfg = rs_job_run(E->job, r);
    const rs_archive_run *ri = &E->runs[r];
    struct rs__shape key = {.nparams = ri->nparams, .batch = cfg->train.batch,
                            .npoints = ri->npoints, .nlayers = ri->nlayers,
                            .prec = cfg->train.precision};
    int i = 0;
    while (i < P->nshape &&
           (P->shape[i].nparams != key.nparams || P->shape[i].batch != key.batch ||
            P->shape[i].npoints != key.npoints || P->shape[i].nlayers != key.nlayers ||
            P->shape[i].prec != key.prec))
      i++;
    if (i == P->nshape) {
      rs_run_cost c;
      rs_config_cost(cfg, &c);
      key.prior[RS__COST_STEP] = c.step;
      key.prior[RS__COST_POINT] = c.point;
      key.prior[RS__COST_CKPT] = c.ckpt;
      P->shape[P->nshape++] = key;
    }
    P->shape_of[r] = i;
    if (E->mask_run[r]) continue;
    for (int c = 0; c < ri->nckpt; c++) {
      P->ck_left[r] += !E->mask_metrics[(size_t)r * E->maxc + c];
      for (int s = 0; s < rs__nshards(E, r); s++)
        if (!*rs__mshard(E, r, c, s)) {
          int p0 = s * E->shard;
          P->pts_left[r] += ri->npoints - p0 < E->shard ? ri->npoints - p0 : E->shard;
        }
    }
  }
  return RS_OK;
}

static bool rs__ckpt_complete(rs__engine *E, int r, int c) {
  bool complete = E->mask_metrics[(size_t)r * E->maxc + c];
  for (int s = 0; s < rs__nshards(E, r) && complete; s++) complete = *rs__mshard(E, r, c, s);
  return complete;
}

static int64_t rs__steps_done(const rs__engine *E, const rs__progress *P) {
  int64_t s = 0;
  for (int r = 0; r < E->nruns; r++)
    if (rs__in_slice(E, r)) s += P->run_step[r];
  return s;
}

/* JSON string: quotes, backslashes and control bytes escaped; bytes that are
 * not valid UTF-8 become \u00XX, so any path or job name yields valid JSON. */
static void rs__json_str(FILE *f, const char *s) {
  const unsigned char *p = (const unsigned char *)s;
  fputc('"', f);
  while (*p) {
    unsigned char c = *p;
    int len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    bool valid = len > 0 && !(len == 2 && c < 0xC2) && !(len == 4 && c > 0xF4);
    for (int k = 1; valid && k < len; k++) valid = (p[k] & 0xC0) == 0x80;
    if (!valid) {
      fprintf(f, "\\u%04x", c);
      p++;
    } else if (len > 1) {
      fwrite(p, 1, (size_t)len, f);
      p += len;
    } else {
      if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
      else if (c == '\n') fputs("\\n", f);
      else if (c == '\t') fputs("\\t", f);
      else if (c < 0x20 || c == 0x7f) fprintf(f, "\\u%04x", c);
      else fputc(c, f);
      p++;
    }
  }
  fputc('"', f);
}

/* Seconds between status-file updates; `status` calls a sweep stale after
 * RS__STATUS_STALE_INTERVALS of them without an update (and at least a minute:
 * one long measurement on rank 0 may delay a tick). */
#define RS__STATUS_EVERY 1.0
#define RS__STATUS_STALE_INTERVALS 10
#define RS__STATUS_STALE_MIN 60.0

static long rs__peak_rss_kb(void) {
  FILE *f = fopen("/proc/self/status", "r");
  long kb = -1;
  char line[256];
  if (!f) return -1;
  while (fgets(line, sizeof line, f))
    if (!strncmp(line, "VmHWM:", 6)) kb = strtol(line + 6, NULL, 10);
  fclose(f);
  return kb;
}

static int rs__status_write(const rs__engine *E, const rs__progress *P,
                            const char *state, double eta) {
  char path[RS_PATH_MAX + 16], tmp[RS_PATH_MAX + 32];
  snprintf(path, sizeof path, "%s.status", E->o->archive);
  snprintf(tmp, sizeof tmp, "%s.status.tmp%d", E->o->archive, (int)getpid());
  FILE *f = fopen(tmp, "w");
  if (!f) return rs_error(RS_EIO, "%s: cannot write the status file: %s", tmp, strerror(errno));
  time_t now = time(NULL);
  char stamp[64], host[256] = "";
  strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
  gethostname(host, sizeof host - 1);
  fputs("{\"state\": ", f);
  rs__json_str(f, state);
  fputs(", \"archive\": ", f);
  rs__json_str(f, E->o->archive);
  fputs(", \"job\": ", f);
  rs__json_str(f, rs_job_name(E->job));
  fputs(",\n \"host\": ", f);
  rs__json_str(f, host);
  fprintf(f, ", \"pid\": %d, \"updated\": \"%s\", \"updated_unix\": %lld,"
             " \"update_interval_seconds\": %.1f,\n",
          (int)getpid(), stamp, (long long)now, RS__STATUS_EVERY);
  fprintf(f,
          " \"runs_done\": %d, \"runs_total\": %d, \"runs_training\": %d,\n"
          " \"checkpoints_done\": %lld, \"checkpoints_total\": %lld,\n"
          " \"steps_done\": %lld, \"steps_total\": %lld, \"steps_per_second\": %.1f,\n"
          " \"elapsed_seconds\": %.1f, \"eta_seconds\": %.1f, \"ranks\": %d,"
          " \"rank0_peak_rss_kb\": %ld, \"weights_bytes_in\": %lld,"
          " \"weights_bytes_out\": %lld,\n",
          P->runs_done, P->runs_total, P->runs_training, (long long)P->ckpts_done,
          (long long)P->ckpts_total, (long long)rs__steps_done(E, P), (long long)P->steps_total,
          P->rate, rs__now() - P->t_start, eta, E->size, rs__peak_rss_kb(), (long long)E->wbytes_in,
          (long long)E->wbytes_out);
  /* The ETA's cost model, per run shape (first 8): measured and planned
   * seconds per training step, evaluation point and checkpoint's metrics. */
  fputs(" \"cost_model\": [", f);
  for (int i = 0; P->shape && i < P->nshape && i < 8; i++) {
    const struct rs__shape *sh = &P->shape[i];
    fprintf(f, "%s\n  {\"nparams\": %lld, \"batch\": %lld, \"points\": %lld", i ? "," : "",
            (long long)sh->nparams, (long long)sh->batch, (long long)sh->npoints);
    static const char *names[RS__NCOST] = {"step", "point", "checkpoint"};
    for (int k = 0; k < RS__NCOST; k++) {
      fprintf(f, ", \"%s_units\": %.0f, \"%s_planned_s\": %.3e", names[k], sh->units[k],
              names[k], sh->prior[k]);
      if (sh->units[k] > 0)
        fprintf(f, ", \"%s_measured_s\": %.3e, \"%s_cpu_s\": %.3e", names[k],
                sh->secs[k] / sh->units[k], names[k], sh->cpu[k] / sh->units[k]);
    }
    fputc('}', f);
  }
  fputs("],\n", f);
  fputs(" \"blas_kernel\": ", f);
  rs__json_str(f, rs_blas_kernel());
  fputs(", \"cpu_isa\": ", f);
  rs__json_str(f, rs_cpu_best_isa());
  fputs("}\n", f);
  if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
    fclose(f);
    unlink(tmp);
    return rs_error(RS_EIO, "%s: cannot write the status file", tmp);
  }
  fclose(f);
  if (rename(tmp, path) != 0)
    return rs_error(RS_EIO, "%s: cannot replace the status file: %s", path, strerror(errno));
  return RS_OK;
}

static double rs__eta(const rs__engine *E, const rs__progress *P) {
  if (!P->shape) return -1;
  double total = 0, longest = 0;
  for (int r = 0; r < E->nruns; r++) {
    if (!rs__in_slice(E, r) || E->mask_run[r]) continue;
    const struct rs__shape *sh = &P->shape[P->shape_of[r]];
    int64_t left = rs_job_run(E->job, r)->train.steps - P->run_step[r];
    double train = (double)(left > 0 ? left : 0) * rs__unit_cost(P, sh, RS__COST_STEP) +
                   (double)P->ck_left[r] * rs__unit_cost(P, sh, RS__COST_CKPT);
    total += train + (double)P->pts_left[r] * rs__unit_cost(P, sh, RS__COST_POINT);
    if (train > longest) longest = train;
  }
  int workers = E->size > 1 ? E->size - 1 : 1;
  double eta = total / workers;
  return eta > longest ? eta : longest;
}

static void rs__progress_tick(const rs__engine *E, rs__progress *P, bool force,
                              const char *state) {
  double t = rs__now();
  int64_t sd = rs__steps_done(E, P);
  if (t - P->rate_t >= 1.0) {
    double inst = (sd - P->rate_steps) / (t - P->rate_t);
    P->rate = P->rate > 0 ? 0.5 * P->rate + 0.5 * inst : inst;
    P->rate_t = t;
    P->rate_steps = sd;
  }
  double eta = rs__eta(E, P);
  if (force || t - P->t_last_status >= RS__STATUS_EVERY) {
    P->t_last_status = t;
    if (rs__status_write(E, P, state, eta) != RS_OK) rs_error_print(RS_EIO);
  }
  if (!E->o->quiet && (force || t - P->t_last_print >= E->o->progress_every)) {
    P->t_last_print = t;
    char etas[32] = "?";
    if (eta >= 0) snprintf(etas, sizeof etas, "%.0fs", eta);
    fprintf(stderr,
            "[%7.1fs] runs %d/%d done (%d training) | checkpoints %lld/%lld measured | "
            "%.0f steps/s | ETA %s\n",
            t - P->t_start, P->runs_done, P->runs_total, P->runs_training,
            (long long)P->ckpts_done, (long long)P->ckpts_total, P->rate, etas);
  }
}

static int rs__progress_init(rs__engine *E, rs__progress *P) {
  memset(P, 0, sizeof *P);
  P->t_start = P->rate_t = rs__now();
  P->t_last_print = P->t_start;
  P->run_step = calloc((size_t)E->nruns, sizeof *P->run_step);
  for (int r = 0; r < E->nruns; r++) {
    if (!rs__in_slice(E, r)) continue;
    const rs_config *cfg = rs_job_run(E->job, r);
    P->steps_total += cfg->train.steps;
    P->runs_total++;
    P->ckpts_total += E->runs[r].nckpt;
    if (E->mask_run[r]) {
      P->runs_done++;
      P->run_step[r] = cfg->train.steps;
    } else {
      /* Training restarts from a persisted state at or before the first
       * incomplete checkpoint; count from the last complete one until the
       * trainer reports where it really is. */
      int64_t rs = rs__resume_step(E, r), prev = 0;
      for (int c = 0; c < E->runs[r].nckpt && E->steps[r][c] < rs; c++) prev = E->steps[r][c];
      P->run_step[r] = prev;
    }
    for (int c = 0; c < E->runs[r].nckpt; c++) {
      bool complete = E->mask_run[r] || E->mask_metrics[(size_t)r * E->maxc + c];
      for (int s = 0; s < rs__nshards(E, r) && complete && !E->mask_run[r]; s++)
        complete = *rs__mshard(E, r, c, s);
      P->ckpts_done += complete;
    }
  }
  P->steps_at_start = P->rate_steps = rs__steps_done(E, P);
  P->ckpts_at_start = P->ckpts_done;
  return rs__shapes_init(E, P);
}

/* ---- serial mode: one rank does everything inline ---- */

static void rs__serial_tick(rs__engine *E) {
  rs__progress *P = rs__serial_progress;
  if (!P) return;
  for (int r = 0; r < E->nruns; r++) /* the run being trained */
    if (P->run_step && !E->mask_run[r] && rs__in_slice(E, r)) {
      rs__cost_add(E, P, r, RS__COST_STEP, E->acc_train_s, E->acc_train_c, (double)E->acc_train_n);
      rs__cost_add(E, P, r, RS__COST_CKPT, E->acc_ck_s, E->acc_ck_c, E->acc_ck_s > 0 ? 1 : 0);
      break;
    }
  E->acc_train_s = E->acc_ck_s = E->acc_train_c = E->acc_ck_c = 0;
  E->acc_train_n = 0;
  rs__progress_tick(E, P, false, "running");
}

static void rs__serial_tick_at(rs__engine *E, int run, int64_t step) {
  rs__serial_progress->run_step[run] = step;
  rs__serial_tick(E);
}

static int rs__emit_inline(rs__engine *E, int run, int ckpt, int64_t step,
                           const double *params, int64_t n) {
  (void)n;
  rs__progress *P = rs__serial_progress;
  if (!E->mask_metrics[(size_t)run * E->maxc + ckpt] && P->ck_left[run] > 0) P->ck_left[run]--;
  rs__serial_tick(E);
  bool was_complete = rs__ckpt_complete(E, run, ckpt);
  for (int s = 0; s < rs__nshards(E, run); s++) {
    if (*rs__mshard(E, run, ckpt, s)) continue;
    double t0 = rs__now(), c0 = rs__cpu();
    RS_CALL(rs__measure_shard(E, run, ckpt, s, params));
    int p0 = s * E->shard;
    rs__cost_add(E, P, run, RS__COST_POINT, rs__now() - t0, rs__cpu() - c0,
                 E->runs[run].npoints - p0 < E->shard ? E->runs[run].npoints - p0 : E->shard);
    *rs__mshard(E, run, ckpt, s) = 1;
  }
  E->mask_metrics[(size_t)run * E->maxc + ckpt] = 1;
  P->run_step[run] = step;
  if (!was_complete) P->ckpts_done++;
  rs__progress_tick(E, P, false, "running");
  return RS_OK;
}

static int rs__serial(rs__engine *E, rs__progress *P, bool *complete) {
  rs__serial_progress = P;
  *complete = true;
  for (int r = 0; r < E->nruns; r++) {
    if (!rs__in_slice(E, r) || E->mask_run[r]) continue;
    if (rs__drain_flag) {
      *complete = false;
      break;
    }
    bool diverged, drained;
    int64_t last;
    P->runs_training = 1;
    RS_CALL(rs__train_run(E, r, rs__resume_step(E, r), rs__emit_inline, &diverged,
                          &drained, &last));
    P->runs_training = 0;
    if (drained) {
      *complete = false;
      break;
    }
    RS_CALL(rs_archive_write_run_done(E->ar, r, diverged, last));
    E->mask_run[r] = 1;
    P->runs_done++;
    P->run_step[r] = rs_job_run(E->job, r)->train.steps;
    if (diverged)
      fprintf(stderr, "ranksweep: run %d (%s) diverged at step %lld\n", r,
              rs_job_run_name(E->job, r), (long long)last);
    rs__progress_tick(E, P, false, "running");
  }
  return RS_OK;
}

/* ---- parallel mode: the dispatcher ---- */
typedef struct {
  int run, ckpt;
  double *params; /* shared by the shards of one checkpoint */
  int *refs;
  int shard;
} rs__task;

typedef struct {
  rs__task *q;
  size_t head, tail, cap;
} rs__queue;

static int rs__queue_push(rs__queue *Q, rs__task t) {
  if (Q->tail == Q->cap) {
    if (Q->head > 0) {
      memmove(Q->q, Q->q + Q->head, (Q->tail - Q->head) * sizeof *Q->q);
      Q->tail -= Q->head;
      Q->head = 0;
    } else {
      size_t cap = Q->cap ? 2 * Q->cap : 256;
      rs__task *q = realloc(Q->q, cap * sizeof *q);
      if (!q) return rs_error(RS_ENOMEM, "out of memory for the task queue");
      Q->q = q;
      Q->cap = cap;
    }
  }
  Q->q[Q->tail++] = t;
  return RS_OK;
}

static void rs__release(rs__task *t) {
  if (--*t->refs == 0) {
    free(t->params);
    free(t->refs);
  }
}

typedef struct {
  int *outstanding;   /* shards queued or running per run */
  bool *trained;      /* training finished (not drained) */
  bool *run_diverged;
  int64_t *last_step;
  int next_run;       /* next run to hand out for training */
  int *idle;          /* workers waiting for a task */
  int nidle;
  int *trainer_of;    /* the worker training each run (0: none) */
  int *wrun, *wckpt;  /* per worker: the checkpoint whose weights it holds */
  int active;         /* workers not yet stopped */
  bool draining, failed;
} rs__disp;

static int rs__finish_run_if_done(rs__engine *E, rs__disp *D, rs__progress *P, int r) {
  if (!D->trained[r] || D->outstanding[r] > 0 || E->mask_run[r]) return RS_OK;
  RS_CALL(rs_archive_write_run_done(E->ar, r, D->run_diverged[r], D->last_step[r]));
  E->mask_run[r] = 1;
  P->runs_done++;
  P->run_step[r] = rs_job_run(E->job, r)->train.steps;
  if (D->run_diverged[r])
    fprintf(stderr, "ranksweep: run %d (%s) diverged at step %lld\n", r,
            rs_job_run_name(E->job, r), (long long)D->last_step[r]);
  return RS_OK;
}

/* Gives worker w its next task, or parks it. Shards first: they free memory
 * and unblock checkpoints; then new runs. */
static int rs__assign(rs__engine *E, rs__disp *D, rs__queue *Q, rs__progress *P, int w) {
  rs__msg m = {0};
  /* While draining, the shards already queued are still handed out: their
   * checkpoints' weights exist only here, and measuring them lets the
   * trainers' drained states be used on resume (a run resumes at or before
   * its first unmeasured checkpoint). No new training is started. */
  if (D->failed || (D->draining && Q->head == Q->tail)) {
    m.kind = K_STOP;
    D->active--;
    return rs__send(E->comm, &m, w, TAG_TASK);
  }
  if (Q->head < Q->tail) {
    rs__task t = Q->q[Q->head++];
    /* Weights once per (worker, run, checkpoint): a worker that measured
     * the previous shard of this checkpoint still holds them. */
    bool send = D->wrun[w] != t.run || D->wckpt[w] != t.ckpt;
    m = (rs__msg){.kind = K_SHARD, .run = t.run, .ckpt = t.ckpt, .shard = t.shard,
                  .nparams = E->runs[t.run].nparams, .flag = send};
    RS_CALL(rs__send(E->comm, &m, w, TAG_TASK));
    if (send) {
      if (MPI_Send(t.params, (int)m.nparams, MPI_DOUBLE, w, TAG_PARAMS, E->comm) != MPI_SUCCESS)
        return rs_error(RS_EMPI, "MPI_Send of weights failed");
      E->wbytes_out += (int64_t)sizeof(double) * m.nparams;
      D->wrun[w] = t.run;
      D->wckpt[w] = t.ckpt;
    }
    rs__release(&t);
    return RS_OK;
  }
  while (D->next_run < E->nruns &&
         (!rs__in_slice(E, D->next_run) || E->mask_run[D->next_run]))
    D->next_run++;
  if (D->next_run < E->nruns) {
    int r = D->next_run++;
    m = (rs__msg){.kind = K_TRAIN, .run = r, .step = rs__resume_step(E, r)};
    P->runs_training++;
    D->trainer_of[r] = w;
    D->wrun[w] = D->wckpt[w] = -1; /* its own measurements replace what it holds */
    return rs__send(E->comm, &m, w, TAG_TASK);
  }
  D->idle[D->nidle++] = w;
  return RS_OK;
}

static bool rs__all_done(const rs__engine *E) {
  for (int r = 0; r < E->nruns; r++)
    if (rs__in_slice(E, r) && !E->mask_run[r]) return false;
  return true;
}

static int rs__dispatch(rs__engine *E, rs__progress *P, bool *complete) {
  int nw = E->size - 1;
  rs__disp D = {0};
  rs__queue Q = {0};
  int err = RS_OK;
  D.outstanding = calloc((size_t)E->nruns, sizeof *D.outstanding);
  D.trained = calloc((size_t)E->nruns, sizeof *D.trained);
  D.run_diverged = calloc((size_t)E->nruns, sizeof *D.run_diverged);
  D.last_step = calloc((size_t)E->nruns, sizeof *D.last_step);
  D.idle = calloc((size_t)nw, sizeof *D.idle);
  D.trainer_of = calloc((size_t)E->nruns, sizeof *D.trainer_of);
  D.wrun = malloc(sizeof *D.wrun * (size_t)(nw + 1));
  D.wckpt = malloc(sizeof *D.wckpt * (size_t)(nw + 1));
  if (!D.outstanding || !D.trained || !D.run_diverged || !D.last_step || !D.idle ||
      !D.trainer_of || !D.wrun || !D.wckpt)
    return rs_error(RS_ENOMEM, "out of memory");
  for (int w = 0; w <= nw; w++) D.wrun[w] = D.wckpt[w] = -1;
  D.active = nw;
  while (D.active > 0) {
    if (rs__drain_flag && !D.draining) {
      D.draining = true;
      fprintf(stderr, "ranksweep: drain requested: stopping the hand-out, workers persist their state\n");
      rs__msg dm = {.kind = K_STOP};
      for (int w = 1; w <= nw; w++) rs__send(E->comm, &dm, w, TAG_DRAIN);
    }
    /* Parked workers measure what a drain left queued, then stop once
     * nothing can come any more. */
    while (D.draining && !D.failed && D.nidle > 0 && Q.head < Q.tail)
      if ((err = rs__assign(E, &D, &Q, P, D.idle[--D.nidle])) != RS_OK) D.failed = true;
    if (D.nidle > 0 && (D.draining || D.failed || rs__all_done(E))) {
      while (D.nidle > 0) {
        rs__msg m = {.kind = K_STOP};
        rs__send(E->comm, &m, D.idle[--D.nidle], TAG_TASK);
        D.active--;
      }
      if (D.active == 0) break;
    }
    MPI_Status st;
    double t0 = rs__now();
    long nap = 20;
    int flag = 0;
    while (!flag) {
      MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, E->comm, &flag, &st);
      if (flag) break;
      if (rs__drain_flag && !D.draining) break;
      double t = rs__now();
      if (t - P->t_last_status >= RS__STATUS_EVERY || t - P->t_last_print >= E->o->progress_every)
        rs__progress_tick(E, P, false, D.draining ? "draining" : "running");
      if (t - t0 < 2e-4) continue;
      rs__sleep_us(nap);
      if (nap < 1000) nap *= 2;
    }
    if (!flag) continue;
    rs__msg m;
    int w = st.MPI_SOURCE;
    MPI_Recv(&m, (int)sizeof m, MPI_BYTE, w, st.MPI_TAG, E->comm, MPI_STATUS_IGNORE);
    switch (st.MPI_TAG) {
    case TAG_PROGRESS:
      rs__cost_add(E, P, (int)m.run, RS__COST_STEP, m.secs, m.secs2, (double)m.np);
      if (m.flag == 1) {
        int64_t delta = m.step - P->run_step[m.run];
        P->steps_at_start += delta;
        P->rate_steps += delta;
      }
      P->run_step[m.run] = m.step;
      break;
    case TAG_CKPT: {
      int r = (int)m.run, c = (int)m.ckpt;
      bool was_complete = rs__ckpt_complete(E, r, c);
      if (!E->mask_metrics[(size_t)r * E->maxc + c] && P->ck_left[r] > 0) P->ck_left[r]--;
      E->mask_metrics[(size_t)r * E->maxc + c] = 1; /* the trainer wrote them */
      P->run_step[r] = m.step;
      if (m.kind == K_SHARD) {
        /* The trainer measured it itself. */
        for (int s = 0; s < rs__nshards(E, r); s++) *rs__mshard(E, r, c, s) = 1;
        if (!was_complete) P->ckpts_done++;
        rs__cost_add(E, P, r, RS__COST_POINT, m.secs, m.secs2, (double)m.np);
        break;
      }
      rs__cost_add(E, P, r, RS__COST_CKPT, m.secs, m.secs2, m.secs > 0 ? 1 : 0);
      int left = 0;
      for (int s = 0; s < rs__nshards(E, r); s++) left += !*rs__mshard(E, r, c, s);
      rs__msg reply = {.run = r, .ckpt = c};
      reply.flag = left == 0                                            ? CK_ALREADY
                   : !D.draining && !D.failed && D.nidle > 0 && D.outstanding[r] == 0 ? CK_SEND
                                                                        : CK_SELF;
      if (left == 0 && !was_complete) P->ckpts_done++;
      if ((err = rs__send(E->comm, &reply, w, TAG_CKREPLY)) != RS_OK) {
        D.failed = true;
        break;
      }
      if (reply.flag != CK_SEND) break;
      double *params = malloc(sizeof(double) * (size_t)m.nparams);
      int *refs = malloc(sizeof *refs);
      if (!params || !refs) {
        err = rs_error(RS_ENOMEM, "out of memory for checkpoint weights");
        D.failed = true;
        free(params);
        free(refs);
        params = NULL;
      }
      MPI_Recv(params ? params : MPI_BOTTOM, params ? (int)m.nparams : 0, MPI_DOUBLE, w,
               TAG_PARAMS, E->comm, MPI_STATUS_IGNORE);
      if (!params) break;
      E->wbytes_in += (int64_t)sizeof(double) * m.nparams;
      *refs = 1; /* held by this loop until the shards are queued */
      for (int s = 0; s < rs__nshards(E, r); s++) {
        if (*rs__mshard(E, r, c, s)) continue;
        (*refs)++;
        D.outstanding[r]++;
        if ((err = rs__queue_push(&Q, (rs__task){r, c, params, refs, s})) != RS_OK) {
          D.failed = true;
          break;
        }
      }
      rs__task self = {r, c, params, refs, -1};
      rs__release(&self);
      while (D.nidle > 0 && Q.head < Q.tail && !D.draining && !D.failed)
        if ((err = rs__assign(E, &D, &Q, P, D.idle[--D.nidle])) != RS_OK) D.failed = true;
      break;
    }
    case TAG_REQ: {
      int r = (int)m.run;
      if (m.kind == K_SHARD) {
        *rs__mshard(E, r, (int)m.ckpt, (int)m.shard) = 1;
        D.outstanding[r]--;
        rs__cost_add(E, P, r, RS__COST_POINT, m.secs, m.secs2, (double)m.np);
        if (rs__ckpt_complete(E, r, (int)m.ckpt)) {
          P->ckpts_done++;
          /* Its trainer may now persist a state past this checkpoint. */
          if (!D.trained[r] && D.trainer_of[r] > 0) {
            rs__msg note = {.run = r, .ckpt = m.ckpt};
            rs__send(E->comm, &note, D.trainer_of[r], TAG_CKDONE);
          }
        }
        if ((err = rs__finish_run_if_done(E, &D, P, r)) != RS_OK) D.failed = true;
      } else if (m.kind == K_TRAIN) {
        P->runs_training--;
        rs__cost_add(E, P, r, RS__COST_STEP, m.secs, m.secs2, (double)m.np);
        D.trained[r] = true;
        D.run_diverged[r] = m.flag != 0;
        D.last_step[r] = m.step;
        if ((err = rs__finish_run_if_done(E, &D, P, r)) != RS_OK) D.failed = true;
      } else if (m.kind == K_DRAINED) {
        P->runs_training--;
        rs__cost_add(E, P, r, RS__COST_STEP, m.secs, m.secs2, (double)m.np);
        if (!D.draining) {
          /* A worker saw the signal first: drain everyone. */
          rs__drain_flag = 1;
        }
      } else if (m.kind == K_ERROR) {
        D.failed = true;
        if (m.flag == K_TRAIN) P->runs_training--;
      }
      if (rs__drain_flag && !D.draining) {
        D.draining = true;
        fprintf(stderr, "ranksweep: drain requested: stopping the hand-out, workers persist their state\n");
        rs__msg dm = {.kind = K_STOP};
        for (int v = 1; v <= nw; v++)
          if (v != w) rs__send(E->comm, &dm, v, TAG_DRAIN);
      }
      if ((err = rs__assign(E, &D, &Q, P, w)) != RS_OK) D.failed = true;
      break;
    }
    default:
      err = rs_error(RS_EINTERNAL, "unexpected message tag %d from rank %d", st.MPI_TAG, w);
      D.failed = true;
    }
    rs__progress_tick(E, P, false, D.draining ? "draining" : "running");
  }
  /* Shards still queued (drain or failure) are redone after a resume. */
  while (Q.head < Q.tail) rs__release(&Q.q[Q.head++]);
  free(Q.q);
  /* Consume DRAIN notices that crossed a STOP. */
  for (;;) {
    int flag = 0;
    MPI_Status st;
    MPI_Iprobe(MPI_ANY_SOURCE, TAG_PROGRESS, E->comm, &flag, &st);
    if (!flag) break;
    rs__msg m;
    MPI_Recv(&m, (int)sizeof m, MPI_BYTE, st.MPI_SOURCE, TAG_PROGRESS, E->comm, MPI_STATUS_IGNORE);
  }
  *complete = !D.failed && rs__all_done(E);
  free(D.outstanding);
  free(D.trained);
  free(D.run_diverged);
  free(D.last_step);
  free(D.idle);
  free(D.trainer_of);
  free(D.wrun);
  free(D.wckpt);
  if (D.failed && err == RS_OK)
    err = rs_error(RS_EINTERNAL, "a worker failed (see its message above)");
  return err;
}

/* ---- parallel mode: a worker ---- */
/* A trainer at a checkpoint asks rank 0 who measures it. Rank 0 takes the
 * weights only when a worker is idle and no other checkpoint of this run is
 * still out; otherwise the trainer measures it itself, now. Either way no
 * checkpoint waits behind training, so a kill loses at most the state
 * interval plus the steps trained while one checkpoint is measured. */
static int rs__emit_send(rs__engine *E, int run, int ckpt, int64_t step,
                         const double *params, int64_t n) {
  rs__msg m = {.kind = K_NONE, .run = run, .ckpt = ckpt, .step = step, .nparams = n,
               .secs = E->acc_ck_s, .secs2 = E->acc_ck_c};
  E->acc_ck_s = E->acc_ck_c = 0;
  RS_CALL(rs__send(E->comm, &m, 0, TAG_CKPT));
  MPI_Status st;
  RS_CALL(rs__probe_sleepy(E->comm, 0, TAG_CKREPLY, &st, false));
  rs__msg reply;
  MPI_Recv(&reply, (int)sizeof reply, MPI_BYTE, 0, TAG_CKREPLY, E->comm, MPI_STATUS_IGNORE);
  if (reply.flag == CK_ALREADY) return RS_OK;
  if (reply.flag == CK_SEND) {
    if (MPI_Send(params, (int)n, MPI_DOUBLE, 0, TAG_PARAMS, E->comm) != MPI_SUCCESS)
      return rs_error(RS_EMPI, "MPI_Send of checkpoint weights failed");
    E->pending_run = run;
    E->pending_ckpt = ckpt;
    return RS_OK;
  }
  double t0 = rs__now(), c0 = rs__cpu();
  int64_t npts = 0;
  for (int s = 0; s < rs__nshards(E, run); s++) {
    bool done = false;
    RS_CALL(rs_archive_shard_done(E->ar, run, ckpt, s, &done));
    if (done) continue;
    RS_CALL(rs__measure_shard(E, run, ckpt, s, params));
    int p0 = s * E->shard;
    npts += E->runs[run].npoints - p0 < E->shard ? E->runs[run].npoints - p0 : E->shard;
  }
  m = (rs__msg){.kind = K_SHARD, .run = run, .ckpt = ckpt, .step = step, .np = npts,
                .secs = rs__now() - t0, .secs2 = rs__cpu() - c0};
  return rs__send(E->comm, &m, 0, TAG_CKPT);
}

static int rs__worker(rs__engine *E) {
  rs__msg req = {.kind = K_NONE};
  double *params = NULL;
  int64_t cap = 0;
  int err = RS_OK;
  for (;;) {
    rs__take_ckdone(E); /* notices for runs this worker no longer trains */
    RS_CALL(rs__send(E->comm, &req, 0, TAG_REQ));
    MPI_Status st;
    RS_CALL(rs__probe_sleepy(E->comm, 0, TAG_TASK, &st, false));
    rs__msg m;
    MPI_Recv(&m, (int)sizeof m, MPI_BYTE, 0, TAG_TASK, E->comm, MPI_STATUS_IGNORE);
    if (m.kind == K_STOP) break;
    req = (rs__msg){.kind = m.kind, .run = m.run, .ckpt = m.ckpt, .shard = m.shard};
    if (m.kind == K_BENCH) continue;
    if (m.kind == K_SHARD) {
      /* The weights come with the first shard of a checkpoint this worker
       * gets; later shards reuse the copy behind its measurement plan. */
      bool with_weights = m.flag != 0;
      if (with_weights && m.nparams > cap) {
        free(params);
        params = malloc(sizeof(double) * (size_t)m.nparams);
        cap = params ? m.nparams : 0;
      }
      if (with_weights)
        MPI_Recv(params ? params : MPI_BOTTOM, params ? (int)m.nparams : 0, MPI_DOUBLE, 0,
                 TAG_PARAMS, E->comm, MPI_STATUS_IGNORE);
      double t0 = rs__now(), c0 = rs__cpu();
      err = !with_weights || params
                ? rs__measure_shard(E, (int)m.run, (int)m.ckpt, (int)m.shard,
                                    with_weights ? params : NULL)
                : rs_error(RS_ENOMEM, "out of memory for weights");
      int p0 = (int)m.shard * E->shard;
      int np = E->runs[m.run].npoints - p0 < E->shard ? E->runs[m.run].npoints - p0 : E->shard;
      req.secs = rs__now() - t0;
      req.secs2 = rs__cpu() - c0;
      req.np = np;
    } else if (m.kind == K_TRAIN) {
      bool diverged, drained;
      int64_t last = 0;
      err = rs__train_run(E, (int)m.run, m.step, rs__emit_send, &diverged, &drained, &last);
      req.kind = drained ? K_DRAINED : K_TRAIN;
      req.flag = diverged;
      req.step = last;
      req.secs = E->acc_train_s;
      req.secs2 = E->acc_train_c;
      req.np = E->acc_train_n;
      E->acc_train_s = E->acc_train_c = 0;
      E->acc_train_n = 0;
    }
    if (err != RS_OK) {
      rs_error_print(err);
      req.flag = req.kind;
      req.kind = K_ERROR;
      err = RS_OK; /* reported; the dispatcher stops everyone */
    }
  }
  free(params);
  /* A DRAIN or CKDONE notice may have crossed the STOP: consume it. */
  rs__take_drain_notice(E);
  rs__take_ckdone(E);
  return err;
}

/* ---- dispatcher benchmark: empty tasks, no archive ---- */
static int rs__bench_dispatch(rs__engine *E, int ntasks) {
  if (E->size < 2) return rs_error(RS_EARG, "--bench-dispatch needs at least 2 ranks");
  if (E->rank != 0) {
    RS_CALL(rs__worker(E));
    return RS_OK;
  }
  int handed = 0, active = E->size - 1;
  double t0 = rs__now();
  while (active > 0) {
    MPI_Status st;
    RS_CALL(rs__probe_sleepy(E->comm, MPI_ANY_SOURCE, TAG_REQ, &st, false));
    rs__msg m;
    MPI_Recv(&m, (int)sizeof m, MPI_BYTE, st.MPI_SOURCE, TAG_REQ, E->comm, MPI_STATUS_IGNORE);
    rs__msg t = {.kind = handed < ntasks ? K_BENCH : K_STOP};
    if (t.kind == K_BENCH) handed++;
    else active--;
    RS_CALL(rs__send(E->comm, &t, st.MPI_SOURCE, TAG_TASK));
  }
  double dt = rs__now() - t0;
  printf("dispatch: %d tasks to %d workers in %.3f s: %.0f tasks/s\n", ntasks, E->size - 1,
         dt, ntasks / dt);
  return RS_OK;
}

/* ---- the whole sweep ---- */
static int rs__agree(MPI_Comm comm, int err) {
  /* Every rank learns the worst outcome, so all take the same path. */
  int worst = err, out;
  MPI_Allreduce(&worst, &out, 1, MPI_INT, MPI_MIN, comm);
  return out;
}

int rs_sweep_run(MPI_Comm comm, const rs_job *job, const rs_sweep_opts *o) {
  rs__engine E = {0};
  bool finish_printed = false; /* the finalize or close error was printed */
  E.comm = comm;
  MPI_Comm_rank(comm, &E.rank);
  MPI_Comm_size(comm, &E.size);
  E.job = job;
  E.o = o;
  E.nruns = rs_job_nruns(job);
  openblas_set_num_threads(o->blas_threads > 0 ? o->blas_threads : 1);

  /* Installed again in case MPI_Init replaced them (main installs them first). */
  rs_sweep_signals_install(o->drain_signal);

  if (o->bench_dispatch > 0) {
    int err = rs__bench_dispatch(&E, o->bench_dispatch);
    if (err != RS_OK) rs_error_print(err);
    return err == RS_OK ? RS_EXIT_DONE : RS_EXIT_ERROR;
  }

  /* The shard size is part of the job (so archives compare across rank counts). */
  const rs_config *c0 = rs_job_run(job, 0);
  E.shard = o->shard > 0 ? o->shard : c0->measure.shard > 0 ? c0->measure.shard : 16;

  int cflag = 0;
  int err = rs__describe_runs(&E);
  err = rs__agree(comm, err);
  if (err != RS_OK) goto out;

  rs_archive_info info = {.nranks = E.size, .blas_threads = o->blas_threads, .shard = E.shard,
                          .move_aside = o->move_aside};
  bool created = false;
  rs_job_desc desc; /* the sweep as the archive sees it (archive_desc.c) */
  err = rs__agree(comm, rs_job_desc_build(comm, job, E.runs, &desc));
  if (err == RS_OK)
    err = rs_archive_open_or_create(comm, o->archive, &desc.desc, &info, o->resume, &E.ar,
                                    &created);
  rs_job_desc_free(&desc);
  err = rs__agree(comm, err);
  if (err != RS_OK) goto out;
  if (o->reuse) { /* --reuse: copy the finished runs of the same configuration */
    int nre = 0;
    err = rs__agree(comm, rs_archive_reuse(E.ar, o->reuse, &nre));
    if (err != RS_OK) {
      rs_archive_close(&E.ar);
      goto out;
    }
    if (E.rank == 0 && !o->quiet)
      fprintf(stderr, "ranksweep: reused %d of %d runs from %s\n", nre, E.nruns, o->reuse);
  }

  size_t nrc = (size_t)E.nruns * E.maxc;
  E.mask_shard = calloc(nrc * E.maxs, 1);
  E.mask_metrics = calloc(nrc, 1);
  E.mask_run = calloc((size_t)E.nruns, 1);
  if (!E.mask_shard || !E.mask_metrics || !E.mask_run) {
    err = rs_error(RS_ENOMEM, "out of memory for the masks");
  } else if (E.rank == 0) {
    err = rs_archive_read_masks(E.ar, E.mask_shard, E.mask_metrics, E.mask_run);
  }
  err = rs__agree(comm, err);
  bool complete = false;
  rs__progress P = {0};
  if (err == RS_OK) {
    if (E.rank == 0) {
      err = rs__progress_init(&E, &P);
      if (!o->quiet)
        fprintf(stderr,
                "ranksweep: job %s: %d runs (%d in this process group), %lld checkpoints, "
                "%d ranks, shard %d points%s\n",
                rs_job_name(job), E.nruns, P.runs_total, (long long)P.ckpts_total, E.size,
                E.shard, o->resume ? ", resuming" : "");
      if (err != RS_OK) {
      } else if (E.size == 1) {
        err = rs__serial(&E, &P, &complete);
      } else {
        err = rs__dispatch(&E, &P, &complete);
      }
    } else {
      err = rs__worker(&E);
    }
  }
  if (err != RS_OK) rs_error_print(err);
  cflag = complete && err == RS_OK;
  MPI_Bcast(&cflag, 1, MPI_INT, 0, comm);
  err = rs__agree(comm, err);
  int ferr = rs_archive_finalize(E.ar, cflag != 0);
  int cerr = rs_archive_close(&E.ar);
  if (ferr != RS_OK || cerr != RS_OK) {
    /* agreed across ranks where it matters (finalize's room check): one line, from rank 0 */
    if (E.rank == 0) rs_error_print(ferr != RS_OK ? ferr : cerr);
    finish_printed = true;
    if (err == RS_OK) err = ferr != RS_OK ? ferr : cerr;
  }
  err = rs__agree(comm, err);
  /* measure.spectrum: the representation spectra of the final (or, with
   * save_weights: all, every) snapshot, as the last phase of a complete sweep. */
  bool want_spectrum = false;
  for (int r = 0; r < E.nruns; r++) want_spectrum |= rs_job_run(job, r)->measure.spectrum;
  if (err == RS_OK && cflag && want_spectrum) {
    rs_spectrum_opts so;
    rs_spectrum_opts_default(&so);
    so.final_only = c0->measure.save_weights != RS_SAVE_ALL;
    so.quiet = o->quiet;
    err = rs_spectrum_pass(comm, o->archive, &so);
    if (err != RS_OK && E.rank == 0) rs_error_print(err);
  }
  if (E.rank == 0) {
    const char *state = err != RS_OK ? "error" : cflag ? "complete" : "drained";
    rs__progress_tick(&E, &P, true, state);
    if (!o->quiet)
      fprintf(stderr, "ranksweep: %s: %s (%d/%d runs done, %.1f s)\n", o->archive, state,
              P.runs_done, P.runs_total, rs__now() - P.t_start);
  }
  free(P.run_step);
  free(P.shape);
  free(P.shape_of);
  free(P.pts_left);
  free(P.ck_left);
out:
  if (err != RS_OK && E.rank == 0 && !E.ar && !finish_printed) rs_error_print(err);
  for (int i = 0; i < RS__NCTX; i++) rs_dataset_destroy(&E.ctx[i].data);
  if (E.steps)
    for (int r = 0; r < E.nruns; r++) free(E.steps[r]);
  if (E.runs && E.rank == 0)
    for (int r = 0; r < E.nruns; r++) free((void *)E.runs[r].eval_index);
  free(E.steps);
  free(E.runs);
  free(E.mask_shard);
  free(E.mask_metrics);
  free(E.mask_run);
  rs_lr_plan_destroy(&E.plan);
  free(E.plan_params);
  free(E.counts);
  free(E.spectra);
  free(E.effrank);
  free(E.stablerank);
  if (err != RS_OK) return RS_EXIT_ERROR;
  return cflag ? RS_EXIT_DONE : RS_EXIT_WORK_REMAINS;
}

/* ---- `status`: the status file validated, then summarised ---- */
/* A small strict JSON reader: enough to validate the whole file and to pick
 * the top-level members a summary needs. */
typedef struct {
  const char *p, *end;
  int depth;
} rs__jr;

static void rs__jws(rs__jr *j) {
  while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t')) j->p++;
}

/* Parses a string; copies its (unescaped, \u kept as '?' beyond ASCII) text
 * into out when out is not NULL. */
static bool rs__jstring(rs__jr *j, char *out, size_t cap) {
  size_t n = 0;
  if (j->p >= j->end || *j->p != '"') return false;
  j->p++;
  while (j->p < j->end && *j->p != '"') {
    unsigned char c = (unsigned char)*j->p++;
    if (c < 0x20) return false;
    if (c == '\\') {
      if (j->p >= j->end) return false;
      char e = *j->p++;
      if (e == 'u') {
        unsigned v = 0;
        for (int k = 0; k < 4; k++) {
          if (j->p >= j->end) return false;
          char h = *j->p++;
          int d = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10
                  : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
          if (d < 0) return false;
          v = v * 16 + (unsigned)d;
        }
        c = v < 0x80 ? (unsigned char)v : '?';
      } else {
        const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
        const char *q = strchr(from, e);
        if (!e || !q) return false;
        c = (unsigned char)to[q - from];
      }
    }
    if (out && n + 1 < cap) out[n++] = (char)c;
  }
  if (j->p >= j->end) return false;
  j->p++;
  if (out) out[n] = '\0';
  return true;
}

static bool rs__jvalue(rs__jr *j);

static bool rs__jnumber(rs__jr *j, double *v) {
  const char *q = j->p;
  if (q < j->end && *q == '-') q++;
  if (q >= j->end || *q < '0' || *q > '9') return false;
  if (*q == '0') q++;
  else
    while (q < j->end && *q >= '0' && *q <= '9') q++;
  if (q < j->end && *q == '.') {
    q++;
    if (q >= j->end || *q < '0' || *q > '9') return false;
    while (q < j->end && *q >= '0' && *q <= '9') q++;
  }
  if (q < j->end && (*q == 'e' || *q == 'E')) {
    q++;
    if (q < j->end && (*q == '+' || *q == '-')) q++;
    if (q >= j->end || *q < '0' || *q > '9') return false;
    while (q < j->end && *q >= '0' && *q <= '9') q++;
  }
  char buf[64];
  size_t n = (size_t)(q - j->p) < sizeof buf - 1 ? (size_t)(q - j->p) : sizeof buf - 1;
  memcpy(buf, j->p, n);
  buf[n] = '\0';
  if (v) *v = strtod(buf, NULL);
  j->p = q;
  return true;
}

static bool rs__jvalue(rs__jr *j) {
  rs__jws(j);
  if (j->p >= j->end) return false;
  char c = *j->p;
  if (c == '"') return rs__jstring(j, NULL, 0);
  if (c == '{' || c == '[') {
    if (++j->depth > 32) return false;
    char close = c == '{' ? '}' : ']';
    j->p++;
    rs__jws(j);
    if (j->p < j->end && *j->p == close) {
      j->p++;
      j->depth--;
      return true;
    }
    for (;;) {
      if (c == '{') {
        rs__jws(j);
        if (!rs__jstring(j, NULL, 0)) return false;
        rs__jws(j);
        if (j->p >= j->end || *j->p++ != ':') return false;
      }
      if (!rs__jvalue(j)) return false;
      rs__jws(j);
      if (j->p >= j->end) return false;
      if (*j->p == ',') {
        j->p++;
        continue;
      }
      if (*j->p++ != close) return false;
      j->depth--;
      return true;
    }
  }
  static const char *lit[] = {"true", "false", "null"};
  for (int k = 0; k < 3; k++) {
    size_t n = strlen(lit[k]);
    if ((size_t)(j->end - j->p) >= n && !memcmp(j->p, lit[k], n)) {
      j->p += n;
      return true;
    }
  }
  return rs__jnumber(j, NULL);
}

/* The status members the summary uses. */
typedef struct {
  char state[32], archive[RS_PATH_MAX], job[256], host[256], updated[64], kernel[64];
  double pid, updated_unix, interval, runs_done, runs_total, runs_training, ck_done, ck_total,
      steps_done, steps_total, rate, elapsed, eta, ranks;
} rs__status;

/* Validates the whole text as one JSON object and fills s from its members. */
static bool rs__status_parse(const char *text, size_t n, rs__status *s, const char **why) {
  rs__jr j = {text, text + n, 0};
  memset(s, 0, sizeof *s);
  s->pid = s->updated_unix = s->interval = -1;
  rs__jws(&j);
  if (j.p >= j.end || *j.p != '{') {
    *why = "does not start with a JSON object";
    return false;
  }
  j.p++;
  rs__jws(&j);
  bool first = true;
  for (;;) {
    rs__jws(&j);
    if (first && j.p < j.end && *j.p == '}') break;
    char key[64];
    if (!rs__jstring(&j, key, sizeof key)) {
      *why = "a member name is not a valid JSON string";
      return false;
    }
    rs__jws(&j);
    if (j.p >= j.end || *j.p++ != ':') {
      *why = "a member lacks its ':'";
      return false;
    }
    rs__jws(&j);
    struct { const char *k; char *dst; size_t cap; } strs[] = {
        {"state", s->state, sizeof s->state}, {"archive", s->archive, sizeof s->archive},
        {"job", s->job, sizeof s->job}, {"host", s->host, sizeof s->host},
        {"updated", s->updated, sizeof s->updated}, {"blas_kernel", s->kernel, sizeof s->kernel}};
    struct { const char *k; double *dst; } nums[] = {
        {"pid", &s->pid}, {"updated_unix", &s->updated_unix},
        {"update_interval_seconds", &s->interval}, {"runs_done", &s->runs_done},
        {"runs_total", &s->runs_total}, {"runs_training", &s->runs_training},
        {"checkpoints_done", &s->ck_done}, {"checkpoints_total", &s->ck_total},
        {"steps_done", &s->steps_done}, {"steps_total", &s->steps_total},
        {"steps_per_second", &s->rate}, {"elapsed_seconds", &s->elapsed},
        {"eta_seconds", &s->eta}, {"ranks", &s->ranks}};
    bool taken = false;
    for (size_t k = 0; k < sizeof strs / sizeof *strs && !taken; k++)
      if (!strcmp(key, strs[k].k)) {
        if (!rs__jstring(&j, strs[k].dst, strs[k].cap)) {
          *why = "a string member is malformed or not a string";
          return false;
        }
        taken = true;
      }
    for (size_t k = 0; k < sizeof nums / sizeof *nums && !taken; k++)
      if (!strcmp(key, nums[k].k)) {
        if (!rs__jnumber(&j, nums[k].dst)) {
          *why = "a numeric member is not a number";
          return false;
        }
        taken = true;
      }
    if (!taken && !rs__jvalue(&j)) {
      *why = "a member's value is not valid JSON";
      return false;
    }
    first = false;
    rs__jws(&j);
    if (j.p < j.end && *j.p == ',') {
      j.p++;
      continue;
    }
    if (j.p < j.end && *j.p == '}') break;
    *why = j.p >= j.end ? "it ends early (truncated?)" : "a member is not followed by ',' or '}'";
    return false;
  }
  j.p++;
  rs__jws(&j);
  if (j.p != j.end) {
    *why = "text follows the JSON object";
    return false;
  }
  if (!s->state[0] || s->pid < 0 || s->updated_unix < 0) {
    *why = "it lacks state, pid or updated_unix";
    return false;
  }
  return true;
}

static void rs__dur(double s, char *buf, size_t cap) {
  if (s < 0) snprintf(buf, cap, "unknown");
  else if (s < 120) snprintf(buf, cap, "%.0f s", s);
  else if (s < 7200) snprintf(buf, cap, "%.1f min", s / 60);
  else snprintf(buf, cap, "%.1f h", s / 3600);
}

int rs_status_print(const char *archive, const rs_status_opts *o, FILE *out) {
  char path[RS_PATH_MAX + 16];
  snprintf(path, sizeof path, "%s.status", archive);
  /* O_NONBLOCK: a FIFO in its place must not block; fstat then refuses it. */
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    return rs_error(RS_EIO, "%s: no status file (is a sweep writing %s?): %s", path, archive,
                    strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (1 << 20)) {
    bool reg = S_ISREG(st.st_mode);
    close(fd);
    return rs_error(RS_EIO, "%s: not a status file (%s)", path,
                    reg ? "larger than 1 MB" : "not a regular file");
  }
  char *text = malloc((size_t)st.st_size + 1);
  if (!text) {
    close(fd);
    return rs_error(RS_ENOMEM, "out of memory");
  }
  size_t n = 0;
  while (n < (size_t)st.st_size) {
    ssize_t k = read(fd, text + n, (size_t)st.st_size - n);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) break;
    n += (size_t)k;
  }
  close(fd);
  text[n] = '\0';
  rs__status s;
  const char *why = "";
  bool nul = memchr(text, '\0', n) != NULL;
  if (n == 0 || nul || !rs__status_parse(text, n, &s, &why)) {
    free(text);
    return rs_error(RS_EIO, "%s: not a valid status file: %s", path,
                    n == 0 ? "it is empty" : nul ? "it holds NUL bytes" : why);
  }
  /* Liveness: a running sweep rewrites the file every interval; on its own
   * host its pid must exist. */
  bool active = !strcmp(s.state, "running") || !strcmp(s.state, "draining");
  double age = difftime(time(NULL), (time_t)s.updated_unix);
  double interval = s.interval > 0 ? s.interval : RS__STATUS_EVERY;
  double stale_after = interval * RS__STATUS_STALE_INTERVALS;
  if (stale_after < RS__STATUS_STALE_MIN) stale_after = RS__STATUS_STALE_MIN;
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  const char *live = "finished";
  if (active) {
    live = "alive";
    if (s.host[0] && !strcmp(s.host, host) && s.pid > 0 && kill((pid_t)s.pid, 0) != 0 &&
        errno == ESRCH)
      live = "dead";
    else if (age > stale_after)
      live = "stale";
  }
  if (o && o->json) {
    /* The file as written, plus what this reader observed. */
    char *close_brace = strrchr(text, '}');
    while (close_brace > text && (close_brace[-1] == '\n' || close_brace[-1] == ' ')) close_brace--;
    fwrite(text, 1, (size_t)(close_brace - text), out);
    fprintf(out, ",\n \"observed\": \"%s\", \"age_seconds\": %.0f}\n", live, age);
  } else {
    char el[32], eta[32], ag[32];
    rs__dur(s.elapsed, el, sizeof el);
    rs__dur(s.eta, eta, sizeof eta);
    rs__dur(age, ag, sizeof ag);
    fprintf(out, "archive      %s\njob          %s\n", s.archive, s.job);
    if (!strcmp(live, "dead"))
      fprintf(out, "state        dead: the file says %s, but process %.0f on %s is gone "
                   "(resume with `ranksweep run JOB -o %s --resume`)\n",
              s.state, s.pid, s.host, s.archive);
    else if (!strcmp(live, "stale"))
      fprintf(out, "state        stale: the file says %s, but it was last updated %s ago "
                   "(process %.0f on %s)\n", s.state, ag, s.pid, s.host);
    else
      fprintf(out, "state        %s (process %.0f on %s)\n", s.state, s.pid, s.host);
    fprintf(out, "updated      %s (%s ago)\n", s.updated, ag);
    fprintf(out, "runs         %.0f/%.0f done, %.0f training\n", s.runs_done, s.runs_total,
            s.runs_training);
    fprintf(out, "checkpoints  %.0f/%.0f measured\n", s.ck_done, s.ck_total);
    fprintf(out, "steps        %.0f/%.0f (%.0f steps/s)\n", s.steps_done, s.steps_total, s.rate);
    fprintf(out, "elapsed      %s on %.0f ranks\n", el, s.ranks);
    if (!strcmp(live, "alive")) fprintf(out, "remaining    %s (estimate)\n", eta);
    if (s.kernel[0]) fprintf(out, "BLAS kernel  %s\n", s.kernel);
  }
  free(text);
  return ferror(out) ? rs_error(RS_EIO, "cannot write the status") : RS_OK;
}
