/* Serial mode: one rank trains every run of its slice and measures each
 * checkpoint inline, refreshing the progress line and the status file from
 * inside the training loop (its hooks' context carries the progress). */
#include "engine_internal.h"
#include "progress.h"
#include "ranksweep/rs_error.h"
#include "ranksweep/rs_job.h"

typedef struct {
  rs__progress *P;
  int run; /* the run being trained */
} rs__serial_ctx;

/* Moves the compute seconds the trainer accumulated into the cost model,
 * then ticks. */
static void rs__serial_tick(rs__serial_ctx *S, rs__engine *E) {
  rs__progress *P = S->P;
  rs__cost_add(P, S->run, RS__COST_STEP, E->acc_train_s, E->acc_train_c, (double)E->acc_train_n);
  rs__cost_add(P, S->run, RS__COST_CKPT, E->acc_ck_s, E->acc_ck_c, E->acc_ck_s > 0 ? 1 : 0);
  E->acc_train_s = E->acc_ck_s = E->acc_train_c = E->acc_ck_c = 0;
  E->acc_train_n = 0;
  rs__progress_tick(E, P, false, "running");
}

static int rs__serial_progress(void *ctx, rs__engine *E, int run, int64_t step, bool resumed) {
  rs__serial_ctx *S = ctx;
  if (resumed) return RS_OK; /* counted from the last complete checkpoint, as before */
  S->P->run_step[run] = step;
  rs__serial_tick(S, E);
  return RS_OK;
}

static int rs__serial_drain(void *ctx, rs__engine *E, bool *yes) {
  (void)ctx;
  (void)E;
  *yes = rs_sweep_drain_requested();
  return RS_OK;
}

/* Measures every shard of the checkpoint not yet written. */
static int rs__serial_checkpoint(void *ctx, rs__engine *E, int run, int ckpt, int64_t step,
                                 const double *params, int64_t n) {
  (void)n;
  rs__serial_ctx *S = ctx;
  rs__progress *P = S->P;
  rs__progress_metrics_done(E, P, run, ckpt);
  rs__serial_tick(S, E);
  bool was_complete = rs__ckpt_complete(E, run, ckpt);
  for (int s = 0; s < rs__nshards(E, run); s++) {
    if (*rs__mshard(E, run, ckpt, s)) continue;
    double t0 = rs__now(), c0 = rs__cpu();
    RS_CALL(rs__measure_shard(E, run, ckpt, s, params));
    rs__cost_add(P, run, RS__COST_POINT, rs__now() - t0, rs__cpu() - c0,
                 rs__shard_points(E, run, s));
    *rs__mshard(E, run, ckpt, s) = 1;
  }
  *rs__mmetrics(E, run, ckpt) = 1;
  P->run_step[run] = step;
  if (!was_complete) P->ckpts_done++;
  rs__progress_tick(E, P, false, "running");
  return RS_OK;
}

int rs__serial(rs__engine *E, rs__progress *P, const rs__done_hook *done, bool *complete) {
  rs__serial_ctx S = {.P = P, .run = -1};
  rs__trainer_hooks h = {.ctx = &S, .progress = rs__serial_progress, .drain = rs__serial_drain,
                         .checkpoint = rs__serial_checkpoint};
  *complete = true;
  for (int r = 0; r < E->nruns; r++) {
    if (!rs__in_slice(E, r) || E->mask_run[r]) continue;
    if (rs_sweep_drain_requested()) {
      *complete = false;
      break;
    }
    bool diverged, drained;
    int64_t last;
    S.run = r;
    P->runs_training = 1;
    RS_CALL(rs__train_run(E, r, rs__resume_step(E, r), &h, &diverged, &drained, &last));
    P->runs_training = 0;
    if (drained) {
      *complete = false;
      break;
    }
    RS_CALL(done->run_done(done->ctx, r, diverged, last));
    E->mask_run[r] = 1;
    rs__progress_run_done(E, P, r);
    if (diverged)
      fprintf(stderr, "ranksweep: run %d (%s) diverged at step %lld\n", r,
              rs_job_run_name(E->job, r), (long long)last);
    rs__progress_tick(E, P, false, "running");
  }
  return RS_OK;
}
