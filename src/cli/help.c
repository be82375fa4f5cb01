/* The table of commands and options: the one text behind getopt_long, every
 * --help and the man page, so that an option cannot exist without its help or
 * its help without the option (tests/cli checks both ways). */
#include <string.h>

#include "cli.h"

#define HELP_OPT {"help", 'h', RS_OPT_HELP, NULL, "print this help and exit"}
#define END_OPT {NULL, 0, 0, NULL, NULL}

static const rs_cli_opt plan_opts[] = {
    {"ranks", 'n', RS_OPT_RANKS, "N",
     "also the wall time on N ranks (one dispatcher, N - 1 workers) and a SLURM --time with "
     "headroom, 1 to 1000000"},
    {"reuse", 0, RS_OPT_REUSE, "OLD.h5",
     "the runs that run --reuse OLD.h5 would copy instead of computing are marked reused and "
     "cost nothing"},
    HELP_OPT,
    END_OPT};

static const rs_cli_opt train_opts[] = {
    {"run", 'r', RS_OPT_RUN, "I",
     "the run to train, an index from 0 to the job's runs - 1 (default 0); plan lists them"},
    {"threads", 't', RS_OPT_THREADS, "T", "OpenBLAS threads for training, 1 to 1024 (default 1)"},
    HELP_OPT,
    END_OPT};

static const rs_cli_opt run_opts[] = {
    {"output", 'o', RS_OPT_OUTPUT, "ARCHIVE.h5",
     "the archive to write (required); an existing file is refused unless --resume is given"},
    {"resume", 0, RS_OPT_RESUME, NULL,
     "continue ARCHIVE.h5, made from the same job file, or create it if it does not exist"},
    {"move-aside", 0, RS_OPT_MOVE_ASIDE, NULL,
     "with --resume: when the archive is damaged or incomplete, rename it aside (it is never "
     "deleted) and start anew"},
    {"reuse", 0, RS_OPT_REUSE, "OLD.h5",
     "copy the results of every run whose resolved configuration matches a run of OLD.h5 "
     "instead of recomputing it"},
    {"threads", 't', RS_OPT_THREADS, "T",
     "OpenBLAS threads per rank, 1 to 1024 (default 1); the local-rank kernels always use one"},
    {"shard", 0, RS_OPT_SHARD, "P",
     "evaluation points per measurement task, 1 to 1000000 (default: measure.shard, else 16); "
     "the results do not depend on it"},
    {"slice", 0, RS_OPT_SLICE, "I/N",
     "run only the runs whose index is I modulo N, with 0 <= I < N <= 1000000; join the "
     "slices' archives with merge"},
    {"quiet", 'q', RS_OPT_QUIET, NULL, "no progress lines"},
    {"progress-every", 0, RS_OPT_PROGRESS_EVERY, "S",
     "seconds between progress lines, a number from 0.1 to 86400 (default 2)"},
    {"drain-signal", 0, RS_OPT_DRAIN_SIGNAL, "SIG",
     "the signal that drains the sweep besides SIGTERM and SIGINT: USR1 (default), USR2, "
     "TERM, INT, HUP or XCPU, with or without the SIG prefix"},
    {"bench-dispatch", 0, RS_OPT_BENCH_DISPATCH, "N",
     "benchmark: hand out N empty tasks (1 to 1000000000) and report the dispatcher's rate; "
     "needs no archive"},
    {"profile", 0, RS_OPT_PROFILE, NULL,
     "at the end, where the CPU time went, summed over the ranks: training products, the rest "
     "of training, local ranks, checkpoint metrics, archive writes, spectrum pass, the rest"},
    HELP_OPT,
    END_OPT};

static const rs_cli_opt status_opts[] = {
    {"json", 0, RS_OPT_JSON, NULL,
     "print the status file itself (JSON) instead of the readable summary"},
    HELP_OPT,
    END_OPT};

static const rs_cli_opt show_opts[] = {
    {"run", 'r', RS_OPT_RUN, "I",
     "only run I (0 to the archive's runs - 1), with every checkpoint"},
    {"layer", 'l', RS_OPT_LAYER, "L", "only hidden layer L, counted from 1"},
    {"eps", 'e', RS_OPT_EPS, "X",
     "only the threshold X, a number > 0 that must be in the archive's eps ladder"},
    {"csv", 0, RS_OPT_CSV, NULL,
     "machine-readable output: one header line, then one row per run, measured checkpoint, "
     "layer and eps (with the checkpoint's losses and accuracies; a run without measured "
     "layers: one row per checkpoint with its metrics), within --run, --layer and --eps"},
    HELP_OPT,
    END_OPT};

static const rs_cli_opt merge_opts[] = {HELP_OPT, END_OPT};

static const rs_cli_opt spectrum_opts[] = {
    {"points", 0, RS_OPT_POINTS, "WHICH",
     "the rows of the representation matrix: train (the run's training set, default), eval "
     "(its evaluation points), or a count of training points from 1 to 100000000"},
    {"repr", 0, RS_OPT_REPR, "KIND",
     "post (the layer's output, default) or pre (its pre-activation)"},
    {"all-checkpoints", 0, RS_OPT_ALL_CHECKPOINTS, NULL,
     "every stored weight snapshot (measure.save_weights: all), not only the final weights"},
    {"runs", 0, RS_OPT_RUNS, "I,J,...",
     "only these runs; each index must exist in the archive"},
    {"checkpoints", 0, RS_OPT_CHECKPOINTS, "C,D,...",
     "only these checkpoint indices (implies --all-checkpoints); each must exist"},
    {"quiet", 'q', RS_OPT_QUIET, NULL, "no progress lines"},
    HELP_OPT,
    END_OPT};

static const rs_cli_opt ib_opts[] = {
    {"rho", 0, RS_OPT_RHO, "LIST",
     "canonical correlations in (0, 1), comma separated, any order, at most 32"},
    {"job", 0, RS_OPT_JOB, "JOB.yaml",
     "take rho from the job's data.rho (every gaussian_ib run must agree); for a VIB job the "
     "table also lists each distinct train.beta as a beta_vib, unless --beta or --beta-vib "
     "is given"},
    {"beta", 0, RS_OPT_BETA, "B",
     "IB trade-off (minimise I(X;T) - B I(T;Y)), a number > 0; repeatable, at most 256 values"},
    {"beta-vib", 0, RS_OPT_BETA_VIB, "V",
     "deep-VIB weight of the KL term, a number > 0, i.e. beta = 1/V; repeatable"},
    {"curve", 0, RS_OPT_CURVE, NULL,
     "print the curve as CSV beta,beta_vib,rank,I_TX,I_TY on a log grid; every other line "
     "becomes a '#' comment"},
    {"beta-min", 0, RS_OPT_BETA_MIN, "X", "with --curve: the first beta of the grid, > 0 (default 1)"},
    {"beta-max", 0, RS_OPT_BETA_MAX, "Y",
     "with --curve: the last beta, above --beta-min (default 10 times the largest finite "
     "critical beta)"},
    {"points", 0, RS_OPT_CURVE_POINTS, "N", "with --curve: grid points, 2 to 10000000 (default 200)"},
    HELP_OPT,
    END_OPT};

static const rs_cli_opt version_opts[] = {HELP_OPT, END_OPT};
static const rs_cli_opt help_opts[] = {HELP_OPT, END_OPT};

const rs_cli_cmd rs_cli_cmds[] = {
    {"plan", "[--ranks N] [--reuse OLD.h5] [JOB.yaml]", "the expanded grid and the total work, before anything runs",
     "Loads and validates the job file (without one, the default job compiled into the "
     "binary, jobs/quick.yaml), expands its grid and prints every run with its grid values, "
     "then the totals (runs, training steps, checkpoints, Jacobian SVDs, archive size) and "
     "the time on one core from a cost model calibrated on measured runs, corrected for "
     "this machine by training each run shape on random data for a fraction of a second "
     "(shapes whose step is under 0.1 ms keep the model); with --ranks, the wall time on "
     "that many ranks; with --reuse, the runs OLD.h5 already holds are marked reused and cost "
     "nothing. Data files give the runs' input and output sizes; when one cannot be read, the "
     "plan is printed with estimates, then one error line names the missing file and what "
     "fetches it, and plan exits 1. Nothing is written.",
     plan_opts},
    {"train", "[JOB.yaml] [--run I] [--threads T]",
     "train one run in this process and print its local-rank table",
     "Trains one run of the job in this process, without MPI ranks or an archive, and prints "
     "at every checkpoint the losses, the accuracies and the mean local rank of every "
     "measured layer at the middle threshold of the eps ladder.",
     train_opts},
    {"run", "[JOB.yaml] -o ARCHIVE.h5 [OPTIONS]",
     "the sweep, under mpirun or srun: train and measure every run into one archive",
     "Trains every run of the job (or of its slice), measures the local rank of every layer "
     "at every checkpoint and writes everything into one parallel HDF5 archive. Start it "
     "under mpirun -np N or srun: rank 0 dispatches and the other ranks work, so use one "
     "rank per core plus one. With one rank the work runs inline.\n\n"
     "SIGUSR1 (or --drain-signal), SIGTERM and SIGINT drain the sweep: the work in flight is "
     "saved, the archive is closed cleanly, and every rank exits with code 3; run --resume "
     "continues it. The finished archive is bit-identical whatever the number of ranks and "
     "interruptions.",
     run_opts},
    {"status", "ARCHIVE.h5 [--json]", "progress of a sweep writing ARCHIVE.h5",
     "Prints the progress of the sweep writing ARCHIVE.h5 from its status file "
     "ARCHIVE.h5.status, which rank 0 replaces atomically every second; the archive itself "
     "is never opened, so this is safe while the sweep runs.",
     status_opts},
    {"show", "ARCHIVE.h5 [--run I] [--layer L] [--eps X] [--csv]",
     "summary table of an archive (or one run's curves)",
     "Prints the archive's job, hash, completeness and provenance, and per run its status, "
     "its final losses and the mean local rank per layer and eps at its last measured "
     "checkpoint. With --run, that run's whole curve.",
     show_opts},
    {"merge", "OUT.h5 IN.h5 [IN.h5 ...]", "join the archives of one job (the slices of run --slice)",
     "Creates OUT.h5 (which must not exist) with the structure of the inputs, which must come "
     "from the same job file, copies every written cell from the first input that has it, "
     "then computes the means and marks the archive complete when every run is done.",
     merge_opts},
    {"spectrum", "ARCHIVE.h5 [OPTIONS]",
     "representation spectra of stored weights (ScaLAPACK, under mpirun)",
     "For each finished run, each selected weight snapshot and each measured layer: the "
     "singular values of the centred representation matrix (points x width) on a BLACS "
     "grid of all ranks, the feature ranks on the eps ladder, the effective rank and the "
     "Gaussian-channel information proxies, written into the archive's /spectrum group.",
     spectrum_opts},
    {"ib", "(--rho R1,R2,... | --job JOB.yaml) [--beta B ...] [--beta-vib V ...] [--curve]",
     "the Gaussian information bottleneck in closed form",
     "Prints I(X;Y) and, per canonical direction, rho, lambda, the critical beta = 1/rho^2 "
     "and the critical beta_vib = rho^2; then, for each requested beta, the optimal rank, "
     "I(T;X) and I(T;Y). Informations are in nats. Exactly one of --rho and --job is "
     "required; --beta-min, --beta-max and --points need --curve.",
     ib_opts},
    {"version", "", "versions and build configuration",
     "Prints the ranksweep version and git commit, the MPI library and the OpenBLAS build "
     "configuration. ranksweep --version is the same.",
     version_opts},
    {"help", "[COMMAND]", "the list of commands, or one command's help",
     "Without a command, the list of commands; with one, its help, the same as ranksweep "
     "COMMAND --help.",
     help_opts},
    {NULL, NULL, NULL, NULL, NULL}};

static const char *exit_text =
    "0 success (run: the sweep is complete); 1 an error, described on one line; "
    "2 bad command line; 3 run drained on a signal, work remains (continue with --resume)";

const rs_cli_cmd *rs_cli_find(const char *name) {
  for (const rs_cli_cmd *c = rs_cli_cmds; c->name; c++)
    if (!strcmp(c->name, name)) return c;
  return NULL;
}

/* Prints text wrapped to width; the cursor is at column col, and every new
 * line starts with ind spaces. A blank line in the text starts a paragraph. */
static void wrap(FILE *out, const char *text, int col, int ind, int width) {
  const char *p = text;
  bool line_empty = true;
  while (*p) {
    if (*p == '\n') {
      while (*p == '\n') fputc(*p++, out);
      fprintf(out, "%*s", ind, "");
      col = ind;
      line_empty = true;
      continue;
    }
    if (*p == ' ') {
      p++;
      continue;
    }
    int n = (int)strcspn(p, " \n");
    if (!line_empty && col + 1 + n > width) {
      fprintf(out, "\n%*s", ind, "");
      col = ind;
      line_empty = true;
    }
    if (!line_empty) {
      fputc(' ', out);
      col++;
    }
    fwrite(p, 1, (size_t)n, out);
    col += n;
    p += n;
    line_empty = false;
  }
  fputc('\n', out);
}

void rs_cli_print_usage(FILE *out) {
  fputs("usage: ranksweep COMMAND [OPTIONS] [ARGUMENTS]\n"
        "       ranksweep help COMMAND  (or ranksweep COMMAND --help): a command's options\n"
        "       ranksweep --version\n\ncommands:\n",
        out);
  for (const rs_cli_cmd *c = rs_cli_cmds; c->name; c++)
    fprintf(out, "  %-9s %s\n", c->name, c->summary);
  fputs("\nWithout JOB.yaml, plan, train and run use the default job compiled into the binary\n"
        "(jobs/quick.yaml). Documentation: docs/ in the source tree, and man ranksweep.\n"
        "exit codes: ",
        out);
  wrap(out, exit_text, 12, 2, 80);
}

static void opt_label(const rs_cli_opt *o, char *buf, size_t n) {
  if (o->shortopt)
    snprintf(buf, n, "-%c, --%s%s%s", o->shortopt, o->name, o->arg ? " " : "", o->arg ? o->arg : "");
  else
    snprintf(buf, n, "    --%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
}

void rs_cli_print_help(const rs_cli_cmd *c, FILE *out) {
  fprintf(out, "usage: ranksweep %s%s%s\n\n", c->name, c->synopsis[0] ? " " : "", c->synopsis);
  wrap(out, c->description, 0, 0, 80);
  fputs("\noptions:\n", out);
  for (const rs_cli_opt *o = c->opts; o->name; o++) {
    char label[96];
    opt_label(o, label, sizeof label);
    if (strlen(label) <= 25) {
      fprintf(out, "  %-25s ", label);
    } else {
      fprintf(out, "  %s\n%28s", label, "");
    }
    wrap(out, o->help, 28, 28, 80);
  }
  fputs("\nexit codes: ", out);
  wrap(out, exit_text, 12, 2, 80);
}

/* roff text: escape backslashes and hyphens, keep a leading dot or quote from
 * being taken as a request. */
static void roff(FILE *out, const char *s) {
  if (*s == '.' || *s == '\'') fputs("\\&", out);
  for (; *s; s++) {
    if (*s == '\\') fputs("\\e", out);
    else if (*s == '-') fputs("\\-", out);
    else if (*s == '\n') {
      fputc('\n', out);
      if (s[1] == '\n') {
        fputs(".PP\n", out);
        s++;
      }
      if (s[1] == '.' || s[1] == '\'') fputs("\\&", out);
    } else fputc(*s, out);
  }
}

void rs_cli_print_man(FILE *out, const char *version, const char *date) {
  fprintf(out, ".\\\" Generated from src/cli/help.c by rs-cli-man; do not edit.\n");
  fprintf(out, ".TH RANKSWEEP 1 \"%s\" \"ranksweep %s\" \"User Commands\"\n", date, version);
  fputs(".SH NAME\nranksweep \\- distributed sweeps of neural-network training with local-rank "
        "measurement\n.SH SYNOPSIS\n",
        out);
  for (const rs_cli_cmd *c = rs_cli_cmds; c->name; c++) {
    fprintf(out, ".B ranksweep %s\n", c->name);
    if (c->synopsis[0]) {
      roff(out, c->synopsis);
      fputc('\n', out);
    }
    fputs(".br\n", out);
  }
  fputs(".B ranksweep \\-\\-version\n.br\n.B ranksweep \\-\\-help\n", out);
  fputs(".SH DESCRIPTION\nranksweep trains a grid of neural networks described by a YAML job "
        "file on MPI ranks, measures the local rank of every layer (the numerical rank of the "
        "Jacobian of its pre-activation with respect to the input, averaged over evaluation "
        "points) at every checkpoint, and writes everything into one parallel HDF5 archive. "
        "Without\n.I JOB.yaml,\n.BR plan ,\n.B train\nand\n.B run\nuse the default job "
        "compiled into the binary.\n.PP\nOptions follow getopt_long conventions:\n"
        ".B \\-\\-name value\nand\n.B \\-\\-name=value\nare the same, long options may be "
        "abbreviated to an unambiguous prefix, and\n.B \\-\\-\nends the options. Numbers are "
        "strict: the whole argument must be one number within the option's range.\n"
        ".SH COMMANDS\n",
        out);
  for (const rs_cli_cmd *c = rs_cli_cmds; c->name; c++) {
    fprintf(out, ".SS \"ranksweep %s", c->name);
    if (c->synopsis[0]) {
      fputc(' ', out);
      roff(out, c->synopsis);
    }
    fputs("\"\n", out);
    roff(out, c->description);
    fputc('\n', out);
    for (const rs_cli_opt *o = c->opts; o->name; o++) {
      /* .BI alternates bold and italic: the option in bold, its value in italics. */
      fputs(o->arg ? ".TP\n.BI \"" : ".TP\n.B \"", out);
      if (o->shortopt) fprintf(out, "\\-%c, ", o->shortopt);
      fputs("\\-\\-", out);
      roff(out, o->name);
      if (o->arg) {
        fputs(" \" \"", out);
        roff(out, o->arg);
      }
      fputs("\"\n", out);
      roff(out, o->help);
      fputc('\n', out);
    }
  }
  fputs(".SH EXIT STATUS\nThe same for every command:\n"
        ".TP\n.B 0\nsuccess; for\n.BR run ,\nthe sweep is complete.\n"
        ".TP\n.B 1\nan error: a bad or missing job file, a bad data file, an archive of "
        "another job, an I/O or HDF5 failure. One line on standard error names the file and "
        "the field.\n"
        ".TP\n.B 2\nbad command line: an unknown command or option, a missing or malformed "
        "value, a number out of range, or a run, checkpoint or eps that the job or archive "
        "does not have.\n"
        ".TP\n.B 3\n.B run\ndrained on a signal (SIGUSR1 or the \\-\\-drain\\-signal, SIGTERM, "
        "SIGINT): the archive is closed cleanly and work remains;\n.B run \\-\\-resume\n"
        "continues it.\n"
        ".SH ENVIRONMENT\n.TP\n.B RANKSWEEP_TRACEBACK\nwhen set, an error also prints the "
        "chain of source locations it passed through.\n"
        ".TP\n.B OPENBLAS_CORETYPE\nchooses OpenBLAS's kernel; ranksweep never sets it, warns "
        "when a generic kernel runs on a CPU that has a faster one or when the variable forces "
        "a kernel below the CPU's instruction set, and records the kernel and whether it was "
        "forced in the archive.\n"
        ".TP\n.B LIBXSMM_TARGET\noverrides the instruction set libxsmm generates the training "
        "products for (train.gemm auto or libxsmm; by default the CPU's); recorded in the "
        "archive as gemm_libxsmm_arch.\n"
        ".SH FILES\n.TP\n.I ARCHIVE.h5.status\nthe progress of a running sweep (JSON), read "
        "by\n.BR \"ranksweep status\" .\n"
        ".SH SEE ALSO\n.BR mpirun (1),\n.BR srun (1),\n.BR h5dump (1).\n"
        "The user guide and references are in the docs/ folder of the source tree.\n",
        out);
}
