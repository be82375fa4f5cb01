/* Agreement across the ranks of a communicator: the one way every MPI module
 * (engine, archive) learns that some rank failed, and why. MPI only: the
 * numerical modules never include this header (library rs_comm, not rs_core). */
#ifndef RS_CORE_COMM_H
#define RS_CORE_COMM_H

#include <mpi.h>

/* Collective. Every rank learns whether any rank failed (rc != RS_OK on it);
 * the code and message of the lowest failing rank reach every rank, so all
 * take the same branch and rank 0, which prints, names the real cause.
 * Returns RS_OK on every rank when none failed. No-op for MPI_COMM_NULL. */
int rs_comm_agree(MPI_Comm comm, int rc);

/* MPI failures end every rank (the others may wait in a collective forever):
 * prints the error and calls MPI_Abort when err is RS_EMPI; returns err. */
int rs__fatal_mpi(MPI_Comm comm, int err);

/* rs_comm_agree, and an RS_EMPI from either this rank or the agreement
 * itself aborts every rank (rs__fatal_mpi). */
int rs_comm_agree_or_abort(MPI_Comm comm, int rc);

/* Collective: root's *v on every rank. */
int rs_comm_bcast_int(MPI_Comm comm, int *v, int root);

#endif
