/* The dispatcher (rank 0, the real rs__dispatch) against fake workers (ranks
 * 1 and 2) under mpirun -np 3: the workers answer the protocol as real ones
 * do, without training or measuring, and log what they were given. Checked:
 * every run is trained once and every shard measured once (by a shard task
 * or by its trainer), never one the archive already holds; weights go to a
 * worker once per (worker, run, checkpoint) and only when it does not hold
 * them; a resume starts each run at its first incomplete checkpoint; a drain
 * starts no training, still hands out the queued shards, and stops every
 * worker; a rank 0 that cannot start still stops the workers. */
#include <mpi.h>
#include <stdio.h>
#include <unistd.h>

#include "../rs_check_mpi.h"
#include "engine_fixture.h"
#include "src/engine/progress.h"
#include "src/engine/protocol.h"

#define RUNS 6
#define POINTS 20 /* shards of 8, 8 and 4 points */
#define SHARD 8
#define MAXC 16
#define NSH 3

static int g_rank, g_size;
static char g_archive[256];

/* What the workers did; summed over the ranks at the end. */
typedef struct {
  int trained[RUNS];             /* training tasks per run */
  int train_step[RUNS];          /* the step the task said to resume at, +1 */
  int measured[RUNS][MAXC][NSH]; /* by a shard task or by the run's trainer */
  int weights_in[RUNS][MAXC];    /* weights received with shard tasks */
  int weights_out[RUNS][MAXC];   /* weights a trainer handed to rank 0 */
  int violations;                /* see fx_violation */
  int train_after_drain;         /* training tasks that came after a drain notice */
  int drain_notices;
} fx_log;

static void fx_violation(fx_log *L, const char *what, int r, int c) {
  fprintf(stderr, "rank %d: %s (run %d, checkpoint %d)\n", g_rank, what, r, c);
  L->violations++;
}

/* Takes the drain notices waiting; true if there was one. */
static bool fx_drain_notice(rs__engine *E, fx_log *L) {
  bool any = false, flag = true;
  while (flag) {
    MPI_Status st;
    rs__msg m;
    ck_assert_int_eq(rs__poll(E->comm, 0, TAG_DRAIN, &flag, &st), RS_OK);
    if (flag) ck_assert_int_eq(rs__recv(E->comm, &m, 0, TAG_DRAIN), RS_OK);
    if (flag) L->drain_notices++;
    any |= flag;
  }
  return any;
}

static void fx_ckdone_notices(rs__engine *E) {
  bool flag = true;
  while (flag) {
    MPI_Status st;
    rs__msg m;
    ck_assert_int_eq(rs__poll(E->comm, 0, TAG_CKDONE, &flag, &st), RS_OK);
    if (flag) ck_assert_int_eq(rs__recv(E->comm, &m, 0, TAG_CKDONE), RS_OK);
  }
}

/* A trainer: at each checkpoint from the resume step on, asks rank 0 who
 * measures it, then sends the weights or measures it itself. drain_at >= 0:
 * it stops there as if it had seen the signal itself. */
static rs__msg fx_train(rs__engine *E, const rs__msg *m, int drain_at, const uint8_t *done0,
                        fx_log *L) {
  int r = (int)m->run;
  int64_t last = m->step;
  if (m->step > 0) {
    rs__msg p = {.kind = K_NONE, .run = r, .step = m->step, .flag = 1};
    ck_assert_int_eq(rs__send(E->comm, &p, 0, TAG_PROGRESS), RS_OK);
  }
  for (int c = 0; c < E->runs[r].nckpt; c++) {
    if (E->steps[r][c] < m->step) continue;
    /* "training": the last run longest, so that the other worker, out of
     * runs, waits idle and takes that run's checkpoints through the queue */
    rs__sleep_us(r == RUNS - 1 ? 20000 : 1000);
    if (fx_drain_notice(E, L) || c == drain_at) return (rs__msg){.kind = K_DRAINED, .run = r, .step = last};
    fx_ckdone_notices(E);
    last = E->steps[r][c];
    rs__msg p = {.kind = K_NONE, .run = r, .step = last, .np = 10, .secs = 1e-4, .secs2 = 1e-4};
    ck_assert_int_eq(rs__send(E->comm, &p, 0, TAG_PROGRESS), RS_OK);
    rs__msg q = {.kind = K_NONE, .run = r, .ckpt = c, .step = last,
                 .nparams = E->runs[r].nparams, .secs = 1e-4, .secs2 = 1e-4};
    ck_assert_int_eq(rs__send(E->comm, &q, 0, TAG_CKPT), RS_OK);
    MPI_Status st;
    rs__msg reply;
    ck_assert_int_eq(rs__probe_sleepy(E->comm, 0, TAG_CKREPLY, &st, false), RS_OK);
    ck_assert_int_eq(rs__recv(E->comm, &reply, 0, TAG_CKREPLY), RS_OK);
    if (reply.flag == CK_SEND) {
      double w[16] = {r * 1000 + c};
      ck_assert_int_eq(rs__send_params(E->comm, w, q.nparams, 0), RS_OK);
      L->weights_out[r][c]++;
    } else if (reply.flag == CK_SELF) {
      int np = 0;
      for (int s = 0; s < rs__nshards(E, r); s++)
        if (!done0[((size_t)r * E->maxc + c) * E->maxs + s]) {
          L->measured[r][c][s]++;
          np += rs__shard_points(E, r, s);
        }
      rs__msg own = {.kind = K_SHARD, .run = r, .ckpt = c, .step = last, .np = np, .secs = 1e-4};
      ck_assert_int_eq(rs__send(E->comm, &own, 0, TAG_CKPT), RS_OK);
    }
  }
  return (rs__msg){.kind = K_TRAIN, .run = r, .step = last};
}

/* A shard task: the weights come when the worker does not hold them. */
static rs__msg fx_shard(rs__engine *E, const rs__msg *m, int *hr, int *hc, fx_log *L) {
  int r = (int)m->run, c = (int)m->ckpt;
  if (m->flag) {
    double w[16] = {0};
    if (*hr == r && *hc == c) fx_violation(L, "weights sent to a worker that holds them", r, c);
    if (L->weights_in[r][c]) fx_violation(L, "weights sent twice to one worker", r, c);
    ck_assert_int_eq(rs__recv_params(E->comm, w, m->nparams, 0), RS_OK);
    if (w[0] != r * 1000 + c) fx_violation(L, "the weights of another checkpoint", r, c);
    L->weights_in[r][c]++;
    *hr = r;
    *hc = c;
  } else if (*hr != r || *hc != c) {
    fx_violation(L, "a shard without weights the worker holds", r, c);
  }
  L->measured[r][c][m->shard]++;
  return (rs__msg){.kind = K_SHARD, .run = r, .ckpt = c, .shard = m->shard,
                   .np = rs__shard_points(E, r, (int)m->shard), .secs = 1e-4, .secs2 = 1e-4};
}

static void fx_worker(rs__engine *E, int drain_at, fx_log *L) {
  uint8_t *done0 = E->mask_shard; /* a worker's copy of the masks stays as they started */
  rs__msg req = {.kind = K_NONE};
  int hr = -1, hc = -1; /* the checkpoint whose weights this worker holds */
  for (;;) {
    ck_assert_int_eq(rs__send(E->comm, &req, 0, TAG_REQ), RS_OK);
    MPI_Status st;
    rs__msg m;
    ck_assert_int_eq(rs__probe_sleepy(E->comm, 0, TAG_TASK, &st, false), RS_OK);
    ck_assert_int_eq(rs__recv(E->comm, &m, 0, TAG_TASK), RS_OK);
    if (m.kind == K_STOP) break;
    if (m.kind == K_SHARD) {
      req = fx_shard(E, &m, &hr, &hc, L);
    } else if (m.kind == K_TRAIN) {
      hr = hc = -1;
      if (fx_drain_notice(E, L)) L->train_after_drain++;
      L->trained[m.run]++;
      L->train_step[m.run] = (int)m.step + 1;
      req = fx_train(E, &m, drain_at, done0, L);
      drain_at = -1; /* only the first run */
    } else {
      fx_violation(L, "an unknown task", (int)m.run, (int)m.ckpt);
    }
  }
  fx_drain_notice(E, L); /* may have crossed the STOP */
  fx_ckdone_notices(E);
}

/* ---- rank 0 ---- */
typedef struct {
  int done[RUNS];
} fx_done;

static int fx_run_done(void *ctx, int run, bool diverged, int64_t last_step) {
  fx_done *D = ctx;
  (void)diverged;
  (void)last_step;
  D->done[run]++;
  return RS_OK;
}

typedef struct {
  rs_sweep_opts o;
  rs_job *job;
  rs__engine E;
  fx_log L; /* summed on rank 0 */
  fx_done D;
  bool complete;
  int64_t resume[RUNS];
} fx_sweep;

static void fx_begin(fx_sweep *S) {
  memset(S, 0, sizeof *S);
  rs_sweep_opts_default(&S->o);
  S->o.archive = g_archive;
  S->o.quiet = true;
  fx_engine(&S->E, &S->o, &S->job, RUNS, POINTS, SHARD, MPI_COMM_WORLD, g_rank, g_size);
  ck_assert_int_le(S->E.maxc, MAXC);
  ck_assert_int_eq(S->E.maxs, NSH);
}

/* Runs the dispatcher against the fake workers; worker 1 drains at its
 * first run's checkpoint drain_at (-1: never). */
static void fx_run(fx_sweep *S, int drain_at) {
  rs__engine *E = &S->E;
  for (int r = 0; r < RUNS; r++) S->resume[r] = rs__resume_step(E, r);
  fx_log mine = {0};
  if (g_rank == 0) {
    rs__progress P;
    rs__done_hook hook = {.ctx = &S->D, .run_done = fx_run_done};
    ck_assert_int_eq(rs__progress_init(E, &P), RS_OK);
    int err = rs__dispatch(E, &P, &hook, &S->complete);
    if (drain_at < 0) ck_assert_int_eq(err, RS_OK);
    rs__progress_free(&P);
  } else {
    fx_worker(E, g_rank == 1 ? drain_at : -1, &mine);
  }
  MPI_Reduce(&mine, &S->L, (int)(sizeof mine / sizeof(int)), MPI_INT, MPI_SUM, 0, MPI_COMM_WORLD);
  rs__drain_clear();
  /* The last collective of a test: a failed check on rank 0 after it
   * leaves no rank waiting. */
  MPI_Barrier(MPI_COMM_WORLD);
}

static void fx_end(fx_sweep *S) {
  rs__engine_free(&S->E);
  rs_job_destroy(&S->job);
}

/* Every shard of run r measured once, but those done before (done0). */
static void fx_check_measured_once(fx_sweep *S, const uint8_t *done0, int r) {
  rs__engine *E = &S->E;
  for (int c = 0; c < E->runs[r].nckpt; c++)
    for (int s = 0; s < rs__nshards(E, r); s++) {
      int want = done0 && done0[((size_t)r * E->maxc + c) * E->maxs + s] ? 0 : 1;
      ck_assert_msg(S->L.measured[r][c][s] == want, "run %d checkpoint %d shard %d measured %d times",
                    r, c, s, S->L.measured[r][c][s]);
    }
}

START_TEST(every_task_once) {
  fx_sweep S;
  fx_begin(&S);
  fx_run(&S, -1);
  if (g_rank == 0) {
    ck_assert(S.complete);
    ck_assert_int_eq(S.L.violations, 0);
    int handed = 0;
    for (int r = 0; r < RUNS; r++) {
      ck_assert_int_eq(S.L.trained[r], 1);
      ck_assert_int_eq(S.L.train_step[r], 1); /* from step 0 */
      ck_assert_int_eq(S.D.done[r], 1);
      ck_assert(S.E.mask_run[r]);
      fx_check_measured_once(&S, NULL, r);
      for (int c = 0; c < S.E.runs[r].nckpt; c++) {
        ck_assert_int_le(S.L.weights_out[r][c], 1);
        if (S.L.weights_out[r][c]) ck_assert_int_ge(S.L.weights_in[r][c], 1);
        handed += S.L.weights_out[r][c];
        ck_assert_int_le(S.L.weights_in[r][c], 2); /* once per worker at most */
      }
    }
    ck_assert_int_gt(handed, 0); /* some checkpoints went through the queue */
    ck_assert_int_eq(S.L.drain_notices, 0);
  }
  fx_end(&S);
}
END_TEST

/* An archive resumed: run 2 done, runs 0 and 1 with their first two
 * checkpoints complete, run 1's third with its metrics and one shard. */
START_TEST(resume_hands_out_the_rest) {
  fx_sweep S;
  fx_begin(&S);
  rs__engine *E = &S.E;
  E->mask_run[2] = 1;
  for (int r = 0; r < 2; r++)
    for (int c = 0; c < 2; c++) {
      *rs__mmetrics(E, r, c) = 1;
      for (int s = 0; s < NSH; s++) *rs__mshard(E, r, c, s) = 1;
    }
  *rs__mmetrics(E, 1, 2) = 1;
  *rs__mshard(E, 1, 2, 0) = 1;
  size_t nmask = (size_t)RUNS * E->maxc * E->maxs;
  uint8_t *done0 = malloc(nmask);
  memcpy(done0, E->mask_shard, nmask);
  fx_run(&S, -1);
  if (g_rank == 0) {
    ck_assert(S.complete);
    ck_assert_int_eq(S.L.violations, 0);
    ck_assert_int_eq(S.resume[0], E->steps[0][2]);
    ck_assert_int_eq(S.resume[1], E->steps[1][2]);
    for (int r = 0; r < RUNS; r++) {
      ck_assert_int_eq(S.L.trained[r], r == 2 ? 0 : 1);
      ck_assert_int_eq(S.D.done[r], r == 2 ? 0 : 1);
      if (r == 2) continue;
      ck_assert_int_eq(S.L.train_step[r], (int)S.resume[r] + 1);
      /* checkpoints before the resume step are not emitted again */
      for (int c = 0; c < E->runs[r].nckpt; c++)
        if (E->steps[r][c] < S.resume[r])
          for (int s = 0; s < NSH; s++) done0[((size_t)r * E->maxc + c) * E->maxs + s] = 1;
      fx_check_measured_once(&S, done0, r);
    }
  }
  free(done0);
  fx_end(&S);
}
END_TEST

/* Worker 1 drains at its first run's third checkpoint: the dispatcher drains
 * everyone, starts no training, measures what it queued, stops. */
START_TEST(drain_stops_cleanly) {
  fx_sweep S;
  fx_begin(&S);
  fx_run(&S, 2);
  if (g_rank == 0) {
    ck_assert(!S.complete);
    ck_assert_int_eq(S.L.violations, 0);
    ck_assert_int_eq(S.L.train_after_drain, 0);
    ck_assert_int_le(S.L.drain_notices, 1); /* worker 2 only: worker 1 drained itself */
    int trained = 0;
    for (int r = 0; r < RUNS; r++) {
      trained += S.L.trained[r];
      ck_assert_int_le(S.L.trained[r], 1);
      ck_assert_int_le(S.D.done[r], 1);
      for (int c = 0; c < S.E.runs[r].nckpt; c++) {
        for (int s = 0; s < NSH; s++) ck_assert_int_le(S.L.measured[r][c][s], 1);
        /* a checkpoint whose weights rank 0 took is measured, drain or not */
        if (S.L.weights_out[r][c])
          for (int s = 0; s < rs__nshards(&S.E, r); s++)
            ck_assert_msg(S.L.measured[r][c][s] == 1, "queued shard %d/%d/%d dropped", r, c, s);
      }
    }
    ck_assert_int_lt(trained, RUNS); /* the drain stopped the hand-out */
    ck_assert(!S.E.mask_run[0] || S.L.trained[0]);
  }
  fx_end(&S);
}
END_TEST

/* Rank 0 that cannot start the dispatcher (no memory for its state) still
 * answers each worker's first request with stop: none waits forever. */
START_TEST(workers_stopped_when_rank0_cannot_start) {
  fx_sweep S;
  fx_begin(&S);
  fx_log mine = {0};
  if (g_rank == 0) ck_assert_int_eq(rs__stop_workers(&S.E), RS_OK);
  else fx_worker(&S.E, -1, &mine);
  MPI_Reduce(&mine, &S.L, (int)(sizeof mine / sizeof(int)), MPI_INT, MPI_SUM, 0, MPI_COMM_WORLD);
  MPI_Barrier(MPI_COMM_WORLD);
  if (g_rank == 0)
    for (int r = 0; r < RUNS; r++) ck_assert_int_eq(S.L.trained[r], 0);
  fx_end(&S);
}
END_TEST

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_size);
  if (g_size != 3) {
    if (g_rank == 0) fprintf(stderr, "test_dispatcher: run under mpirun -np 3\n");
    MPI_Finalize();
    return 1;
  }
  int pid = (int)getpid();
  MPI_Bcast(&pid, 1, MPI_INT, 0, MPI_COMM_WORLD);
  snprintf(g_archive, sizeof g_archive, "/tmp/ranksweep-test-dispatcher-%d.h5", pid);
  Suite *s = suite_create("dispatcher");
  TCase *tc = tcase_create("fake workers");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, every_task_once);
  tcase_add_test(tc, resume_hands_out_the_rest);
  tcase_add_test(tc, drain_stops_cleanly);
  tcase_add_test(tc, workers_stopped_when_rank0_cannot_start);
  suite_add_tcase(s, tc);
  int any = rs_check_run_mpi(s, g_rank == 0 ? CK_NORMAL : CK_SILENT);
  if (g_rank == 0) {
    char status[300];
    snprintf(status, sizeof status, "%s.status", g_archive);
    unlink(status);
  }
  MPI_Finalize();
  return any ? 1 : 0;
}
