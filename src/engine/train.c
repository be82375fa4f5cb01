/* Training and measuring, whoever does it: one shard's measurement (with the
 * measurement plan kept across the shards of a checkpoint) and one run's
 * training from its persisted state to its end. What differs between a
 * worker rank (worker.c) and serial mode (serial.c) comes in as hooks. */
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"
#include "ranksweep/rs_error.h"
#include "ranksweep/rs_fpenv.h"
#include "ranksweep/rs_job.h"
#include "ranksweep/rs_model.h"

/* Makes sure the shard buffers hold np points of run ri. */
static int rs__shard_buffers(rs__engine *E, const rs_archive_run *ri, int np) {
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
  if (!E->counts || !E->spectra || !E->effrank || !E->stablerank) {
    E->cap_counts = E->cap_spectra = E->cap_pl = 0; /* reallocated next time */
    return rs_error(RS_ENOMEM, "out of memory for a shard of %d points", np);
  }
  return RS_OK;
}

int rs__measure_shard(rs__engine *E, int run, int ckpt, int shard, const double *params) {
  const rs_config *cfg = rs_job_run(E->job, run);
  const rs_archive_run *ri = &E->runs[run];
  rs_dataset *data;
  double c0 = rs__cpu();
  /* Same floating-point state as the trainer, whichever rank measures. */
  RS_CALL(rs_fpenv_flush_denormals(cfg->train.flush_denormals));
  RS_CALL(rs__dataset(E, run, &data));
  if (!E->plan || E->plan_run != run || E->plan_ckpt != ckpt) {
    /* No weights sent: rank 0 believes this rank holds them already. */
    RS_CHECK(params, RS_EINTERNAL, "rank %d: shard of run %d checkpoint %d without its weights",
             E->rank, run, ckpt);
    rs_lr_plan_destroy(&E->plan);
    if (ri->nparams > E->plan_cap) {
      free(E->plan_params);
      E->plan_params = malloc(sizeof(double) * (size_t)ri->nparams);
      E->plan_cap = E->plan_params ? ri->nparams : 0;
      RS_CHECK(E->plan_params, RS_ENOMEM, "out of memory for weights");
    }
    memcpy(E->plan_params, params, sizeof(double) * (size_t)ri->nparams);
    rs_netview v;
    RS_CALL(rs_netview_from_params(cfg, data, E->plan_params, &v));
    RS_CALL(rs_lr_plan_create(&v, &E->plan));
    E->plan_run = run;
    E->plan_ckpt = ckpt;
  }
  int p0 = rs__shard_first(E, run, shard);
  int np = rs__shard_points(E, run, shard);
  RS_CALL(rs__shard_buffers(E, ri, np));
  rs_lr_points res = {.neps = cfg->measure.neps, .eps = cfg->measure.eps,
                      .counts = E->counts, .spectra = E->spectra,
                      .effrank = E->effrank, .stablerank = E->stablerank};
  RS_CALL(rs_lr_plan_points(E->plan, data->xeval + (size_t)p0 * data->dim, np, 1, &res));
  double a0 = rs__prof_add(E, RS__PROF_MEASURE, c0);
  RS_CALL(rs_archive_write_shard(E->ar, run, ckpt, shard, p0, np, &res));
  rs__prof_add(E, RS__PROF_ARCHIVE, a0);
  return RS_OK;
}

/* ---- training one run ---- */
static void rs__trace(rs__engine *E, const char *what, int run, int64_t step) {
  if (E->trace) fprintf(E->trace, "%s %d %lld\n", what, run, (long long)step);
}

/* Trains up to checkpoint c's step in chunks: at most 256 steps between
 * drain checks, and stopping at every periodic state. */
static int rs__train_to(rs__engine *E, rs_trainer *t, int run, int64_t target, void *blob,
                        const rs__trainer_hooks *h, bool *diverged, bool *drained) {
  const rs_config *cfg = rs_job_run(E->job, run);
  const rs_archive_run *ri = &E->runs[run];
  int64_t every = cfg->train.state_every;
  const int64_t check = 256; /* steps between drain checks */
  while (rs_trainer_step(t) < target) {
    int64_t s = rs_trainer_step(t);
    int64_t next = target;
    if (s + check < next) next = s + check;
    if (every > 0 && (s / every + 1) * every < next) next = (s / every + 1) * every;
    double f0, t0 = rs__now(), c0 = rs__cpu(), g0 = rs_gemm_timed(&f0);
    RS_CALL(rs_trainer_run_to(t, next, diverged));
    if (*diverged) return RS_OK;
    double wall = rs__now() - t0, cpu = rs__prof_add(E, RS__PROF_TRAIN, c0) - c0;
    E->acc_train_s += wall;
    E->acc_train_c += cpu;
    E->acc_train_n += next - s;
    E->prof_train_wall += wall;
    double f1, g1 = rs_gemm_timed(&f1);
    E->prof_products_wall += g1 - g0;
    E->prof_products_flops += f1 - f0;
    if (h->chunk) RS_CALL(h->chunk(h->ctx, E));
    /* Periodic states, but none while a handed-off checkpoint may be
     * unmeasured: a resume restarts at or before it, and the two state
     * slots must not both move past it. */
    bool periodic = every > 0 && next % every == 0 && next != target;
    if (E->pending_run < 0 && (periodic || (every > 0 && E->save_now))) {
      E->save_now = false;
      double a0 = rs__cpu();
      RS_CALL(rs_trainer_state_save(t, blob));
      RS_CALL(rs_archive_write_state(E->ar, run, next, blob, ri->state_size));
      rs__prof_add(E, RS__PROF_ARCHIVE, a0);
    }
    rs__trace(E, "at", run, next);
    if (h->progress) RS_CALL(h->progress(h->ctx, E, run, next, false));
    bool drain = false;
    if (h->drain) RS_CALL(h->drain(h->ctx, E, &drain));
    if (drain) {
      RS_CALL(rs_trainer_state_save(t, blob));
      RS_CALL(rs_archive_write_state(E->ar, run, rs_trainer_step(t), blob, ri->state_size));
      *drained = true;
      return RS_OK;
    }
  }
  return RS_OK;
}

/* Checkpoint c reached: its metrics (unless already written), its weights
 * when they are kept, then the hook that has it measured. */
static int rs__at_checkpoint(rs__engine *E, rs_trainer *t, int run, int c, double *params,
                             const rs__trainer_hooks *h) {
  const rs_config *cfg = rs_job_run(E->job, run);
  const rs_archive_run *ri = &E->runs[run];
  bool mdone = false;
  RS_CALL(rs_archive_metrics_done(E->ar, run, c, &mdone));
  if (!mdone) {
    rs_dataset *data;
    rs_netview v;
    rs_ckpt_metrics m;
    double t0 = rs__now(), c0 = rs__cpu();
    RS_CALL(rs__dataset(E, run, &data));
    RS_CALL(rs_trainer_view(t, &v));
    RS_CALL(rs_trainer_metrics(t, cfg, data, &m));
    double a0 = rs__prof_add(E, RS__PROF_METRICS, c0);
    RS_CALL(rs_archive_write_metrics(E->ar, run, c, &m));
    E->acc_ck_c += rs__prof_add(E, RS__PROF_ARCHIVE, a0) - c0;
    E->acc_ck_s += rs__now() - t0;
  }
  rs_trainer_get_params(t, params);
  if (ri->save_weights == RS_SAVE_ALL) {
    double a0 = rs__cpu();
    RS_CALL(rs_archive_write_weights(E->ar, run, c, params, ri->nparams));
    rs__prof_add(E, RS__PROF_ARCHIVE, a0);
  }
  return h->checkpoint(h->ctx, E, run, c, E->steps[run][c], params, ri->nparams);
}

int rs__train_run(rs__engine *E, int run, int64_t resume_max_step, const rs__trainer_hooks *h,
                  bool *diverged, bool *drained, int64_t *last_step) {
  const rs_config *cfg = rs_job_run(E->job, run);
  const rs_archive_run *ri = &E->runs[run];
  rs_dataset *data;
  rs_trainer *t = NULL;
  int err = RS_OK;
  *diverged = *drained = false;
  E->pending_run = E->pending_ckpt = -1;
  E->save_now = false;
  RS_CALL(rs__dataset(E, run, &data));
  RS_CALL(rs_trainer_create(cfg, data, &t));
  double *params = malloc(sizeof(double) * (size_t)ri->nparams);
  void *blob = malloc((size_t)ri->state_size);
  if (!params || !blob) {
    err = rs_error(RS_ENOMEM, "out of memory for run %d", run);
    goto done;
  }
  if (resume_max_step > 0) {
    int64_t s = -1;
    RS_TRY(err, rs_archive_read_state(E->ar, run, resume_max_step, &s, blob, ri->state_size),
           done);
    if (s > 0) RS_TRY(err, rs_trainer_state_load(t, blob), done);
    /* Where training really resumes: not counted as progress. */
    if (h->progress) RS_TRY(err, h->progress(h->ctx, E, run, rs_trainer_step(t), true), done);
  }
  rs__trace(E, "start", run, rs_trainer_step(t));
  for (int c = 0; c < ri->nckpt; c++) {
    if (E->steps[run][c] < rs_trainer_step(t)) continue;
    RS_TRY(err, rs__train_to(E, t, run, E->steps[run][c], blob, h, diverged, drained), done);
    if (*diverged || *drained) break;
    RS_TRY(err, rs__at_checkpoint(E, t, run, c, params, h), done);
  }
  *last_step = rs_trainer_step(t);
  if (!*drained && ri->save_weights != RS_SAVE_NONE) {
    rs_trainer_get_params(t, params);
    RS_TRY(err, rs_archive_write_weights(E->ar, run, -1, params, ri->nparams), done);
  }
done:
  if (err != RS_OK) *last_step = t ? rs_trainer_step(t) : 0;
  free(params);
  free(blob);
  rs_trainer_destroy(&t);
  return err;
}
