/* `ranksweep ib`: the closed-form Gaussian information bottleneck for given
 * canonical correlations (or a job's gaussian_ib data section): critical
 * trade-offs in both conventions, the optimal rank and informations at chosen
 * beta, and the whole curve as CSV. Thin: the numbers come from rs_ib. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ranksweep/rs_job.h"
#include "ranksweep/rs_error.h"
#include "ranksweep/rs_ib.h"

int rs_cmd_ib(int argc, char **argv);

#define RS__IB_MAX_BETA 256

__attribute__((format(printf, 1, 2))) static int rs__ib_bad(const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return rs_cli_usage_error("ib", "%s", msg);
}

static int rs__parse_double(const char *s, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (end == s || *end != '\0' || errno == ERANGE || !isfinite(v)) return 0;
  *out = v;
  return 1;
}

static int rs__parse_rho(const char *s, double *rho, int cap, int *n) {
  char buf[4096];
  if (strlen(s) >= sizeof buf) return 0;
  strcpy(buf, s);
  *n = 0;
  char *save = NULL;
  for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    if (*n >= cap) return 0;
    if (!rs__parse_double(tok, &rho[*n])) return 0;
    if (!rs_rho_in_range(rho[*n])) return 0;
    (*n)++;
  }
  /* "0.9,,0.5" or a trailing comma would be silently shortened by strtok. */
  if (strstr(s, ",,") || s[0] == ',' || s[strlen(s) - 1] == ',') return 0;
  return *n > 0;
}

static void rs__print_point(const char *lead, const rs_gib_point *p, const char *sep) {
  if (sep[0] == ',')
    printf("%s%.10g,%.10g,%d,%.10g,%.10g\n", lead, p->beta, p->beta_vib, p->rank,
           p->info_tx, p->info_ty);
  else
    printf("%s%12.6g %12.6g %5d %12.6f %12.6f\n", lead, p->beta, p->beta_vib, p->rank,
           p->info_tx, p->info_ty);
}

static int rs__ib_report(const rs_gib *g, const double *betas, int nbetas, int curve,
                         double bmin, double bmax, int npoints) {
  const char *c = curve ? "# " : "";
  int n = rs_gib_dim(g);
  printf("%sGaussian information bottleneck: %d canonical correlations, I(X;Y) = %.6f nats\n",
         c, n, rs_gib_info_xy(g));
  printf("%s%3s %10s %10s %14s %14s\n", c, "i", "rho", "lambda", "beta_crit", "beta_vib_crit");
  for (int i = 0; i < n; i++)
    printf("%s%3d %10.6f %10.6f %14.6g %14.6g\n", c, i + 1, sqrt(rs_gib_beta_vib_crit(g, i)),
           rs_gib_lambda(g, i), rs_gib_beta_crit(g, i), rs_gib_beta_vib_crit(g, i));
  if (nbetas > 0) {
    printf("%s%12s %12s %5s %12s %12s\n", c, "beta", "beta_vib", "rank", "I(T;X)", "I(T;Y)");
    for (int k = 0; k < nbetas; k++) {
      rs_gib_point p;
      RS_CALL(rs_gib_at(g, betas[k], &p));
      rs__print_point(c, &p, " ");
    }
  }
  if (curve) {
    if (bmax <= 0.0) {
      double top = 0.0;
      for (int i = 0; i < n; i++)
        if (isfinite(rs_gib_beta_crit(g, i)) && rs_gib_beta_crit(g, i) > top)
          top = rs_gib_beta_crit(g, i);
      bmax = 10.0 * (top > 0.0 ? top : 1.0);
      if (bmax <= bmin) bmax = 10.0 * bmin;
    }
    rs_gib_point *pts = malloc((size_t)npoints * sizeof *pts);
    RS_CHECK(pts, RS_ENOMEM, "--curve: out of memory for %d points", npoints);
    int err = rs_gib_curve(g, bmin, bmax, npoints, pts);
    if (err == RS_OK) {
      printf("beta,beta_vib,rank,I_TX,I_TY\n");
      for (int k = 0; k < npoints; k++) rs__print_point("", &pts[k], ",");
    }
    free(pts);
    RS_CALL(err);
  }
  return RS_OK;
}

/* rho from the job's runs: every run of kind gaussian_ib must agree, since the
 * closed form describes one joint distribution. A VIB job's runs also give
 * beta_vib values (train.beta), in run order without repeats, so the table
 * predicts each run's optimal rank. */
static int rs__rho_from_job(const char *path, double *rho, int *nrho, double *betas,
                            int *nbetas, int cap) {
  rs_job *job = NULL;
  RS_CALL(rs_job_load(path, &job));
  int found = 0, err = RS_OK;
  for (int r = 0; r < rs_job_nruns(job) && err == RS_OK; r++) {
    const rs_config *cfg = rs_job_run(job, r);
    if (cfg->data.kind != RS_DATA_GAUSSIAN_IB) continue;
    if (cfg->model.kind == RS_MODEL_VIB && cfg->train.beta > 0.0) {
      int seen = 0;
      for (int k = 0; k < *nbetas; k++) seen |= betas[k] == 1.0 / cfg->train.beta;
      if (!seen && *nbetas < cap) betas[(*nbetas)++] = 1.0 / cfg->train.beta;
    }
    if (!found) {
      *nrho = cfg->data.nrho;
      memcpy(rho, cfg->data.rho, (size_t)cfg->data.nrho * sizeof *rho);
      found = 1;
    } else if (cfg->data.nrho != *nrho ||
               memcmp(rho, cfg->data.rho, (size_t)*nrho * sizeof *rho) != 0) {
      err = rs_error(RS_EJOB, "%s: data.rho: runs of this job use different rho; "
                     "pass one set with --rho", path);
    }
  }
  if (err == RS_OK && !found)
    err = rs_error(RS_EJOB, "%s: data.kind: expected gaussian_ib (no run has it)", path);
  rs_job_destroy(&job);
  return err;
}

int rs_cmd_ib(int argc, char **argv) {
  double rho[RS_MAX_RHO], betas[RS__IB_MAX_BETA];
  int nrho = 0, nbetas = 0, curve = 0, npoints = 200;
  double bmin = 1.0, bmax = 0.0;
  int have_bmin = 0, have_bmax = 0, have_points = 0;
  const char *job = NULL, *rho_arg = NULL;

  rs_cli_parser p;
  if (rs_cli_parser_init(&p, rs_cli_find("ib")) != RS_EXIT_DONE) return RS_EXIT_ERROR;
  const char *v;
  int id, first, rc = 0;
  while (rc == 0 && (id = rs_cli_next(&p, argc, argv, &v, &first)) != -1) {
    double x;
    switch (id) {
    case RS_OPT_HELP:
      rs_cli_parser_free(&p);
      return RS_EXIT_DONE;
    case RS_EXIT_USAGE:
      rc = RS_EXIT_USAGE;
      break;
    case RS_OPT_CURVE:
      curve = 1;
      break;
    case RS_OPT_RHO:
      if (rho_arg) rc = rs__ib_bad("--rho given twice");
      else if (!rs__parse_rho(v, rho, RS_MAX_RHO, &nrho))
        rc = rs__ib_bad("--rho '%s': expected up to 32 comma-separated numbers in (0, 1)", v);
      rho_arg = v;
      break;
    case RS_OPT_JOB:
      if (job) rc = rs__ib_bad("--job given twice");
      job = v;
      break;
    case RS_OPT_BETA:
    case RS_OPT_BETA_VIB: {
      const char *name = id == RS_OPT_BETA ? "beta" : "beta-vib";
      if ((rc = rs_cli_real("ib", name, v, 0.0, HUGE_VAL, true, &x))) break;
      if (nbetas >= RS__IB_MAX_BETA) rc = rs__ib_bad("--%s: at most 256 values", name);
      else betas[nbetas++] = id == RS_OPT_BETA ? x : 1.0 / x;
      break;
    }
    case RS_OPT_BETA_MIN:
      if (!(rc = rs_cli_real("ib", "beta-min", v, 0.0, HUGE_VAL, true, &bmin))) have_bmin = 1;
      break;
    case RS_OPT_BETA_MAX:
      if (!(rc = rs_cli_real("ib", "beta-max", v, 0.0, HUGE_VAL, true, &bmax))) have_bmax = 1;
      break;
    case RS_OPT_CURVE_POINTS: {
      long long n;
      if (!(rc = rs_cli_int("ib", "points", v, 2, 10000000, &n))) {
        npoints = (int)n;
        have_points = 1;
      }
      break;
    }
    default:
      rc = rs__ib_bad("unexpected option");
    }
  }
  rs_cli_parser_free(&p);
  if (rc) return rc;
  if (first < argc) return rs__ib_bad("unexpected argument '%s'", argv[first]);
  if (!!rho_arg + !!job != 1)
    return rs__ib_bad("expected exactly one of --rho LIST and --job FILE");
  if (!curve && (have_bmin || have_bmax || have_points))
    return rs__ib_bad("--beta-min, --beta-max and --points need --curve");
  if (have_bmax && !(bmax > bmin))
    return rs__ib_bad("--beta-max: expected a value above --beta-min");

  rs_gib *g = NULL;
  int err;
  if (job) {
    /* Explicit --beta/--beta-vib values take precedence over the job's. */
    double jb[RS__IB_MAX_BETA];
    int njb = 0;
    /* A bad job file is an error like any other (exit 1, as from plan). */
    RS_TRY(err, rs__rho_from_job(job, rho, &nrho, jb, &njb, RS__IB_MAX_BETA), done);
    if (nbetas == 0) {
      memcpy(betas, jb, (size_t)njb * sizeof *jb);
      nbetas = njb;
    }
  }
  RS_TRY(err, rs_gib_from_rho(rho, nrho, &g), done);
  RS_TRY(err, rs__ib_report(g, betas, nbetas, curve, bmin, bmax, npoints), done);
done:
  rs_gib_destroy(&g);
  if (err != RS_OK) rs_error_print(err);
  return rs_exit_code(err);
}
