/* The exact per-run records of a new archive: names, resolved
 * configurations and their hashes, seeds, epochs, evaluation points, data
 * files and the typed grid values. */
#include "archive_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
  const char *sha; /* RS__NFILES * RS__SHA_LEN of one run */
  const rs_config *cfg;
} rs__digest_ctx;

static const char *rs__path_digest(const char *path, void *ctx) {
  const rs__digest_ctx *c = ctx;
  const char *paths[RS__NFILES] = {c->cfg->data.images, c->cfg->data.labels,
                                   c->cfg->data.heldout_images, c->cfg->data.heldout_labels};
  for (int f = 0; f < RS__NFILES; f++)
    if (strcmp(paths[f], path) == 0) return c->sha + f * RS__SHA_LEN;
  return NULL;
}

/* The SHA-256 of every data file of every run (rank 0 reads each distinct
 * path once; everyone receives them). Synthetic runs read none: "". */
static int rs__data_sha(MPI_Comm comm, int rank, const rs_job *job, char *sha) {
  int R = rs_job_nruns(job);
  memset(sha, 0, (size_t)R * RS__NFILES * RS__SHA_LEN);
  int rc = RS_OK;
  enum { RS__NUNIQ = 64 }; /* distinct data files remembered (a grid has few) */
  const char *uniq[RS__NUNIQ];
  char uniq_sha[RS__NUNIQ * RS__SHA_LEN];
  int nuniq = 0;
  if (rank == 0) {
    for (int r = 0; rc == RS_OK && r < R; r++) {
      const rs_config *c = rs_job_run(job, r);
      if (c->data.kind != RS_DATA_IDX) continue;
      const char *paths[RS__NFILES] = {c->data.images, c->data.labels, c->data.heldout_images,
                                       c->data.heldout_labels};
      for (int f = 0; rc == RS_OK && f < RS__NFILES; f++) {
        char *out = sha + ((size_t)r * RS__NFILES + f) * RS__SHA_LEN;
        if (!paths[f][0]) continue;
        bool found = false; /* an earlier run read the same path: one read per file */
        for (int u = 0; !found && u < nuniq; u++)
          if (strcmp(uniq[u], paths[f]) == 0) {
            memcpy(out, uniq_sha + (size_t)u * RS__SHA_LEN, RS__SHA_LEN);
            found = true;
          }
        if (!found) rc = rs_sha256_file(paths[f], out);
        if (!found && rc == RS_OK && nuniq < RS__NUNIQ) {
          uniq[nuniq] = paths[f];
          memcpy(uniq_sha + (size_t)nuniq++ * RS__SHA_LEN, out, RS__SHA_LEN);
        }
      }
    }
  }
  if (comm != MPI_COMM_NULL) {
    int v = rc;
    MPI_Bcast(&v, 1, MPI_INT, 0, comm);
    if (v != RS_OK) return rank == 0 ? rc : rs_error(v, "archive: data checksums failed on rank 0");
    MPI_Bcast(sha, R * RS__NFILES * RS__SHA_LEN, MPI_CHAR, 0, comm);
  }
  return rc;
}

/* Collective. The exact records of every run: resolved configuration and its
 * hash, seed, typed grid values, epochs, evaluation points, data files. */
int rs__write_records(rs_archive *a, const rs__meta *meta) {
  const rs__layout *L = &a->lay;
  const rs_job *job = meta->job;
  int R = (int)L->R, rc = RS_OK;
  size_t shan = (size_t)R * RS__NFILES * RS__SHA_LEN;
  char *sha = malloc(shan);
  char **cfg = calloc((size_t)R * 2, sizeof *cfg);
  char *hash = malloc((size_t)R * RS__SHA_LEN);
  const char **ptr = calloc((size_t)R * RS__NFILES, sizeof *ptr);
  double *num = malloc((size_t)(L->R * (L->C > L->P ? L->C : L->P) + 1) * sizeof(double));
  if (!sha || !cfg || !hash || !ptr || !num) {
    rc = rs_error(RS_ENOMEM, "archive: out of memory");
    goto done;
  }
  if (meta->data_sha) memcpy(sha, meta->data_sha, shan);
  else rc = rs__data_sha(a->comm, a->rank, job, sha);
  for (int r = 0; rc == RS_OK && r < R; r++) {
    const rs_config *c = rs_job_run(job, r);
    rs__digest_ctx dc = {sha + (size_t)r * RS__NFILES * RS__SHA_LEN, c};
    cfg[r] = rs_config_resolved_text(c);
    cfg[R + r] = rs_config_canonical_text(c, rs__path_digest, &dc);
    if (!cfg[r] || !cfg[R + r]) rc = rs_error(RS_ENOMEM, "archive: out of memory");
    else rs_sha256_hex(cfg[R + r], strlen(cfg[R + r]), hash + (size_t)r * RS__SHA_LEN);
  }
  if (rc == RS_OK) rc = rs__write_strings(a->file, a->comm, a->rank, "runs/config", R, (const char *const *)cfg);
  for (int r = 0; r < R; r++) ptr[r] = hash + (size_t)r * RS__SHA_LEN;
  if (rc == RS_OK) rc = rs__write_strings(a->file, a->comm, a->rank, "runs/config_hash", R, ptr);
  for (int r = 0; r < R; r++)
    for (int f = 0; f < RS__NFILES; f++) ptr[r * RS__NFILES + f] = sha + ((size_t)r * RS__NFILES + f) * RS__SHA_LEN;
  if (rc == RS_OK)
    rc = rs__write_strings2(a->file, a->comm, a->rank, "runs/data_sha256", R, RS__NFILES, ptr);
  for (int r = 0; r < R; r++) {
    const rs_config *c = rs_job_run(job, r);
    bool idx = c->data.kind == RS_DATA_IDX;
    ptr[r * RS__NFILES + 0] = idx ? c->data.images : "";
    ptr[r * RS__NFILES + 1] = idx ? c->data.labels : "";
    ptr[r * RS__NFILES + 2] = idx ? c->data.heldout_images : "";
    ptr[r * RS__NFILES + 3] = idx ? c->data.heldout_labels : "";
  }
  if (rc == RS_OK)
    rc = rs__write_strings2(a->file, a->comm, a->rank, "runs/data_path", R, RS__NFILES, ptr);
  /* seed, epochs, evaluation points */
  if (rc == RS_OK) {
    hsize_t dim = (hsize_t)R;
    int64_t *seed = (int64_t *)num;
    for (int r = 0; r < R; r++) seed[r] = rs_job_run(job, r)->seed;
    hid_t d = rs__dcreate(a->file, "runs/seed", 'l', 1, &dim);
    rc = d < 0 ? rs__h5err(a->path, "create runs/seed")
               : rs__write_whole(d, H5T_NATIVE_INT64, a->comm, a->rank, seed, "runs/seed");
    if (d >= 0) H5Dclose(d);
  }
  if (rc == RS_OK) {
    hsize_t dims[2] = {(hsize_t)L->R, (hsize_t)L->C};
    for (int64_t r = 0; r < L->R; r++) {
      const rs_config *c = rs_job_run(job, (int)r);
      for (int64_t k = 0; k < L->C; k++)
        num[r * L->C + k] = k < L->nckpt[r] ? (double)L->steps[r * L->C + k] * c->train.batch /
                                                   c->data.train_size
                                             : NAN;
    }
    hid_t d = rs__dcreate(a->file, "runs/epochs", 'd', 2, dims);
    rc = d < 0 ? rs__h5err(a->path, "create runs/epochs")
               : rs__write_whole(d, H5T_NATIVE_DOUBLE, a->comm, a->rank, num, "runs/epochs");
    if (d >= 0) H5Dclose(d);
  }
  if (rc == RS_OK && L->P > 0) {
    hsize_t dims[2] = {(hsize_t)L->R, (hsize_t)L->P};
    int64_t *ev = (int64_t *)num;
    for (int64_t i = 0; i < L->R * L->P; i++) ev[i] = -1;
    if (a->rank == 0 && meta->eval_index)
      for (int64_t r = 0; r < L->R; r++)
        for (int64_t p = 0; p < L->npoints[r]; p++) ev[r * L->P + p] = meta->eval_index[r * L->P + p];
    hid_t d = rs__dcreate(a->file, "runs/eval_index", 'l', 2, dims);
    rc = d < 0 ? rs__h5err(a->path, "create runs/eval_index")
               : rs__write_whole(d, H5T_NATIVE_INT64, a->comm, a->rank, ev, "runs/eval_index");
    if (d >= 0) H5Dclose(d);
  }
  /* grid axes: format-1 text and parsed values, and the exact typed values */
  for (int ax = 0; rc == RS_OK && ax < rs_job_naxes(job); ax++) {
    const char *key = rs_job_axis_key(job, ax);
    const char **col = ptr;
    bool numeric = true;
    for (int r = 0; r < R; r++) {
      col[r] = rs_job_run_value(job, r, ax);
      numeric &= rs__parse_num(col[r], &num[r]);
    }
    char p1[RS_PATH_MAX], p2[RS_PATH_MAX], p3[RS_PATH_MAX];
    snprintf(p1, sizeof p1, "runs/params/%s", key);
    snprintf(p2, sizeof p2, "runs/values/%s", key);
    snprintf(p3, sizeof p3, "runs/grid/%s", key);
    rc = rs__write_strings(a->file, a->comm, a->rank, p1, R, col);
    hsize_t dim = (hsize_t)R;
    if (rc == RS_OK && numeric) {
      hid_t d = rs__dcreate(a->file, p2, 'd', 1, &dim);
      rc = d < 0 ? rs__h5err(a->path, "create runs/values")
                 : rs__write_whole(d, H5T_NATIVE_DOUBLE, a->comm, a->rank, num, p2);
      if (d >= 0) H5Dclose(d);
    }
    rs_config_value v0;
    if (rc == RS_OK) rc = rs_config_value_get(rs_job_run(job, 0), key, &v0);
    if (rc != RS_OK) break;
    if (v0.kind == RS_VALUE_STRING) {
      rs_config_value *vs = malloc((size_t)R * sizeof *vs);
      if (!vs) {
        rc = rs_error(RS_ENOMEM, "archive: out of memory");
        break;
      }
      for (int r = 0; rc == RS_OK && r < R; r++) {
        rc = rs_config_value_get(rs_job_run(job, r), key, &vs[r]);
        col[r] = vs[r].s;
      }
      if (rc == RS_OK) rc = rs__write_strings(a->file, a->comm, a->rank, p3, R, col);
      free(vs);
    } else {
      char type = v0.kind == RS_VALUE_INT ? 'l' : 'd';
      for (int r = 0; rc == RS_OK && r < R; r++) {
        rs_config_value v;
        rc = rs_config_value_get(rs_job_run(job, r), key, &v);
        if (type == 'l') ((int64_t *)num)[r] = v.i;
        else num[r] = v.d;
      }
      hid_t d = rc == RS_OK ? rs__dcreate(a->file, p3, type, 1, &dim) : H5I_INVALID_HID;
      if (rc == RS_OK)
        rc = d < 0 ? rs__h5err(a->path, "create runs/grid")
                   : rs__write_whole(d, rs__memtype(type), a->comm, a->rank, num, p3);
      if (d >= 0) H5Dclose(d);
    }
  }
done:
  for (int i = 0; cfg && i < 2 * R; i++) free(cfg[i]);
  free(cfg);
  free(sha);
  free(hash);
  free(ptr);
  free(num);
  return rc;
}
