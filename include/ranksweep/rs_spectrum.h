/* Distributed singular values of a large matrix (e.g. the centred
 * representation matrix H of a layer over the full training set) with
 * ScaLAPACK: a BLACS process grid, a block-cyclic matrix filled in place by
 * each rank from a callback that computes GLOBAL rows, and pdgesvd.
 * Uses MPI; the spectrum summaries themselves are pure numerics in rs_ib.h. */
#ifndef RS_SPECTRUM_H
#define RS_SPECTRUM_H

#include <mpi.h>
#include <stdint.h>

#include "ranksweep/rs_model.h"

#define RS_SPECTRUM_BLOCK 64 /* default block size (rows and columns) */

/* ---- process grid ---- */
typedef struct rs_pgrid rs_pgrid;

/* The most nearly square nprow x npcol = nprocs with nprow >= npcol. */
void rs_pgrid_shape(int nprocs, int *nprow, int *npcol);
/* A BLACS grid over all ranks of comm (collective over comm). nprow = npcol = 0
 * chooses rs_pgrid_shape(size); otherwise nprow * npcol must equal the size of
 * comm (RS_EARG). Row-major rank order. */
int rs_pgrid_create(MPI_Comm comm, int nprow, int npcol, rs_pgrid **out);
/* Collective: every rank of the grid must call it. */
void rs_pgrid_destroy(rs_pgrid **g);
void rs_pgrid_info(const rs_pgrid *g, int *nprow, int *npcol, int *myrow, int *mycol);
MPI_Comm rs_pgrid_comm(const rs_pgrid *g);
/* Collective over comm: this rank's err, or, when only another rank failed,
 * an error that says so ("spectrum: another rank failed while DOING", or
 * "... failed (ERROR NAME)" when doing is NULL), so every rank stops before
 * the next collective. */
int rs_spectrum_agree(MPI_Comm comm, const char *doing, int err);

/* ---- block-cyclic distributed matrix (column-major local storage) ---- */
typedef struct rs_pmat rs_pmat;

/* An M x N matrix on grid g with block size nb x nb (nb = 0: the default
 * RS_SPECTRUM_BLOCK; pdgesvd wants square blocks). Zero-initialised.
 * The grid must outlive the matrix. Every rank of the grid creates its part
 * (no communication). */
int rs_pmat_create(rs_pgrid *g, int m, int n, int nb, rs_pmat **out);
void rs_pmat_destroy(rs_pmat **a);
/* Local part: rows x cols, column-major with leading dimension ld >= 1. */
double *rs_pmat_local(rs_pmat *a, int *rows, int *cols, int *ld);
/* Global index of local row i (0-based) / local column j. */
int rs_pmat_global_row(const rs_pmat *a, int i);
int rs_pmat_global_col(const rs_pmat *a, int j);
/* Bytes of matrix storage held by this rank. */
size_t rs_pmat_local_bytes(const rs_pmat *a);

/* Computes global rows row0 .. row0 + nrows - 1, all N columns, into out
 * (nrows x N, row-major, leading dimension N). Returns RS_OK or an error. */
typedef int (*rs_pmat_rows_fn)(void *ctx, int row0, int nrows, double *out);

/* Each rank fills its own local entries by calling fn on the row blocks it
 * owns (at most nb rows per call, rows ascending), never gathering the matrix.
 * With npcol > 1 the ranks of one process row all compute the same rows and
 * keep their own columns: prefer npcol = 1 when rows are expensive. Not
 * collective, but an error on one rank is not seen by the others: callers
 * should agree on success (e.g. MPI_Allreduce of the code) before the SVD. */
int rs_pmat_fill_rows(rs_pmat *a, rs_pmat_rows_fn fn, void *ctx);
/* Subtracts each column's mean over all M rows (collective), so that a
 * representation matrix becomes the centred H. means (length N, may be NULL)
 * receives the means on every rank. */
int rs_pmat_center_columns(rs_pmat *a, double *means);
/* Gathers the whole matrix to every rank as M x N row-major (collective; for
 * tests and small matrices only). */
int rs_pmat_gather(const rs_pmat *a, double *out);

/* All min(M, N) singular values, descending, on every rank (collective), via
 * pdgesvd with JOBU = JOBVT = 'N' after a workspace query. When max(M, N) >=
 * 5/3 min(M, N) the matrix is first reduced to its min x min triangular
 * factor by a distributed QR (tall) or LQ (wide), as LAPACK's dgesvd does:
 * same singular values, about half the flops, mostly BLAS-3. The content of a
 * is destroyed. RS_ELAPACK (with the info value in the message) on failure;
 * every rank returns the same code and bit-identical s. */
int rs_pdsvd_values(rs_pmat *a, double *s);

enum {
  RS_PDSVD_NO_REDUCE = 1,    /* plain pdgesvd on the whole matrix */
  RS_PDSVD_FORCE_REDUCE = 2, /* QR/LQ first whenever M != N */
};
/* rs_pdsvd_values with the reduction chosen by flags (0: automatic). */
int rs_pdsvd_values_opt(rs_pmat *a, double *s, int flags);

/* ---- the representation spectrum of a network layer ---- */
typedef enum {
  RS_REPR_PRE,  /* p_l = W_l h_{l-1} + b_l: the quantity whose Jacobian is the local rank */
  RS_REPR_POST, /* s(p_l), the layer's output (p_l where no activation follows) */
} rs_repr_kind;

/* Singular values of the centred representation matrix H (npoints x
 * sizes[layer]) of layer 1..nlayers of net over the points x (npoints x
 * sizes[0], row-major, present on every rank; each rank reads only the rows
 * it owns). Writes min(npoints, sizes[layer]) values, descending, to s on
 * every rank. Collective over the grid; nb = 0 for the default block. The
 * summaries (feature rank, effective rank, Gaussian-channel proxy) are
 * rs_ib_feature_rank, rs_ib_effective_rank and rs_ib_gauss_channel. */
int rs_spectrum_layer(rs_pgrid *g, const rs_netview *net, int layer, rs_repr_kind kind,
                      const double *x, int npoints, int nb, double *s);

#endif
