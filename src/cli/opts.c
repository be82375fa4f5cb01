/* Option parsing for every command: getopt_long driven by the command table,
 * strict numbers (the whole argument, in range, or one clear line and exit 2),
 * (the mapping from library error codes to exit codes is rs_exit_code, in
 * the core, shared with the engine). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ranksweep/rs_error.h"

/* The command line is parsed before MPI_Init, so under mpirun or srun every
 * rank would print the same help or error: only the launcher's rank 0 does. */
static bool first_rank(void) {
  static const char *vars[] = {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"};
  for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
    const char *v = getenv(vars[i]);
    if (v) return strcmp(v, "0") == 0;
  }
  return true;
}

int rs_cli_usage_error(const char *cmd, const char *fmt, ...) {
  if (!first_rank()) return RS_EXIT_USAGE;
  char msg[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (cmd)
    fprintf(stderr, "ranksweep: error: %s: %s (see 'ranksweep help %s')\n", cmd, msg, cmd);
  else
    fprintf(stderr, "ranksweep: error: %s (see 'ranksweep --help')\n", msg);
  return RS_EXIT_USAGE;
}

int rs_cli_parser_init(rs_cli_parser *p, const rs_cli_cmd *cmd) {
  int n = 0;
  while (cmd->opts[n].name) n++;
  struct option *lo = calloc((size_t)n + 1, sizeof *lo);
  if (!lo) {
    fprintf(stderr, "ranksweep: error: out of memory\n");
    return RS_EXIT_ERROR;
  }
  /* A leading ':' makes getopt report a missing value as ':' instead of '?',
   * and opterr = 0 leaves every message to us (one line, our format). */
  size_t k = 0;
  p->shortopts[k++] = ':';
  for (int i = 0; i < n; i++) {
    const rs_cli_opt *o = &cmd->opts[i];
    lo[i] = (struct option){o->name, o->arg ? required_argument : no_argument, NULL, o->id};
    if (o->shortopt && k + 3 < sizeof p->shortopts) {
      p->shortopts[k++] = o->shortopt;
      if (o->arg) p->shortopts[k++] = ':';
    }
  }
  p->shortopts[k] = '\0';
  p->cmd = cmd;
  p->longopts = lo;
  optind = 1;
  opterr = 0;
  return RS_EXIT_DONE;
}

void rs_cli_parser_free(rs_cli_parser *p) {
  free(p->longopts);
  p->longopts = NULL;
}

static int short_to_id(const rs_cli_cmd *c, int ch) {
  for (const rs_cli_opt *o = c->opts; o->name; o++)
    if (o->shortopt == ch) return o->id;
  return 0;
}

int rs_cli_next(rs_cli_parser *p, int argc, char **argv, const char **arg, int *first) {
  const char *cmd = p->cmd->name;
  int prev = optind;
  int ch = getopt_long(argc, argv, p->shortopts, p->longopts, NULL);
  *arg = optarg;
  if (ch == -1) {
    *first = optind;
    return -1;
  }
  /* The argument getopt was looking at, for the message. */
  const char *seen = prev < argc ? argv[prev] : "";
  if (ch == '?') {
    if (optopt && optopt < 256 && !(seen[0] == '-' && seen[1] == '-'))
      return rs_cli_usage_error(cmd, "unknown option -%c", optopt);
    return rs_cli_usage_error(cmd, "unknown or ambiguous option %s", seen);
  }
  if (ch == ':') {
    if (optopt && optopt < 256) {
      int id = short_to_id(p->cmd, optopt);
      for (const rs_cli_opt *o = p->cmd->opts; o->name; o++)
        if (o->id == id) return rs_cli_usage_error(cmd, "-%c (--%s) expects %s", optopt, o->name, o->arg);
    }
    for (const rs_cli_opt *o = p->cmd->opts; o->name; o++)
      if (o->id == optopt)
        return rs_cli_usage_error(cmd, "--%s expects a value %s", o->name, o->arg);
    return rs_cli_usage_error(cmd, "%s expects a value", seen);
  }
  if (ch < 256) ch = short_to_id(p->cmd, ch);
  if (ch == RS_OPT_HELP && first_rank()) rs_cli_print_help(p->cmd, stdout);
  return ch;
}

int rs_cli_int(const char *cmd, const char *opt, const char *s, long long lo, long long hi,
               long long *out) {
  char *end = NULL;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  /* strtoll accepts leading blanks and a sign; the whole text must be the
   * number, so "2x", "", " 2" and "1e3" are all refused. */
  bool ok = s[0] != '\0' && s[0] != ' ' && s[0] != '\t' && s[0] != '+' && end && *end == '\0' &&
            errno != ERANGE && v >= lo && v <= hi;
  if (!ok)
    return rs_cli_usage_error(cmd, "--%s '%s': expected an integer from %lld to %lld", opt, s, lo, hi);
  *out = v;
  return 0;
}

int rs_cli_real(const char *cmd, const char *opt, const char *s, double lo, double hi,
                bool lo_open, double *out) {
  char *end = NULL;
  errno = 0;
  double v = strtod(s, &end);
  /* Decimal notation only: strtod would also take hex floats, "inf" and "nan". */
  bool ok = s[0] != '\0' && strspn(s, "0123456789+-.eE") == strlen(s) && end && *end == '\0' &&
            errno != ERANGE && isfinite(v) && (lo_open ? v > lo : v >= lo) && v <= hi;
  if (!ok) {
    if (hi < HUGE_VAL && !isinf(hi))
      return rs_cli_usage_error(cmd, "--%s '%s': expected a number from %g to %g", opt, s, lo, hi);
    return rs_cli_usage_error(cmd, "--%s '%s': expected a number %s %g", opt, s,
                              lo_open ? ">" : ">=", lo);
  }
  *out = v;
  return 0;
}

int rs_cli_int_list(const char *cmd, const char *opt, const char *s, long long lo, long long hi,
                    int *out, int cap, int *n) {
  *n = 0;
  const char *p = s;
  for (;;) {
    size_t len = strcspn(p, ",");
    char tok[32];
    long long v;
    if (len == 0 || len >= sizeof tok || *n >= cap)
      return rs_cli_usage_error(cmd, "--%s '%s': expected at most %d comma-separated integers "
                                     "from %lld to %lld", opt, s, cap, lo, hi);
    memcpy(tok, p, len);
    tok[len] = '\0';
    char *end = NULL;
    errno = 0;
    v = strtoll(tok, &end, 10);
    if (tok[0] == ' ' || tok[0] == '+' || *end != '\0' || errno == ERANGE || v < lo || v > hi)
      return rs_cli_usage_error(cmd, "--%s '%s': expected comma-separated integers from %lld "
                                     "to %lld", opt, s, lo, hi);
    out[(*n)++] = (int)v;
    if (p[len] == '\0') break;
    p += len + 1;
  }
  return 0;
}
