/* Result writes (data first, mask last) from any rank, training-state
 * slots, and the mask queries that drive resume. */
#include "archive_internal.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#ifdef RS_TEST_HOOKS
/* Test hooks, compiled only into the test suite's ranksweep-hooks and
 * archive_writer (tests/meson.build), never into the users' ranksweep.
 * Counted per process over result writes: RANKSWEEP_TEST_KILL_AT_WRITE=n
 * kills this process with SIGKILL in the middle of its n-th write, after the
 * data and before the mask (for a training state, after the blob, before its
 * header); RANKSWEEP_TEST_ENOSPC_AT_WRITE=n makes the n-th write and every
 * later one fail there as a full disk would (file systems that cannot
 * reserve space, see rs__reserve), so the tests can check that the sweep ends
 * cleanly and resumes without losing what was written. */
static int rs__test_kill_in_write(const rs_archive *a) {
  static long count = 0;
  static long at = -2, nospc = -2;
  if (at == -2) {
    const char *v = getenv("RANKSWEEP_TEST_KILL_AT_WRITE");
    const char *w = getenv("RANKSWEEP_TEST_ENOSPC_AT_WRITE");
    at = v ? atol(v) : -1;
    nospc = w ? atol(w) : -1;
  }
  ++count;
  if (at > 0 && count == at) raise(SIGKILL);
  if (nospc > 0 && count >= nospc)
    return rs_error(RS_EIO, "%s: cannot write results: %s (simulated by RANKSWEEP_TEST_ENOSPC_AT_WRITE)",
                    a->path, strerror(ENOSPC));
  return RS_OK;
}
#else
#define rs__test_kill_in_write(a) RS_OK
#endif

static int rs__check_run(const rs_archive *a, int run) {
  if (run < 0 || run >= a->lay.R)
    return rs_error(RS_EARG, "%s: run %d out of range [0, %lld)", a->path, run, (long long)a->lay.R);
  return RS_OK;
}

static int rs__check_ckpt(const rs_archive *a, int run, int ckpt) {
  RS_CALL(rs__check_run(a, run));
  if (ckpt < 0 || ckpt >= a->lay.nckpt[run])
    return rs_error(RS_EARG, "%s: run %d: checkpoint %d out of range [0, %d)", a->path, run, ckpt,
                    a->lay.nckpt[run]);
  return RS_OK;
}

int rs__set_mask(rs_archive *a, int id, const hsize_t *start) {
  uint8_t one = 1;
  hsize_t count[RS__MAXRANK] = {1, 1, 1, 1, 1};
  return rs__dio(a, id, start, count, &one, true);
}

/* Marks points [p0, p0+np) of (run, ckpt) done in archive `a` (one write). */
int rs__set_points(rs_archive *a, int run, int ckpt, int p0, int np) {
  uint8_t ones[4096];
  memset(ones, 1, sizeof ones);
  for (int q = 0; q < np; q += (int)sizeof ones) {
    int n = np - q < (int)sizeof ones ? np - q : (int)sizeof ones;
    hsize_t st[3] = {(hsize_t)run, (hsize_t)ckpt, (hsize_t)(p0 + q)}, ct[3] = {1, 1, (hsize_t)n};
    RS_CALL(rs__dio(a, D_DONE_POINTS, st, ct, ones, true));
  }
  return RS_OK;
}

int rs_archive_write_shard(rs_archive *a, int run, int ckpt, int shard, int p0, int np,
                           const rs_lr_points *res) {
  RS_CALL(rs__check_ckpt(a, run, ckpt));
  const rs__layout *L = &a->lay;
  int64_t want = L->npoints[run] - (int64_t)shard * L->shard;
  if (want > L->shard) want = L->shard;
  if (shard < 0 || shard >= rs__layout_nshards(L, run) || p0 != shard * L->shard || np != want)
    return rs_error(RS_EARG, "%s: run %d: shard %d (points %d..%d) does not match the shard grid",
                    a->path, run, shard, p0, p0 + np);
  if (res->neps != L->neps[run])
    return rs_error(RS_EARG, "%s: run %d: %d eps in the results, %d in the archive", a->path, run,
                    res->neps, L->neps[run]);
  int nl = L->nlayers[run], ne = res->neps;
  int64_t E1 = L->E + 1, K = L->K;
  if (nl == 0) goto mask;
  {
    size_t n = (size_t)nl * np;
    int32_t *cnt = malloc(n * (size_t)E1 * sizeof *cnt);
    float *sp = K > 0 ? malloc(n * (size_t)K * sizeof *sp) : NULL;
    if (!cnt || (K > 0 && !sp)) {
      free(cnt);
      free(sp);
      return rs_error(RS_ENOMEM, "archive: out of memory");
    }
    /* eps columns first, padding, the NumPy-tolerance count always last */
    for (size_t i = 0; i < n; i++) {
      for (int64_t e = 0; e < E1; e++) cnt[i * E1 + e] = -1;
      for (int e = 0; e < ne; e++) cnt[i * E1 + e] = res->counts[i * (ne + 1) + e];
      cnt[i * E1 + L->E] = res->counts[i * (ne + 1) + ne];
    }
    hsize_t st[5] = {(hsize_t)run, (hsize_t)ckpt, 0, (hsize_t)p0, 0};
    hsize_t ct[5] = {1, 1, (hsize_t)nl, (hsize_t)np, (hsize_t)E1};
    int rc = rs__dio(a, D_LR_COUNTS, st, ct, cnt, true);
    if (rc == RS_OK && a->d[D_LR_COUNTS_NP] >= 0) {
      /* the NumPy-tolerance count again, where no padding can shift it */
      for (size_t i = 0; i < n; i++) cnt[i] = res->counts[i * (ne + 1) + ne];
      rc = rs__dio(a, D_LR_COUNTS_NP, st, ct, cnt, true);
    }
    if (rc == RS_OK && sp && res->spectra) {
      size_t off = 0;
      for (int l = 0; l < nl; l++) {
        int len = L->spec_len[run * L->L + l];
        for (int p = 0; p < np; p++)
          for (int64_t k = 0; k < K; k++)
            sp[((size_t)l * np + p) * K + k] =
                k < len ? (float)res->spectra[off + (size_t)p * len + k] : NAN;
        off += (size_t)np * len;
      }
      ct[4] = (hsize_t)K;
      rc = rs__dio(a, D_LR_SPECTRA, st, ct, sp, true);
    }
    free(cnt);
    free(sp);
    if (rc != RS_OK) return rc;
    if (res->effrank) RS_CALL(rs__dio(a, D_LR_EFFRANK, st, ct, res->effrank, true));
    if (res->stablerank) RS_CALL(rs__dio(a, D_LR_STABLE, st, ct, res->stablerank, true));
  }
mask:;
  RS_CALL(rs__test_kill_in_write(a));
  return rs__set_points(a, run, ckpt, p0, np);
}

int rs_archive_write_metrics(rs_archive *a, int run, int ckpt, const rs_ckpt_metrics *m) {
  RS_CALL(rs__check_ckpt(a, run, ckpt));
  const rs__layout *L = &a->lay;
  if (m->nlayers != L->nweights[run])
    return rs_error(RS_EARG, "%s: run %d: %d weight layers in the metrics, %d in the archive",
                    a->path, run, m->nlayers, L->nweights[run]);
  hsize_t st[4] = {(hsize_t)run, (hsize_t)ckpt, 0, 0}, one[4] = {1, 1, 1, 1};
  const double scal[6] = {m->train_loss, m->heldout_loss, m->train_acc, m->heldout_acc, m->rate, m->info_y};
  const int ids[6] = {D_M_TRAIN_LOSS, D_M_HELD_LOSS, D_M_TRAIN_ACC, D_M_HELD_ACC, D_M_RATE, D_M_INFO_Y};
  for (int i = 0; i < 6; i++) RS_CALL(rs__dio(a, ids[i], st, one, (void *)&scal[i], true));
  int W = m->nlayers;
  if (W > 0) {
    hsize_t ct[4] = {1, 1, (hsize_t)W, (hsize_t)L->E};
    RS_CALL(rs__dio(a, D_M_WFRO, st, ct, (void *)m->wfro, true));
    RS_CALL(rs__dio(a, D_M_WSPEC, st, ct, (void *)m->wspec, true));
    if (L->E > 0) {
      int32_t buf[(RS_MAX_LAYERS + 2) * RS_MAX_EPS];
      for (int w = 0; w < W; w++)
        for (int64_t e = 0; e < L->E; e++) buf[w * L->E + e] = e < L->neps[run] ? m->wrank[w][e] : -1;
      RS_CALL(rs__dio(a, D_M_WRANK, st, ct, buf, true));
    }
  }
  RS_CALL(rs__test_kill_in_write(a));
  return rs__set_mask(a, D_DONE_METRICS, st);
}

int rs_archive_write_weights(rs_archive *a, int run, int ckpt, const double *params, int64_t n) {
  RS_CALL(rs__check_run(a, run));
  if (n != a->lay.nparams[run])
    return rs_error(RS_EARG, "%s: run %d: %lld parameters, the archive expects %lld", a->path, run,
                    (long long)n, (long long)a->lay.nparams[run]);
  if (a->lay.save[run] == RS_SAVE_NONE || (ckpt >= 0 && a->lay.save[run] != RS_SAVE_ALL))
    return rs_error(RS_EARG, "%s: run %d does not save %s weights (measure.save_weights)", a->path, run,
                    ckpt < 0 ? "final" : "checkpoint");
  if (ckpt < 0) {
    hsize_t st[2] = {(hsize_t)run, 0}, ct[2] = {1, (hsize_t)n};
    if (n > 0) RS_CALL(rs__dio(a, D_W_FINAL, st, ct, (void *)params, true));
    return rs__set_mask(a, D_DONE_WFINAL, st);
  }
  RS_CALL(rs__check_ckpt(a, run, ckpt));
  hsize_t st[3] = {(hsize_t)run, (hsize_t)ckpt, 0}, ct[3] = {1, 1, (hsize_t)n};
  if (n > 0) RS_CALL(rs__dio(a, D_W_ALL, st, ct, (void *)params, true));
  return rs__set_mask(a, D_DONE_WALL, st);
}

int rs__state_header(rs_archive *a, int run, int64_t h[2][4], bool wr, int slot) {
  hsize_t st[3] = {(hsize_t)run, (hsize_t)(slot < 0 ? 0 : slot), 0};
  hsize_t ct[3] = {1, (hsize_t)(slot < 0 ? 2 : 1), 4};
  return rs__dio(a, D_S_HEADER, st, ct, slot < 0 ? &h[0][0] : &h[slot][0], wr);
}

/* The blob of a slot without its header: what a kill between the two writes
 * leaves behind. Exposed for the tests only. */
int rs__archive_write_state_blob(rs_archive *a, int run, int slot, const void *blob, int64_t n) {
  hsize_t st[3] = {(hsize_t)run, (hsize_t)slot, 0}, ct[3] = {1, 1, (hsize_t)n};
  return rs__dio(a, D_S_BLOB, st, ct, (void *)blob, true);
}

int rs_archive_write_state(rs_archive *a, int run, int64_t step, const void *blob, int64_t n) {
  RS_CALL(rs__check_run(a, run));
  if (n != a->lay.state_size[run] || n <= 0 || step < 0)
    return rs_error(RS_EARG, "%s: run %d: state of %lld bytes at step %lld, the archive expects %lld bytes",
                    a->path, run, (long long)n, (long long)step, (long long)a->lay.state_size[run]);
  int64_t h[2][4];
  RS_CALL(rs__state_header(a, run, h, false, -1));
  /* overwrite the older (or invalid) slot; the newer one stays intact */
  int slot = h[0][1] <= h[1][1] ? 0 : 1;
  int64_t seq = (h[0][1] > h[1][1] ? h[0][1] : h[1][1]) + 1;
  if (seq < 0) seq = 0;
  for (int i = 0; i < 4; i++) h[slot][i] = -1;
  RS_CALL(rs__state_header(a, run, h, true, slot)); /* invalidate first */
  RS_CALL(rs__archive_write_state_blob(a, run, slot, blob, n));
  RS_CALL(rs__test_kill_in_write(a));
  h[slot][0] = step;
  h[slot][1] = seq;
  h[slot][2] = n;
  uint64_t ck = rs__fnv1a(blob, n);
  memcpy(&h[slot][3], &ck, 8);
  return rs__state_header(a, run, h, true, slot); /* header last */
}

int rs_archive_read_state(rs_archive *a, int run, int64_t max_step, int64_t *step, void *blob,
                          int64_t n) {
  *step = -1;
  RS_CALL(rs__check_run(a, run));
  if (a->d[D_S_HEADER] < 0 || n != a->lay.state_size[run]) return RS_OK;
  int64_t h[2][4];
  RS_CALL(rs__state_header(a, run, h, false, -1));
  int order[2] = {0, 1};
  if (h[1][1] > h[0][1]) {
    order[0] = 1;
    order[1] = 0;
  }
  for (int i = 0; i < 2; i++) {
    int s = order[i];
    if (h[s][0] < 0 || h[s][1] < 0 || h[s][2] != n || h[s][0] > max_step) continue;
    hsize_t st[3] = {(hsize_t)run, (hsize_t)s, 0}, ct[3] = {1, 1, (hsize_t)n};
    RS_CALL(rs__dio(a, D_S_BLOB, st, ct, blob, false));
    uint64_t ck = rs__fnv1a(blob, n);
    if (memcmp(&ck, &h[s][3], 8) != 0) continue; /* torn: never hand it out */
    *step = h[s][0];
    return RS_OK;
  }
  return RS_OK;
}

int rs_archive_write_run_done(rs_archive *a, int run, bool diverged, int64_t last_step) {
  RS_CALL(rs__check_run(a, run));
  /* A finished run's training state is spent: clear both slots (back to the
   * fill values) so a finished archive does not depend on how often the run
   * was interrupted, drained or resumed. Before the mask: a kill in between
   * leaves an unfinished run without state, which restarts; never the reverse. */
  if (a->d[D_S_HEADER] >= 0 && a->lay.state_size[run] > 0) {
    int64_t h[2][4];
    for (int i = 0; i < 8; i++) h[i / 4][i % 4] = -1;
    RS_CALL(rs__state_header(a, run, h, true, -1));
    uint8_t *z = calloc(2, (size_t)a->lay.SB);
    if (!z) return rs_error(RS_ENOMEM, "archive: out of memory");
    hsize_t bs[3] = {(hsize_t)run, 0, 0}, bc[3] = {1, 2, (hsize_t)a->lay.SB};
    int rc = rs__dio(a, D_S_BLOB, bs, bc, z, true);
    free(z);
    RS_CALL(rc);
  }
  hsize_t st[1] = {(hsize_t)run}, ct[1] = {1};
  int8_t d = diverged ? 1 : 0;
  RS_CALL(rs__dio(a, D_R_DIVERGED, st, ct, &d, true));
  RS_CALL(rs__dio(a, D_R_LAST_STEP, st, ct, &last_step, true));
  return rs__set_mask(a, D_DONE_RUNS, st);
}

static int rs__mask_get(rs_archive *a, int id, const hsize_t *st, bool *done) {
  uint8_t v = 0;
  hsize_t ct[3] = {1, 1, 1};
  RS_CALL(rs__dio(a, id, st, ct, &v, false));
  *done = v != 0;
  return RS_OK;
}

int rs_archive_shard_done(rs_archive *a, int run, int ckpt, int shard, bool *done) {
  *done = false;
  RS_CALL(rs__check_ckpt(a, run, ckpt));
  const rs__layout *L = &a->lay;
  if (shard < 0 || shard >= rs__layout_nshards(L, run))
    return rs_error(RS_EARG, "%s: run %d: shard %d out of range", a->path, run, shard);
  int64_t p0 = shard * L->shard, np = L->npoints[run] - p0 < L->shard ? L->npoints[run] - p0 : L->shard;
  uint8_t *m = malloc((size_t)np);
  if (!m) return rs_error(RS_ENOMEM, "archive: out of memory");
  hsize_t st[3] = {(hsize_t)run, (hsize_t)ckpt, (hsize_t)p0}, ct[3] = {1, 1, (hsize_t)np};
  int rc = rs__dio(a, D_DONE_POINTS, st, ct, m, false);
  *done = rc == RS_OK;
  for (int64_t i = 0; i < np && *done; i++) *done = m[i] != 0;
  free(m);
  return rc;
}

int rs_archive_metrics_done(rs_archive *a, int run, int ckpt, bool *done) {
  *done = false;
  RS_CALL(rs__check_ckpt(a, run, ckpt));
  hsize_t st[2] = {(hsize_t)run, (hsize_t)ckpt};
  return rs__mask_get(a, D_DONE_METRICS, st, done);
}

int rs_archive_run_done(rs_archive *a, int run, bool *done, bool *diverged) {
  *done = false;
  if (diverged) *diverged = false;
  RS_CALL(rs__check_run(a, run));
  hsize_t st[1] = {(hsize_t)run}, ct[1] = {1};
  RS_CALL(rs__mask_get(a, D_DONE_RUNS, st, done));
  if (diverged) {
    int8_t d = 0;
    RS_CALL(rs__dio(a, D_R_DIVERGED, st, ct, &d, false));
    *diverged = d == 1;
  }
  return RS_OK;
}

int rs_archive_read_masks(rs_archive *a, uint8_t *shards, uint8_t *metrics, uint8_t *runs) {
  if (shards) {
    /* a shard is done when every one of its points is */
    const rs__layout *L = &a->lay;
    size_t np = (size_t)(L->R * L->C * L->P);
    uint8_t *pm = malloc(np ? np : 1);
    if (!pm) return rs_error(RS_ENOMEM, "archive: out of memory");
    int rc = np ? rs__read_all(a, D_DONE_POINTS, pm) : RS_OK;
    for (int64_t r = 0; r < L->R; r++)
      for (int64_t c = 0; c < L->C; c++)
        for (int64_t sh = 0; sh < L->S; sh++) {
          int64_t p0 = sh * L->shard, p1 = p0 + L->shard < L->npoints[r] ? p0 + L->shard : L->npoints[r];
          bool all = c < L->nckpt[r] && p0 < p1;
          for (int64_t p = p0; all && p < p1; p++) all = pm[(r * L->C + c) * L->P + p] != 0;
          shards[(r * L->C + c) * L->S + sh] = all;
        }
    free(pm);
    RS_CALL(rc);
  }
  if (metrics) RS_CALL(rs__read_all(a, D_DONE_METRICS, metrics));
  if (runs) RS_CALL(rs__read_all(a, D_DONE_RUNS, runs));
  return RS_OK;
}

int rs_archive_dims_get(const rs_archive *a, rs_archive_dims *out) {
  const rs__layout *L = &a->lay;
  out->nruns = L->R;
  out->nckpt = L->C;
  out->nlayers = L->L;
  out->npoints = L->P;
  out->neps = L->E;
  out->nspectrum = L->K;
  out->nweights = L->W;
  out->nshards = L->S;
  out->nparams = L->NP;
  out->state_size = L->SB;
  out->shard = L->shard;
  return RS_OK;
}
