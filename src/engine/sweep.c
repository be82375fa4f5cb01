/* The sweep's orchestration (rs_sweep_run): every rank describes the runs and
 * opens the archive, rank 0 reads the masks, then rank 0 dispatches
 * (dispatcher.c) while the others work (worker.c), or one rank does
 * everything inline (serial.c); finally the archive is finalized and closed,
 * the spectrum pass runs when the job asks for it, and every rank returns
 * the same exit code. The engine's calls to open, reuse, read the masks of,
 * mark runs done in, finalize and close the archive are all here. */
#include "ranksweep/rs_sweep.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "engine_internal.h"
#include "progress.h"
#include "ranksweep/rs_archive.h"
#include "ranksweep/rs_error.h"
#include "ranksweep/rs_fpenv.h"
#include "ranksweep/rs_job.h"
#include "ranksweep/rs_model.h"
#include "ranksweep/rs_spectrum_pass.h"

#include "archive_desc.h"

static int rs__comm_place(MPI_Comm comm, int *rank, int *size) {
  RS_CALL_MPI(MPI_Comm_rank(comm, rank));
  RS_CALL_MPI(MPI_Comm_size(comm, size));
  return RS_OK;
}

/* Every rank learns the lowest failing rank's error, so all take the same
 * path (rs_comm_agree). A rank whose MPI failed aborts them all instead: the
 * others would wait for it. */
static int rs__agree(MPI_Comm comm, int err) { return rs_comm_agree_or_abort(comm, err); }

/* The done hook of the dispatcher and serial mode: the run is marked in the
 * archive (its state slots spent). */
static int rs__run_done(void *ctx, int run, bool diverged, int64_t last_step) {
  rs__engine *E = ctx;
  double a0 = rs__cpu();
  int err = rs_archive_write_run_done(E->ar, run, diverged, last_step);
  rs__prof_add(E, RS__PROF_ARCHIVE, a0);
  return err;
}

/* Collective: opens or creates the archive, then copies reused runs. */
static int rs__open_archive(rs__engine *E) {
  const rs_sweep_opts *o = E->o;
  rs_archive_info info = {.nranks = E->size, .blas_threads = o->blas_threads, .shard = E->shard,
                          .move_aside = o->move_aside, .gemm_backend = E->gemm,
                          .gemm_arch = rs_gemm_libxsmm_arch(), .fp_state = E->fp_state};
  bool created = false;
  rs_job_desc desc; /* the sweep as the archive sees it (archive_desc.c) */
  int err = rs__agree(E->comm, rs_job_desc_build(E->comm, E->job, E->runs, &desc));
  if (err == RS_OK)
    err = rs_archive_open_or_create(E->comm, o->archive, &desc.desc, &info, o->resume, &E->ar,
                                    &created);
  rs_job_desc_free(&desc);
  err = rs__agree(E->comm, err);
  if (err != RS_OK || !o->reuse) return err;
  int nre = 0; /* --reuse: copy the finished runs of the same configuration */
  err = rs__agree(E->comm, rs_archive_reuse(E->ar, o->reuse, &nre));
  if (err != RS_OK) {
    rs_archive_close(&E->ar);
    return err;
  }
  if (E->rank == 0 && !o->quiet)
    fprintf(stderr, "ranksweep: reused %d of %d runs from %s\n", nre, E->nruns, o->reuse);
  return RS_OK;
}

/* Collective: the masks, read from the archive by rank 0 (only it uses them). */
static int rs__read_masks(rs__engine *E) {
  size_t nrc = (size_t)E->nruns * E->maxc;
  E->mask_shard = calloc(nrc * E->maxs, 1);
  E->mask_metrics = calloc(nrc, 1);
  E->mask_run = calloc((size_t)E->nruns, 1);
  int err = RS_OK;
  if (!E->mask_shard || !E->mask_metrics || !E->mask_run)
    err = rs_error(RS_ENOMEM, "out of memory for the masks");
  else if (E->rank == 0)
    err = rs_archive_read_masks(E->ar, E->mask_shard, E->mask_metrics, E->mask_run);
  return rs__agree(E->comm, err);
}

/* Rank 0's part: its progress, then the dispatcher or serial mode. A rank 0
 * that cannot start still stops the workers, which wait for a task. */
static int rs__lead(rs__engine *E, rs__progress *P, bool *complete) {
  const rs_sweep_opts *o = E->o;
  int err = rs__progress_init(E, P);
  if (!o->quiet)
    fprintf(stderr,
            "ranksweep: job %s: %d runs (%d in this process group), %lld checkpoints, "
            "%d ranks, shard %d points%s\n",
            rs_job_name(E->job), E->nruns, P->runs_total, (long long)P->ckpts_total, E->size,
            E->shard, o->resume ? ", resuming" : "");
  rs__done_hook done = {.ctx = E, .run_done = rs__run_done};
  if (err != RS_OK) {
    if (E->size > 1) rs__fatal_mpi(E->comm, rs__stop_workers(E));
    return err;
  }
  if (E->size == 1) return rs__serial(E, P, &done, complete);
  return rs__dispatch(E, P, &done, complete);
}

/* Collective: finalizes and closes the archive (complete: the sweep is). */
static int rs__close_archive(rs__engine *E, bool complete, int err, bool *printed) {
  double a0 = rs__cpu();
  int ferr = rs_archive_finalize(E->ar, complete);
  int cerr = rs_archive_close(&E->ar);
  rs__prof_add(E, RS__PROF_ARCHIVE, a0);
  if (ferr != RS_OK || cerr != RS_OK) {
    /* agreed across ranks where it matters (finalize's room check): one line, from rank 0 */
    if (E->rank == 0) rs_error_print(ferr != RS_OK ? ferr : cerr);
    *printed = true;
    if (err == RS_OK) err = ferr != RS_OK ? ferr : cerr;
  }
  return rs__agree(E->comm, err);
}

/* measure.spectrum: the representation spectra of the final (or, with
 * save_weights: all, every) snapshot, as the last phase of a complete sweep. */
static int rs__spectrum(rs__engine *E) {
  bool want = false;
  for (int r = 0; r < E->nruns; r++) want |= rs_job_run(E->job, r)->measure.spectrum;
  if (!want) return RS_OK;
  rs_spectrum_opts so;
  rs_spectrum_opts_default(&so);
  so.final_only = rs_job_run(E->job, 0)->measure.save_weights != RS_SAVE_ALL;
  so.quiet = E->o->quiet;
  double c0 = rs__cpu();
  int err = rs__fatal_mpi(E->comm, rs_spectrum_pass(E->comm, E->o->archive, &so));
  rs__prof_add(E, RS__PROF_SPECTRUM, c0);
  if (err != RS_OK && E->rank == 0) rs_error_print(err);
  return err;
}

/* The last status file and line (rank 0). */
static void rs__report(rs__engine *E, rs__progress *P, int err, bool complete) {
  const char *state = err != RS_OK ? "error" : complete ? "complete" : "drained";
  if (P->run_step) rs__progress_tick(E, P, true, state);
  if (!E->o->quiet)
    fprintf(stderr, "ranksweep: %s: %s (%d/%d runs done, %.1f s)\n", E->o->archive, state,
            P->runs_done, P->runs_total, rs__now() - P->t_start);
}

/* --profile (collective): every rank's CPU seconds by kind of work, summed on
 * rank 0 and printed there. What no kind claims is the rest: start-up, data
 * loading, the dispatcher's work and waits, MPI. */
static void rs__profile(rs__engine *E, double cpu0) {
  /* after the kinds: the products' CPU share, the process, rank 0 alone, and
   * the products' wall seconds and FLOPs */
  enum { PRODUCTS = RS__NPROF, TOTAL, RANK0, PWALL, PFLOPS, N };
  double mine[N], sum[N];
  double share = E->prof_train_wall > 0 ? E->prof_products_wall / E->prof_train_wall : 0;
  for (int k = 0; k < RS__NPROF; k++) mine[k] = E->prof[k];
  mine[PRODUCTS] = E->prof[RS__PROF_TRAIN] * (share < 1 ? share : 1);
  mine[TOTAL] = rs__cpu() - cpu0;
  mine[RANK0] = E->rank == 0 ? mine[TOTAL] : 0;
  mine[PWALL] = E->prof_products_wall;
  mine[PFLOPS] = E->prof_products_flops;
  int err = MPI_Reduce(mine, sum, N, MPI_DOUBLE, MPI_SUM, 0, E->comm) == MPI_SUCCESS
                ? RS_OK
                : rs_error(RS_EMPI, "MPI_Reduce of the profile failed");
  if (rs__fatal_mpi(E->comm, err) != RS_OK || E->rank != 0) return;
  double known = 0;
  for (int k = 0; k < RS__NPROF; k++) known += sum[k];
  struct {
    const char *name;
    double s;
  } row[] = {{"training: matrix products", sum[PRODUCTS]},
             {"training: the rest of the step", sum[RS__PROF_TRAIN] - sum[PRODUCTS]},
             {"measurement: local ranks", sum[RS__PROF_MEASURE]},
             {"checkpoint metrics", sum[RS__PROF_METRICS]},
             {"archive writes", sum[RS__PROF_ARCHIVE]},
             {"spectrum pass", sum[RS__PROF_SPECTRUM]},
             {"dispatch, start-up, data, MPI", sum[TOTAL] - known}};
  fprintf(stderr, "ranksweep: profile: %.2f s of CPU over %d rank%s (rank 0: %.2f s)\n",
          sum[TOTAL], E->size, E->size > 1 ? "s" : "", sum[RANK0]);
  for (size_t i = 0; i < sizeof row / sizeof row[0]; i++)
    fprintf(stderr, "ranksweep: profile: %-32s %10.2f s %5.1f%%\n", row[i].name, row[i].s,
            sum[TOTAL] > 0 ? 100 * row[i].s / sum[TOTAL] : 0);
  if (sum[PWALL] > 0)
    fprintf(stderr,
            "ranksweep: profile: training products: %.4g GFLOP in %.3f s inside them: %.1f "
            "GFLOP/s per rank\n",
            1e-9 * sum[PFLOPS], sum[PWALL], 1e-9 * sum[PFLOPS] / sum[PWALL]);
}

static int rs__bench(rs__engine *E) {
  int err = RS_OK;
  if (E->size < 2) err = rs_error(RS_EARG, "--bench-dispatch needs at least 2 ranks");
  else if (E->rank == 0) err = rs__bench_dispatch(E, E->o->bench_dispatch);
  else err = rs__worker(E);
  rs__fatal_mpi(E->comm, err);
  if (err != RS_OK) rs_error_print(err);
  return rs_exit_code(err);
}

int rs_sweep_run(MPI_Comm comm, const rs_job *job, const rs_sweep_opts *o) {
  rs__engine E = {.comm = comm, .job = job, .o = o, .nruns = rs_job_nruns(job)};
  rs__progress P = {0};
  bool finish_printed = false; /* the finalize or close error was printed */
  bool complete = false;
  double cpu0 = rs__cpu();
  rs__fatal_mpi(comm, rs__comm_place(comm, &E.rank, &E.size));
  rs_gemm_time(o->profile);
  rs_blas_set_threads(o->blas_threads > 0 ? o->blas_threads : 1);
  /* Installed again in case MPI_Init replaced them (main installs them first). */
  rs_sweep_signals_install(o->drain_signal);
  if (o->bench_dispatch > 0) return rs__bench(&E);
  const char *trace = getenv("RANKSWEEP_TRACE_TRAIN");
  if (trace && *trace) {
    /* Appended to by every rank (so not exclusive), but never through a
     * symlink planted where the trace is to go. */
    int fd = open(trace, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd >= 0 && !(E.trace = fdopen(fd, "a"))) close(fd);
    if (E.trace) setvbuf(E.trace, NULL, _IOLBF, 0);
  }

  /* The shard size is part of the job (so archives compare across rank counts). */
  const rs_config *c0 = rs_job_run(job, 0);
  E.shard = o->shard > 0 ? o->shard : c0->measure.shard > 0 ? c0->measure.shard : 16;

  /* agreed inside (rs__describe_runs) */
  int err = rs__fatal_mpi(comm, rs__describe_runs(&E));
  if (err == RS_OK) err = rs__open_archive(&E);
  if (err != RS_OK) goto out;
  err = rs__read_masks(&E);
  if (err == RS_OK) err = E.rank == 0 ? rs__lead(&E, &P, &complete) : rs__worker(&E);
  rs__fatal_mpi(comm, err);
  if (err != RS_OK) rs_error_print(err);
  int cflag = complete && err == RS_OK;
  rs__fatal_mpi(comm, rs_comm_bcast_int(comm, &cflag, 0)); /* rank 0's word */
  err = rs__agree(comm, err);
  err = rs__close_archive(&E, cflag != 0, err, &finish_printed);
  if (err == RS_OK && cflag) err = rs__spectrum(&E);
  if (E.rank == 0) rs__report(&E, &P, err, cflag != 0);
  if (o->profile) rs__profile(&E, cpu0);
  complete = cflag != 0;
out:
  if (err != RS_OK && E.rank == 0 && !E.ar && !finish_printed) rs_error_print(err);
  rs__progress_free(&P);
  rs__engine_free(&E);
  if (err != RS_OK) return rs_exit_code(err);
  return complete ? RS_EXIT_DONE : RS_EXIT_WORK_REMAINS;
}
