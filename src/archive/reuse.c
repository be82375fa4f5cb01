/* --reuse: copies the finished runs of an older archive whose configuration
 * hash and shapes match, data first and masks last. */
#include "archive_internal.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Whether run q of `o` and run r of `a` have the same shapes (everything the
 * run tables say about one run). */
static bool rs__run_shape_equal(const rs__layout *O, int64_t q, const rs__layout *N, int64_t r) {
  if (O->nckpt[q] != N->nckpt[r] || O->nlayers[q] != N->nlayers[r] || O->npoints[q] != N->npoints[r] ||
      O->neps[q] != N->neps[r] || O->nweights[q] != N->nweights[r] || O->nparams[q] != N->nparams[r] ||
      O->state_size[q] != N->state_size[r] || O->save[q] != N->save[r])
    return false;
  for (int c = 0; c < N->nckpt[r]; c++)
    if (O->steps[q * O->C + c] != N->steps[r * N->C + c]) return false;
  for (int l = 0; l < N->nlayers[r]; l++)
    if (O->widths[q * O->L + l] != N->widths[r * N->L + l] ||
        O->spec_len[q * O->L + l] != N->spec_len[r * N->L + l])
      return false;
  for (int e = 0; e < N->neps[r]; e++)
    if (memcmp(&O->eps[q * O->E + e], &N->eps[r * N->E + e], sizeof(double)) != 0) return false;
  return true;
}

/* Copies block ct of dataset id from run q of o to run r of a (same shape). */
static int rs__copy_run_block(rs_archive *o, int64_t q, rs_archive *a, int64_t r, int id,
                              const hsize_t *ct, void **buf, size_t *cap) {
  if (o->d[id] < 0 || a->d[id] < 0) return RS_OK;
  size_t n = rs__esize(rs__dsets[id].type);
  int rank = (int)strlen(rs__dsets[id].dims);
  for (int i = 0; i < rank; i++) n *= ct[i];
  if (n == 0) return RS_OK;
  if (n > *cap) {
    void *p = realloc(*buf, n);
    if (!p) return rs_error(RS_ENOMEM, "archive: out of memory");
    *buf = p;
    *cap = n;
  }
  hsize_t st[RS__MAXRANK] = {0};
  st[0] = (hsize_t)q;
  RS_CALL(rs__dio(o, id, st, ct, *buf, false));
  st[0] = (hsize_t)r;
  return rs__dio(a, id, st, ct, *buf, true);
}

/* Copies columns [0, ne) and the last column of a [.., Eo(+1)] block into a
 * [.., En(+1)] block, -1 elsewhere (the eps axes of the two archives may be
 * padded differently). */
static int rs__copy_eps_block(rs_archive *o, int64_t q, rs_archive *a, int64_t r, int id,
                              int rank, const hsize_t *ct, int64_t Eo, int64_t En, int ne,
                              bool last_col) {
  if (o->d[id] < 0 || a->d[id] < 0) return RS_OK;
  size_t rows = 1;
  for (int i = 0; i < rank - 1; i++) rows *= ct[i];
  int32_t *in = malloc(rows * (size_t)Eo * sizeof *in + 4), *out = malloc(rows * (size_t)En * sizeof *out + 4);
  int rc = !in || !out ? rs_error(RS_ENOMEM, "archive: out of memory") : RS_OK;
  hsize_t st[RS__MAXRANK] = {0}, c[RS__MAXRANK];
  memcpy(c, ct, (size_t)rank * sizeof *c);
  st[0] = (hsize_t)q;
  c[rank - 1] = (hsize_t)Eo;
  if (rc == RS_OK && rows > 0) rc = rs__dio(o, id, st, c, in, false);
  for (size_t i = 0; rc == RS_OK && i < rows; i++) {
    for (int64_t e = 0; e < En; e++) out[i * En + e] = -1;
    for (int e = 0; e < ne; e++) out[i * En + e] = in[i * Eo + e];
    if (last_col) out[i * En + En - 1] = in[i * Eo + Eo - 1];
  }
  st[0] = (hsize_t)r;
  c[rank - 1] = (hsize_t)En;
  if (rc == RS_OK && rows > 0) rc = rs__dio(a, id, st, c, out, true);
  free(in);
  free(out);
  return rc;
}

/* Copies one finished run, data first and masks last (the run's own mask
 * the very last), exactly as a sweep would have written it. */
static int rs__copy_run(rs_archive *o, int64_t q, rs_archive *a, int64_t r, const uint8_t *omask_wf,
                        const uint8_t *omask_wall, const uint8_t *omask_metrics,
                        const uint8_t *omask_points) {
  const rs__layout *O = &o->lay, *N = &a->lay;
  int nc = N->nckpt[r], nl = N->nlayers[r], np = N->npoints[r], ne = N->neps[r], W = N->nweights[r];
  int64_t NPr = N->nparams[r];
  int kr = 0;
  for (int l = 0; l < nl; l++)
    if (N->spec_len[r * N->L + l] > kr) kr = N->spec_len[r * N->L + l];
  void *buf = NULL;
  size_t cap = 0;
  int rc = RS_OK;
  if (nl > 0 && np > 0) {
    hsize_t ct[5] = {1, (hsize_t)nc, (hsize_t)nl, (hsize_t)np, 0};
    rc = rs__copy_eps_block(o, q, a, r, D_LR_COUNTS, 5, ct, O->E + 1, N->E + 1, ne, true);
    if (rc == RS_OK) rc = rs__copy_run_block(o, q, a, r, D_LR_COUNTS_NP, ct, &buf, &cap);
    if (rc == RS_OK) rc = rs__copy_run_block(o, q, a, r, D_LR_EFFRANK, ct, &buf, &cap);
    if (rc == RS_OK) rc = rs__copy_run_block(o, q, a, r, D_LR_STABLE, ct, &buf, &cap);
    ct[4] = (hsize_t)kr;
    if (rc == RS_OK && kr > 0) rc = rs__copy_run_block(o, q, a, r, D_LR_SPECTRA, ct, &buf, &cap);
  }
  {
    hsize_t ct[4] = {1, (hsize_t)nc, (hsize_t)W, 0};
    const int ids[] = {D_M_TRAIN_LOSS, D_M_TRAIN_ACC, D_M_HELD_LOSS, D_M_HELD_ACC, D_M_RATE, D_M_INFO_Y};
    for (size_t k = 0; rc == RS_OK && k < sizeof ids / sizeof ids[0]; k++)
      rc = rs__copy_run_block(o, q, a, r, ids[k], ct, &buf, &cap);
    if (rc == RS_OK && W > 0) rc = rs__copy_run_block(o, q, a, r, D_M_WFRO, ct, &buf, &cap);
    if (rc == RS_OK && W > 0) rc = rs__copy_run_block(o, q, a, r, D_M_WSPEC, ct, &buf, &cap);
    if (rc == RS_OK && W > 0 && N->E > 0 && O->E > 0)
      rc = rs__copy_eps_block(o, q, a, r, D_M_WRANK, 4, ct, O->E, N->E, ne, false);
  }
  if (rc == RS_OK && NPr > 0 && omask_wf[q]) {
    hsize_t ct[2] = {1, (hsize_t)NPr};
    rc = rs__copy_run_block(o, q, a, r, D_W_FINAL, ct, &buf, &cap);
  }
  for (int c = 0; rc == RS_OK && NPr > 0 && omask_wall && c < nc; c++) {
    if (!omask_wall[q * O->C + c] || a->d[D_W_ALL] < 0 || o->d[D_W_ALL] < 0) continue;
    hsize_t so[3] = {(hsize_t)q, (hsize_t)c, 0}, sn[3] = {(hsize_t)r, (hsize_t)c, 0}, ct[3] = {1, 1, (hsize_t)NPr};
    if ((size_t)NPr * 8 > cap) {
      void *p = realloc(buf, (size_t)NPr * 8);
      if (!p) rc = rs_error(RS_ENOMEM, "archive: out of memory");
      else {
        buf = p;
        cap = (size_t)NPr * 8;
      }
    }
    if (rc == RS_OK) rc = rs__dio(o, D_W_ALL, so, ct, buf, false);
    if (rc == RS_OK) rc = rs__dio(a, D_W_ALL, sn, ct, buf, true);
  }
  /* masks, as the sweep sets them: points, metrics, weights, then the run */
  for (int c = 0; rc == RS_OK && c < nc; c++) {
    for (int p = 0; rc == RS_OK && p < np;) {
      if (!omask_points[(q * O->C + c) * O->P + p]) {
        p++;
        continue;
      }
      int p0 = p;
      while (p < np && omask_points[(q * O->C + c) * O->P + p]) p++;
      rc = rs__set_points(a, (int)r, c, p0, p - p0);
    }
    hsize_t st[2] = {(hsize_t)r, (hsize_t)c};
    if (rc == RS_OK && omask_metrics[q * O->C + c]) rc = rs__set_mask(a, D_DONE_METRICS, st);
    if (rc == RS_OK && omask_wall && omask_wall[q * O->C + c] && a->d[D_DONE_WALL] >= 0)
      rc = rs__set_mask(a, D_DONE_WALL, st);
  }
  hsize_t st1[1] = {(hsize_t)r}, one[1] = {1};
  if (rc == RS_OK && omask_wf[q] && a->d[D_DONE_WFINAL] >= 0) rc = rs__set_mask(a, D_DONE_WFINAL, st1);
  if (rc == RS_OK) rc = rs__copy_run_block(o, q, a, r, D_R_DIVERGED, one, &buf, &cap);
  if (rc == RS_OK) rc = rs__copy_run_block(o, q, a, r, D_R_LAST_STEP, one, &buf, &cap);
  if (rc == RS_OK) rc = rs__set_mask(a, D_DONE_RUNS, st1);
  free(buf);
  return rc;
}

int rs_archive_reuse(rs_archive *a, const char *old_path, int *nreused) {
  if (nreused) *nreused = 0;
  rs_archive *o = NULL;
  int rc = rs__open(MPI_COMM_NULL, old_path, H5F_ACC_RDONLY, &o);
  if (rc == RS_OK && o->version < 2)
    rc = rs_error(RS_EARCHIVE,
                  "--reuse %s: archive format version %lld records no configuration hashes; "
                  "reuse needs version %d",
                  old_path, (long long)o->version, RS__FORMAT_VERSION);
  rc = rs__agree(a->comm, rc);
  if (rc != RS_OK) {
    if (o) rs__free(o);
    return rc;
  }
  const rs__layout *O = &o->lay, *N = &a->lay;
  char **ho = NULL, **hn = NULL;
  size_t nop = (size_t)(O->R * O->C * O->P), noc = (size_t)(O->R * O->C);
  uint8_t *odone = malloc((size_t)O->R), *ndone = malloc((size_t)N->R), *owf = calloc((size_t)O->R, 1);
  uint8_t *owall = o->d[D_DONE_WALL] >= 0 ? calloc(noc ? noc : 1, 1) : NULL;
  uint8_t *omet = malloc(noc ? noc : 1), *opts = malloc(nop ? nop : 1);
  int64_t *match = malloc((size_t)N->R * sizeof *match);
  if (!odone || !ndone || !owf || !omet || !opts || !match || (o->d[D_DONE_WALL] >= 0 && !owall))
    rc = rs_error(RS_ENOMEM, "archive: out of memory");
  if (rc == RS_OK) rc = rs__read_strings(o->file, rs__records[R_CONFIG_HASH].path, (int)O->R, &ho);
  if (rc == RS_OK) rc = rs__read_strings(a->file, rs__records[R_CONFIG_HASH].path, (int)N->R, &hn);
  if (rc == RS_OK) rc = rs__read_all(o, D_DONE_RUNS, odone);
  if (rc == RS_OK) rc = rs__read_all(a, D_DONE_RUNS, ndone);
  if (rc == RS_OK) rc = rs__read_all(o, D_DONE_WFINAL, owf);
  if (rc == RS_OK && owall) rc = rs__read_all(o, D_DONE_WALL, owall);
  if (rc == RS_OK && noc) rc = rs__read_all(o, D_DONE_METRICS, omet);
  if (rc == RS_OK && nop) rc = rs__read_all(o, D_DONE_POINTS, opts);
  /* the same matching on every rank (it depends on the files only) */
  int nmatch = 0;
  for (int64_t r = 0; rc == RS_OK && r < N->R; r++) {
    match[r] = -1;
    if (ndone[r]) continue;
    for (int64_t q = 0; q < O->R && match[r] < 0; q++)
      if (odone[q] && strcmp(ho[q], hn[r]) == 0 && rs__run_shape_equal(O, q, N, r)) match[r] = q;
    if (match[r] >= 0) nmatch++;
  }
  rc = rs__agree(a->comm, rc);
  /* each rank copies its share of the runs: independent raw writes */
  for (int64_t r = 0, k = 0; rc == RS_OK && r < N->R; r++) {
    if (match[r] < 0) continue;
    if (k++ % a->size == a->rank) rc = rs__copy_run(o, match[r], a, r, owf, owall, omet, opts);
  }
  rc = rs__agree(a->comm, rc);
  if (rc == RS_OK) {
    hid_t prov = H5Gopen2(a->file, RS__G_PROVENANCE, H5P_DEFAULT);
    rc = rs__attr_str(prov, "reused_from", old_path);
    if (rc == RS_OK) rc = rs__attr_i64(prov, "reused_runs", nmatch);
    H5Gclose(prov);
  }
  /* everything copied is on disk and visible to every rank before the sweep
   * reads the masks */
  int frc = rs__flush(a);
  if (rc == RS_OK) rc = frc;
  int brc = rs__barrier(a->comm);
  free(ho);
  free(hn);
  free(odone);
  free(ndone);
  free(owf);
  free(owall);
  free(omet);
  free(opts);
  free(match);
  rs__free(o);
  if (rc == RS_OK) rc = brc;
  if (rc == RS_OK && nreused) *nreused = nmatch;
  return rc;
}
