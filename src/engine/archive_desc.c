/* The job -> archive description: every run's record (name, resolved and
 * canonical configuration, seed, eps ladder, epochs, data files and their
 * SHA-256) and the typed grid axes, as plain data for src/archive. */
#include "archive_desc.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ranksweep/rs_error.h"
#include "ranksweep/rs_job.h"
#include "src/core/comm.h"
#include "src/job/sha256.h"

#define RS__SHA_LEN 65

/* The data files of run c in the order of the archive's data_file dimension
 * ("" for synthetic data, which reads none). */
static void rs__data_paths(const rs_config *c, const char *paths[RS_ARCHIVE_NFILES]) {
  bool file = c->data.kind == RS_DATA_IDX || c->data.kind == RS_DATA_NPY;
  paths[0] = file ? c->data.images : "";
  paths[1] = file ? c->data.labels : "";
  paths[2] = file ? c->data.heldout_images : "";
  paths[3] = file ? c->data.heldout_labels : "";
}

typedef struct {
  const char *sha; /* RS_ARCHIVE_NFILES * RS__SHA_LEN of one run */
  const rs_config *cfg;
} rs__digest_ctx;

static const char *rs__path_digest(const char *path, void *ctx) {
  const rs__digest_ctx *c = ctx;
  const char *paths[RS_ARCHIVE_NFILES] = {c->cfg->data.images, c->cfg->data.labels,
                                          c->cfg->data.heldout_images, c->cfg->data.heldout_labels};
  for (int f = 0; f < RS_ARCHIVE_NFILES; f++)
    if (strcmp(paths[f], path) == 0) return c->sha + f * RS__SHA_LEN;
  return NULL;
}

/* The SHA-256 of every data file of every run, each distinct path read once,
 * in this process. IDX and .npy runs alike, so a reuse or resume sees their
 * content change. Synthetic runs read none: "". */
static int rs__data_sha_local(const rs_job *job, char *sha) {
  int R = rs_job_nruns(job);
  memset(sha, 0, (size_t)R * RS_ARCHIVE_NFILES * RS__SHA_LEN);
  int rc = RS_OK;
  enum { RS__NUNIQ = 64 }; /* distinct data files remembered (a grid has few) */
  const char *uniq[RS__NUNIQ];
  char uniq_sha[RS__NUNIQ * RS__SHA_LEN];
  int nuniq = 0;
  for (int r = 0; rc == RS_OK && r < R; r++) {
    const rs_config *c = rs_job_run(job, r);
    if (c->data.kind != RS_DATA_IDX && c->data.kind != RS_DATA_NPY) continue;
    const char *paths[RS_ARCHIVE_NFILES];
    rs__data_paths(c, paths);
    for (int f = 0; rc == RS_OK && f < RS_ARCHIVE_NFILES; f++) {
      char *out = sha + ((size_t)r * RS_ARCHIVE_NFILES + f) * RS__SHA_LEN;
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
  return rc;
}

/* The same on rank 0, which everyone receives the checksums from. */
static int rs__data_sha(MPI_Comm comm, const rs_job *job, char *sha) {
  int R = rs_job_nruns(job), rank = 0;
  RS_CALL_MPI(MPI_Comm_rank(comm, &rank));
  memset(sha, 0, (size_t)R * RS_ARCHIVE_NFILES * RS__SHA_LEN);
  int rc = rank == 0 ? rs__data_sha_local(job, sha) : RS_OK;
  RS_CALL(rs_comm_agree(comm, rc)); /* rank 0's outcome and message, on every rank */
  RS_CALL_MPI(MPI_Bcast(sha, R * RS_ARCHIVE_NFILES * RS__SHA_LEN, MPI_CHAR, 0, comm));
  return RS_OK;
}

/* Axis ax: its text and typed values (the kind of run 0's value). */
static int rs__axis(const rs_job *job, int ax, rs_job_desc *d) {
  int R = rs_job_nruns(job);
  rs_archive_axis *x = &d->axes[ax];
  x->key = rs_job_axis_key(job, ax);
  const char **text = malloc((size_t)R * sizeof *text);
  if (!text) return rs_error(RS_ENOMEM, "archive: out of memory");
  for (int r = 0; r < R; r++) text[r] = rs_job_run_value(job, r, ax);
  x->text = text;
  rs_config_value v;
  RS_CALL(rs_config_value_get(rs_job_run(job, 0), x->key, &v));
  x->kind = v.kind == RS_VALUE_STRING ? RS_ARCHIVE_TEXT
            : v.kind == RS_VALUE_INT  ? RS_ARCHIVE_INT
                                      : RS_ARCHIVE_REAL;
  if (x->kind == RS_ARCHIVE_TEXT) {
    char **s = d->strings + (size_t)ax * R;
    for (int r = 0; r < R; r++) {
      RS_CALL(rs_config_value_get(rs_job_run(job, r), x->key, &v));
      if (!(s[r] = strdup(v.s))) return rs_error(RS_ENOMEM, "archive: out of memory");
    }
    x->s = (const char *const *)s;
    return RS_OK;
  }
  void *num = d->values[ax] = malloc((size_t)R * 8);
  if (!num) return rs_error(RS_ENOMEM, "archive: out of memory");
  for (int r = 0; r < R; r++) {
    RS_CALL(rs_config_value_get(rs_job_run(job, r), x->key, &v));
    if (x->kind == RS_ARCHIVE_INT) ((int64_t *)num)[r] = v.i;
    else ((double *)num)[r] = v.d;
  }
  if (x->kind == RS_ARCHIVE_INT) x->i = num;
  else x->d = num;
  return RS_OK;
}

/* Each run's configuration hash from the data files' checksums (its
 * canonical text names data files by checksum). */
static int rs__config_hashes(const rs_job *job, const char *sha, char *hash) {
  for (int r = 0; r < rs_job_nruns(job); r++) {
    const rs_config *c = rs_job_run(job, r);
    rs__digest_ctx dc = {sha + (size_t)r * RS_ARCHIVE_NFILES * RS__SHA_LEN, c};
    char *canon = rs_config_canonical_text(c, rs__path_digest, &dc);
    RS_CHECK(canon, RS_ENOMEM, "archive: out of memory");
    rs_sha256_hex(canon, strlen(canon), hash + (size_t)r * RS__SHA_LEN);
    free(canon);
  }
  return RS_OK;
}

/* desc.finish_records: the data files' checksums, then the hashes. */
static int rs__finish_records(void *ctx) {
  rs_job_desc *d = ctx;
  RS_CALL(rs__data_sha(d->comm, d->job, d->sha));
  return rs__config_hashes(d->job, d->sha, d->hash);
}

int rs_job_config_hashes(const rs_job *job, char *hash) {
  char *sha = calloc((size_t)rs_job_nruns(job) * RS_ARCHIVE_NFILES, RS__SHA_LEN);
  RS_CHECK(sha, RS_ENOMEM, "out of memory");
  int rc = rs__data_sha_local(job, sha);
  if (rc == RS_OK) rc = rs__config_hashes(job, sha, hash);
  free(sha);
  return rc;
}

static int rs__build(MPI_Comm comm, const rs_job *job, const rs_archive_run *runs, rs_job_desc *d) {
  int R = d->nruns = rs_job_nruns(job), A = d->naxes = rs_job_naxes(job);
  /* (the same on every rank: one job) */
  RS_CHECK(R > 0 && A >= 0, RS_EARG, "archive: the job has no runs");
  int64_t C = 0;
  for (int r = 0; r < R; r++) C += runs[r].nckpt;
  d->records = calloc((size_t)R, sizeof *d->records);
  d->axes = calloc((size_t)(A ? A : 1), sizeof *d->axes);
  d->config = calloc((size_t)R, sizeof *d->config);
  d->hash = calloc((size_t)R, RS__SHA_LEN);
  d->sha = calloc((size_t)R * RS_ARCHIVE_NFILES, RS__SHA_LEN);
  d->epochs = malloc((size_t)(C ? C : 1) * sizeof *d->epochs);
  d->strings = calloc((size_t)(A ? A : 1) * R, sizeof *d->strings);
  d->values = calloc((size_t)(A ? A : 1), sizeof *d->values);
  int bad = !d->records || !d->axes || !d->config || !d->hash || !d->sha || !d->epochs ||
            !d->strings || !d->values;
  /* every rank or none goes on to the checksums' broadcast */
  RS_CALL(rs_comm_agree(comm, bad ? rs_error(RS_ENOMEM, "archive: out of memory") : RS_OK));
  double *ep = d->epochs;
  for (int r = 0; r < R; r++) {
    const rs_config *c = rs_job_run(job, r);
    rs_archive_record *x = &d->records[r];
    const char *sha = d->sha + (size_t)r * RS_ARCHIVE_NFILES * RS__SHA_LEN;
    d->config[r] = rs_config_resolved_text(c);
    RS_CHECK(d->config[r], RS_ENOMEM, "archive: out of memory");
    x->name = rs_job_run_name(job, r);
    x->config = d->config[r];
    x->config_hash = d->hash + (size_t)r * RS__SHA_LEN;
    x->seed = c->seed;
    x->eps = c->measure.eps;
    for (int k = 0; k < runs[r].nckpt; k++)
      ep[k] = (double)runs[r].ckpt_steps[k] * c->train.batch / c->data.train_size;
    x->epochs = ep;
    ep += runs[r].nckpt;
    rs__data_paths(c, x->data_path);
    for (int f = 0; f < RS_ARCHIVE_NFILES; f++) x->data_sha[f] = sha + f * RS__SHA_LEN;
  }
  for (int ax = 0; ax < A; ax++) RS_CALL(rs__axis(job, ax, d));
  d->comm = comm;
  d->job = job;
  d->desc = (rs_archive_desc){rs_job_name(job), rs_job_hash(job), rs_job_text(job), R, runs,
                              d->records, A, d->axes, rs__finish_records, d};
  return RS_OK;
}

int rs_job_desc_build(MPI_Comm comm, const rs_job *job, const rs_archive_run *runs,
                      rs_job_desc *d) {
  memset(d, 0, sizeof *d);
  int rc = rs__build(comm, job, runs, d);
  if (rc != RS_OK) rs_job_desc_free(d);
  return rc;
}

void rs_job_desc_free(rs_job_desc *d) {
  int R = d->nruns, A = d->naxes;
  if (d->axes)
    for (int ax = 0; ax < A; ax++) free((void *)d->axes[ax].text);
  if (d->strings)
    for (int i = 0; i < A * R; i++) free(d->strings[i]);
  if (d->values)
    for (int ax = 0; ax < A; ax++) free(d->values[ax]);
  if (d->config)
    for (int r = 0; r < R; r++) free(d->config[r]);
  free(d->records);
  free(d->axes);
  free(d->config);
  free(d->hash);
  free(d->sha);
  free(d->epochs);
  free(d->strings);
  free(d->values);
  memset(d, 0, sizeof *d);
}
