/* Progress (rank 0): what is done, the ETA's cost model (progress.h) fed with
 * the compute seconds workers report, and the tick that prints the progress
 * line and rewrites the status file. */
#include "progress.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"

#include "ranksweep/rs_error.h"
#include "ranksweep/rs_job.h"

void rs__cost_add(rs__progress *P, int r, int kind, double secs, double cpu, double units) {
  if (units <= 0 || secs < 0 || r < 0 || !P->shape) return;
  P->cpu_sum[kind] += cpu;
  rs__shape *sh = &P->shape[P->shape_of[r]];
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

static double rs__unit_cost(const rs__progress *P, const rs__shape *sh, int kind) {
  if (sh->units[kind] > 0 && sh->secs[kind] > 0) return sh->secs[kind] / sh->units[kind];
  double seen = 0, model = 0;
  for (int i = 0; i < P->nshape; i++)
    if (P->shape[i].units[kind] > 0 && P->shape[i].secs[kind] > 0) {
      seen += P->shape[i].secs[kind];
      model += P->shape[i].units[kind] * P->shape[i].prior[kind];
    }
  return sh->prior[kind] * (model > 0 ? seen / model : 1.0);
}

/* The shape of run r: an existing one with the same key, or a new one with
 * the plan's costs as its prior. */
static int rs__shape_index(rs__progress *P, const rs_config *cfg, const rs_archive_run *ri) {
  rs__shape key = {.nparams = ri->nparams, .batch = cfg->train.batch, .npoints = ri->npoints,
                   .nlayers = ri->nlayers, .prec = cfg->train.precision};
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
  return i;
}

static int rs__shapes_init(rs__engine *E, rs__progress *P) {
  size_t n = E->nruns > 0 ? (size_t)E->nruns : 1;
  P->shape = calloc(n, sizeof *P->shape);
  P->shape_of = calloc(n, sizeof *P->shape_of);
  P->pts_left = calloc(n, sizeof *P->pts_left);
  P->ck_left = calloc(n, sizeof *P->ck_left);
  RS_CHECK(P->shape && P->shape_of && P->pts_left && P->ck_left, RS_ENOMEM, "out of memory");
  for (int r = 0; r < E->nruns; r++) {
    P->shape_of[r] = rs__shape_index(P, rs_job_run(E->job, r), &E->runs[r]);
    if (E->mask_run[r]) continue;
    for (int c = 0; c < E->runs[r].nckpt; c++) {
      P->ck_left[r] += !*rs__mmetrics(E, r, c);
      for (int s = 0; s < rs__nshards(E, r); s++)
        if (!*rs__mshard(E, r, c, s)) P->pts_left[r] += rs__shard_points(E, r, s);
    }
  }
  return RS_OK;
}

static int64_t rs__steps_done(const rs__engine *E, const rs__progress *P) {
  int64_t s = 0;
  for (int r = 0; r < E->nruns; r++)
    if (rs__in_slice(E, r)) s += P->run_step[r];
  return s;
}

double rs__eta(const rs__engine *E, const rs__progress *P) {
  if (!P->shape) return -1;
  double total = 0, longest = 0;
  for (int r = 0; r < E->nruns; r++) {
    if (!rs__in_slice(E, r) || E->mask_run[r]) continue;
    const rs__shape *sh = &P->shape[P->shape_of[r]];
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

void rs__progress_metrics_done(rs__engine *E, rs__progress *P, int r, int c) {
  if (!*rs__mmetrics(E, r, c) && P->ck_left[r] > 0) P->ck_left[r]--;
}

void rs__progress_resumed(rs__progress *P, int r, int64_t step) {
  int64_t delta = step - P->run_step[r];
  P->steps_at_start += delta;
  P->rate_steps += delta;
  P->run_step[r] = step;
}

void rs__progress_run_done(rs__engine *E, rs__progress *P, int r) {
  P->runs_done++;
  P->run_step[r] = rs_job_run(E->job, r)->train.steps;
}

_Static_assert(RS__NCOST == 3, "the status file names three kinds of work");

/* What the status file says now. */
static void rs__status_info_fill(const rs__engine *E, const rs__progress *P, const char *state,
                                 double eta, rs__status_info *s) {
  *s = (rs__status_info){.state = state, .archive = E->o->archive, .job = rs_job_name(E->job),
                         .runs_done = P->runs_done, .runs_total = P->runs_total,
                         .runs_training = P->runs_training, .ranks = E->size,
                         .ckpts_done = P->ckpts_done, .ckpts_total = P->ckpts_total,
                         .steps_done = rs__steps_done(E, P), .steps_total = P->steps_total,
                         .wbytes_in = E->wbytes_in, .wbytes_out = E->wbytes_out,
                         .rate = P->rate, .elapsed = rs__now() - P->t_start, .eta = eta};
  for (int k = 0; k < RS__NCOST; k++) s->cpu_sum[k] = P->cpu_sum[k];
  for (int i = 0; P->shape && i < P->nshape && i < 8; i++) {
    const rs__shape *sh = &P->shape[i];
    rs__status_cost *c = &s->cost[s->ncost++];
    *c = (rs__status_cost){.nparams = sh->nparams, .batch = sh->batch, .npoints = sh->npoints};
    for (int k = 0; k < RS__NCOST; k++) {
      c->units[k] = sh->units[k];
      c->planned[k] = sh->prior[k];
      if (sh->units[k] > 0) {
        c->measured[k] = sh->secs[k] / sh->units[k];
        c->cpu[k] = sh->cpu[k] / sh->units[k];
      }
    }
  }
}

bool rs__progress_due(const rs__engine *E, const rs__progress *P) {
  double t = rs__now();
  return t - P->t_last_status >= RS__STATUS_EVERY || t - P->t_last_print >= E->o->progress_every;
}

void rs__progress_tick(const rs__engine *E, rs__progress *P, bool force, const char *state) {
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
    rs__status_info s;
    rs__status_info_fill(E, P, state, eta, &s);
    /* The status file is a convenience: its failure (a full disk, say) is
     * a warning said once, not an error line per tick; the sweep's own
     * writes report the error that matters. */
    bool failed = rs__status_write(&s) != RS_OK;
    if (failed && !P->status_failing)
      fprintf(stderr, "ranksweep: warning: %s (the sweep goes on; `ranksweep status` may show an "
                      "old state until it can be written again)\n", rs_error_message());
    P->status_failing = failed;
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

/* Where run r's training stands at the start: its last step if it is done;
 * otherwise training restarts from a persisted state at or before the first
 * incomplete checkpoint, so count from the last complete one until the
 * trainer reports where it really is. */
static int64_t rs__start_step(rs__engine *E, int r) {
  if (E->mask_run[r]) return rs_job_run(E->job, r)->train.steps;
  int64_t rs = rs__resume_step(E, r), prev = 0;
  for (int c = 0; c < E->runs[r].nckpt && E->steps[r][c] < rs; c++) prev = E->steps[r][c];
  return prev;
}

int rs__progress_init(rs__engine *E, rs__progress *P) {
  memset(P, 0, sizeof *P);
  P->t_start = P->rate_t = rs__now();
  P->t_last_print = P->t_start;
  P->run_step = calloc(E->nruns > 0 ? (size_t)E->nruns : 1, sizeof *P->run_step);
  RS_CHECK(P->run_step, RS_ENOMEM, "out of memory");
  for (int r = 0; r < E->nruns; r++) {
    if (!rs__in_slice(E, r)) continue;
    P->steps_total += rs_job_run(E->job, r)->train.steps;
    P->runs_total++;
    P->ckpts_total += E->runs[r].nckpt;
    P->runs_done += E->mask_run[r] != 0;
    P->run_step[r] = rs__start_step(E, r);
    for (int c = 0; c < E->runs[r].nckpt; c++)
      P->ckpts_done += E->mask_run[r] || rs__ckpt_complete(E, r, c);
  }
  P->steps_at_start = P->rate_steps = rs__steps_done(E, P);
  P->ckpts_at_start = P->ckpts_done;
  return rs__shapes_init(E, P);
}

void rs__progress_free(rs__progress *P) {
  free(P->run_step);
  free(P->shape);
  free(P->shape_of);
  free(P->pts_left);
  free(P->ck_left);
  memset(P, 0, sizeof *P);
}
