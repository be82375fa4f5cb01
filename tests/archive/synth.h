/* Synthetic sweep for the archive tests: a small job, per-run shapes that
 * differ (so padding is exercised), and results that are a pure function of
 * their cell, so any reader can check what a cell must hold. */
#ifndef RS_TEST_ARCHIVE_SYNTH_H
#define RS_TEST_ARCHIVE_SYNTH_H

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ranksweep/rs_archive.h"
#include "ranksweep/rs_error.h"

#define SYN_RUNS 3
#define SYN_SHARD 4

static const char syn_job_text[] =
    "name: archive-test\n"
    "seed: 5\n"
    "data:\n  kind: gaussian_mixture\n  dim: 6\n  classes: 3\n  train_size: 64\n  heldout_size: 64\n"
    "model:\n  widths: [8, 8]\n"
    "train:\n  steps: 100\n"
    "measure:\n  points: 10\n  eps: [0.1, 0.01]\n"
    "grid:\n  train.lr: [0.001, 0.01, 0.1]\n";

/* Per run: checkpoints, measured layers, points, weight layers differ. */
static const int syn_nckpt[SYN_RUNS] = {4, 3, 5};
static const int syn_nlayers[SYN_RUNS] = {2, 3, 1};
static const int syn_npoints[SYN_RUNS] = {10, 7, 9};
static int64_t syn_steps[SYN_RUNS][8];

static inline int syn_width(int run, int l) { return 5 + run + l; }
static inline int syn_speclen(int run, int l) { int w = syn_width(run, l); return w < 6 ? w : 6; }
static inline int64_t syn_nparams(int run) { return 20 + 3 * run; }
static inline int64_t syn_state_size(int run) { return 40 + run; }
/* run 0 saves final weights, run 1 every checkpoint's, run 2 none */
static inline rs_save_weights syn_save(int run) {
  return run == 0 ? RS_SAVE_FINAL : run == 1 ? RS_SAVE_ALL : RS_SAVE_NONE;
}
static inline int syn_nshards(int run) { return (syn_npoints[run] + SYN_SHARD - 1) / SYN_SHARD; }

static inline int32_t syn_count(int run, int c, int l, int p, int e) {
  return (int32_t)((run * 7 + c * 3 + l * 5 + p * 2 + e) % (syn_width(run, l) + 1));
}
static inline double syn_sv(int run, int c, int l, int p, int k) {
  return ldexp(1.0, -k) * (1 + run + 0.125 * c + 0.0625 * l + p / 1024.0);
}
static inline double syn_eff(int run, int c, int l, int p) { return run + 0.5 * c + 0.25 * l + p / 512.0; }
static inline double syn_stable(int run, int c, int l, int p) { return 1 + run + 0.25 * c + l + p / 256.0; }
static inline double syn_metric(int run, int c, int which) { return 100.0 * which + run + c / 8.0; }
static inline double syn_param(int run, int c, int64_t i) { return run * 1000.0 + c + i / 64.0; }

static inline void syn_runs(rs_archive_run *runs) {
  memset(runs, 0, SYN_RUNS * sizeof *runs);
  for (int r = 0; r < SYN_RUNS; r++) {
    rs_archive_run *x = &runs[r];
    x->nckpt = syn_nckpt[r];
    for (int c = 0; c < x->nckpt; c++) syn_steps[r][c] = c == 0 ? 0 : 10 * c * (c + 1);
    x->ckpt_steps = syn_steps[r];
    x->nlayers = syn_nlayers[r];
    for (int l = 0; l < x->nlayers; l++) {
      x->widths[l] = syn_width(r, l);
      x->spec_len[l] = syn_speclen(r, l);
    }
    x->nweights = x->nlayers + 1;
    x->npoints = syn_npoints[r];
    x->neps = 2;
    x->nparams = syn_nparams(r);
    x->state_size = syn_state_size(r);
    x->save_weights = syn_save(r);
  }
}

/* The job text's SHA-256, and that of the same text with "archive" in its
 * name written "ARCHIVE" (another job file of the same shape). */
#define SYN_JOB_HASH "779987466b7e1ed12f7790f617774136d1f0d91de25adbdd2b024f2b6a045398"
#define SYN_OTHER_HASH "dc54f57230ba9dd36b6f995fd98b100404be0918c872f8f81bc9bfdfaa07be78"

/* The sweep as the archive sees it, written out by hand (no job module): the
 * records a job of syn_job_text would give, as far as the tests read them. */
typedef struct {
  char other_text[sizeof syn_job_text];
  char config[SYN_RUNS][160];
  char hash[SYN_RUNS][65];
  double epochs[SYN_RUNS][8];
  rs_archive_record rec[SYN_RUNS];
  rs_archive_axis axis;
  rs_archive_desc desc;
} syn_desc_t;

/* other: the ARCHIVE job file (its text and hash) instead of syn_job_text. */
static inline const rs_archive_desc *syn_desc(syn_desc_t *s, const rs_archive_run *runs, bool other) {
  static const char *const lr_text[SYN_RUNS] = {"0.001", "0.01", "0.1"};
  static const char *const names[SYN_RUNS] = {"lr=0.001", "lr=0.01", "lr=0.1"};
  static const double lr[SYN_RUNS] = {0.001, 0.01, 0.1};
  static const double eps[2] = {0.1, 0.01};
  memset(s, 0, sizeof *s);
  snprintf(s->other_text, sizeof s->other_text, "%s", syn_job_text);
  memcpy(s->other_text + 6, "ARCHIVE", 7);
  for (int r = 0; r < SYN_RUNS; r++) {
    rs_archive_record *x = &s->rec[r];
    snprintf(s->config[r], sizeof s->config[r], "name: %s\nseed: 5\ntrain.batch: 32\ntrain.lr: %s\n",
             names[r], lr_text[r]);
    snprintf(s->hash[r], sizeof s->hash[r], "%064d", r + 1);
    for (int c = 0; c < runs[r].nckpt; c++) s->epochs[r][c] = (double)runs[r].ckpt_steps[c] * 32 / 64;
    x->name = names[r];
    x->config = s->config[r];
    x->config_hash = s->hash[r];
    x->seed = 5;
    x->eps = eps;
    x->epochs = s->epochs[r];
    for (int f = 0; f < RS_ARCHIVE_NFILES; f++) x->data_path[f] = x->data_sha[f] = "";
  }
  s->axis = (rs_archive_axis){.key = "train.lr", .kind = RS_ARCHIVE_REAL, .text = lr_text, .d = lr};
  s->desc = (rs_archive_desc){other ? "ARCHIVE-test" : "archive-test", other ? SYN_OTHER_HASH : SYN_JOB_HASH,
                              other ? s->other_text : syn_job_text, SYN_RUNS, runs, s->rec, 1, &s->axis,
                              NULL, NULL}; /* the records are complete */
  return &s->desc;
}

/* Fills the per-point results of one shard exactly as rs_localrank_points
 * lays them out, and writes them. */
static inline int syn_write_shard(rs_archive *a, int run, int c, int s) {
  int p0 = s * SYN_SHARD, np = syn_npoints[run] - p0 < SYN_SHARD ? syn_npoints[run] - p0 : SYN_SHARD;
  int nl = syn_nlayers[run], ne = 2;
  int32_t counts[16 * SYN_SHARD * 3];
  double spectra[16 * SYN_SHARD * 8], eff[16 * SYN_SHARD], st[16 * SYN_SHARD];
  const double eps[2] = {0.1, 0.01};
  size_t off = 0;
  for (int l = 0; l < nl; l++) {
    for (int p = 0; p < np; p++) {
      for (int e = 0; e <= ne; e++) counts[(l * np + p) * (ne + 1) + e] = syn_count(run, c, l, p0 + p, e);
      for (int k = 0; k < syn_speclen(run, l); k++) spectra[off + p * syn_speclen(run, l) + k] = syn_sv(run, c, l, p0 + p, k);
      eff[l * np + p] = syn_eff(run, c, l, p0 + p);
      st[l * np + p] = syn_stable(run, c, l, p0 + p);
    }
    off += (size_t)np * syn_speclen(run, l);
  }
  rs_lr_points res = {ne, eps, counts, spectra, eff, st};
  return rs_archive_write_shard(a, run, c, s, p0, np, &res);
}

static inline int syn_write_metrics(rs_archive *a, int run, int c) {
  rs_ckpt_metrics m;
  memset(&m, 0, sizeof m);
  m.train_loss = syn_metric(run, c, 0);
  m.train_acc = syn_metric(run, c, 1);
  m.heldout_loss = syn_metric(run, c, 2);
  m.heldout_acc = syn_metric(run, c, 3);
  m.rate = NAN;
  m.info_y = syn_metric(run, c, 5);
  m.nlayers = syn_nlayers[run] + 1;
  for (int w = 0; w < m.nlayers; w++) {
    m.wfro[w] = syn_metric(run, c, 6) + w;
    m.wspec[w] = syn_metric(run, c, 7) + w;
    for (int e = 0; e < 2; e++) m.wrank[w][e] = run + c + w + e;
  }
  return rs_archive_write_metrics(a, run, c, &m);
}

static inline int syn_write_weights(rs_archive *a, int run, int c) {
  double p[64];
  for (int64_t i = 0; i < syn_nparams(run); i++) p[i] = syn_param(run, c, i);
  return rs_archive_write_weights(a, run, c, p, syn_nparams(run));
}

static inline void syn_blob(int run, int64_t step, unsigned char *b) {
  for (int64_t i = 0; i < syn_state_size(run); i++) b[i] = (unsigned char)(run * 31 + step * 7 + i);
}

#endif
