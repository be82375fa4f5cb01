/* `ranksweep show`: the text and CSV tables of an archive (the run table
 * at each run's last measured checkpoint, one run's curve, or every row as
 * CSV), read through the archive's serial API (rs_archive.h). */
#include "show.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ranksweep/rs_archive.h"
#include "ranksweep/rs_error.h"

static void rs__fmt(char *b, size_t n, double v, const char *f) {
  if (isnan(v))
    snprintf(b, n, "-");
  else
    snprintf(b, n, f, v);
}

/* The four metrics the tables show: train loss and accuracy, held-out loss
 * and accuracy (NaN where not written). */
static int rs__metrics4(rs_archive *a, int run, int ckpt, double v[4]) {
  rs_ckpt_metrics m;
  RS_CALL(rs_archive_read_metrics(a, run, ckpt, &m));
  v[0] = m.train_loss;
  v[1] = m.train_acc;
  v[2] = m.heldout_loss;
  v[3] = m.heldout_acc;
  return RS_OK;
}

void rs_show_opts_default(rs_show_opts *o) {
  o->run = -1;
  o->csv = false;
  o->eps = NAN;
  o->layer = -1;
}

/* Same threshold: eps values are typed by people, so compare to 1e-9. */
static bool rs__eps_eq(double a, double b) { return fabs(a - b) <= 1e-9 * fabs(b); }

/* Column e of run r holding eps x, or -1. */
static int rs__eps_col(const rs_archive_dims *D, const rs_archive_tables *T, int64_t r, double x) {
  for (int e = 0; e < T->neps[r]; e++)
    if (rs__eps_eq(T->eps[r * D->neps + e], x)) return e;
  return -1;
}

/* A CSV field: quoted when it holds a comma, quote or newline. */
static void rs__csv_str(FILE *out, const char *s) {
  if (!strpbrk(s, ",\"\n\r")) {
    fputs(s, out);
    return;
  }
  fputc('"', out);
  for (; *s; s++) {
    if (*s == '"') fputc('"', out);
    fputc(*s, out);
  }
  fputc('"', out);
}

/* A CSV number: the shortest text that reads back as the same double. */
static void rs__csv_num(FILE *out, double v) {
  fputc(',', out);
  if (isnan(v)) return;
  char b[40];
  for (int prec = 15; prec <= 17; prec++) {
    snprintf(b, sizeof b, "%.*g", prec, v);
    if (strtod(b, NULL) == v) break;
  }
  fputs(b, out);
}

/* What every output mode reads, once: the archive's dimensions and tables,
 * the eps columns shown, and per run its name, masks, divergence and epochs. */
typedef struct {
  const char *path;
  const rs_show_opts *o;
  rs_archive *a;
  rs_archive_dims D;
  rs_archive_tables T;
  double cols[RS_MAX_EPS * 8]; /* the eps columns shown */
  int ncols;
  char **names;
  uint8_t *mmask, *rmask, *diverged; /* metrics [run * nckpt + c], run done, diverged */
  double *epochs;                    /* [run * nckpt + c] */
  double *mean; /* the current run's means, [(c * nlayers + l) * E1 + e], e = neps: numpy's */
  int64_t E1;
  int namew; /* the name column's width: the longest shown name, at least 4 */
  int l0;    /* the first layer shown (0-based) */
} rs__show;

/* One run as the tables show it. */
typedef struct {
  int last;   /* the last checkpoint with metrics, or -1 */
  int lastlr; /* the last checkpoint with local ranks, or -1 */
  int l1;     /* one past the last layer shown */
  const char *status;
} rs__run;

/* Checks the run and layer asked for, then chooses the eps columns: every
 * threshold of the shown runs, in ladder order of first appearance (--eps:
 * that one only, which some run must have). */
static int rs__show_select(rs__show *s) {
  const rs_archive_dims *D = &s->D;
  const rs_archive_tables *T = &s->T;
  const rs_show_opts *o = s->o;
  int run = o->run;
  if (run < -1 || run >= D->nruns)
    return rs_error(RS_EARG, "show: %s: run %d out of range [0, %lld)", s->path, run,
                    (long long)D->nruns);
  if (o->layer != -1 && (o->layer < 1 || o->layer > D->nlayers))
    return rs_error(RS_EARG, "show: %s: --layer %d, the archive has hidden layers 1..%lld", s->path,
                    o->layer, (long long)D->nlayers);
  for (int64_t r = 0; r < D->nruns; r++) {
    if (run >= 0 && r != run) continue;
    for (int e = 0; e < T->neps[r]; e++) {
      double x = T->eps[r * D->neps + e];
      bool seen = false;
      for (int k = 0; k < s->ncols; k++) seen |= rs__eps_eq(s->cols[k], x);
      if (!seen && s->ncols < (int)(sizeof s->cols / sizeof s->cols[0])) s->cols[s->ncols++] = x;
    }
  }
  if (isnan(o->eps)) return RS_OK;
  bool have = false;
  char list[512] = "";
  for (int k = 0; k < s->ncols; k++) {
    have |= rs__eps_eq(s->cols[k], o->eps);
    size_t n = strlen(list);
    snprintf(list + n, sizeof list - n, "%s%g", k ? ", " : "", s->cols[k]);
  }
  if (!have)
    return rs_error(RS_EARG, "show: %s has no eps %g%s (its thresholds: %s)", s->path, o->eps,
                    run >= 0 ? " in this run" : "", s->ncols ? list : "none");
  s->cols[0] = o->eps;
  s->ncols = 1;
  return RS_OK;
}

/* The text modes' header: the archive, its provenance and its dimensions. */
static void rs__show_header(rs__show *s, FILE *out) {
  rs_archive_header h;
  rs_archive_header_get(s->a, &h);
  fprintf(out, "archive   %s (format %lld)\njob       %s\njob_hash  %s\ncomplete  %s\n", s->path,
          (long long)h.version, h.job_name, h.job_hash, h.complete ? "yes" : "no");
  if (h.has_provenance) {
    static const char *const keys[] = {"ranksweep_version", "git_commit", "hdf5_version", "hostname",
                                       "start_time", "end_time", "openblas_config", "mpi_library",
                                       "reused_from"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
      char v[1024];
      if (rs_archive_provenance_text(s->a, keys[i], v, sizeof v) == RS_OK)
        fprintf(out, "  %-18s %s\n", keys[i], v);
    }
    int64_t nr = 0, bt = 0, res = 0;
    rs_archive_provenance_int(s->a, "nranks", &nr);
    rs_archive_provenance_int(s->a, "blas_threads", &bt);
    rs_archive_provenance_int(s->a, "resume_count", &res);
    rs_error_clear(); /* (absent keys are not errors here) */
    fprintf(out, "  %-18s %lld (blas threads %lld, resumed %lld times)\n", "nranks", (long long)nr,
            (long long)bt, (long long)res);
  }
  const rs_archive_dims *D = &s->D;
  fprintf(out, "runs %lld, checkpoints <= %lld, layers <= %lld, points <= %lld\n",
          (long long)D->nruns, (long long)D->nckpt, (long long)D->nlayers, (long long)D->npoints);
}

/* Reads what every mode needs from the archive: names, masks, divergence and
 * epochs, with room for one run's means. */
static int rs__show_load(rs__show *s) {
  const rs_archive_dims *D = &s->D;
  s->E1 = D->neps + 1;
  size_t nm = (size_t)(D->nruns * D->nckpt);
  s->mmask = malloc(nm ? nm : 1);
  s->rmask = malloc((size_t)D->nruns);
  s->diverged = malloc((size_t)D->nruns);
  s->mean = malloc((size_t)(D->nckpt * D->nlayers * s->E1 + 1) * sizeof *s->mean);
  s->epochs = malloc((nm ? nm : 1) * sizeof *s->epochs);
  if (!s->mmask || !s->rmask || !s->diverged || !s->mean || !s->epochs)
    return rs_error(RS_ENOMEM, "show: out of memory");
  RS_CALL(rs_archive_run_names(s->a, &s->names));
  RS_CALL(rs_archive_read_masks(s->a, NULL, s->mmask, s->rmask));
  for (int64_t r = 0; r < D->nruns; r++) {
    bool done, div;
    int rc = rs_archive_run_done(s->a, (int)r, &done, &div);
    s->diverged[r] = div;
    RS_CALL(rc);
  }
  RS_CALL(rs_archive_read_epochs(s->a, s->epochs)); /* NaN in format 1: shown as "-" */
  s->namew = 4;
  for (int64_t r = 0; r < D->nruns; r++)
    if ((s->o->run < 0 || r == s->o->run) && (int)strlen(s->names[r]) > s->namew)
      s->namew = (int)strlen(s->names[r]);
  s->l0 = s->o->layer > 0 ? s->o->layer - 1 : 0;
  return RS_OK;
}

static void rs__show_free(rs__show *s) {
  free(s->names);
  free(s->mmask);
  free(s->rmask);
  free(s->diverged);
  free(s->mean);
  free(s->epochs);
}

/* Run r's means into s->mean, and what the tables show of it (filled even
 * when reading the means fails, as the modes print what they have). */
static int rs__show_run(rs__show *s, int64_t r, rs__run *u) {
  const rs_archive_dims *D = &s->D;
  const rs_archive_tables *T = &s->T;
  u->last = -1;
  u->lastlr = -1;
  for (int c = 0; c < T->nckpt[r]; c++)
    if (s->mmask[r * D->nckpt + c]) u->last = c;
  int rc = rs_archive_run_means(s->a, (int)r, s->mean);
  for (int c = 0; c < T->nckpt[r]; c++)
    if (T->nlayers[r] > 0 && !isnan(s->mean[(int64_t)c * D->nlayers * s->E1 + D->neps]))
      u->lastlr = c;
  u->status = s->rmask[r] ? (s->diverged[r] == 1 ? "diverged" : "done")
              : u->last >= 0 ? "partial"
                             : "pending";
  int layer = s->o->layer;
  u->l1 = layer > 0 ? (layer <= T->nlayers[r] ? layer : 0) : T->nlayers[r];
  return rc;
}

/* The run table's and the curve's columns of metrics, as text. */
static void rs__fmt_metrics(const double v[4], char m[4][32]) {
  rs__fmt(m[0], 32, v[0], "%.4g");
  rs__fmt(m[1], 32, v[1], "%.4f");
  rs__fmt(m[2], 32, v[2], "%.4g");
  rs__fmt(m[3], 32, v[3], "%.4f");
}

/* "last/total" steps of run r ("-" for the last when nothing is measured). */
static void rs__steps_text(const rs__show *s, int64_t r, int last, char *buf, size_t n) {
  const int64_t *steps = s->T.steps + r * s->D.nckpt;
  char lastc[32] = "-";
  if (last >= 0) snprintf(lastc, sizeof lastc, "%lld", (long long)steps[last]);
  snprintf(buf, n, "%s/%lld", lastc, (long long)steps[s->T.nckpt[r] - 1]);
}

/* --csv: the leading fields of a row (run, name, status, checkpoint, step,
 * epoch). */
static void rs__csv_lead(const rs__show *s, int64_t r, const char *status, int c, FILE *out) {
  fprintf(out, "%lld,", (long long)r);
  rs__csv_str(out, s->names[r]);
  fprintf(out, ",%s,%d,%lld", status, c, (long long)s->T.steps[r * s->D.nckpt + c]);
  rs__csv_num(out, s->epochs[r * s->D.nckpt + c]);
}

/* --csv: run r's rows at checkpoint c, one per layer x eps column, or one of
 * metrics only for a run without measured layers. */
static int rs__csv_ckpt(rs__show *s, int64_t r, const rs__run *u, int c, FILE *out) {
  const rs_archive_dims *D = &s->D;
  const rs_archive_tables *T = &s->T;
  bool have_m = s->mmask[r * D->nckpt + c] != 0;
  bool have_lr = T->nlayers[r] > 0 && !isnan(s->mean[(int64_t)c * D->nlayers * s->E1 + D->neps]);
  if (!have_m && !have_lr) return RS_OK;
  double v[4] = {NAN, NAN, NAN, NAN};
  if (have_m) RS_CALL(rs__metrics4(s->a, (int)r, c, v));
  int ncols = s->ncols;
  for (int l = s->l0; l < u->l1; l++)
    for (int k = 0; k < (ncols ? ncols : 1); k++) {
      int e = ncols ? rs__eps_col(D, T, r, s->cols[k]) : -1;
      if (ncols && e < 0) continue; /* this run has no such eps */
      const double *m = s->mean + ((int64_t)c * D->nlayers + l) * s->E1;
      rs__csv_lead(s, r, u->status, c, out);
      fprintf(out, ",%d", l + 1);
      rs__csv_num(out, e >= 0 ? s->cols[k] : NAN);
      rs__csv_num(out, e >= 0 ? m[e] : NAN);
      rs__csv_num(out, m[D->neps]);
      for (int i = 0; i < 4; i++) rs__csv_num(out, v[i]);
      fputc('\n', out);
    }
  if (T->nlayers[r] == 0 && have_m) { /* metrics only */
    rs__csv_lead(s, r, u->status, c, out);
    fprintf(out, ",,,,");
    for (int i = 0; i < 4; i++) rs__csv_num(out, v[i]);
    fputc('\n', out);
  }
  return RS_OK;
}

/* --csv: a header line, then every measured checkpoint of the shown runs. */
static int rs__show_csv(rs__show *s, FILE *out) {
  fprintf(out, "run,name,status,checkpoint,step,epoch,layer,eps,local_rank,local_rank_numpy,"
               "train_loss,train_acc,heldout_loss,heldout_acc\n");
  int rc = RS_OK;
  for (int64_t r = 0; rc == RS_OK && r < s->D.nruns; r++) {
    if (s->o->run >= 0 && r != s->o->run) continue;
    rs__run u;
    rc = rs__show_run(s, r, &u);
    for (int c = 0; rc == RS_OK && c < s->T.nckpt[r]; c++) rc = rs__csv_ckpt(s, r, &u, c, out);
  }
  return rc;
}

/* The run table's leading columns, one format for its header and its rows. */
#define RS__TABLE_LEAD "%4s  %-*s  %-8s %-15s %10s %9s %10s %9s"

/* Prints the leading columns c[0..7] (c[1] the name, namew wide) and returns
 * their width, which the rows of a run's further layers are indented by. */
static int rs__table_lead(FILE *out, int namew, const char *const c[8]) {
  fprintf(out, RS__TABLE_LEAD, c[0], namew, c[1], c[2], c[3], c[4], c[5], c[6], c[7]);
  return snprintf(NULL, 0, RS__TABLE_LEAD, c[0], namew, c[1], c[2], c[3], c[4], c[5], c[6], c[7]);
}

/* The run table's row of run r: its metrics at its last measured checkpoint,
 * then one line per layer of its local ranks at its last checkpoint with
 * them, indented under the header's leading columns. */
static void rs__table_row(const rs__show *s, int64_t r, const rs__run *u, const double v[4],
                          int indent, FILE *out) {
  const rs_archive_dims *D = &s->D;
  char id[24], steps[64], m[4][32], x[32];
  snprintf(id, sizeof id, "%lld", (long long)r);
  rs__steps_text(s, r, u->last, steps, sizeof steps);
  rs__fmt_metrics(v, m);
  const char *lead[8] = {id, s->names[r], u->status, steps, m[0], m[1], m[2], m[3]};
  rs__table_lead(out, s->namew, lead);
  int l0 = s->l0, l1 = u->l1;
  if (u->lastlr < 0 || l1 <= l0) fprintf(out, "  %5s", "-");
  for (int l = l0; u->lastlr >= 0 && l < l1; l++) {
    if (l > l0) fprintf(out, "%*s", indent, "");
    fprintf(out, "  %5d", l + 1);
    const double *lr = s->mean + ((int64_t)u->lastlr * D->nlayers + l) * s->E1;
    for (int k = 0; k < s->ncols; k++) {
      int e = rs__eps_col(D, &s->T, r, s->cols[k]);
      rs__fmt(x, sizeof x, e >= 0 ? lr[e] : NAN, "%.2f");
      fprintf(out, " %10s", x);
    }
    if (isnan(s->o->eps)) {
      rs__fmt(x, sizeof x, lr[D->neps], "%.2f");
      fprintf(out, " %10s", x);
    }
    if (l + 1 < l1) fputc('\n', out);
  }
  if (u->lastlr >= 0 && u->lastlr != u->last)
    fprintf(out, "  (LR of step %lld)", (long long)s->T.steps[r * D->nckpt + u->lastlr]);
  fputc('\n', out);
}

/* Every run: the table of mean local ranks at each run's last measured
 * checkpoint. */
static int rs__show_table(rs__show *s, FILE *out) {
  fprintf(out, "\nmean local rank at each run's last measured checkpoint (numpy: NumPy's tolerance)\n");
  static const char *const head[8] = {"run",        "name",      "status",    "step/steps",
                                      "train_loss", "train_acc", "held_loss", "held_acc"};
  int indent = rs__table_lead(out, s->namew, head);
  fprintf(out, "  %5s", "layer");
  for (int k = 0; k < s->ncols; k++) {
    char h[64];
    snprintf(h, sizeof h, "eps=%g", s->cols[k]);
    fprintf(out, " %10s", h);
  }
  if (isnan(s->o->eps)) fprintf(out, " %10s", "numpy");
  fputc('\n', out);
  int rc = RS_OK;
  for (int64_t r = 0; rc == RS_OK && r < s->D.nruns; r++) {
    rs__run u;
    rc = rs__show_run(s, r, &u);
    double v[4] = {NAN, NAN, NAN, NAN};
    if (rc == RS_OK && u.last >= 0) rc = rs__metrics4(s->a, (int)r, u.last, v);
    rs__table_row(s, r, &u, v, indent, out);
  }
  return rc;
}

/* The curve's leading columns, one format for its header and its rows. */
#define RS__CURVE_LEAD "%5s %10s %10s %10s %9s %10s %9s"

/* One run (--run): its curve at one eps (--eps, or the middle of its ladder),
 * a line per checkpoint. */
static int rs__show_curve(rs__show *s, FILE *out) {
  const rs_archive_dims *D = &s->D;
  const rs_archive_tables *T = &s->T;
  int64_t r = s->o->run;
  rs__run u;
  int rc = rs__show_run(s, r, &u);
  double v[4] = {NAN, NAN, NAN, NAN};
  if (rc == RS_OK && u.last >= 0) rc = rs__metrics4(s->a, (int)r, u.last, v);
  char steps[64], eps[64], x[128], m[4][32];
  rs__steps_text(s, r, u.last, steps, sizeof steps);
  int em = !isnan(s->o->eps) ? rs__eps_col(D, T, r, s->o->eps)
           : T->neps[r] > 0  ? T->neps[r] / 2
                             : (int)D->neps;
  if (em >= 0 && em < T->neps[r]) snprintf(eps, sizeof eps, "eps=%g", T->eps[r * D->neps + em]);
  else snprintf(eps, sizeof eps, "numpy");
  fprintf(out, "\nrun %lld  %s  %s  steps %s\n", (long long)r, s->names[r], u.status, steps);
  fprintf(out, "curve: mean local rank per layer at %s\n", eps);
  fprintf(out, RS__CURVE_LEAD, "ckpt", "step", "epoch", "train_loss", "train_acc", "held_loss",
          "held_acc");
  for (int l = s->l0; l < u.l1; l++) {
    snprintf(x, sizeof x, "L%d@%s", l + 1, eps);
    fprintf(out, " %12s", x);
  }
  fputc('\n', out);
  for (int c = 0; rc == RS_OK && c < T->nckpt[r]; c++) {
    rc = rs__metrics4(s->a, (int)r, c, v);
    rs__fmt_metrics(v, m);
    char ck[16], st[24], ep[32];
    snprintf(ck, sizeof ck, "%d", c);
    snprintf(st, sizeof st, "%lld", (long long)T->steps[r * D->nckpt + c]);
    rs__fmt(ep, sizeof ep, s->epochs[r * D->nckpt + c], "%.4g");
    fprintf(out, RS__CURVE_LEAD, ck, st, ep, m[0], m[1], m[2], m[3]);
    for (int l = s->l0; l < u.l1; l++) {
      rs__fmt(x, 32, s->mean[((int64_t)c * D->nlayers + l) * s->E1 + em], "%.2f");
      fprintf(out, " %12s", x);
    }
    fputc('\n', out);
  }
  return rc;
}

/* Opens the archive once, checks the request and reads what the modes share,
 * then prints one mode: CSV rows, the run table, or one run's curve. */
int rs_show(const char *path, const rs_show_opts *o, FILE *out) {
  rs__show s = {.path = path, .o = o};
  RS_CALL(rs_archive_open_read(path, &s.a));
  rs_archive_dims_get(s.a, &s.D);
  rs_archive_tables_get(s.a, &s.T);
  int rc = rs__show_select(&s);
  if (rc != RS_OK) {
    rs_archive_close(&s.a);
    return rc;
  }
  if (!o->csv) rs__show_header(&s, out);
  rc = rs__show_load(&s);
  if (rc == RS_OK)
    rc = o->csv ? rs__show_csv(&s, out) : o->run < 0 ? rs__show_table(&s, out) : rs__show_curve(&s, out);
  rs__show_free(&s);
  int rc2 = rs_archive_close(&s.a);
  return rc != RS_OK ? rc : rc2;
}
