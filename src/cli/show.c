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
static void rs__csv_num(FILE *out, double v, const char *fmt) {
  (void)fmt;
  fputc(',', out);
  if (isnan(v)) return;
  char b[40];
  for (int prec = 15; prec <= 17; prec++) {
    snprintf(b, sizeof b, "%.*g", prec, v);
    if (strtod(b, NULL) == v) break;
  }
  fputs(b, out);
}

int rs_show(const char *path, const rs_show_opts *o, FILE *out) {
  int run = o->run;
  rs_archive *a;
  RS_CALL(rs_archive_open_read(path, &a));
  rs_archive_dims D;
  rs_archive_tables T;
  rs_archive_dims_get(a, &D);
  rs_archive_tables_get(a, &T);
  int rc = RS_OK;
  char s1[256], s2[128], s3[128], s4[128];
  if (run < -1 || run >= D.nruns)
    rc = rs_error(RS_EARG, "show: %s: run %d out of range [0, %lld)", path, run, (long long)D.nruns);
  if (rc == RS_OK && o->layer != -1 && (o->layer < 1 || o->layer > D.nlayers))
    rc = rs_error(RS_EARG, "show: %s: --layer %d, the archive has hidden layers 1..%lld", path,
                  o->layer, (long long)D.nlayers);
  /* The eps columns: every threshold of the shown runs, in ladder order of
   * first appearance (--eps: that one only, which some run must have). */
  double cols[RS_MAX_EPS * 8];
  int ncols = 0;
  for (int64_t r = 0; rc == RS_OK && r < D.nruns; r++) {
    if (run >= 0 && r != run) continue;
    for (int e = 0; e < T.neps[r]; e++) {
      double x = T.eps[r * D.neps + e];
      bool seen = false;
      for (int k = 0; k < ncols; k++) seen |= rs__eps_eq(cols[k], x);
      if (!seen && ncols < (int)(sizeof cols / sizeof cols[0])) cols[ncols++] = x;
    }
  }
  if (rc == RS_OK && !isnan(o->eps)) {
    bool have = false;
    char list[512] = "";
    for (int k = 0; k < ncols; k++) {
      have |= rs__eps_eq(cols[k], o->eps);
      size_t n = strlen(list);
      snprintf(list + n, sizeof list - n, "%s%g", k ? ", " : "", cols[k]);
    }
    if (!have)
      rc = rs_error(RS_EARG, "show: %s has no eps %g%s (its thresholds: %s)", path, o->eps,
                    run >= 0 ? " in this run" : "", ncols ? list : "none");
    cols[0] = o->eps;
    ncols = 1;
  }
  if (rc != RS_OK) {
    rs_archive_close(&a);
    return rc;
  }
  if (!o->csv) {
    rs_archive_header h;
    rs_archive_header_get(a, &h);
    fprintf(out, "archive   %s (format %lld)\njob       %s\njob_hash  %s\ncomplete  %s\n", path,
            (long long)h.version, h.job_name, h.job_hash, h.complete ? "yes" : "no");
    if (h.has_provenance) {
      static const char *const keys[] = {"ranksweep_version", "git_commit", "hdf5_version", "hostname",
                                         "start_time", "end_time", "openblas_config", "mpi_library",
                                         "reused_from"};
      for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        char v[1024];
        if (rs_archive_provenance_text(a, keys[i], v, sizeof v) == RS_OK)
          fprintf(out, "  %-18s %s\n", keys[i], v);
      }
      int64_t nr = 0, bt = 0, res = 0;
      rs_archive_provenance_int(a, "nranks", &nr);
      rs_archive_provenance_int(a, "blas_threads", &bt);
      rs_archive_provenance_int(a, "resume_count", &res);
      rs_error_clear(); /* (absent keys are not errors here) */
      fprintf(out, "  %-18s %lld (blas threads %lld, resumed %lld times)\n", "nranks", (long long)nr,
              (long long)bt, (long long)res);
    }
    fprintf(out, "runs %lld, checkpoints <= %lld, layers <= %lld, points <= %lld\n",
            (long long)D.nruns, (long long)D.nckpt, (long long)D.nlayers, (long long)D.npoints);
  }
  char **names = NULL;
  int64_t E1 = D.neps + 1;
  size_t nm = (size_t)(D.nruns * D.nckpt);
  uint8_t *mmask = malloc(nm ? nm : 1), *rmask = malloc((size_t)D.nruns);
  uint8_t *diverged = malloc((size_t)D.nruns);
  double *mean = malloc((size_t)(D.nckpt * D.nlayers * E1 + 1) * sizeof *mean);
  double *epochs = malloc((nm ? nm : 1) * sizeof *epochs);
  if (!mmask || !rmask || !diverged || !mean || !epochs) rc = rs_error(RS_ENOMEM, "show: out of memory");
  if (rc == RS_OK) rc = rs_archive_run_names(a, &names);
  if (rc == RS_OK) rc = rs_archive_read_masks(a, NULL, mmask, rmask);
  for (int64_t r = 0; rc == RS_OK && r < D.nruns; r++) {
    bool done, div;
    rc = rs_archive_run_done(a, (int)r, &done, &div);
    diverged[r] = div;
  }
  if (rc == RS_OK) rc = rs_archive_read_epochs(a, epochs); /* NaN in format 1: shown as "-" */
  int namew = 4;
  for (int64_t r = 0; r < D.nruns; r++)
    if (rc == RS_OK && (run < 0 || r == run) && (int)strlen(names[r]) > namew) namew = (int)strlen(names[r]);
  int l0 = o->layer > 0 ? o->layer - 1 : 0;
  if (rc == RS_OK && o->csv) {
    fprintf(out, "run,name,status,checkpoint,step,epoch,layer,eps,local_rank,local_rank_numpy,"
                 "train_loss,train_acc,heldout_loss,heldout_acc\n");
  } else if (rc == RS_OK && run < 0) {
    fprintf(out, "\nmean local rank at each run's last measured checkpoint (numpy: NumPy's tolerance)\n");
    fprintf(out, "%4s  %-*s  %-8s %-15s %10s %9s %10s %9s  %5s", "run", namew, "name", "status", "step/steps",
            "train_loss", "train_acc", "held_loss", "held_acc", "layer");
    for (int k = 0; k < ncols; k++) {
      snprintf(s1, sizeof s1, "eps=%g", cols[k]);
      fprintf(out, " %10s", s1);
    }
    if (isnan(o->eps)) fprintf(out, " %10s", "numpy");
    fputc('\n', out);
  }
  for (int64_t r = 0; rc == RS_OK && r < D.nruns; r++) {
    if (run >= 0 && r != run) continue;
    int last = -1, lastlr = -1;
    for (int c = 0; c < T.nckpt[r]; c++)
      if (mmask[r * D.nckpt + c]) last = c;
    rc = rs_archive_run_means(a, (int)r, mean);
    for (int c = 0; c < T.nckpt[r]; c++)
      if (T.nlayers[r] > 0 && !isnan(mean[(int64_t)c * D.nlayers * E1 + D.neps])) lastlr = c;
    const char *status = rmask[r] ? (diverged[r] == 1 ? "diverged" : "done") : last >= 0 ? "partial" : "pending";
    int l1 = o->layer > 0 ? (o->layer <= T.nlayers[r] ? o->layer : 0) : T.nlayers[r];
    double v[4] = {NAN, NAN, NAN, NAN};
    if (o->csv) {
      for (int c = 0; rc == RS_OK && c < T.nckpt[r]; c++) {
        bool have_m = mmask[r * D.nckpt + c] != 0, have_lr = T.nlayers[r] > 0 && !isnan(mean[(int64_t)c * D.nlayers * E1 + D.neps]);
        if (!have_m && !have_lr) continue;
        for (int i = 0; i < 4; i++) v[i] = NAN;
        if (rc == RS_OK && have_m) rc = rs__metrics4(a, (int)r, c, v);
        for (int l = l0; rc == RS_OK && l < l1; l++)
          for (int k = 0; k < (ncols ? ncols : 1); k++) {
            int e = ncols ? rs__eps_col(&D, &T, r, cols[k]) : -1;
            if (ncols && e < 0) continue; /* this run has no such eps */
            const double *m = mean + ((int64_t)c * D.nlayers + l) * E1;
            fprintf(out, "%lld,", (long long)r);
            rs__csv_str(out, names[r]);
            fprintf(out, ",%s,%d,%lld", status, c, (long long)T.steps[r * D.nckpt + c]);
            rs__csv_num(out, epochs[r * D.nckpt + c], "%.17g");
            fprintf(out, ",%d", l + 1);
            rs__csv_num(out, e >= 0 ? cols[k] : NAN, "%.17g");
            rs__csv_num(out, e >= 0 ? m[e] : NAN, "%.17g");
            rs__csv_num(out, m[D.neps], "%.17g");
            for (int i = 0; i < 4; i++) rs__csv_num(out, v[i], "%.17g");
            fputc('\n', out);
          }
        if (T.nlayers[r] == 0 && have_m) { /* metrics only */
          fprintf(out, "%lld,", (long long)r);
          rs__csv_str(out, names[r]);
          fprintf(out, ",%s,%d,%lld", status, c, (long long)T.steps[r * D.nckpt + c]);
          rs__csv_num(out, epochs[r * D.nckpt + c], "%.17g");
          fprintf(out, ",,,,");
          for (int i = 0; i < 4; i++) rs__csv_num(out, v[i], "%.17g");
          fputc('\n', out);
        }
      }
      continue;
    }
    if (rc == RS_OK && last >= 0) rc = rs__metrics4(a, (int)r, last, v);
    char steps[64], lastc[32] = "-";
    if (last >= 0) snprintf(lastc, sizeof lastc, "%lld", (long long)T.steps[r * D.nckpt + last]);
    snprintf(steps, sizeof steps, "%s/%lld", lastc, (long long)T.steps[r * D.nckpt + T.nckpt[r] - 1]);
    rs__fmt(s1, 32, v[0], "%.4g");
    rs__fmt(s2, 32, v[1], "%.4f");
    rs__fmt(s3, 32, v[2], "%.4g");
    rs__fmt(s4, 32, v[3], "%.4f");
    if (run < 0) {
      fprintf(out, "%4lld  %-*s  %-8s %-15s %10s %9s %10s %9s", (long long)r, namew, names[r], status, steps,
              s1, s2, s3, s4);
      if (lastlr < 0 || l1 <= l0) fprintf(out, "  %5s", "-");
      for (int l = l0; lastlr >= 0 && l < l1; l++) {
        if (l > l0) fprintf(out, "%*s", 4 + 2 + namew + 2 + 8 + 1 + 15 + 11 + 10 + 11 + 10, "");
        fprintf(out, "  %5d", l + 1);
        const double *m = mean + ((int64_t)lastlr * D.nlayers + l) * E1;
        for (int k = 0; k < ncols; k++) {
          int e = rs__eps_col(&D, &T, r, cols[k]);
          rs__fmt(s1, 32, e >= 0 ? m[e] : NAN, "%.2f");
          fprintf(out, " %10s", s1);
        }
        if (isnan(o->eps)) {
          rs__fmt(s1, 32, m[D.neps], "%.2f");
          fprintf(out, " %10s", s1);
        }
        if (l + 1 < l1) fputc('\n', out);
      }
      if (lastlr >= 0 && lastlr != last) fprintf(out, "  (LR of step %lld)", (long long)T.steps[r * D.nckpt + lastlr]);
      fputc('\n', out);
      continue;
    }
    /* one run: its curve at one eps (--eps, or the middle of its ladder) */
    int em = !isnan(o->eps) ? rs__eps_col(&D, &T, r, o->eps) : T.neps[r] > 0 ? T.neps[r] / 2 : (int)D.neps;
    char eps[64];
    if (em >= 0 && em < T.neps[r]) snprintf(eps, sizeof eps, "eps=%g", T.eps[r * D.neps + em]);
    else snprintf(eps, sizeof eps, "numpy");
    fprintf(out, "\nrun %lld  %s  %s  steps %s\n", (long long)r, names[r], status, steps);
    fprintf(out, "curve: mean local rank per layer at %s\n%5s %10s %10s %10s %9s %10s %9s", eps, "ckpt", "step",
            "epoch", "train_loss", "train_acc", "held_loss", "held_acc");
    for (int l = l0; l < l1; l++) {
      snprintf(s1, sizeof s1, "L%d@%s", l + 1, eps);
      fprintf(out, " %12s", s1);
    }
    fputc('\n', out);
    for (int c = 0; rc == RS_OK && c < T.nckpt[r]; c++) {
      rc = rs__metrics4(a, (int)r, c, v);
      rs__fmt(s1, 32, v[0], "%.4g");
      rs__fmt(s2, 32, v[1], "%.4f");
      rs__fmt(s3, 32, v[2], "%.4g");
      rs__fmt(s4, 32, v[3], "%.4f");
      char ep[32];
      rs__fmt(ep, sizeof ep, epochs[r * D.nckpt + c], "%.4g");
      fprintf(out, "%5d %10lld %10s %10s %9s %10s %9s", c, (long long)T.steps[r * D.nckpt + c], ep, s1, s2, s3, s4);
      for (int l = l0; l < l1; l++) {
        rs__fmt(s1, 32, mean[((int64_t)c * D.nlayers + l) * E1 + em], "%.2f");
        fprintf(out, " %12s", s1);
      }
      fputc('\n', out);
    }
  }
  free(names);
  free(mmask);
  free(rmask);
  free(diverged);
  free(mean);
  free(epochs);
  int rc2 = rs_archive_close(&a);
  return rc != RS_OK ? rc : rc2;
}
