/* Runs, checkpoints and shards: the shapes of the runs (rank 0 describes
 * them, everyone receives them), the masks' geometry, the resume point, the
 * small cache of data sets, the clocks, and freeing the engine's state. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine_internal.h"
#include "ranksweep/rs_error.h"
#include "ranksweep/rs_fpenv.h"
#include "ranksweep/rs_job.h"
#include "ranksweep/rs_model.h"

double rs__cpu(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

double rs__now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

void rs__sleep_us(long us) {
  struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
  nanosleep(&ts, NULL);
}

bool rs__in_slice(const rs__engine *E, int r) {
  return E->o->slice_count <= 0 || r % E->o->slice_count == E->o->slice_index;
}

int rs__nshards(const rs__engine *E, int r) {
  return (E->runs[r].npoints + E->shard - 1) / E->shard;
}

int rs__shard_first(const rs__engine *E, int r, int s) {
  (void)r; /* every run cuts its points alike */
  return s * E->shard;
}

int rs__shard_points(const rs__engine *E, int r, int s) {
  int p0 = rs__shard_first(E, r, s);
  return E->runs[r].npoints - p0 < E->shard ? E->runs[r].npoints - p0 : E->shard;
}

uint8_t *rs__mshard(rs__engine *E, int r, int c, int s) {
  return &E->mask_shard[((size_t)r * E->maxc + c) * E->maxs + s];
}

uint8_t *rs__mmetrics(rs__engine *E, int r, int c) {
  return &E->mask_metrics[(size_t)r * E->maxc + c];
}

bool rs__ckpt_complete(rs__engine *E, int r, int c) {
  bool complete = *rs__mmetrics(E, r, c);
  for (int s = 0; s < rs__nshards(E, r) && complete; s++) complete = *rs__mshard(E, r, c, s);
  return complete;
}

int64_t rs__resume_step(rs__engine *E, int r) {
  for (int c = 0; c < E->runs[r].nckpt; c++)
    if (!rs__ckpt_complete(E, r, c)) return E->steps[r][c];
  return E->steps[r][E->runs[r].nckpt - 1];
}

bool rs__all_done(const rs__engine *E) {
  for (int r = 0; r < E->nruns; r++)
    if (rs__in_slice(E, r) && !E->mask_run[r]) return false;
  return true;
}

int rs__dataset(rs__engine *E, int run, rs_dataset **out) {
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

/* Rank 0: appends run r's value b (under 96 bytes) to the provenance list
 * *list: one value while every run so far has the same, else "run i: value"
 * for each run, ";"-separated. */
static int rs__note_per_run(char **list, int r, const char *b) {
  if (r > 0 && !strchr(*list, ';') && strncmp(*list, "run ", 4) && !strcmp(*list, b))
    return RS_OK;
  size_t old = r > 0 ? strlen(*list) : 0, need = old + (size_t)(r + 1) * 128 + 128;
  char *g = realloc(*list, need);
  RS_CHECK(g, RS_ENOMEM, "out of memory");
  *list = g;
  if (r == 0) {
    snprintf(g, need, "%s", b);
    return RS_OK;
  }
  if (strncmp(g, "run ", 4)) { /* the runs so far agreed: spell them out */
    char first[96];
    snprintf(first, sizeof first, "%s", g);
    size_t n = 0;
    for (int i = 0; i < r; i++) n += (size_t)snprintf(g + n, need - n, "%srun %d: %s", i ? "; " : "", i, first);
  }
  size_t n = strlen(g);
  snprintf(g + n, need - n, "; run %d: %s", r, b);
  return RS_OK;
}

/* Rank 0: run r's shape and checkpoint steps. The shape comes from
 * rs_config_shape over the data set's dimensions (the plan's rule); the
 * trainer is built to refuse a bad run before anything starts and to size
 * its state, and must agree. */
static int rs__describe_run(rs__engine *E, int r) {
  const rs_config *cfg = rs_job_run(E->job, r);
  rs_archive_run *ri = &E->runs[r];
  int64_t tmp[1];
  int n = rs_config_checkpoints(cfg, tmp, 0);
  E->steps[r] = malloc(sizeof(int64_t) * (size_t)n);
  RS_CHECK(E->steps[r], RS_ENOMEM, "out of memory");
  rs_config_checkpoints(cfg, E->steps[r], n);
  ri->nckpt = n;
  rs_dataset *data = NULL;
  rs_trainer *t = NULL;
  rs_netview v;
  rs_run_shape sh;
  int err = rs__dataset(E, r, &data);
  if (err == RS_OK) err = rs_trainer_create(cfg, data, &t);
  /* A value that a module refuses while building the run is the job file's
   * (exit 1, as from plan and train), not a bad command line. */
  if (err == RS_EARG) err = RS_EJOB;
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
    /* rank 0 only (it writes the archive's run tables); freed by rs__engine_free */
    int64_t *ev = malloc(sizeof *ev * (size_t)(data->neval > 0 ? data->neval : 1));
    if (!ev) err = rs_error(RS_ENOMEM, "out of memory for run %d's evaluation points", r);
    else if (data->neval > 0) memcpy(ev, data->eval_index, sizeof *ev * (size_t)data->neval);
    ri->eval_index = ev;
  }
  /* What trains run r: its product backend, and the floating-point state read
   * back from this thread, which rs_trainer_create just set as every
   * training thread sets it (train.flush_denormals). */
  char note[96];
  if (err == RS_OK) {
    rs_trainer_gemm_backend(t, note, sizeof note);
    err = rs__note_per_run(&E->gemm, r, note);
  }
  if (err == RS_OK) {
    rs_fpenv_describe(note, sizeof note);
    err = rs__note_per_run(&E->fp_state, r, note);
  }
  rs_trainer_destroy(&t);
  if (err != RS_OK) rs__error_trace(__FILE__, __LINE__, __func__);
  return err;
}

int rs__describe_runs(rs__engine *E) {
  E->runs = calloc((size_t)E->nruns, sizeof *E->runs);
  E->steps = calloc((size_t)E->nruns, sizeof *E->steps);
  int err = !E->runs || !E->steps ? rs_error(RS_ENOMEM, "out of memory") : RS_OK;
  for (int r = 0; r < E->nruns && err == RS_OK && E->rank == 0; r++) err = rs__describe_run(E, r);
  RS_CALL(rs_comm_agree(E->comm, err)); /* no rank returns alone: the others would wait */
  RS_CALL_MPI(MPI_Bcast(E->runs, (int)(sizeof *E->runs * (size_t)E->nruns), MPI_BYTE, 0,
                        E->comm));
  for (int r = 0; r < E->nruns && err == RS_OK; r++) {
    if (E->rank != 0) E->runs[r].eval_index = NULL; /* rank 0's pointer */
    if (E->rank != 0 && !(E->steps[r] = malloc(sizeof(int64_t) * (size_t)E->runs[r].nckpt)))
      err = rs_error(RS_ENOMEM, "out of memory");
  }
  RS_CALL(rs_comm_agree(E->comm, err));
  for (int r = 0; r < E->nruns; r++) {
    RS_CALL_MPI(MPI_Bcast(E->steps[r], E->runs[r].nckpt, MPI_INT64_T, 0, E->comm));
    E->runs[r].ckpt_steps = E->steps[r];
  }
  E->maxc = E->maxs = 1;
  for (int r = 0; r < E->nruns; r++) {
    if (E->runs[r].nckpt > E->maxc) E->maxc = E->runs[r].nckpt;
    int s = rs__nshards(E, r);
    if (s > E->maxs) E->maxs = s;
  }
  return RS_OK;
}

void rs__engine_free(rs__engine *E) {
  free(E->gemm);
  free(E->fp_state);
  for (int i = 0; i < RS__NCTX; i++) rs_dataset_destroy(&E->ctx[i].data);
  if (E->steps)
    for (int r = 0; r < E->nruns; r++) free(E->steps[r]);
  if (E->runs && E->rank == 0)
    for (int r = 0; r < E->nruns; r++) free((void *)E->runs[r].eval_index);
  free(E->steps);
  free(E->runs);
  free(E->mask_shard);
  free(E->mask_metrics);
  free(E->mask_run);
  rs_lr_plan_destroy(&E->plan);
  free(E->plan_params);
  free(E->counts);
  free(E->spectra);
  free(E->effrank);
  free(E->stablerank);
  if (E->trace) fclose(E->trace);
  memset(E, 0, sizeof *E);
}
