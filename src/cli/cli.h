/* The command line's shared parts: one table of commands and options that
 * drives getopt_long, the --help text and the man page, strict number parsing,
 * and the exit codes. No MPI, no library
 * calls: the man-page generator links this alone at build time. */
#ifndef RS_CLI_H
#define RS_CLI_H

#include <stdbool.h>
#include <stdio.h>

/* Exit codes of every command: RS_EXIT_* of rs_error.h (a header only: the
 * man-page generator links no library). */
#include "ranksweep/rs_error.h"

/* Option identifiers: one per distinct option across all commands. Values above
 * 255 so they never collide with a short option character. */
enum {
  RS_OPT_HELP = 256,
  RS_OPT_RUN,
  RS_OPT_THREADS,
  RS_OPT_OUTPUT,
  RS_OPT_RESUME,
  RS_OPT_MOVE_ASIDE,
  RS_OPT_REUSE,
  RS_OPT_SHARD,
  RS_OPT_SLICE,
  RS_OPT_QUIET,
  RS_OPT_PROGRESS_EVERY,
  RS_OPT_DRAIN_SIGNAL,
  RS_OPT_BENCH_DISPATCH,
  RS_OPT_PROFILE,
  RS_OPT_JSON,
  RS_OPT_CSV,
  RS_OPT_EPS,
  RS_OPT_LAYER,
  RS_OPT_POINTS,
  RS_OPT_REPR,
  RS_OPT_ALL_CHECKPOINTS,
  RS_OPT_RUNS,
  RS_OPT_CHECKPOINTS,
  RS_OPT_RHO,
  RS_OPT_JOB,
  RS_OPT_BETA,
  RS_OPT_BETA_VIB,
  RS_OPT_CURVE,
  RS_OPT_BETA_MIN,
  RS_OPT_BETA_MAX,
  RS_OPT_CURVE_POINTS,
  RS_OPT_VERSION,
  RS_OPT_RANKS
};

typedef struct {
  const char *name; /* long name without the dashes */
  char shortopt;    /* 0: long only */
  int id;           /* RS_OPT_* */
  const char *arg;  /* metavariable of the value; NULL: a flag */
  const char *help; /* one sentence or two; ranges of numbers included */
} rs_cli_opt;

typedef struct {
  const char *name;        /* the subcommand */
  const char *synopsis;    /* after "ranksweep NAME " */
  const char *summary;     /* one line for the command list */
  const char *description; /* paragraphs separated by blank lines */
  const rs_cli_opt *opts;  /* terminated by an entry with name NULL; --help is implied */
} rs_cli_cmd;

extern const rs_cli_cmd rs_cli_cmds[]; /* terminated by an entry with name NULL */

const rs_cli_cmd *rs_cli_find(const char *name);
/* The list of commands (ranksweep --help). */
void rs_cli_print_usage(FILE *out);
/* One command's help: usage, description, every option, exit codes. */
void rs_cli_print_help(const rs_cli_cmd *c, FILE *out);
/* The whole manual page, roff (man(7)), generated from the same table. */
void rs_cli_print_man(FILE *out, const char *version, const char *date);

/* getopt_long over one command's options. rs_cli_next returns an RS_OPT_* id
 * and sets *arg, -1 at the end of the options (then *first is the index of the
 * first operand), or RS_EXIT_USAGE after printing one error line. --help prints
 * the command's help and returns RS_OPT_HELP. */
typedef struct {
  const rs_cli_cmd *cmd;
  void *longopts; /* struct option[] */
  char shortopts[64];
} rs_cli_parser;
int rs_cli_parser_init(rs_cli_parser *p, const rs_cli_cmd *cmd);
void rs_cli_parser_free(rs_cli_parser *p);
int rs_cli_next(rs_cli_parser *p, int argc, char **argv, const char **arg, int *first);

/* One line on stderr, "ranksweep: error: CMD: <message> (see 'ranksweep help
 * CMD')"; returns RS_EXIT_USAGE. */
int rs_cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Strict numbers: the whole text is one decimal integer (or one finite real
 * number), within [lo, hi]. On failure: one usage error line naming the
 * option, returns RS_EXIT_USAGE; on success 0. */
int rs_cli_int(const char *cmd, const char *opt, const char *s, long long lo, long long hi,
               long long *out);
int rs_cli_real(const char *cmd, const char *opt, const char *s, double lo, double hi,
                bool lo_open, double *out);
/* A comma-separated list of integers in [lo, hi], at most cap of them. */
int rs_cli_int_list(const char *cmd, const char *opt, const char *s, long long lo, long long hi,
                    int *out, int cap, int *n);

/* Every command's exit code comes from rs_exit_code (rs_error.h): RS_OK 0;
 * RS_EARG (a value the user gave on the command line is invalid here) 2;
 * RS_EINTERRUPTED 3; anything else 1. A job's value that a module refuses
 * with RS_EARG is the job file's: main.c passes it as RS_EJOB (exit 1). */

#endif
