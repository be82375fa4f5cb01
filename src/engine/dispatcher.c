/* The dispatcher (rank 0 with workers): hands out training runs and the
 * shards of the checkpoints whose weights trainers send it, decides who
 * measures each checkpoint, follows progress, tells trainers when their
 * handed-off checkpoint is measured, and drains on a signal. Also the
 * dispatcher benchmark (empty tasks). */
#include <stdlib.h>

#include "engine_internal.h"
#include "progress.h"
#include "protocol.h"
#include "queue.h"
#include "ranksweep/rs_error.h"
#include "ranksweep/rs_job.h"

typedef struct {
  rs__engine *E;
  rs__progress *P;
  const rs__done_hook *done;
  rs__queue Q;
  int nw;             /* workers: ranks 1..nw */
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
  int err;            /* the first failure (D.failed) */
} rs__disp;

/* A failure stops the hand-out; the first one's message is kept. An MPI
 * failure is returned at once (the caller aborts). */
static int rs__disp_fail(rs__disp *D, int err) {
  if (err == RS_OK) return RS_OK;
  if (!D->failed || D->err == RS_OK) D->err = err;
  D->failed = true;
  return err == RS_EMPI ? err : RS_OK;
}

static void rs__disp_free(rs__disp *D) {
  rs__queue_free(&D->Q); /* shards still queued (drain or failure) are redone after a resume */
  free(D->outstanding);
  free(D->trained);
  free(D->run_diverged);
  free(D->last_step);
  free(D->idle);
  free(D->trainer_of);
  free(D->wrun);
  free(D->wckpt);
}

static int rs__disp_init(rs__disp *D, rs__engine *E, rs__progress *P, const rs__done_hook *done) {
  size_t n = E->nruns > 0 ? (size_t)E->nruns : 1;
  *D = (rs__disp){.E = E, .P = P, .done = done, .nw = E->size - 1, .active = E->size - 1};
  D->outstanding = calloc(n, sizeof *D->outstanding);
  D->trained = calloc(n, sizeof *D->trained);
  D->run_diverged = calloc(n, sizeof *D->run_diverged);
  D->last_step = calloc(n, sizeof *D->last_step);
  D->idle = calloc((size_t)D->nw + 1, sizeof *D->idle);
  D->trainer_of = calloc(n, sizeof *D->trainer_of);
  D->wrun = malloc(sizeof *D->wrun * (size_t)(D->nw + 1));
  D->wckpt = malloc(sizeof *D->wckpt * (size_t)(D->nw + 1));
  if (!D->outstanding || !D->trained || !D->run_diverged || !D->last_step || !D->idle ||
      !D->trainer_of || !D->wrun || !D->wckpt) {
    rs__disp_free(D);
    return rs_error(RS_ENOMEM, "out of memory");
  }
  for (int w = 0; w <= D->nw; w++) D->wrun[w] = D->wckpt[w] = -1;
  return RS_OK;
}

static int rs__finish_run_if_done(rs__disp *D, int r) {
  rs__engine *E = D->E;
  if (!D->trained[r] || D->outstanding[r] > 0 || E->mask_run[r]) return RS_OK;
  RS_CALL(D->done->run_done(D->done->ctx, r, D->run_diverged[r], D->last_step[r]));
  E->mask_run[r] = 1;
  rs__progress_run_done(E, D->P, r);
  if (D->run_diverged[r])
    fprintf(stderr, "ranksweep: run %d (%s) diverged at step %lld\n", r,
            rs_job_run_name(E->job, r), (long long)D->last_step[r]);
  return RS_OK;
}

static int rs__stop(rs__disp *D, int w) {
  rs__msg m = {.kind = K_STOP};
  D->active--;
  return rs__send(D->E->comm, &m, w, TAG_TASK);
}

/* A shard task to worker w, with the checkpoint's weights only if w does not
 * hold them: weights once per (worker, run, checkpoint), as a worker that
 * measured the previous shard of this checkpoint still holds them. */
static int rs__give_shard(rs__disp *D, int w) {
  rs__engine *E = D->E;
  rs__task t = rs__queue_pop(&D->Q);
  bool send = D->wrun[w] != t.run || D->wckpt[w] != t.ckpt;
  rs__msg m = {.kind = K_SHARD, .run = t.run, .ckpt = t.ckpt, .shard = t.shard,
               .nparams = E->runs[t.run].nparams, .flag = send};
  int err = rs__send(E->comm, &m, w, TAG_TASK);
  if (err == RS_OK && send) {
    err = rs__send_params(E->comm, t.params, m.nparams, w);
    E->wbytes_out += (int64_t)sizeof(double) * m.nparams;
    D->wrun[w] = t.run;
    D->wckpt[w] = t.ckpt;
  }
  rs__task_release(&t);
  return err;
}

/* Gives worker w its next task, or parks it. Shards first: they free memory
 * and unblock checkpoints; then new runs. While draining, the shards already
 * queued are still handed out: their checkpoints' weights exist only here,
 * and measuring them lets the trainers' drained states be used on resume (a
 * run resumes at or before its first unmeasured checkpoint). No new training
 * is started. */
static int rs__assign(rs__disp *D, int w) {
  rs__engine *E = D->E;
  if (D->failed || (D->draining && rs__queue_len(&D->Q) == 0)) return rs__stop(D, w);
  if (rs__queue_len(&D->Q) > 0) return rs__give_shard(D, w);
  while (D->next_run < E->nruns &&
         (!rs__in_slice(E, D->next_run) || E->mask_run[D->next_run]))
    D->next_run++;
  if (D->next_run < E->nruns) {
    int r = D->next_run++;
    rs__msg m = {.kind = K_TRAIN, .run = r, .step = rs__resume_step(E, r)};
    D->P->runs_training++;
    D->trainer_of[r] = w;
    D->wrun[w] = D->wckpt[w] = -1; /* its own measurements replace what it holds */
    return rs__send(E->comm, &m, w, TAG_TASK);
  }
  D->idle[D->nidle++] = w;
  return RS_OK;
}

/* Hands queued shards to parked workers (not while draining or failed,
 * where rs__serve_parked decides). */
static int rs__assign_parked(rs__disp *D) {
  while (D->nidle > 0 && rs__queue_len(&D->Q) > 0 && !D->draining && !D->failed)
    RS_CALL(rs__disp_fail(D, rs__assign(D, D->idle[--D->nidle])));
  return RS_OK;
}

/* Starts a drain: no more training; every worker but `except` is told. */
static int rs__start_drain(rs__disp *D, int except) {
  D->draining = true;
  fprintf(stderr, "ranksweep: drain requested: stopping the hand-out, workers persist their state\n");
  rs__msg dm = {.kind = K_STOP};
  for (int w = 1; w <= D->nw; w++)
    if (w != except) RS_CALL(rs__send(D->E->comm, &dm, w, TAG_DRAIN));
  return RS_OK;
}

/* Parked workers measure what a drain left queued, then stop once nothing
 * can come any more. */
static int rs__serve_parked(rs__disp *D) {
  while (D->draining && !D->failed && D->nidle > 0 && rs__queue_len(&D->Q) > 0)
    RS_CALL(rs__disp_fail(D, rs__assign(D, D->idle[--D->nidle])));
  if (D->nidle > 0 && (D->draining || D->failed || rs__all_done(D->E)))
    while (D->nidle > 0) RS_CALL(rs__stop(D, D->idle[--D->nidle]));
  return RS_OK;
}

/* Waits for the next message, ticking the progress meanwhile. *got false:
 * a drain was requested while waiting. */
static int rs__wait(rs__disp *D, MPI_Status *st, bool *got) {
  rs__backoff b;
  rs__backoff_start(&b);
  for (;;) {
    RS_CALL(rs__poll(D->E->comm, MPI_ANY_SOURCE, MPI_ANY_TAG, got, st));
    if (*got || (rs_sweep_drain_requested() && !D->draining)) return RS_OK;
    if (rs__progress_due(D->E, D->P))
      rs__progress_tick(D->E, D->P, false, D->draining ? "draining" : "running");
    rs__backoff_wait(&b);
  }
}

static void rs__on_progress(rs__disp *D, const rs__msg *m) {
  rs__cost_add(D->P, (int)m->run, RS__COST_STEP, m->secs, m->secs2, (double)m->np);
  if (m->flag == 1) rs__progress_resumed(D->P, (int)m->run, m->step);
  else D->P->run_step[m->run] = m->step;
}

/* Takes checkpoint (r, c)'s weights from trainer w and queues the shards not
 * yet measured, which share them. */
static int rs__take_weights(rs__disp *D, int w, int r, int c, int64_t nparams) {
  rs__engine *E = D->E;
  double *params = malloc(sizeof(double) * (size_t)nparams);
  int *refs = malloc(sizeof *refs);
  if (!params || !refs) {
    free(params);
    free(refs);
    /* Received and dropped, so the protocol stays in step. */
    RS_CALL(rs__recv_params(E->comm, NULL, nparams, w));
    return rs_error(RS_ENOMEM, "out of memory for checkpoint weights");
  }
  RS_CALL(rs__recv_params(E->comm, params, nparams, w));
  E->wbytes_in += (int64_t)sizeof(double) * nparams;
  *refs = 1; /* held by this function until the shards are queued */
  int err = RS_OK;
  for (int s = 0; s < rs__nshards(E, r) && err == RS_OK; s++) {
    if (*rs__mshard(E, r, c, s)) continue;
    (*refs)++;
    D->outstanding[r]++;
    err = rs__queue_push(&D->Q, (rs__task){r, c, params, refs, s});
    if (err != RS_OK) (*refs)--;
  }
  rs__task self = {r, c, params, refs, -1};
  rs__task_release(&self);
  return err;
}

/* A trainer reached checkpoint (r, c): it measured it itself (K_SHARD), or
 * asks who measures it. Rank 0 takes the weights only when a worker is idle
 * and no other checkpoint of this run is out. */
static int rs__on_ckpt(rs__disp *D, int w, const rs__msg *m) {
  rs__engine *E = D->E;
  rs__progress *P = D->P;
  int r = (int)m->run, c = (int)m->ckpt;
  bool was_complete = rs__ckpt_complete(E, r, c);
  rs__progress_metrics_done(E, P, r, c);
  *rs__mmetrics(E, r, c) = 1; /* the trainer wrote them */
  P->run_step[r] = m->step;
  if (m->kind == K_SHARD) {
    for (int s = 0; s < rs__nshards(E, r); s++) *rs__mshard(E, r, c, s) = 1;
    if (!was_complete) P->ckpts_done++;
    rs__cost_add(P, r, RS__COST_POINT, m->secs, m->secs2, (double)m->np);
    return RS_OK;
  }
  rs__cost_add(P, r, RS__COST_CKPT, m->secs, m->secs2, m->secs > 0 ? 1 : 0);
  int left = 0;
  for (int s = 0; s < rs__nshards(E, r); s++) left += !*rs__mshard(E, r, c, s);
  bool take = !D->draining && !D->failed && D->nidle > 0 && D->outstanding[r] == 0;
  rs__msg reply = {.run = r, .ckpt = c, .flag = left == 0 ? CK_ALREADY : take ? CK_SEND : CK_SELF};
  if (left == 0 && !was_complete) P->ckpts_done++;
  RS_CALL(rs__disp_fail(D, rs__send(E->comm, &reply, w, TAG_CKREPLY)));
  if (reply.flag != CK_SEND || D->failed) return RS_OK;
  RS_CALL(rs__disp_fail(D, rs__take_weights(D, w, r, c, m->nparams)));
  return rs__assign_parked(D);
}

/* A shard was measured: its checkpoint may be complete, and its run. */
static int rs__shard_done(rs__disp *D, const rs__msg *m) {
  rs__engine *E = D->E;
  int r = (int)m->run;
  *rs__mshard(E, r, (int)m->ckpt, (int)m->shard) = 1;
  D->outstanding[r]--;
  rs__cost_add(D->P, r, RS__COST_POINT, m->secs, m->secs2, (double)m->np);
  if (rs__ckpt_complete(E, r, (int)m->ckpt)) {
    D->P->ckpts_done++;
    /* Its trainer may now persist a state past this checkpoint. */
    if (!D->trained[r] && D->trainer_of[r] > 0) {
      rs__msg note = {.run = r, .ckpt = m->ckpt};
      RS_CALL(rs__send(E->comm, &note, D->trainer_of[r], TAG_CKDONE));
    }
  }
  return rs__finish_run_if_done(D, r);
}

/* Worker w asks for a task, saying what it completed. */
static int rs__on_req(rs__disp *D, int w, const rs__msg *m) {
  rs__progress *P = D->P;
  int r = (int)m->run;
  if (m->kind == K_SHARD) {
    RS_CALL(rs__disp_fail(D, rs__shard_done(D, m)));
  } else if (m->kind == K_TRAIN || m->kind == K_DRAINED) {
    P->runs_training--;
    rs__cost_add(P, r, RS__COST_STEP, m->secs, m->secs2, (double)m->np);
    if (m->kind == K_TRAIN) {
      D->trained[r] = true;
      D->run_diverged[r] = m->flag != 0;
      D->last_step[r] = m->step;
      RS_CALL(rs__disp_fail(D, rs__finish_run_if_done(D, r)));
    } else if (!D->draining) {
      rs__drain_set(); /* a worker saw the signal first: drain everyone */
    }
  } else if (m->kind == K_ERROR) {
    D->failed = true;
    if (m->flag == K_TRAIN) P->runs_training--;
  }
  if (rs_sweep_drain_requested() && !D->draining) RS_CALL(rs__start_drain(D, w));
  return rs__disp_fail(D, rs__assign(D, w));
}

static int rs__on_message(rs__disp *D, const MPI_Status *st) {
  rs__msg m;
  int w = st->MPI_SOURCE;
  RS_CALL(rs__recv(D->E->comm, &m, w, st->MPI_TAG));
  switch (st->MPI_TAG) {
  case TAG_PROGRESS:
    rs__on_progress(D, &m);
    return RS_OK;
  case TAG_CKPT:
    return rs__on_ckpt(D, w, &m);
  case TAG_REQ:
    return rs__on_req(D, w, &m);
  default:
    return rs__disp_fail(D, rs_error(RS_EINTERNAL, "unexpected message tag %d from rank %d",
                                     st->MPI_TAG, w));
  }
}

/* Progress reports still in flight when the last worker stopped. */
static int rs__drop_late_progress(rs__engine *E) {
  for (;;) {
    bool flag = false;
    MPI_Status st;
    RS_CALL(rs__poll(E->comm, MPI_ANY_SOURCE, TAG_PROGRESS, &flag, &st));
    if (!flag) return RS_OK;
    rs__msg m;
    RS_CALL(rs__recv(E->comm, &m, st.MPI_SOURCE, TAG_PROGRESS));
  }
}

int rs__dispatch(rs__engine *E, rs__progress *P, const rs__done_hook *done, bool *complete) {
  rs__disp D;
  *complete = false;
  int err = rs__disp_init(&D, E, P, done);
  if (err != RS_OK) {
    RS_CALL(rs__stop_workers(E));
    return err;
  }
  while (D.active > 0) {
    if (rs_sweep_drain_requested() && !D.draining) RS_TRY(err, rs__start_drain(&D, 0), out);
    RS_TRY(err, rs__serve_parked(&D), out);
    if (D.active == 0) break;
    MPI_Status st;
    bool got = false;
    RS_TRY(err, rs__wait(&D, &st, &got), out);
    if (!got) continue;
    RS_TRY(err, rs__on_message(&D, &st), out);
    rs__progress_tick(E, P, false, D.draining ? "draining" : "running");
  }
  RS_TRY(err, rs__drop_late_progress(E), out);
  *complete = !D.failed && rs__all_done(E);
  if (D.failed)
    err = D.err != RS_OK ? D.err : rs_error(RS_EINTERNAL, "a worker failed (see its message above)");
out:
  rs__disp_free(&D);
  return err;
}

int rs__stop_workers(rs__engine *E) {
  for (int stopped = 0; stopped < E->size - 1; stopped++) {
    MPI_Status st;
    rs__msg m = {.kind = K_STOP};
    RS_CALL(rs__probe_sleepy(E->comm, MPI_ANY_SOURCE, TAG_REQ, &st, false));
    RS_CALL(rs__recv(E->comm, &m, st.MPI_SOURCE, TAG_REQ));
    m = (rs__msg){.kind = K_STOP};
    RS_CALL(rs__send(E->comm, &m, st.MPI_SOURCE, TAG_TASK));
  }
  return RS_OK;
}

int rs__bench_dispatch(rs__engine *E, int ntasks) {
  int handed = 0, active = E->size - 1;
  double t0 = rs__now();
  while (active > 0) {
    MPI_Status st;
    RS_CALL(rs__probe_sleepy(E->comm, MPI_ANY_SOURCE, TAG_REQ, &st, false));
    rs__msg m;
    RS_CALL(rs__recv(E->comm, &m, st.MPI_SOURCE, TAG_REQ));
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
