/* Agreement across ranks (rs_comm_agree), the abort on an MPI failure
 * (rs__fatal_mpi) and the broadcast helper: the MPI side of the core,
 * built as its own library (rs_comm) so the numerical modules never link MPI. */
#include "src/core/comm.h"

#include <limits.h>
#include <stdio.h>

#include "ranksweep/rs_error.h"

int rs_comm_agree(MPI_Comm comm, int rc) {
  if (comm == MPI_COMM_NULL) return rc;
  int rank = 0, who = INT_MAX;
  RS_CALL_MPI(MPI_Comm_rank(comm, &rank));
  int me = rc != RS_OK ? rank : INT_MAX;
  RS_CALL_MPI(MPI_Allreduce(&me, &who, 1, MPI_INT, MPI_MIN, comm));
  if (who == INT_MAX) return RS_OK;
  char msg[1024];
  int code = rc;
  snprintf(msg, sizeof msg, "%s", rs_error_message());
  RS_CALL_MPI(MPI_Bcast(&code, 1, MPI_INT, who, comm));
  RS_CALL_MPI(MPI_Bcast(msg, (int)sizeof msg, MPI_CHAR, who, comm));
  if (rank != who) rs_error(code, "%s", msg);
  return code;
}

int rs__fatal_mpi(MPI_Comm comm, int err) {
  if (err == RS_EMPI) {
    rs_error_print(err);
    MPI_Abort(comm, rs_exit_code(RS_EMPI));
  }
  return err;
}

int rs_comm_agree_or_abort(MPI_Comm comm, int rc) {
  rs__fatal_mpi(comm, rc);
  return rs__fatal_mpi(comm, rs_comm_agree(comm, rc));
}

int rs_comm_bcast_int(MPI_Comm comm, int *v, int root) {
  RS_CALL_MPI(MPI_Bcast(v, 1, MPI_INT, root, comm));
  return RS_OK;
}
