/* Unit tests of the engine that need no MPI: the dispatcher's task queue
 * (order, shared weights, bounded memory over a 100-run grid) and the ETA's
 * cost model (priors, measured rates, priors scaled by what was seen, the
 * longest run as a floor). */
#include "engine_fixture.h"
#include "src/engine/progress.h"
#include "src/engine/queue.h"
#include "tests/rs_check.h"

static rs__task fx_task(int run, int ckpt, int shard, double *params, int *refs) {
  (*refs)++;
  return (rs__task){.run = run, .ckpt = ckpt, .params = params, .refs = refs, .shard = shard};
}

/* Which evaluation points each shard measures: over every shard of a run,
 * each point exactly once (no overlap, none skipped), every shard non-empty
 * and within the run, for point counts that the shard size divides and that
 * it does not. */
START_TEST(shards_cover_every_point_once) {
  const int points[] = {1, 7, 8, 9, 40, 41, 63, 64, 65, 1000};
  const int shards[] = {1, 3, 8, 64, 1000, 1001};
  for (size_t a = 0; a < sizeof points / sizeof *points; a++)
    for (size_t b = 0; b < sizeof shards / sizeof *shards; b++) {
      rs__engine E;
      rs_sweep_opts o;
      rs_sweep_opts_default(&o);
      rs_job *job = NULL;
      int P = points[a], S = shards[b];
      fx_engine(&E, &o, &job, 2, 40, 8, MPI_COMM_NULL, 0, 1);
      E.shard = S; /* the cut alone is under test: no job limits on P and S */
      for (int r = 0; r < 2; r++) E.runs[r].npoints = P;
      for (int r = 0; r < 2; r++) {
        int *seen = calloc((size_t)P, sizeof *seen), n = rs__nshards(&E, r);
        ck_assert_int_eq(n, (P + S - 1) / S);
        for (int s = 0; s < n; s++) {
          int p0 = rs__shard_first(&E, r, s), np = rs__shard_points(&E, r, s);
          ck_assert_msg(np >= 1 && np <= S && p0 >= 0 && p0 + np <= P,
                        "%d points, shard %d: shard %d is [%d, %d)", P, S, s, p0, p0 + np);
          for (int p = p0; p < p0 + np; p++) seen[p]++;
        }
        for (int p = 0; p < P; p++)
          ck_assert_msg(seen[p] == 1, "%d points, shard %d: point %d measured %d times", P, S, p,
                        seen[p]);
        free(seen);
      }
      rs__engine_free(&E);
      rs_job_destroy(&job);
    }
}
END_TEST

START_TEST(queue_fifo) {
  rs__queue Q = {0};
  int refs = 1; /* held by the test: never freed by a release */
  for (int i = 0; i < 1000; i++)
    ck_assert_int_eq(rs__queue_push(&Q, fx_task(i / 10, i % 10, i, NULL, &refs)), RS_OK);
  ck_assert_uint_eq(rs__queue_len(&Q), 1000);
  for (int i = 0; i < 1000; i++) {
    if (i == 500) /* pushes in between keep the order */
      for (int k = 1000; k < 1100; k++)
        ck_assert_int_eq(rs__queue_push(&Q, fx_task(k / 10, k % 10, k, NULL, &refs)), RS_OK);
    rs__task t = rs__queue_pop(&Q);
    ck_assert_int_eq(t.shard, i);
    ck_assert_int_eq(t.run, i / 10);
    rs__task_release(&t);
  }
  for (int k = 1000; k < 1100; k++) {
    rs__task t = rs__queue_pop(&Q);
    ck_assert_int_eq(t.shard, k);
    rs__task_release(&t);
  }
  ck_assert_uint_eq(rs__queue_len(&Q), 0);
  ck_assert_int_eq(refs, 1);
  rs__queue_free(&Q);
}
END_TEST

/* The shards of a checkpoint share its weights; the last release frees them
 * (the dispatcher's own reference included). */
START_TEST(queue_shared_weights) {
  rs__queue Q = {0};
  double *params = malloc(4 * sizeof *params);
  int *refs = malloc(sizeof *refs);
  *refs = 1; /* the dispatcher's while it queues */
  for (int s = 0; s < 3; s++) ck_assert_int_eq(rs__queue_push(&Q, fx_task(0, 0, s, params, refs)), RS_OK);
  ck_assert_int_eq(*refs, 4);
  rs__task self = {.params = params, .refs = refs};
  rs__task_release(&self);
  ck_assert_int_eq(*refs, 3);
  rs__task t = rs__queue_pop(&Q);
  ck_assert_ptr_eq(t.params, params);
  rs__task_release(&t);
  ck_assert_int_eq(*refs, 2);
  rs__queue_free(&Q); /* releases the two left: frees params and refs (no leak under valgrind) */
  ck_assert_uint_eq(rs__queue_len(&Q), 0);
}
END_TEST

/* A 100-run grid: 100 runs x 12 checkpoints x 5 shards pass through the
 * queue the way the dispatcher uses it (a checkpoint's shards queued
 * together, workers taking them meanwhile). The array's size follows the
 * tasks queued at once, never the grid: here it keeps its first size. */
START_TEST(queue_bounded_on_100_runs) {
  rs__queue Q = {0};
  int refs = 1, popped = 0, most = 0;
  size_t cap_most = 0;
  for (int r = 0; r < 100; r++)
    for (int c = 0; c < 12; c++) {
      for (int s = 0; s < 5; s++) ck_assert_int_eq(rs__queue_push(&Q, fx_task(r, c, s, NULL, &refs)), RS_OK);
      if ((int)rs__queue_len(&Q) > most) most = (int)rs__queue_len(&Q);
      if (Q.cap > cap_most) cap_most = Q.cap;
      /* the workers keep up: at most 8 tasks wait after each checkpoint */
      while (rs__queue_len(&Q) > 8) {
        rs__task t = rs__queue_pop(&Q);
        ck_assert_int_eq(t.run * 60 + t.ckpt * 5 + t.shard, popped++);
        rs__task_release(&t);
      }
    }
  ck_assert_int_eq(most, 13);
  ck_assert_uint_eq(cap_most, 256);
  while (rs__queue_len(&Q) > 0) {
    rs__task t = rs__queue_pop(&Q);
    ck_assert_int_eq(t.run * 60 + t.ckpt * 5 + t.shard, popped++);
    rs__task_release(&t);
  }
  ck_assert_int_eq(popped, 6000);
  /* Steady state (as many taken as queued): the array never grows past its
   * first size, however many tasks pass. */
  size_t cap = Q.cap;
  for (int i = 0; i < 60000; i++) {
    ck_assert_int_eq(rs__queue_push(&Q, fx_task(0, 0, i, NULL, &refs)), RS_OK);
    rs__task t = rs__queue_pop(&Q);
    ck_assert_int_eq(t.shard, i);
    rs__task_release(&t);
  }
  ck_assert_uint_eq(Q.cap, cap);
  ck_assert_int_eq(refs, 1);
  rs__queue_free(&Q);
}
END_TEST

/* ---- the ETA ---- */
static rs_sweep_opts g_o;
static rs_job *g_job;
static rs__engine g_E;
static rs__progress g_P;

/* runs runs on `size` ranks; run r has 10 + r % 3 parameters (a shape each). */
static void eta_setup(int runs, int size) {
  rs_sweep_opts_default(&g_o);
  g_o.archive = "/nonexistent/eta-test.h5";
  g_o.quiet = true;
  fx_engine(&g_E, &g_o, &g_job, runs, 40, 8, MPI_COMM_NULL, 0, size);
  ck_assert_int_eq(rs__progress_init(&g_E, &g_P), RS_OK);
}

static void eta_teardown(void) {
  rs__progress_free(&g_P);
  rs__engine_free(&g_E);
  rs_job_destroy(&g_job);
}

/* Seconds of run r's remaining work at these unit costs. */
static double work(int r, double step, double point, double ckpt, double *train) {
  const rs_config *cfg = rs_job_run(g_job, r);
  *train = (double)(cfg->train.steps - g_P.run_step[r]) * step + (double)g_P.ck_left[r] * ckpt;
  return *train + (double)g_P.pts_left[r] * point;
}

/* Before any report, the plan's costs (rs_config_cost) are the rates. */
START_TEST(eta_from_priors) {
  eta_setup(3, 3);
  ck_assert_int_eq(g_P.nshape, 3);
  double total = 0, longest = 0, train;
  for (int r = 0; r < 3; r++) {
    rs_run_cost c;
    rs_config_cost(rs_job_run(g_job, r), &c);
    ck_assert_int_eq(g_P.ck_left[r], g_E.runs[r].nckpt);
    ck_assert_int_eq(g_P.pts_left[r], (int64_t)g_E.runs[r].nckpt * 40);
    total += work(r, c.step, c.point, c.ckpt, &train);
    if (train > longest) longest = train;
  }
  double want = total / 2 > longest ? total / 2 : longest; /* two workers */
  ck_assert_double_eq_tol(rs__eta(&g_E, &g_P), want, 1e-9 * want);
  eta_teardown();
}
END_TEST

/* Measured rates replace the priors of their shape; a shape not yet seen
 * runs at its prior scaled by what the seen ones ran at against theirs. */
START_TEST(eta_measured_and_scaled) {
  eta_setup(3, 3);
  rs_run_cost c0;
  rs_config_cost(rs_job_run(g_job, 0), &c0);
  /* run 0's shape: 0.01 s a step, 0.02 s a point, 1 s a checkpoint */
  rs__cost_add(&g_P, 0, RS__COST_STEP, 6.0, 6.0, 600);
  rs__cost_add(&g_P, 0, RS__COST_POINT, 2.0, 2.0, 100);
  rs__cost_add(&g_P, 0, RS__COST_CKPT, 3.0, 3.0, 3);
  ck_assert_int_eq(g_P.pts_left[0], (int64_t)g_E.runs[0].nckpt * 40 - 100);
  g_P.run_step[0] = 300;
  double train, total = work(0, 0.01, 0.02, 1.0, &train), longest = train;
  /* runs 1 and 2: their priors times the seen shape's measured/prior ratio */
  for (int r = 1; r < 3; r++) {
    rs_run_cost c;
    rs_config_cost(rs_job_run(g_job, r), &c);
    total += work(r, c.step * (0.01 / c0.step), c.point * (0.02 / c0.point),
                  c.ckpt * (1.0 / c0.ckpt), &train);
    if (train > longest) longest = train;
  }
  double want = total / 2 > longest ? total / 2 : longest;
  ck_assert_double_eq_tol(rs__eta(&g_E, &g_P), want, 1e-9 * want);
  /* A finished run drops out; with one worker the ETA is the whole sum. */
  g_E.mask_run[1] = g_E.mask_run[2] = 1;
  g_E.size = 2;
  ck_assert_double_eq_tol(rs__eta(&g_E, &g_P), work(0, 0.01, 0.02, 1.0, &train), 1e-9);
  eta_teardown();
}
END_TEST

/* Recent work weighs most: after a slow spell, fast reports pull the rate
 * towards the new speed with the time constant RS__COST_TAU. */
START_TEST(eta_follows_load) {
  eta_setup(1, 2);
  rs__cost_add(&g_P, 0, RS__COST_STEP, 60.0, 60.0, 600); /* 0.1 s a step */
  double slow = g_P.shape[0].secs[RS__COST_STEP] / g_P.shape[0].units[RS__COST_STEP];
  ck_assert_double_eq_tol(slow, 0.1, 1e-12);
  for (int i = 0; i < 100; i++) rs__cost_add(&g_P, 0, RS__COST_STEP, 6.0, 6.0, 600);
  double fast = g_P.shape[0].secs[RS__COST_STEP] / g_P.shape[0].units[RS__COST_STEP];
  /* The slow spell weighs exp(-600 s / RS__COST_TAU) of what it did: the
   * rate is within a percent of the new speed. */
  ck_assert(fast > 0.01 && fast < 0.0101);
  /* Many workers, one run: never less than that run's training. */
  g_E.size = 50;
  double train;
  work(0, fast, 0, 0, &train);
  ck_assert(rs__eta(&g_E, &g_P) >= train);
  eta_teardown();
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("engine");
  TCase *q = tcase_create("queue");
  tcase_add_test(q, shards_cover_every_point_once);
  tcase_add_test(q, queue_fifo);
  tcase_add_test(q, queue_shared_weights);
  tcase_add_test(q, queue_bounded_on_100_runs);
  suite_add_tcase(s, q);
  TCase *e = tcase_create("eta");
  tcase_add_test(e, eta_from_priors);
  tcase_add_test(e, eta_measured_and_scaled);
  tcase_add_test(e, eta_follows_load);
  suite_add_tcase(s, e);
  return s;
}

int main(void) { return rs_check_run(suite()); }
