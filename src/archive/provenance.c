/* The /provenance group: versions, hosts, ranks, times (everything that is
 * not scientific content, so archives compare without it). */
#include "archive_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ranksweep/rs_fpenv.h"
#include "rs_build.h"

static int rs__gather(MPI_Comm comm, const char *host, int n, char *all) {
  RS_CALL_MPI(MPI_Allgather(host, n, MPI_CHAR, all, n, MPI_CHAR, comm));
  return RS_OK;
}

/* Collective. The distinct host names of the ranks, comma-separated, in rank
 * order of first appearance. */
static int rs__hosts(MPI_Comm comm, int size, const char *host, size_t hostcap, char *hosts,
                     size_t cap) {
  if (comm == MPI_COMM_NULL) {
    snprintf(hosts, cap, "%s", host);
    return RS_OK;
  }
  char *all = malloc((size_t)size * hostcap);
  if (!all) return rs_error(RS_ENOMEM, "archive: out of memory");
  int rc = rs__gather(comm, host, (int)hostcap, all);
  for (int i = 0; rc == RS_OK && i < size; i++) {
    const char *h = all + (size_t)i * hostcap;
    bool seen = false;
    for (int j = 0; j < i; j++) seen |= strcmp(h, all + (size_t)j * hostcap) == 0;
    if (!seen && strlen(hosts) + strlen(h) + 2 < cap) {
      if (hosts[0]) strcat(hosts, ",");
      strcat(hosts, h);
    }
  }
  free(all);
  return rc;
}

/* Everything that is not scientific content: versions, host, ranks, times. */
int rs__write_provenance(hid_t prov, MPI_Comm comm, int rank, int size,
                         const rs_archive_info *info) {
  char mpi[MPI_MAX_LIBRARY_VERSION_STRING] = "", hdf5[64], blas[512] = "", now[RS__TIME_LEN] = "";
  char host[256] = "", hosts[2048] = "";
  if (rank == 0) {
    int len = 0;
    RS_CALL_MPI(MPI_Get_library_version(mpi, &len));
    char *nl = strchr(mpi, '\n');
    if (nl) *nl = '\0';
    snprintf(blas, sizeof blas, "%s", rs_blas_config());
    rs__utc_now(now);
  }
  unsigned maj, min, rel;
  H5get_libversion(&maj, &min, &rel);
  snprintf(hdf5, sizeof hdf5, "%u.%u.%u", maj, min, rel);
  gethostname(host, sizeof host - 1);
  RS_CALL(rs__hosts(comm, size, host, sizeof host, hosts, sizeof hosts));
  RS_CALL(rs__bcast_str(mpi, sizeof mpi, comm));
  RS_CALL(rs__bcast_str(blas, sizeof blas, comm));
  RS_CALL(rs__bcast_str(now, sizeof now, comm));
  char first_host[256];
  snprintf(first_host, sizeof first_host, "%.*s", (int)strcspn(hosts, ","), hosts);
  RS_CALL(rs__attr_str(prov, "ranksweep_version", RS_VERSION));
  RS_CALL(rs__attr_str(prov, "git_commit", RS_GIT_COMMIT));
  RS_CALL(rs__attr_str(prov, "mpi_library", mpi));
  RS_CALL(rs__attr_str(prov, "hdf5_version", hdf5));
  RS_CALL(rs__attr_str(prov, "openblas_config", blas));
  /* The kernel as its own field: it changes floating-point bits (see
   * docs/design.md, "What bit-identity covers"); _last is rewritten on resume. */
  RS_CALL(rs__attr_str(prov, "blas_kernel", rs_blas_kernel()));
  RS_CALL(rs__attr_str(prov, "blas_kernel_last", rs_blas_kernel()));
  RS_CALL(rs__attr_i64(prov, "blas_kernel_changes", 0));
  RS_CALL(rs__attr_str(prov, "cpu_isa", rs_cpu_best_isa()));
  /* Whether the environment chose the kernel (OpenBLAS's own pick otherwise). */
  RS_CALL(rs__attr_str(prov, "blas_kernel_forced",
                       *rs_blas_kernel_forced() ? rs_blas_kernel_forced() : "no"));
  /* Who ran the training products (train.gemm), and for which instruction
   * set libxsmm generated its kernels: both change floating-point bits. */
  char gemm[4096] = "", arch[32] = "";
  if (rank == 0 && info && info->gemm_backend) snprintf(gemm, sizeof gemm, "%s", info->gemm_backend);
  if (rank == 0 && info && info->gemm_arch) snprintf(arch, sizeof arch, "%s", info->gemm_arch);
  RS_CALL(rs__bcast_str(gemm, sizeof gemm, comm));
  RS_CALL(rs__bcast_str(arch, sizeof arch, comm));
  RS_CALL(rs__attr_str(prov, "gemm_backend", gemm[0] ? gemm : "unrecorded"));
  RS_CALL(rs__attr_str(prov, "gemm_libxsmm_arch", arch[0] ? arch : "unrecorded"));
  /* The FTZ/DAZ bits and rounding mode in force where the runs train (as the
   * CPU reports them, not as the job asked): they change floating-point bits too. */
  char fp[4096] = "";
  if (rank == 0 && info && info->fp_state) snprintf(fp, sizeof fp, "%s", info->fp_state);
  RS_CALL(rs__bcast_str(fp, sizeof fp, comm));
  RS_CALL(rs__attr_str(prov, "fp_state", fp[0] ? fp : "unrecorded"));
  RS_CALL(rs__attr_i64(prov, "nranks", size));
  RS_CALL(rs__attr_i64(prov, "blas_threads", info ? info->blas_threads : 0));
  RS_CALL(rs__attr_i64(prov, RS__A_SHARD_SIZE, info ? info->shard : 0));
  RS_CALL(rs__attr_str(prov, "hostname", first_host));
  RS_CALL(rs__attr_str(prov, "hosts", hosts));
  RS_CALL(rs__attr_str(prov, "start_time", now));
  RS_CALL(rs__attr_str(prov, "end_time", ""));
  RS_CALL(rs__attr_i64(prov, "resume_count", 0));
  RS_CALL(rs__attr_str(prov, "last_resume_time", ""));
  return RS_OK;
}

/* Collective, on opening for resumption: the resume count and time, the rank
 * count, and the OpenBLAS kernel compared with the one the sweep started
 * with (a change is counted and warned about). */
int rs__provenance_resume(rs_archive *a, const rs_archive_info *info) {
  /* In-place rewrites of attributes created with these widths: no
   * restructuring of metadata, then flushed at once. */
  char now[RS__TIME_LEN] = "";
  if (a->rank == 0) rs__utc_now(now);
  int rc = rs__bcast_str(now, sizeof now, a->comm);
  hid_t prov = H5Gopen2(a->file, RS__G_PROVENANCE, H5P_DEFAULT);
  int64_t n = 0;
  rs__attr_read_i64(prov, "resume_count", &n);
  if (rc == RS_OK) rc = rs__attr_i64(prov, "resume_count", n + 1);
  if (rc == RS_OK) rc = rs__attr_str(prov, "last_resume_time", now);
  if (rc == RS_OK && info) rc = rs__attr_i64(prov, "nranks_last", a->size);
  char kernel0[64] = "";
  if (rc == RS_OK && rs__attr_read_str(prov, "blas_kernel", kernel0, sizeof kernel0) == RS_OK) {
    /* Archives from before this field have none: nothing to compare. */
    const char *now_k = rs_blas_kernel();
    if (strcmp(kernel0, now_k) != 0) {
      int64_t changes = 0;
      rs__attr_read_i64(prov, "blas_kernel_changes", &changes);
      rc = rs__attr_i64(prov, "blas_kernel_changes", changes + 1);
      if (a->rank == 0)
        fprintf(stderr,
                "ranksweep: warning: %s was started with OpenBLAS kernel '%s' and resumes with "
                "'%s': runs trained across the change are not bit-identical to uninterrupted "
                "ones\n",
                a->path, kernel0, now_k);
    }
    if (rc == RS_OK) rc = rs__attr_str(prov, "blas_kernel_last", now_k);
  }
  /* libxsmm's kernels follow the CPU it finds: a resume on another kind of
   * CPU changes them (a warning only: no attribute is created on resume). */
  char arch0[32] = "";
  bool have = rc == RS_OK && info && info->gemm_arch &&
              rs__attr_read_str(prov, "gemm_libxsmm_arch", arch0, sizeof arch0) == RS_OK;
  if (have && a->rank == 0 && strcmp(arch0, "unrecorded") != 0 &&
      strcmp(arch0, info->gemm_arch) != 0)
    fprintf(stderr,
            "ranksweep: warning: %s was started with libxsmm generating for '%s' and resumes "
            "with '%s': runs whose products libxsmm runs (provenance gemm_backend) are not "
            "bit-identical to uninterrupted ones across the change\n",
            a->path, arch0, info->gemm_arch);
  H5Gclose(prov);
  return rc;
}

/* Collective, at finalize: the end time. */
int rs__provenance_end(rs_archive *a) {
  char now[RS__TIME_LEN] = "";
  if (a->rank == 0) rs__utc_now(now);
  int rc = rs__bcast_str(now, sizeof now, a->comm);
  hid_t prov = H5Gopen2(a->file, RS__G_PROVENANCE, H5P_DEFAULT);
  if (rc == RS_OK) rc = rs__attr_str(prov, "end_time", now);
  H5Gclose(prov);
  return rc;
}
