/* The ranksweep command: parses the command line and calls the library. All
 * the work lives in the modules; this file only dispatches subcommands. */
#include <mpi.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ranksweep/rs_archive.h"
#include "ranksweep/rs_error.h"
#include "ranksweep/rs_fpenv.h"
#include "ranksweep/rs_job.h"
#include "ranksweep/rs_measure.h"
#include "ranksweep/rs_model.h"
#include "ranksweep/rs_spectrum_pass.h"
#include "ranksweep/rs_sweep.h"
#include "rs_build.h"

int rs_cmd_ib(int argc, char **argv);
void openblas_set_num_threads(int n);
char *openblas_get_config(void);

static const char *usage =
    "usage: ranksweep COMMAND [ARGS]\n"
    "  plan [--ranks N] [JOB.yaml]     print the expanded grid, the total work and its time\n"
    "  train [JOB.yaml] [--run I]      train one run in this process and print its local-rank table\n"
    "  run [JOB.yaml] -o ARCHIVE.h5 [--resume] [--threads T] [--shard N] [--slice I/N]\n"
    "      [--quiet] [--drain-signal SIG]\n"
    "                                  the sweep (under mpirun/srun); exit 0 done, 3 work remains\n"
    "  status [--json] ARCHIVE.h5      progress of a sweep writing ARCHIVE.h5 (reads its status file)\n"
    "  show ARCHIVE.h5 [--run I]       summary table of an archive\n"
    "  merge OUT.h5 IN1.h5 IN2.h5 ...  join slice archives of one job\n"
    "  spectrum ARCHIVE.h5 [--points train|eval|COUNT] [--repr post|pre] [--all-checkpoints]\n"
    "      [--runs I,J,...] [--checkpoints C,D,...]\n"
    "                                  representation spectra of stored weights (ScaLAPACK, under mpirun)\n"
    "  ib --rho R1,R2,... [--beta B ...] [--curve]   Gaussian information bottleneck in closed form\n"
    "  version                         versions and build configuration\n"
    "Without JOB.yaml, the embedded default job (jobs/quick.yaml) is used.\n";

static int bad_usage(const char *fmt, const char *arg) {
  fprintf(stderr, "ranksweep: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\n%s", usage);
  return RS_EXIT_USAGE;
}

static int parse_int(const char *s, int lo, int *out) {
  char *end;
  long v = strtol(s, &end, 10);
  if (*s == '\0' || *end != '\0' || v < lo || v > 1000000000) return -1;
  *out = (int)v;
  return 0;
}

static int load_job(const char *path, rs_job **job) {
  int err = path ? rs_job_load(path, job) : rs_job_load_default(job);
  if (err != RS_OK) rs_error_print(err);
  return err;
}

/* One line on stderr when OpenBLAS runs a generic kernel on a CPU that could
 * run a fast one; never acted on silently (the fix is the user's to apply). */
static void warn_blas_kernel(void) {
  char line[512];
  if (rs_blas_kernel_warning(line, sizeof line)) fprintf(stderr, "%s\n", line);
}

static int cmd_plan(int argc, char **argv) {
  const char *path = NULL;
  rs_plan_opts po = {.ranks = 1};
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--ranks") && i + 1 < argc) {
      if (parse_int(argv[++i], 1, &po.ranks))
        return bad_usage("plan: --ranks needs a number of ranks >= 1, got %s", argv[i]);
      continue;
    }
    if (argv[i][0] == '-') return bad_usage("plan: unknown option %s", argv[i]);
    if (path) return bad_usage("plan: one job file expected, got also %s", argv[i]);
    path = argv[i];
  }
  rs_job *job = NULL;
  if (load_job(path, &job) != RS_OK) return RS_EXIT_ERROR;
  warn_blas_kernel();
  int err = rs_job_plan_print_opts(job, &po, stdout);
  rs_job_destroy(&job);
  return err == RS_OK ? RS_EXIT_DONE : RS_EXIT_ERROR;
}

/* One run, in this process, with a table of the local rank per checkpoint. */
static int cmd_train(int argc, char **argv) {
  const char *path = NULL;
  int run = 0, threads = 1;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--run") && i + 1 < argc) {
      if (parse_int(argv[++i], 0, &run)) return bad_usage("train: --run needs an index, got %s", argv[i]);
    } else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
      if (parse_int(argv[++i], 1, &threads)) return bad_usage("train: --threads needs a positive count, got %s", argv[i]);
    } else if (argv[i][0] == '-') {
      return bad_usage("train: unknown option %s", argv[i]);
    } else if (!path) {
      path = argv[i];
    } else {
      return bad_usage("train: one job file expected, got also %s", argv[i]);
    }
  }
  openblas_set_num_threads(threads);
  rs_job *job = NULL;
  if (load_job(path, &job) != RS_OK) return RS_EXIT_ERROR;
  warn_blas_kernel();
  if (run >= rs_job_nruns(job)) {
    fprintf(stderr, "ranksweep: train: --run %d out of range (the job has %d runs)\n", run,
            rs_job_nruns(job));
    rs_job_destroy(&job);
    return RS_EXIT_USAGE;
  }
  const rs_config *cfg = rs_job_run(job, run);
  rs_dataset *data = NULL;
  rs_trainer *t = NULL;
  int64_t *steps = NULL;
  int32_t *counts = NULL;
  double *eff = NULL, *stab = NULL;
  int err = rs_dataset_create(cfg, &data);
  if (err == RS_OK) err = rs_trainer_create(cfg, data, &t);
  int nck = rs_config_checkpoints(cfg, NULL, 0);
  steps = malloc(sizeof *steps * (size_t)nck);
  if (err == RS_OK && !steps) err = rs_error(RS_ENOMEM, "out of memory");
  if (err != RS_OK) goto done;
  rs_config_checkpoints(cfg, steps, nck);
  rs_netview v;
  if ((err = rs_trainer_view(t, &v)) != RS_OK) goto done;
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
    if ((err = rs_trainer_run_to(t, steps[c], &diverged)) != RS_OK) break;
    if (diverged) {
      printf("diverged at step %lld (loss %g)\n", (long long)rs_trainer_step(t),
             rs_trainer_last_loss(t));
      break;
    }
    rs_ckpt_metrics m;
    if ((err = rs_trainer_view(t, &v)) != RS_OK) break;
    if ((err = rs_trainer_metrics(t, cfg, data, &m)) != RS_OK) break;
    rs_lr_points res = {.neps = E, .eps = cfg->measure.eps, .counts = counts,
                        .spectra = NULL, .effrank = eff, .stablerank = stab};
    if ((err = rs_localrank_points(&v, data->xeval, P, &res)) != RS_OK) break;
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
  if (err != RS_OK) rs_error_print(err);
  free(steps);
  free(counts);
  free(eff);
  free(stab);
  rs_trainer_destroy(&t);
  rs_dataset_destroy(&data);
  rs_job_destroy(&job);
  return err == RS_OK ? RS_EXIT_DONE : RS_EXIT_ERROR;
}

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

static int cmd_run(int argc, char **argv) {
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  rs_sweep_opts o;
  rs_sweep_opts_default(&o);
  const char *path = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    bool has = i + 1 < argc;
    if (!strcmp(a, "-o") && has) {
      o.archive = argv[++i];
    } else if (!strcmp(a, "--resume")) {
      o.resume = true;
    } else if (!strcmp(a, "--quiet")) {
      o.quiet = true;
    } else if (!strcmp(a, "--threads") && has) {
      if (parse_int(argv[++i], 1, &o.blas_threads)) return bad_usage("run: --threads needs a positive count, got %s", argv[i]);
    } else if (!strcmp(a, "--shard") && has) {
      if (parse_int(argv[++i], 1, &o.shard)) return bad_usage("run: --shard needs a positive point count, got %s", argv[i]);
    } else if (!strcmp(a, "--slice") && has) {
      const char *s = argv[++i];
      if (sscanf(s, "%d/%d", &o.slice_index, &o.slice_count) != 2 || o.slice_count < 1 ||
          o.slice_index < 0 || o.slice_index >= o.slice_count)
        return bad_usage("run: --slice expects I/N with 0 <= I < N, got %s", s);
    } else if (!strcmp(a, "--drain-signal") && has) {
      if ((o.drain_signal = signal_by_name(argv[++i])) < 0)
        return bad_usage("run: --drain-signal expects USR1, USR2, TERM, INT, HUP or XCPU, got %s", argv[i]);
    } else if (!strcmp(a, "--progress-every") && has) {
      o.progress_every = atof(argv[++i]);
    } else if (!strcmp(a, "--bench-dispatch") && has) {
      if (parse_int(argv[++i], 1, &o.bench_dispatch)) return bad_usage("run: --bench-dispatch needs a count, got %s", argv[i]);
    } else if (a[0] == '-') {
      return bad_usage("run: unknown option or missing value: %s", a);
    } else if (!path) {
      path = a;
    } else {
      return bad_usage("run: one job file expected, got also %s", a);
    }
  }
  if (!o.archive && !o.bench_dispatch) return bad_usage("run: %s", "-o ARCHIVE.h5 is required");
  rs_job *job = NULL;
  int err = path ? rs_job_load(path, &job) : rs_job_load_default(&job);
  if (err != RS_OK) {
    if (rank == 0) rs_error_print(err);
    return RS_EXIT_ERROR;
  }
  if (rank == 0 && !o.quiet) warn_blas_kernel();
  int code = rs_sweep_run(MPI_COMM_WORLD, job, &o);
  rs_job_destroy(&job);
  return code;
}

static int cmd_show(int argc, char **argv) {
  const char *path = NULL;
  int run = -1;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--run") && i + 1 < argc) {
      if (parse_int(argv[++i], 0, &run)) return bad_usage("show: --run needs an index, got %s", argv[i]);
    } else if (argv[i][0] == '-') {
      return bad_usage("show: unknown option %s", argv[i]);
    } else if (!path) {
      path = argv[i];
    } else {
      return bad_usage("show: one archive expected, got also %s", argv[i]);
    }
  }
  if (!path) return bad_usage("show: %s", "ARCHIVE.h5 is required");
  rs_show_opts so;
  rs_show_opts_default(&so);
  so.run = run;
  int err = rs_archive_show(path, &so, stdout);
  if (err != RS_OK) rs_error_print(err);
  return err == RS_OK ? RS_EXIT_DONE : RS_EXIT_ERROR;
}

static int cmd_merge(int argc, char **argv) {
  if (argc < 3) return bad_usage("merge: %s", "OUT.h5 and at least one input are required");
  int err = rs_archive_merge(argv[1], argc - 2, (const char *const *)(argv + 2));
  if (err != RS_OK) rs_error_print(err);
  return err == RS_OK ? RS_EXIT_DONE : RS_EXIT_ERROR;
}

static int parse_list(const char *s, int *out, int cap) {
  int n = 0;
  char *end;
  while (*s && n < cap) {
    long v = strtol(s, &end, 10);
    if (end == s || v < 0) return -1;
    out[n++] = (int)v;
    s = *end == ',' ? end + 1 : end;
    if (*end && *end != ',') return -1;
  }
  return n > 0 ? n : -1;
}

static int cmd_spectrum(int argc, char **argv) {
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  rs_spectrum_opts o;
  rs_spectrum_opts_default(&o);
  static int runs[4096], ckpts[4096];
  const char *path = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    bool has = i + 1 < argc;
    if (!strcmp(a, "--points") && has) {
      const char *v = argv[++i];
      if (!strcmp(v, "train")) o.points = RS_SPECTRUM_POINTS_TRAIN;
      else if (!strcmp(v, "eval")) o.points = RS_SPECTRUM_POINTS_EVAL;
      else if (parse_int(v, 1, &o.count) == 0) o.points = RS_SPECTRUM_POINTS_COUNT;
      else return bad_usage("spectrum: --points expects train, eval or a point count, got %s", v);
    } else if (!strcmp(a, "--repr") && has) {
      const char *v = argv[++i];
      if (!strcmp(v, "post")) o.repr = RS_REPR_POST;
      else if (!strcmp(v, "pre")) o.repr = RS_REPR_PRE;
      else return bad_usage("spectrum: --repr expects post or pre, got %s", v);
    } else if (!strcmp(a, "--all-checkpoints")) {
      o.final_only = false;
    } else if (!strcmp(a, "--runs") && has) {
      if ((o.nruns = parse_list(argv[++i], runs, 4096)) < 0)
        return bad_usage("spectrum: --runs expects run indices like 0,2,5, got %s", argv[i]);
      o.runs = runs;
    } else if (!strcmp(a, "--checkpoints") && has) {
      if ((o.nckpts = parse_list(argv[++i], ckpts, 4096)) < 0)
        return bad_usage("spectrum: --checkpoints expects checkpoint indices like 0,10, got %s", argv[i]);
      o.ckpts = ckpts;
      o.final_only = false;
    } else if (!strcmp(a, "--quiet")) {
      o.quiet = true;
    } else if (a[0] == '-') {
      return bad_usage("spectrum: unknown option or missing value: %s", a);
    } else if (!path) {
      path = a;
    } else {
      return bad_usage("spectrum: one archive expected, got also %s", a);
    }
  }
  if (!path) return bad_usage("spectrum: %s", "ARCHIVE.h5 is required");
  int err = rs_spectrum_pass(MPI_COMM_WORLD, path, &o);
  if (err != RS_OK && rank == 0) rs_error_print(err);
  return err == RS_OK ? RS_EXIT_DONE : RS_EXIT_ERROR;
}

static int cmd_status(int argc, char **argv) {
  rs_status_opts sto = {.json = false};
  const char *path = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--json")) sto.json = true;
    else if (argv[i][0] == '-') return bad_usage("status: unknown option %s", argv[i]);
    else if (path) return bad_usage("status: one archive expected, got also %s", argv[i]);
    else path = argv[i];
  }
  if (!path) return bad_usage("status: %s", "ARCHIVE.h5 is required");
  int err = rs_status_print(path, &sto, stdout);
  if (err != RS_OK) rs_error_print(err);
  return err == RS_OK ? RS_EXIT_DONE : RS_EXIT_ERROR;
}

static int cmd_version(void) {
  char mpi[MPI_MAX_LIBRARY_VERSION_STRING];
  int len;
  MPI_Get_library_version(mpi, &len);
  printf("ranksweep %s (git %s)\n", RS_VERSION, RS_GIT_COMMIT);
  printf("MPI: %.*s\n", (int)strcspn(mpi, "\n"), mpi);
  printf("OpenBLAS: %s\n", openblas_get_config());
  return RS_EXIT_DONE;
}

int main(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
    fputs(usage, argc < 2 ? stderr : stdout);
    return argc < 2 ? RS_EXIT_USAGE : RS_EXIT_DONE;
  }
  const char *cmd = argv[1];
  argc--;
  argv++;
  if (!strcmp(cmd, "plan")) return cmd_plan(argc, argv);
  if (!strcmp(cmd, "train")) return cmd_train(argc, argv);
  if (!strcmp(cmd, "status")) return cmd_status(argc, argv);
  if (!strcmp(cmd, "ib")) return rs_cmd_ib(argc, argv);
  if (strcmp(cmd, "run") && strcmp(cmd, "show") && strcmp(cmd, "merge") && strcmp(cmd, "version") &&
      strcmp(cmd, "spectrum"))
    return bad_usage("unknown command %s", cmd);
  /* The rest talk to MPI or to (parallel-built) HDF5. A sweep drains on its
   * signals from the first moment, before MPI_Init. */
  if (!strcmp(cmd, "run")) {
    int sig = SIGUSR1;
    for (int i = 1; i + 1 < argc; i++)
      if (!strcmp(argv[i], "--drain-signal") && signal_by_name(argv[i + 1]) > 0)
        sig = signal_by_name(argv[i + 1]);
    rs_sweep_signals_install(sig);
  }
  MPI_Init(&argc, &argv);
  int code;
  if (!strcmp(cmd, "run")) code = cmd_run(argc, argv);
  else if (!strcmp(cmd, "show")) code = cmd_show(argc, argv);
  else if (!strcmp(cmd, "merge")) code = cmd_merge(argc, argv);
  else if (!strcmp(cmd, "spectrum")) code = cmd_spectrum(argc, argv);
  else code = cmd_version();
  MPI_Finalize();
  return code;
}
