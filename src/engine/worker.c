/* A worker rank: asks rank 0 for tasks (train a run, measure a shard) until
 * told to stop, and is a trainer's side of the protocol: progress reports,
 * asking who measures a checkpoint, drain and checkpoint-done notices. */
#include <stdlib.h>

#include "engine_internal.h"
#include "protocol.h"
#include "ranksweep/rs_error.h"

/* The state of a worker's hooks during one training task. */
typedef struct {
  double last_progress; /* when the last progress report left */
} rs__worker_ctx;

/* Receives a pending drain notice from rank 0, if there is one. */
static int rs__take_drain_notice(rs__engine *E, bool *taken) {
  MPI_Status st;
  RS_CALL(rs__poll(E->comm, 0, TAG_DRAIN, taken, &st));
  rs__msg m;
  if (*taken) RS_CALL(rs__recv(E->comm, &m, 0, TAG_DRAIN));
  return RS_OK;
}

/* Takes every pending checkpoint-done notice; the one for the checkpoint
 * this trainer handed off lets it persist a newer state. */
static int rs__take_ckdone(rs__engine *E) {
  for (;;) {
    bool flag = false;
    MPI_Status st;
    RS_CALL(rs__poll(E->comm, 0, TAG_CKDONE, &flag, &st));
    if (!flag) return RS_OK;
    rs__msg m;
    RS_CALL(rs__recv(E->comm, &m, 0, TAG_CKDONE));
    if (m.run == E->pending_run && m.ckpt == E->pending_ckpt) {
      E->pending_run = E->pending_ckpt = -1;
      E->save_now = true;
    }
  }
}

static int rs__hook_chunk(void *ctx, rs__engine *E) {
  (void)ctx;
  return rs__take_ckdone(E);
}

/* Drain requests reach a worker as a signal of its own or a message. */
static int rs__hook_drain(void *ctx, rs__engine *E, bool *yes) {
  (void)ctx;
  *yes = rs_sweep_drain_requested();
  if (*yes) return RS_OK;
  RS_CALL(rs__take_drain_notice(E, yes));
  if (*yes) rs__drain_set();
  return RS_OK;
}

/* Progress and the compute time behind it (rank 0 calibrates the ETA), at
 * most every half second; a resume's restart point always. */
static int rs__hook_progress(void *ctx, rs__engine *E, int run, int64_t step, bool resumed) {
  rs__worker_ctx *W = ctx;
  if (resumed) {
    rs__msg m = {.kind = K_NONE, .run = run, .step = step, .flag = 1};
    return rs__send(E->comm, &m, 0, TAG_PROGRESS);
  }
  double t = rs__now();
  if (t - W->last_progress < 0.5) return RS_OK;
  W->last_progress = t;
  rs__msg m = {.kind = K_NONE, .run = run, .step = step, .np = E->acc_train_n,
               .secs = E->acc_train_s, .secs2 = E->acc_train_c};
  E->acc_train_n = 0;
  E->acc_train_s = E->acc_train_c = 0;
  return rs__send(E->comm, &m, 0, TAG_PROGRESS);
}

/* The trainer measures a checkpoint itself: every shard not yet written. */
static int rs__measure_own(rs__engine *E, int run, int ckpt, int64_t step,
                           const double *params) {
  double t0 = rs__now(), c0 = rs__cpu();
  int64_t npts = 0;
  for (int s = 0; s < rs__nshards(E, run); s++) {
    bool done = false;
    RS_CALL(rs_archive_shard_done(E->ar, run, ckpt, s, &done));
    if (done) continue;
    RS_CALL(rs__measure_shard(E, run, ckpt, s, params));
    npts += rs__shard_points(E, run, s);
  }
  rs__msg m = {.kind = K_SHARD, .run = run, .ckpt = ckpt, .step = step, .np = npts,
               .secs = rs__now() - t0, .secs2 = rs__cpu() - c0};
  return rs__send(E->comm, &m, 0, TAG_CKPT);
}

/* A trainer at a checkpoint asks rank 0 who measures it. Rank 0 takes the
 * weights only when a worker is idle and no other checkpoint of this run is
 * still out; otherwise the trainer measures it itself, now. Either way no
 * checkpoint waits behind training, so a kill loses at most the state
 * interval plus the steps trained while one checkpoint is measured. */
static int rs__hook_checkpoint(void *ctx, rs__engine *E, int run, int ckpt, int64_t step,
                               const double *params, int64_t n) {
  (void)ctx;
  rs__msg m = {.kind = K_NONE, .run = run, .ckpt = ckpt, .step = step, .nparams = n,
               .secs = E->acc_ck_s, .secs2 = E->acc_ck_c};
  E->acc_ck_s = E->acc_ck_c = 0;
  RS_CALL(rs__send(E->comm, &m, 0, TAG_CKPT));
  MPI_Status st;
  RS_CALL(rs__probe_sleepy(E->comm, 0, TAG_CKREPLY, &st, false));
  rs__msg reply;
  RS_CALL(rs__recv(E->comm, &reply, 0, TAG_CKREPLY));
  if (reply.flag == CK_ALREADY) return RS_OK;
  if (reply.flag == CK_SEND) {
    RS_CALL(rs__send_params(E->comm, params, n, 0));
    E->pending_run = run;
    E->pending_ckpt = ckpt;
    return RS_OK;
  }
  return rs__measure_own(E, run, ckpt, step, params);
}

/* A shard task: the weights come with the first shard of a checkpoint this
 * worker gets; later shards reuse the copy behind its measurement plan. */
static int rs__shard_task(rs__engine *E, const rs__msg *m, double **params, int64_t *cap,
                          rs__msg *req) {
  bool with_weights = m->flag != 0;
  if (with_weights && m->nparams > *cap) {
    free(*params);
    *params = malloc(sizeof(double) * (size_t)m->nparams);
    *cap = *params ? m->nparams : 0;
  }
  /* Received (and dropped without memory) so the protocol stays in step. */
  if (with_weights) RS_CALL(rs__recv_params(E->comm, *params, m->nparams, 0));
  double t0 = rs__now(), c0 = rs__cpu();
  int err = !with_weights || *params
                ? rs__measure_shard(E, (int)m->run, (int)m->ckpt, (int)m->shard,
                                    with_weights ? *params : NULL)
                : rs_error(RS_ENOMEM, "out of memory for weights");
  req->secs = rs__now() - t0;
  req->secs2 = rs__cpu() - c0;
  req->np = rs__shard_points(E, (int)m->run, (int)m->shard);
  return err;
}

static int rs__train_task(rs__engine *E, const rs__msg *m, rs__msg *req) {
  rs__worker_ctx W = {0};
  rs__trainer_hooks h = {.ctx = &W, .chunk = rs__hook_chunk, .progress = rs__hook_progress,
                         .drain = rs__hook_drain, .checkpoint = rs__hook_checkpoint};
  bool diverged = false, drained = false;
  int64_t last = 0;
  int err = rs__train_run(E, (int)m->run, m->step, &h, &diverged, &drained, &last);
  req->kind = drained ? K_DRAINED : K_TRAIN;
  req->flag = diverged;
  req->step = last;
  req->secs = E->acc_train_s;
  req->secs2 = E->acc_train_c;
  req->np = E->acc_train_n;
  E->acc_train_s = E->acc_train_c = 0;
  E->acc_train_n = 0;
  return err;
}

int rs__worker(rs__engine *E) {
  rs__msg req = {.kind = K_NONE};
  double *params = NULL;
  int64_t cap = 0;
  int err = RS_OK;
  for (;;) {
    RS_TRY(err, rs__take_ckdone(E), out); /* notices for runs this worker no longer trains */
    RS_TRY(err, rs__send(E->comm, &req, 0, TAG_REQ), out);
    MPI_Status st;
    RS_TRY(err, rs__probe_sleepy(E->comm, 0, TAG_TASK, &st, false), out);
    rs__msg m;
    RS_TRY(err, rs__recv(E->comm, &m, 0, TAG_TASK), out);
    if (m.kind == K_STOP) break;
    req = (rs__msg){.kind = m.kind, .run = m.run, .ckpt = m.ckpt, .shard = m.shard};
    if (m.kind == K_BENCH) continue;
    if (m.kind == K_SHARD) err = rs__shard_task(E, &m, &params, &cap, &req);
    else if (m.kind == K_TRAIN) err = rs__train_task(E, &m, &req);
    if (err == RS_EMPI) goto out; /* the protocol is broken: the caller aborts */
    if (err != RS_OK) {
      rs_error_print(err);
      req.flag = req.kind;
      req.kind = K_ERROR;
      err = RS_OK; /* reported; the dispatcher stops everyone */
    }
  }
  /* A DRAIN or CKDONE notice may have crossed the STOP: consume it. */
  bool taken;
  RS_TRY(err, rs__take_drain_notice(E, &taken), out);
  RS_TRY(err, rs__take_ckdone(E), out);
out:
  free(params);
  return err;
}
