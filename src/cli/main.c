/* The ranksweep command: parses each command's options (getopt_long, from the
 * table in help.c), calls one library function per command and maps its error
 * code to the exit code. All the work lives in the modules. */
#include <errno.h>
#include <math.h>
#include <mpi.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "plan_probe.h"
#include "ranksweep/rs_archive.h"
#include "ranksweep/rs_data.h"
#include "ranksweep/rs_error.h"
#include "ranksweep/rs_fpenv.h"
#include "ranksweep/rs_job.h"
#include "ranksweep/rs_measure.h"
#include "ranksweep/rs_model.h"
#include "ranksweep/rs_spectrum_pass.h"
#include "ranksweep/rs_sweep.h"
#include "rs_build.h"
#include "show.h"

int rs_cmd_ib(int argc, char **argv);

#define RS_MAX_RUN_INDEX 999999 /* a grid expands to at most 1,000,000 runs */

/* Library failure: its one line (rank 0 only under MPI), then the exit code.
 * An MPI failure is printed by the rank that saw it and ends every rank
 * (MPI_Abort): the others may be waiting in a collective that never ends. */
static int fail(int err, bool print) {
  if (err == RS_EMPI) {
    rs_error_print(err);
    MPI_Abort(MPI_COMM_WORLD, rs_exit_code(err));
  }
  if (err != RS_OK && print) rs_error_print(err);
  return rs_exit_code(err);
}

static int load_job(const char *path, rs_job **job) {
  return path ? rs_job_load(path, job) : rs_job_load_default(job);
}

/* A run of a loaded job that cannot be built or trained (its data set, its
 * model, a value that does not fit the data) is a bad job file: exit 1 from
 * plan and train, as from run. The modules report such a value as RS_EARG,
 * which the exit-code mapping keeps for the command line's own values (exit
 * 2); the message is unchanged. */
static int job_error(int err) { return err == RS_EARG ? RS_EJOB : err; }

/* One line on stderr when OpenBLAS runs a generic kernel on a CPU that could
 * run a fast one; never acted on silently (the fix is the user's to apply). */
static void warn_blas_kernel(void) {
  char line[512];
  if (rs_blas_kernel_warning(line, sizeof line)) fprintf(stderr, "%s\n", line);
}

/* A file data set (idx, npy) whose files cannot be read yet: plan prints
 * the cost before it fails, since a plan is often made before the data is
 * fetched. */
static bool data_files_missing(const rs_config *c) {
  const char *f[4];
  int n = rs_config_data_files(c, f, NULL);
  for (int k = 0; k < n; k++)
    if (access(f[k], R_OK) != 0) return true;
  return false;
}

/* The job's data files that cannot be read, as one error: the first one
 * with its key and reason, how many others, and what fetches them. RS_OK
 * when every file is readable. */
static int missing_data_error(const rs_job *job) {
  enum { SEEN = 16 };
  const char *seen[SEEN];
  int nseen = 0, nmissing = 0, first_errno = 0;
  const char *first = NULL, *first_key = NULL;
  for (int r = 0; r < rs_job_nruns(job); r++) {
    const char *f[4], *k[4];
    int n = rs_config_data_files(rs_job_run(job, r), f, k);
    for (int i = 0; i < n; i++) {
      bool dup = false;
      for (int s = 0; s < nseen && !dup; s++) dup = !strcmp(seen[s], f[i]);
      if (dup) continue;
      if (nseen < SEEN) seen[nseen++] = f[i];
      if (access(f[i], R_OK) == 0) continue;
      if (nmissing++ == 0) {
        first = f[i];
        first_key = k[i];
        first_errno = errno;
      }
    }
  }
  if (!first) return RS_OK;
  const char *hint = rs_data_fetch_hint(first);
  char more[64] = "";
  if (nmissing > 1)
    snprintf(more, sizeof more, " and %d more data file%s", nmissing - 1,
             nmissing == 2 ? "" : "s");
  return rs_error(RS_EDATA, "%s: %s: cannot read %s: %s (run and train fail until it%s exist%s); %s",
                  rs_job_origin(job), first_key, first, strerror(first_errno), more,
                  nmissing > 1 ? "" : "s", hint ? hint : "create or fetch the data first");
}

/* Builds each run's data set and model and discards them, as `run` does for
 * every run before it creates the archive: a job that plans cleanly does not
 * fail at its start on its content (missing or malformed data files, labels
 * that do not fit the loss, a decoder that does not fit the data). */
/* The data dimensions of each run whose data set was built (plan_check_runs),
 * so the plan counts parameters and costs from the files themselves. */
typedef struct {
  rs_run_io *io;
  bool *known;
} plan_io;

static bool plan_io_get(void *ctx, int run, const rs_config *c, rs_run_io *io) {
  (void)c;
  const plan_io *p = ctx;
  if (!p->known || !p->known[run]) return false;
  *io = p->io[run];
  return true;
}

static int plan_check_runs(const rs_job *job, bool skip_missing, plan_io *pio) {
  int err = RS_OK;
  for (int r = 0; r < rs_job_nruns(job) && err == RS_OK; r++) {
    const rs_config *cfg = rs_job_run(job, r);
    if (skip_missing && data_files_missing(cfg)) continue;
    rs_dataset *data = NULL;
    rs_trainer *t = NULL;
    err = rs_dataset_create(cfg, &data);
    if (err == RS_OK && pio && pio->known) {
      pio->io[r] = (rs_run_io){data->dim, data->outputs, data->classification};
      pio->known[r] = true;
    }
    if (err == RS_OK) err = rs_trainer_create(cfg, data, &t);
    rs_trainer_destroy(&t);
    rs_dataset_destroy(&data);
    if (err != RS_OK && rs_job_nruns(job) > 1) {
      char msg[1024];
      snprintf(msg, sizeof msg, "%s", rs_error_message());
      err = rs_error(err, "run %d (%s): %s", r, rs_job_run_name(job, r), msg);
    }
  }
  rs_data_cache_clear();
  return job_error(err);
}

/* Operands after the options: at most max (min..max), named for the message. */
static int operands(const char *cmd, int argc, char **argv, int first, int min, int max,
                    const char *what) {
  int n = argc - first;
  if (n < min) return rs_cli_usage_error(cmd, "%s required", what);
  if (max >= 0 && n > max)
    return rs_cli_usage_error(cmd, "unexpected argument '%s' (expected %s)", argv[first + max], what);
  return 0;
}

/* Runs getopt over the command's table, calling on_opt for each option.
 * Returns -1 to go on (operands start at *first), or an exit code. */
typedef int (*opt_fn)(void *ctx, int id, const char *arg);
static int parse(const char *name, int argc, char **argv, opt_fn on_opt, void *ctx, int *first) {
  rs_cli_parser p;
  int rc = rs_cli_parser_init(&p, rs_cli_find(name));
  if (rc != RS_EXIT_DONE) return rc;
  const char *arg;
  int id;
  while ((id = rs_cli_next(&p, argc, argv, &arg, first)) != -1) {
    if (id == RS_OPT_HELP) rc = RS_EXIT_DONE;
    else if (id == RS_EXIT_USAGE) rc = RS_EXIT_USAGE;
    else rc = on_opt ? on_opt(ctx, id, arg) : rs_cli_usage_error(name, "unexpected option");
    if (id == RS_OPT_HELP || rc != 0) break;
  }
  rs_cli_parser_free(&p);
  return id == -1 ? -1 : rc;
}

/* ---- plan ---- */
static int plan_opt(void *ctx, int id, const char *arg) {
  rs_plan_opts *po = ctx;
  long long v;
  if (id == RS_OPT_REUSE) {
    if (!arg[0]) return rs_cli_usage_error("plan", "--reuse expects an archive");
    po->reused_from = arg;
    return 0;
  }
  if (id != RS_OPT_RANKS) return rs_cli_usage_error("plan", "unexpected option");
  int rc = rs_cli_int("plan", "ranks", arg, 1, 1000000, &v);
  if (!rc) po->ranks = (int)v;
  return rc;
}

/* plan --reuse OLD.h5: the runs `run --reuse` would copy from OLD.h5 (a run
 * finished there with the same configuration hash) into reused[]. */
static int plan_reused(const rs_job *job, const char *old, bool *reused) {
  int R = rs_job_nruns(job);
  rs_archive *a = NULL;
  RS_CALL(rs_archive_open_read(old, &a));
  rs_archive_header h;
  rs_archive_dims D;
  rs_archive_header_get(a, &h);
  rs_archive_dims_get(a, &D);
  char **oh = NULL, *nh = malloc((size_t)R * 65);
  int rc = nh ? RS_OK : rs_error(RS_ENOMEM, "plan: out of memory");
  if (rc == RS_OK && h.version < 2)
    rc = rs_error(RS_EARCHIVE, "--reuse %s: archive format version %lld records no configuration "
                  "hashes; expected format 2", old, (long long)h.version);
  if (rc == RS_OK) rc = rs_archive_config_hashes(a, &oh);
  if (rc == RS_OK) rc = rs_job_config_hashes(job, nh);
  for (int64_t q = 0; rc == RS_OK && q < D.nruns; q++) {
    bool done = false;
    rc = rs_archive_run_done(a, (int)q, &done, NULL);
    for (int r = 0; rc == RS_OK && done && r < R; r++)
      if (!reused[r] && strcmp(oh[q], nh + (size_t)r * 65) == 0) reused[r] = true;
  }
  free(oh); /* (one block) */
  free(nh);
  int crc = rs_archive_close(&a);
  return rc != RS_OK ? rc : crc;
}

static int cmd_plan(int argc, char **argv) {
  static rs_plan_probe probe; /* (large: not on the stack; zeroed, as plan runs once) */
  rs_plan_opts po = {.ranks = 1, .calibrate = rs_plan_probe_calibrate, .calibrate_ctx = &probe};
  int first, rc = parse("plan", argc, argv, plan_opt, &po, &first);
  if (rc >= 0) return rc;
  if ((rc = operands("plan", argc, argv, first, 0, 1, "at most one JOB.yaml"))) return rc;
  rs_job *job = NULL;
  plan_io pio = {NULL, NULL};
  bool *reused = NULL;
  int err;
  RS_TRY(err, load_job(first < argc ? argv[first] : NULL, &job), done);
  warn_blas_kernel();
  pio.io = calloc((size_t)rs_job_nruns(job), sizeof *pio.io);
  pio.known = calloc((size_t)rs_job_nruns(job), sizeof *pio.known);
  if (!pio.io || !pio.known) RS_TRY(err, rs_error(RS_ENOMEM, "plan: out of memory"), done);
  po.io = plan_io_get;
  po.io_ctx = &pio;
  RS_TRY(err, plan_check_runs(job, true, &pio), done);
  /* Runs an old archive holds: only when every data file can be read (their
   * checksums are part of the match; otherwise the error below says what
   * is missing). */
  if (po.reused_from && missing_data_error(job) == RS_OK) {
    if (!(reused = calloc((size_t)rs_job_nruns(job), sizeof *reused)))
      RS_TRY(err, rs_error(RS_ENOMEM, "plan: out of memory"), done);
    RS_TRY(err, plan_reused(job, po.reused_from, reused), done);
    po.reused = reused;
  }
  rs_error_clear();
  /* Data files that cannot be read yet: the plan is printed (its cost does
   * not need them), then one error line naming the first such file and what
   * fetches it, and exit 1 as run would: the job cannot run as it stands. */
  RS_TRY(err, rs_job_plan_print_opts(job, &po, stdout), done);
  rs_plan_probe_print(&probe, stdout);
  /* What runs the products, and what could: both change speed and bits. */
  const char *forced = rs_blas_kernel_forced();
  printf("BLAS: OpenBLAS kernel '%s' (%s%s%s); this CPU supports %s; libxsmm generates for "
         "'%s' (train.gemm: auto, libxsmm)\n",
         rs_blas_kernel(), *forced ? "forced by OPENBLAS_CORETYPE=" : "OpenBLAS's own choice",
         forced, rs_blas_kernel_below_cpu() ? ", below this CPU" : "", rs_cpu_best_isa(),
         rs_gemm_libxsmm_arch());
  fflush(stdout);
  err = missing_data_error(job);
done:
  free(pio.io);
  free(pio.known);
  free(reused);
  rs_job_destroy(&job);
  return fail(err, true);
}

/* ---- train ---- */
typedef struct {
  long long run, threads;
} train_args;

static int train_opt(void *ctx, int id, const char *arg) {
  train_args *a = ctx;
  if (id == RS_OPT_RUN) return rs_cli_int("train", "run", arg, 0, RS_MAX_RUN_INDEX, &a->run);
  if (id == RS_OPT_THREADS) return rs_cli_int("train", "threads", arg, 1, 1024, &a->threads);
  return rs_cli_usage_error("train", "unexpected option");
}

/* One run, in this process, with a table of the local rank per checkpoint. */
static int cmd_train(int argc, char **argv) {
  train_args a = {0, 1};
  int first, rc = parse("train", argc, argv, train_opt, &a, &first);
  if (rc >= 0) return rc;
  if ((rc = operands("train", argc, argv, first, 0, 1, "at most one JOB.yaml"))) return rc;
  rs_blas_set_threads((int)a.threads);
  rs_job *job = NULL;
  int err = load_job(first < argc ? argv[first] : NULL, &job);
  if (err != RS_OK) return fail(err, true);
  int run = (int)a.run;
  if (run >= rs_job_nruns(job)) {
    err = rs_error(RS_EARG, "train: --run %d out of range (the job has runs 0..%d)", run,
                   rs_job_nruns(job) - 1);
    rs_job_destroy(&job);
    return fail(err, true);
  }
  warn_blas_kernel();
  const rs_config *cfg = rs_job_run(job, run);
  rs_dataset *data = NULL;
  rs_trainer *t = NULL;
  int64_t *steps = NULL;
  int32_t *counts = NULL;
  double *eff = NULL, *stab = NULL;
  RS_TRY(err, rs_dataset_create(cfg, &data), done);
  RS_TRY(err, rs_trainer_create(cfg, data, &t), done);
  int nck = rs_config_checkpoints(cfg, NULL, 0);
  steps = malloc(sizeof *steps * (size_t)nck);
  if (!steps) {
    err = rs_error(RS_ENOMEM, "out of memory");
    goto done;
  }
  rs_config_checkpoints(cfg, steps, nck);
  rs_netview v;
  RS_TRY(err, rs_trainer_view(t, &v), done);
  int L = v.nmeasure, P = data->neval, E = cfg->measure.neps;
  counts = malloc(sizeof *counts * (size_t)L * P * (E + 1));
  eff = malloc(sizeof *eff * (size_t)L * P);
  stab = malloc(sizeof *stab * (size_t)L * P);
  if (!counts || !eff || !stab) {
    err = rs_error(RS_ENOMEM, "out of memory");
    goto done;
  }
  int mid = E / 2;
  printf("run %d: %s (job %s)\n", run, rs_job_run_name(job, run), rs_job_name(job));
  printf("local rank = mean over %d points of #{sigma_i(J_l(x)) > %g}\n", P, cfg->measure.eps[mid]);
  printf("%9s %10s %7s %10s %7s", "step", "train", "acc", "heldout", "acc");
  for (int l = 1; l <= L; l++) printf("  LR%-5d", l);
  printf("\n");
  for (int c = 0; c < nck; c++) {
    bool diverged = false;
    RS_TRY(err, rs_trainer_run_to(t, steps[c], &diverged), done);
    if (diverged) {
      printf("diverged at step %lld (loss %g)\n", (long long)rs_trainer_step(t),
             rs_trainer_last_loss(t));
      break;
    }
    rs_ckpt_metrics m;
    RS_TRY(err, rs_trainer_view(t, &v), done);
    RS_TRY(err, rs_trainer_metrics(t, cfg, data, &m), done);
    rs_lr_points res = {.neps = E, .eps = cfg->measure.eps, .counts = counts,
                        .spectra = NULL, .effrank = eff, .stablerank = stab};
    RS_TRY(err, rs_localrank_points(&v, data->xeval, P, &res), done);
    printf("%9lld %10.4g %7.3f %10.4g %7.3f", (long long)steps[c], m.train_loss, m.train_acc,
           m.heldout_loss, m.heldout_acc);
    for (int l = 0; l < L; l++) {
      double s = 0;
      for (int p = 0; p < P; p++) s += counts[((size_t)l * P + p) * (E + 1) + mid];
      printf("  %7.2f", s / P);
    }
    printf("\n");
    fflush(stdout);
  }
done:
  free(steps);
  free(counts);
  free(eff);
  free(stab);
  rs_trainer_destroy(&t);
  rs_dataset_destroy(&data);
  rs_job_destroy(&job);
  return fail(job_error(err), true);
}

/* ---- run ---- */
static int signal_by_name(const char *s) {
  const char *n = strncmp(s, "SIG", 3) == 0 ? s + 3 : s;
  if (!strcmp(n, "USR1")) return SIGUSR1;
  if (!strcmp(n, "USR2")) return SIGUSR2;
  if (!strcmp(n, "TERM")) return SIGTERM;
  if (!strcmp(n, "INT")) return SIGINT;
  if (!strcmp(n, "HUP")) return SIGHUP;
  if (!strcmp(n, "XCPU")) return SIGXCPU;
  return -1;
}

static int run_opt(void *ctx, int id, const char *arg) {
  rs_sweep_opts *o = ctx;
  long long v;
  int rc = 0;
  switch (id) {
  case RS_OPT_OUTPUT:
    if (!arg[0]) return rs_cli_usage_error("run", "--output expects a file name");
    o->archive = arg;
    break;
  case RS_OPT_RESUME:
    o->resume = true;
    break;
  case RS_OPT_MOVE_ASIDE:
    o->move_aside = true;
    break;
  case RS_OPT_PROFILE:
    o->profile = true;
    break;
  case RS_OPT_REUSE:
    if (!arg[0]) return rs_cli_usage_error("run", "--reuse expects an archive");
    o->reuse = arg;
    break;
  case RS_OPT_QUIET:
    o->quiet = true;
    break;
  case RS_OPT_THREADS:
    if (!(rc = rs_cli_int("run", "threads", arg, 1, 1024, &v))) o->blas_threads = (int)v;
    break;
  case RS_OPT_SHARD:
    if (!(rc = rs_cli_int("run", "shard", arg, 1, 1000000, &v))) o->shard = (int)v;
    break;
  case RS_OPT_BENCH_DISPATCH:
    if (!(rc = rs_cli_int("run", "bench-dispatch", arg, 1, 1000000000, &v))) o->bench_dispatch = (int)v;
    break;
  case RS_OPT_PROGRESS_EVERY:
    rc = rs_cli_real("run", "progress-every", arg, 0.1, 86400, false, &o->progress_every);
    break;
  case RS_OPT_DRAIN_SIGNAL:
    if ((o->drain_signal = signal_by_name(arg)) < 0)
      return rs_cli_usage_error("run", "--drain-signal '%s': expected USR1, USR2, TERM, INT, "
                                       "HUP or XCPU", arg);
    break;
  case RS_OPT_SLICE: {
    /* I/N, both strict integers: "0/2abc" and "1/" are refused. */
    const char *slash = strchr(arg, '/');
    char head[32];
    long long i, n;
    size_t hl = slash ? (size_t)(slash - arg) : 0;
    if (!slash || hl == 0 || hl >= sizeof head)
      return rs_cli_usage_error("run", "--slice '%s': expected I/N with integers 0 <= I < N <= "
                                       "1000000", arg);
    memcpy(head, arg, hl);
    head[hl] = '\0';
    /* both parts strict; the message names the whole value */
    char *e1 = NULL, *e2 = NULL;
    n = strtoll(slash + 1, &e1, 10);
    i = strtoll(head, &e2, 10);
    if (!(slash[1] >= '0' && slash[1] <= '9') || *e1 || !(head[0] >= '0' && head[0] <= '9') ||
        *e2 || n < 1 || n > 1000000 || i < 0 || i >= n)
      return rs_cli_usage_error("run", "--slice '%s': expected I/N with integers 0 <= I < N <= "
                                       "1000000", arg);
    o->slice_index = (int)i;
    o->slice_count = (int)n;
    break;
  }
  default:
    rc = rs_cli_usage_error("run", "unexpected option");
  }
  return rc;
}

/* Parsed before MPI_Init: --help and a bad command line need no MPI, and the
 * drain signal must be known before the handlers go in. */
static int parse_run(int argc, char **argv, rs_sweep_opts *o, const char **path) {
  rs_sweep_opts_default(o);
  int first, rc = parse("run", argc, argv, run_opt, o, &first);
  if (rc >= 0) return rc;
  if ((rc = operands("run", argc, argv, first, 0, 1, "at most one JOB.yaml"))) return rc;
  *path = first < argc ? argv[first] : NULL;
  if (!o->archive && !o->bench_dispatch)
    return rs_cli_usage_error("run", "-o ARCHIVE.h5 is required");
  if (o->move_aside && !o->resume) return rs_cli_usage_error("run", "--move-aside needs --resume");
  return -1;
}

static int cmd_run(const rs_sweep_opts *o, const char *path, int rank) {
  rs_job *job = NULL;
  /* before anything is created: no lock or mark at a truncated name */
  int err = o->archive ? rs_archive_path_check(o->archive, "output") : RS_OK;
  if (err == RS_OK && o->reuse) err = rs_archive_path_check(o->reuse, "--reuse");
  if (err != RS_OK) return fail(err, rank == 0);
  err = load_job(path, &job);
  if (err != RS_OK) return fail(err, rank == 0);
  if (rank == 0 && !o->quiet) warn_blas_kernel();
  int code = rs_sweep_run(MPI_COMM_WORLD, job, o);
  rs_job_destroy(&job);
  return code;
}

/* ---- status ---- */
static int status_opt(void *ctx, int id, const char *arg) {
  (void)arg;
  if (id == RS_OPT_JSON) ((rs_status_opts *)ctx)->json = true;
  return 0;
}

static int cmd_status(int argc, char **argv) {
  rs_status_opts o = {.json = false};
  int first, rc = parse("status", argc, argv, status_opt, &o, &first);
  if (rc >= 0) return rc;
  if ((rc = operands("status", argc, argv, first, 1, 1, "one ARCHIVE.h5"))) return rc;
  int err = rs_archive_path_check(argv[first], "archive");
  return fail(err == RS_OK ? rs_status_print(argv[first], &o, stdout) : err, true);
}

/* ---- show ---- */
static int show_opt(void *ctx, int id, const char *arg) {
  rs_show_opts *o = ctx;
  long long v;
  int rc = 0;
  if (id == RS_OPT_RUN) {
    if (!(rc = rs_cli_int("show", "run", arg, 0, RS_MAX_RUN_INDEX, &v))) o->run = (int)v;
  } else if (id == RS_OPT_LAYER) {
    if (!(rc = rs_cli_int("show", "layer", arg, 1, 1000, &v))) o->layer = (int)v;
  } else if (id == RS_OPT_EPS) {
    rc = rs_cli_real("show", "eps", arg, 0.0, HUGE_VAL, true, &o->eps);
  } else if (id == RS_OPT_CSV) {
    o->csv = true;
  } else {
    rc = rs_cli_usage_error("show", "unexpected option");
  }
  return rc;
}

static int parse_show(int argc, char **argv, rs_show_opts *o, const char **path) {
  rs_show_opts_default(o);
  int first, rc = parse("show", argc, argv, show_opt, o, &first);
  if (rc >= 0) return rc;
  if ((rc = operands("show", argc, argv, first, 1, 1, "one ARCHIVE.h5"))) return rc;
  *path = argv[first];
  return -1;
}

/* ---- merge ---- */
static int parse_merge(int argc, char **argv, int *first) {
  int rc = parse("merge", argc, argv, NULL, NULL, first);
  if (rc >= 0) return rc;
  rc = operands("merge", argc, argv, *first, 2, -1, "OUT.h5 and at least one input");
  return rc ? rc : -1;
}

/* ---- spectrum ---- */
typedef struct {
  rs_spectrum_opts o;
  int runs[4096], ckpts[4096];
} spectrum_args;

static int spectrum_opt(void *ctx, int id, const char *arg) {
  spectrum_args *a = ctx;
  rs_spectrum_opts *o = &a->o;
  long long v;
  int rc = 0;
  switch (id) {
  case RS_OPT_POINTS:
    if (!strcmp(arg, "train")) o->points = RS_SPECTRUM_POINTS_TRAIN;
    else if (!strcmp(arg, "eval")) o->points = RS_SPECTRUM_POINTS_EVAL;
    else if (arg[0] >= '0' && arg[0] <= '9') {
      if (!(rc = rs_cli_int("spectrum", "points", arg, 1, 100000000, &v))) {
        o->points = RS_SPECTRUM_POINTS_COUNT;
        o->count = (int)v;
      }
    } else {
      rc = rs_cli_usage_error("spectrum", "--points '%s': expected train, eval or a point "
                                          "count from 1 to 100000000", arg);
    }
    break;
  case RS_OPT_REPR:
    if (!strcmp(arg, "post")) o->repr = RS_REPR_POST;
    else if (!strcmp(arg, "pre")) o->repr = RS_REPR_PRE;
    else rc = rs_cli_usage_error("spectrum", "--repr '%s': expected post or pre", arg);
    break;
  case RS_OPT_ALL_CHECKPOINTS:
    o->final_only = false;
    break;
  case RS_OPT_RUNS:
    rc = rs_cli_int_list("spectrum", "runs", arg, 0, RS_MAX_RUN_INDEX, a->runs, 4096, &o->nruns);
    o->runs = a->runs;
    break;
  case RS_OPT_CHECKPOINTS:
    rc = rs_cli_int_list("spectrum", "checkpoints", arg, 0, 100000000, a->ckpts, 4096, &o->nckpts);
    o->ckpts = a->ckpts;
    o->final_only = false;
    break;
  case RS_OPT_QUIET:
    o->quiet = true;
    break;
  default:
    rc = rs_cli_usage_error("spectrum", "unexpected option");
  }
  return rc;
}

static int parse_spectrum(int argc, char **argv, spectrum_args *a, const char **path) {
  rs_spectrum_opts_default(&a->o);
  int first, rc = parse("spectrum", argc, argv, spectrum_opt, a, &first);
  if (rc >= 0) return rc;
  if ((rc = operands("spectrum", argc, argv, first, 1, 1, "one ARCHIVE.h5"))) return rc;
  *path = argv[first];
  return -1;
}

/* ---- MPI ---- */
/* MPI calls return their codes (checked with RS_CALL_MPI, so a failure
 * becomes one ranksweep error line naming the call) instead of aborting
 * inside MPI; communicators split from this one inherit the handler. */
static int mpi_start(int *argc, char ***argv, int *rank) {
  /* Open MPI 4.1's "lockedfile" shared-file-pointer component formats the
   * file name into a 256-byte buffer when MPI-IO opens a file, and aborts
   * ("buffer overflow detected") for an archive path of about 245 characters
   * or more. The archive never uses shared file pointers, so that component
   * is left out (unless the user set the parameter); other MPIs ignore it. */
  setenv("OMPI_MCA_sharedfp", "^lockedfile", 0);
  RS_CALL_MPI(MPI_Init(argc, argv));
  RS_CALL_MPI(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
  RS_CALL_MPI(MPI_Comm_rank(MPI_COMM_WORLD, rank));
  return RS_OK;
}

/* ---- version ---- */
static int cmd_version(void) {
  /* MPI_Get_library_version may be called before MPI_Init (MPI-3). */
  char mpi[MPI_MAX_LIBRARY_VERSION_STRING];
  int len;
  if (MPI_Get_library_version(mpi, &len) != MPI_SUCCESS) snprintf(mpi, sizeof mpi, "unknown");
  printf("ranksweep %s (git %s)\n", RS_VERSION, RS_GIT_COMMIT);
  printf("MPI: %.*s\n", (int)strcspn(mpi, "\n"), mpi);
  printf("OpenBLAS: %s\n", rs_blas_config());
  return RS_EXIT_DONE;
}

/* ---- help ---- */
static int cmd_help(int argc, char **argv) {
  int first, rc = parse("help", argc, argv, NULL, NULL, &first);
  if (rc >= 0) return rc;
  if ((rc = operands("help", argc, argv, first, 0, 1, "at most one COMMAND"))) return rc;
  if (first == argc) {
    rs_cli_print_usage(stdout);
    return RS_EXIT_DONE;
  }
  const rs_cli_cmd *c = rs_cli_find(argv[first]);
  if (!c) return rs_cli_usage_error("help", "unknown command '%s'", argv[first]);
  rs_cli_print_help(c, stdout);
  return RS_EXIT_DONE;
}

int main(int argc, char **argv) {
  rs_archive_lib_init();
  if (argc < 2) {
    rs_cli_print_usage(stderr);
    return RS_EXIT_USAGE;
  }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
    if (argc > 2) return rs_cli_usage_error(NULL, "unexpected argument '%s' after %s", argv[2], cmd);
    rs_cli_print_usage(stdout);
    return RS_EXIT_DONE;
  }
  if (!strcmp(cmd, "--version")) cmd = "version";
  if (!rs_cli_find(cmd)) {
    if (cmd[0] == '-') return rs_cli_usage_error(NULL, "unknown option %s before the command", cmd);
    return rs_cli_usage_error(NULL, "unknown command '%s'", cmd);
  }
  argc--;
  argv++;
  if (!strcmp(cmd, "help")) return cmd_help(argc, argv);
  if (!strcmp(cmd, "plan")) return cmd_plan(argc, argv);
  if (!strcmp(cmd, "train")) return cmd_train(argc, argv);
  if (!strcmp(cmd, "status")) return cmd_status(argc, argv);
  if (!strcmp(cmd, "ib")) return rs_cmd_ib(argc, argv);
  if (!strcmp(cmd, "version")) {
    int first, rc = parse("version", argc, argv, NULL, NULL, &first);
    if (rc >= 0) return rc;
    if ((rc = operands("version", argc, argv, first, 0, 0, "no arguments"))) return rc;
    return cmd_version();
  }

  /* The rest talk to MPI or to (parallel-built) HDF5. Everything is parsed
   * first, so --help and a bad command line need no MPI; a sweep drains on its
   * signals from the first moment, before MPI_Init. */
  rs_sweep_opts ro;
  rs_show_opts so;
  static spectrum_args sa;
  const char *path = NULL;
  int first = 0, rc;
  if (!strcmp(cmd, "run")) rc = parse_run(argc, argv, &ro, &path);
  else if (!strcmp(cmd, "show")) rc = parse_show(argc, argv, &so, &path);
  else if (!strcmp(cmd, "merge")) rc = parse_merge(argc, argv, &first);
  else rc = parse_spectrum(argc, argv, &sa, &path);
  if (rc >= 0) return rc;
  if (!strcmp(cmd, "run")) rs_sweep_signals_install(ro.drain_signal);
  /* merge's operands, taken before MPI_Init may touch argv */
  const char *const *ops = (const char *const *)(argv + first);
  int nops = argc - first;

  int rank = 0, code, err = mpi_start(&argc, &argv, &rank);
  if (err != RS_OK) {
    code = fail(err, true);
  } else if (!strcmp(cmd, "run")) {
    code = cmd_run(&ro, path, rank);
  } else if (!strcmp(cmd, "show")) {
    err = rs_archive_path_check(path, "archive");
    code = fail(err == RS_OK ? rs_show(path, &so, stdout) : err, true);
  } else if (!strcmp(cmd, "merge")) {
    err = rs_archive_path_check(ops[0], "merge output");
    for (int i = 1; err == RS_OK && i < nops; i++) err = rs_archive_path_check(ops[i], "merge input");
    code = fail(err == RS_OK ? rs_archive_merge(ops[0], nops - 1, ops + 1) : err, true);
  } else {
    code = fail(rs_spectrum_pass(MPI_COMM_WORLD, path, &sa.o), rank == 0);
  }
  MPI_Finalize();
  return code;
}
