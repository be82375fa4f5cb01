/* The /provenance group: versions, hosts, ranks, times (everything that is
 * not scientific content, so archives compare without it). */
#include "archive_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ranksweep/rs_fpenv.h"
#include "rs_build.h"

char *openblas_get_config(void);

/* Everything that is not scientific content: versions, host, ranks, times. */
int rs__write_provenance(hid_t prov, MPI_Comm comm, int rank, int size,
                                const rs_archive_info *info) {
  char mpi[MPI_MAX_LIBRARY_VERSION_STRING] = "", hdf5[64], blas[512] = "", now[RS__TIME_LEN] = "";
  char host[256] = "", hosts[2048] = "";
  if (rank == 0) {
    int len = 0;
    MPI_Get_library_version(mpi, &len);
    char *nl = strchr(mpi, '\n');
    if (nl) *nl = '\0';
    const char *cfg = openblas_get_config();
    snprintf(blas, sizeof blas, "%s", cfg ? cfg : "");
    rs__now(now);
  }
  unsigned maj, min, rel;
  H5get_libversion(&maj, &min, &rel);
  snprintf(hdf5, sizeof hdf5, "%u.%u.%u", maj, min, rel);
  gethostname(host, sizeof host - 1);
  if (comm != MPI_COMM_NULL) {
    char *all = malloc((size_t)size * sizeof host);
    if (!all) return rs_error(RS_ENOMEM, "archive: out of memory");
    MPI_Allgather(host, (int)sizeof host, MPI_CHAR, all, (int)sizeof host, MPI_CHAR, comm);
    for (int i = 0; i < size; i++) {
      const char *h = all + (size_t)i * sizeof host;
      bool seen = false;
      for (int j = 0; j < i; j++) seen |= strcmp(h, all + (size_t)j * sizeof host) == 0;
      if (!seen && strlen(hosts) + strlen(h) + 2 < sizeof hosts) {
        if (hosts[0]) strcat(hosts, ",");
        strcat(hosts, h);
      }
    }
    free(all);
    memcpy(host, hosts, sizeof host - 1);
    host[sizeof host - 1] = '\0';
  } else {
    snprintf(hosts, sizeof hosts, "%s", host);
  }
  RS_CALL(rs__bcast_str(mpi, sizeof mpi, comm));
  RS_CALL(rs__bcast_str(blas, sizeof blas, comm));
  RS_CALL(rs__bcast_str(now, sizeof now, comm));
  char first_host[256];
  snprintf(first_host, sizeof first_host, "%.*s", (int)strcspn(hosts, ","), hosts);
  RS_CALL(rs__attr_str(prov, "ranksweep_version", RS_VERSION, 0));
  RS_CALL(rs__attr_str(prov, "git_commit", RS_GIT_COMMIT, 0));
  RS_CALL(rs__attr_str(prov, "mpi_library", mpi, 0));
  RS_CALL(rs__attr_str(prov, "hdf5_version", hdf5, 0));
  RS_CALL(rs__attr_str(prov, "openblas_config", blas, 0));
  /* The kernel as its own field: it changes floating-point bits (see
   * docs/design.md, "What bit-identity covers"); _last is rewritten on resume. */
  RS_CALL(rs__attr_str(prov, "blas_kernel", rs_blas_kernel(), 32));
  RS_CALL(rs__attr_str(prov, "blas_kernel_last", rs_blas_kernel(), 32));
  RS_CALL(rs__attr_i64(prov, "blas_kernel_changes", 0));
  RS_CALL(rs__attr_str(prov, "cpu_isa", rs_cpu_best_isa(), 16));
  RS_CALL(rs__attr_i64(prov, "nranks", size));
  RS_CALL(rs__attr_i64(prov, "blas_threads", info ? info->blas_threads : 0));
  RS_CALL(rs__attr_i64(prov, "shard_size", info ? info->shard : 0));
  RS_CALL(rs__attr_str(prov, "hostname", first_host, 0));
  RS_CALL(rs__attr_str(prov, "hosts", hosts, 0));
  RS_CALL(rs__attr_str(prov, "start_time", now, RS__TIME_LEN));
  RS_CALL(rs__attr_str(prov, "end_time", "", RS__TIME_LEN));
  RS_CALL(rs__attr_i64(prov, "resume_count", 0));
  RS_CALL(rs__attr_str(prov, "last_resume_time", "", RS__TIME_LEN));
  return RS_OK;
}
