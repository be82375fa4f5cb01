/* Engine-private: the job -> archive description translation
 * (archive_desc.c). The archive module knows nothing of jobs; the engine
 * describes the sweep to it with plain data. */
#ifndef RS_ENGINE_ARCHIVE_DESC_H
#define RS_ENGINE_ARCHIVE_DESC_H

#include <mpi.h>

#include "ranksweep/rs_archive.h"
#include "ranksweep/rs_job.h"

/* A description and the storage behind it (strings that point into the job
 * stay owned by the job, which must outlive it). */
typedef struct {
  rs_archive_desc desc;
  MPI_Comm comm;     /* for the checksums, computed only if the archive is created */
  const rs_job *job;
  int nruns, naxes;
  rs_archive_record *records;
  rs_archive_axis *axes;
  char **config;     /* resolved configuration texts */
  char *hash;        /* nruns * 65: configuration hashes */
  char *sha;         /* nruns * RS_ARCHIVE_NFILES * 65: data-file checksums */
  double *epochs;    /* per run, nckpt values each */
  char **strings;    /* the text-valued grid values (naxes * nruns, or NULL) */
  void **values;     /* per axis: its typed values (int64 or double) */
} rs_job_desc;

/* Collective over comm. The data files' SHA-256 (rank 0 reads each file once
 * and broadcasts them) and the configuration hashes that depend on them are
 * left to desc.finish_records, which the archive calls only when it creates
 * the file: a resume reads no data file for them. runs: the shapes of every run (rs_archive_run, as the
 * sweep describes them). On failure d is left empty (rs_job_desc_free is
 * still safe). */
int rs_job_desc_build(MPI_Comm comm, const rs_job *job, const rs_archive_run *runs,
                      rs_job_desc *d);
void rs_job_desc_free(rs_job_desc *d);

#endif
