/* Distributed singular values with ScaLAPACK: the BLACS grid, the
 * block-cyclic matrix that each rank fills from a global-rows callback, column
 * centring, and pdgesvd (after a distributed QR or LQ for clearly tall or wide
 * matrices). No ScaLAPACK/BLACS C header ships, so the few entry points used
 * are declared here (gfortran ABI: hidden string lengths last). */
#include "ranksweep/rs_spectrum.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ranksweep/rs_error.h"

void Cblacs_pinfo(int *mypnum, int *nprocs);
void Cblacs_get(int icontxt, int what, int *val);
void Cblacs_gridinit(int *icontxt, char *order, int nprow, int npcol);
void Cblacs_gridinfo(int icontxt, int *nprow, int *npcol, int *myrow, int *mycol);
void Cblacs_gridexit(int icontxt);
int Csys2blacs_handle(MPI_Comm comm);
void Cfree_blacs_system_handle(int handle);
int numroc_(const int *n, const int *nb, const int *iproc, const int *isrcproc,
            const int *nprocs);
void descinit_(int *desc, const int *m, const int *n, const int *mb, const int *nb,
               const int *irsrc, const int *icsrc, const int *ictxt, const int *lld,
               int *info);
void pdgesvd_(const char *jobu, const char *jobvt, const int *m, const int *n, double *a,
              const int *ia, const int *ja, const int *desca, double *s, double *u,
              const int *iu, const int *ju, const int *descu, double *vt, const int *ivt,
              const int *jvt, const int *descvt, double *work, const int *lwork, int *info,
              size_t jobu_len, size_t jobvt_len);

void pdgeqrf_(const int *m, const int *n, double *a, const int *ia, const int *ja,
              const int *desca, double *tau, double *work, const int *lwork, int *info);
void pdgelqf_(const int *m, const int *n, double *a, const int *ia, const int *ja,
              const int *desca, double *tau, double *work, const int *lwork, int *info);

struct rs_pgrid {
  MPI_Comm comm;
  int handle; /* BLACS system handle of comm */
  int ctxt;
  int nprow, npcol, myrow, mycol;
};

struct rs_pmat {
  rs_pgrid *g;
  int m, n, nb;
  int mloc, nloc, lld;
  int desc[9];
  double *a; /* lld x nloc, column-major */
};

static int rs__sum_all(double *x, int n, MPI_Comm comm);

void rs_pgrid_shape(int nprocs, int *nprow, int *npcol) {
  int c = (int)floor(sqrt((double)nprocs));
  while (c > 1 && nprocs % c) c--;
  *npcol = c < 1 ? 1 : c;
  *nprow = nprocs / *npcol;
}

int rs_pgrid_create(MPI_Comm comm, int nprow, int npcol, rs_pgrid **out) {
  *out = NULL;
  int size;
  RS_CALL_MPI(MPI_Comm_size(comm, &size));
  if (nprow == 0 && npcol == 0) rs_pgrid_shape(size, &nprow, &npcol);
  if (nprow < 1 || npcol < 1 || nprow * npcol != size)
    return rs_error(RS_EARG, "process grid %d x %d: expected nprow * npcol = %d ranks",
                    nprow, npcol, size);
  rs_pgrid *g = calloc(1, sizeof *g);
  RS_CHECK(g, RS_ENOMEM, "process grid %d x %d: out of memory", nprow, npcol);
  int me, np;
  Cblacs_pinfo(&me, &np); /* initialises BLACS on an already running MPI */
  g->comm = comm;
  g->handle = Csys2blacs_handle(comm);
  g->ctxt = g->handle;
  char order[] = "Row";
  Cblacs_gridinit(&g->ctxt, order, nprow, npcol);
  Cblacs_gridinfo(g->ctxt, &g->nprow, &g->npcol, &g->myrow, &g->mycol);
  RS_ASSERT(g->nprow == nprow && g->npcol == npcol && g->myrow >= 0 && g->mycol >= 0);
  *out = g;
  return RS_OK;
}

void rs_pgrid_destroy(rs_pgrid **g) {
  if (!g || !*g) return;
  Cblacs_gridexit((*g)->ctxt);
  Cfree_blacs_system_handle((*g)->handle);
  free(*g);
  *g = NULL;
}

void rs_pgrid_info(const rs_pgrid *g, int *nprow, int *npcol, int *myrow, int *mycol) {
  if (nprow) *nprow = g->nprow;
  if (npcol) *npcol = g->npcol;
  if (myrow) *myrow = g->myrow;
  if (mycol) *mycol = g->mycol;
}

MPI_Comm rs_pgrid_comm(const rs_pgrid *g) { return g->comm; }

int rs_pmat_create(rs_pgrid *g, int m, int n, int nb, rs_pmat **out) {
  *out = NULL;
  if (nb == 0) nb = RS_SPECTRUM_BLOCK;
  if (m < 1 || n < 1 || nb < 1)
    return rs_error(RS_EARG, "distributed matrix %d x %d, block %d: expected positive sizes",
                    m, n, nb);
  rs_pmat *a = calloc(1, sizeof *a);
  RS_CHECK(a, RS_ENOMEM, "distributed matrix %d x %d: out of memory", m, n);
  const int zero = 0;
  a->g = g;
  a->m = m;
  a->n = n;
  a->nb = nb;
  a->mloc = numroc_(&m, &nb, &g->myrow, &zero, &g->nprow);
  a->nloc = numroc_(&n, &nb, &g->mycol, &zero, &g->npcol);
  a->lld = a->mloc > 1 ? a->mloc : 1;
  int info;
  descinit_(a->desc, &m, &n, &nb, &nb, &zero, &zero, &g->ctxt, &a->lld, &info);
  if (info != 0) {
    free(a);
    return rs_error(RS_ELAPACK, "descinit failed (info %d)", info);
  }
  size_t count = (size_t)a->lld * (size_t)(a->nloc > 0 ? a->nloc : 1);
  a->a = calloc(count, sizeof *a->a);
  if (!a->a) {
    free(a);
    return rs_error(RS_ENOMEM, "distributed matrix %d x %d: cannot allocate %zu MB per rank",
                    m, n, count * sizeof(double) >> 20);
  }
  *out = a;
  return RS_OK;
}

void rs_pmat_destroy(rs_pmat **a) {
  if (!a || !*a) return;
  free((*a)->a);
  free(*a);
  *a = NULL;
}

double *rs_pmat_local(rs_pmat *a, int *rows, int *cols, int *ld) {
  if (rows) *rows = a->mloc;
  if (cols) *cols = a->nloc;
  if (ld) *ld = a->lld;
  return a->a;
}

/* Block-cyclic map with source process 0: local index -> global index. */
static int rs__l2g(int l, int nb, int p, int np) {
  return (l / nb) * np * nb + p * nb + l % nb;
}

int rs_pmat_global_row(const rs_pmat *a, int i) {
  return rs__l2g(i, a->nb, a->g->myrow, a->g->nprow);
}

int rs_pmat_global_col(const rs_pmat *a, int j) {
  return rs__l2g(j, a->nb, a->g->mycol, a->g->npcol);
}

size_t rs_pmat_local_bytes(const rs_pmat *a) {
  return (size_t)a->lld * (size_t)a->nloc * sizeof(double);
}

int rs_pmat_fill_rows(rs_pmat *a, rs_pmat_rows_fn fn, void *ctx) {
  if (a->mloc == 0 || a->nloc == 0) return RS_OK;
  double *buf = malloc((size_t)a->nb * (size_t)a->n * sizeof *buf);
  RS_CHECK(buf, RS_ENOMEM, "distributed matrix %d x %d: out of memory for %d rows", a->m, a->n,
           a->nb);
  int err = RS_OK;
  /* Local rows come in runs of nb that are contiguous globally. */
  for (int l0 = 0; l0 < a->mloc; l0 += a->nb) {
    int rows = a->mloc - l0 < a->nb ? a->mloc - l0 : a->nb;
    int g0 = rs_pmat_global_row(a, l0);
    RS_TRY(err, fn(ctx, g0, rows, buf), done);
    /* Row-major block to column-major local storage, 16 columns at a time
     * so that the destination lines stay in cache across rows. */
    for (int j0 = 0; j0 < a->nloc; j0 += 16) {
      int j1 = a->nloc - j0 < 16 ? a->nloc : j0 + 16;
      for (int i = 0; i < rows; i++) {
        const double *src = buf + (size_t)i * a->n;
        for (int j = j0; j < j1; j++)
          a->a[(size_t)j * a->lld + l0 + i] = src[rs_pmat_global_col(a, j)];
      }
    }
  }
done:
  free(buf);
  return err;
}

int rs_pmat_center_columns(rs_pmat *a, double *means) {
  double *sum = calloc((size_t)a->n, sizeof *sum);
  int err;
  int rc = sum ? RS_OK : rs_error(RS_ENOMEM, "column means of %d columns", a->n);
  RS_TRY(err, rs_spectrum_agree(a->g->comm, NULL, rc), done);
  /* Each rank adds its local column sums at their global positions; one
   * allreduce of N numbers then gives every column's total. */
  for (int j = 0; j < a->nloc; j++) {
    const double *col = a->a + (size_t)j * a->lld;
    double s = 0.0;
    for (int i = 0; i < a->mloc; i++) s += col[i];
    sum[rs_pmat_global_col(a, j)] = s;
  }
  RS_TRY(err, rs__sum_all(sum, a->n, a->g->comm), done);
  for (int j = 0; j < a->n; j++) sum[j] /= (double)a->m;
  for (int j = 0; j < a->nloc; j++) {
    double mu = sum[rs_pmat_global_col(a, j)], *col = a->a + (size_t)j * a->lld;
    for (int i = 0; i < a->mloc; i++) col[i] -= mu;
  }
  if (means) memcpy(means, sum, (size_t)a->n * sizeof *means);
done:
  free(sum);
  return err;
}

int rs_pmat_gather(const rs_pmat *a, double *out) {
  size_t total = (size_t)a->m * a->n;
  memset(out, 0, total * sizeof *out);
  for (int j = 0; j < a->nloc; j++) {
    int gj = rs_pmat_global_col(a, j);
    for (int i = 0; i < a->mloc; i++)
      out[(size_t)rs_pmat_global_row(a, i) * a->n + gj] = a->a[(size_t)j * a->lld + i];
  }
  /* Every entry is owned by exactly one rank: summing the zero-padded copies
   * assembles the matrix. Chunked so counts fit in an int. */
  const size_t chunk = (size_t)1 << 28;
  for (size_t off = 0; off < total; off += chunk) {
    int cnt = (int)(total - off < chunk ? total - off : chunk);
    RS_CALL(rs__sum_all(out + off, cnt, a->g->comm));
  }
  return RS_OK;
}

/* x = the sum of every rank's x, in place. */
static int rs__sum_all(double *x, int n, MPI_Comm comm) {
  RS_CALL_MPI(MPI_Allreduce(MPI_IN_PLACE, x, n, MPI_DOUBLE, MPI_SUM, comm));
  return RS_OK;
}

/* Every rank learns whether any rank failed: a rank that returns early from
 * a sequence of collectives would leave the others waiting forever. Returns
 * the local error, or RS_E<other rank's> with a message when only others
 * failed. */
int rs_spectrum_agree(MPI_Comm comm, const char *doing, int err) {
  int worst = err;
  RS_CALL_MPI(MPI_Allreduce(&err, &worst, 1, MPI_INT, MPI_MIN, comm));
  if (err != RS_OK || worst == RS_OK) return err;
  if (doing) return rs_error(worst, "spectrum: another rank failed while %s", doing);
  return rs_error(worst, "spectrum: another rank failed (%s)", rs_err_name(worst));
}

/* ScaLAPACK's info agreed over all ranks (any non-zero info fails all). */
static int rs__agree_info(MPI_Comm comm, int info, const char *routine) {
  int mine[2] = {info, -info}, ext[2];
  RS_CALL_MPI(MPI_Allreduce(mine, ext, 2, MPI_INT, MPI_MAX, comm));
  if (ext[0] != 0 || ext[1] != 0)
    return rs_error(RS_ELAPACK, "%s failed (info %d)", routine, ext[0] != 0 ? ext[0] : -ext[1]);
  return RS_OK;
}

/* Workspace of lwork_query doubles plus a margin (some ScaLAPACK versions
 * under-report; the margin is cheap next to A). */
static int rs__workspace(double query, const char *routine, double **work, int *lwork) {
  double want = query * 1.05 + 1024.0;
  if (want > 2147483647.0)
    return rs_error(RS_ELAPACK, "%s wants %g doubles of workspace (more than an int)", routine,
                    query);
  *lwork = (int)want;
  *work = malloc((size_t)*lwork * sizeof **work);
  if (!*work) return rs_error(RS_ENOMEM, "%s workspace of %d doubles", routine, *lwork);
  return RS_OK;
}

/* pdgesvd on the whole of a (destroyed); s on every rank. */
static int rs__pdgesvd(rs_pmat *a, double *s) {
  const int one = 1;
  MPI_Comm comm = a->g->comm;
  int info = 0, lwork = -1;
  double wq = 0.0, dummy = 0.0, *work = NULL;
  int dummy_desc[9];
  memcpy(dummy_desc, a->desc, sizeof dummy_desc); /* U and VT are not referenced */
  pdgesvd_("N", "N", &a->m, &a->n, a->a, &one, &one, a->desc, s, &dummy, &one, &one,
           dummy_desc, &dummy, &one, &one, dummy_desc, &wq, &lwork, &info, 1, 1);
  RS_CALL(rs__agree_info(comm, info, "pdgesvd workspace query"));
  int err;
  /* On another rank's failure this rank's workspace exists: freed below. */
  RS_TRY(err, rs_spectrum_agree(comm, NULL, rs__workspace(wq, "pdgesvd", &work, &lwork)), fail);
  pdgesvd_("N", "N", &a->m, &a->n, a->a, &one, &one, a->desc, s, &dummy, &one, &one,
           dummy_desc, &dummy, &one, &one, dummy_desc, work, &lwork, &info, 1, 1);
  free(work);
  /* All ranks must agree on the outcome and on the bits of s, so that any
   * decision taken from the spectrum is the same everywhere. */
  RS_CALL(rs__agree_info(comm, info, "pdgesvd"));
  int k = a->m < a->n ? a->m : a->n;
  RS_CALL_MPI(MPI_Bcast(s, k, MPI_DOUBLE, 0, comm));
  return RS_OK;
fail:
  free(work);
  return err;
}

/* Distributed QR (tall) or LQ (wide) of a, in place (ScaLAPACK's layout:
 * the triangular factor in the upper (QR) or lower (LQ) triangle). */
static int rs__factorize(rs_pmat *a, int tall) {
  const int one = 1;
  MPI_Comm comm = a->g->comm;
  int info = 0, lwork = -1;
  const char *name = tall ? "pdgeqrf" : "pdgelqf";
  /* tau is indexed by local columns (QR) or local rows (LQ). */
  double *tau = malloc((size_t)((tall ? a->nloc : a->mloc) + 1) * sizeof *tau), wq = 0.0;
  double *work = NULL;
  int err;
  RS_TRY(err,
         rs_spectrum_agree(comm, NULL, tau ? RS_OK : rs_error(RS_ENOMEM, "%s: tau", name)),
         done);
  /* workspace query: collective (argument checks) */
  if (tall)
    pdgeqrf_(&a->m, &a->n, a->a, &one, &one, a->desc, tau, &wq, &lwork, &info);
  else
    pdgelqf_(&a->m, &a->n, a->a, &one, &one, a->desc, tau, &wq, &lwork, &info);
  RS_TRY(err, rs__agree_info(comm, info, name), done);
  RS_TRY(err, rs_spectrum_agree(comm, NULL, rs__workspace(wq, name, &work, &lwork)), done);
  if (tall)
    pdgeqrf_(&a->m, &a->n, a->a, &one, &one, a->desc, tau, work, &lwork, &info);
  else
    pdgelqf_(&a->m, &a->n, a->a, &one, &one, a->desc, tau, work, &lwork, &info);
  RS_TRY(err, rs__agree_info(comm, info, name), done);
done:
  free(work);
  free(tau);
  return err;
}

/* The QR or LQ of a (destroyed), then the k x k triangular factor, k =
 * min(M, N), as its own matrix with the same grid and blocks. The factor
 * occupies the first k rows (QR) or columns (LQ) of a, whose block-cyclic
 * layout is exactly that of a k x k matrix: the copy is local. */
static int rs__triangular_factor(rs_pmat *a, rs_pmat **out) {
  int tall = a->m >= a->n, k = tall ? a->n : a->m;
  RS_CALL(rs__factorize(a, tall));
  rs_pmat *r = NULL;
  int err = rs_spectrum_agree(a->g->comm, NULL, rs_pmat_create(a->g, k, k, a->nb, &r));
  if (err != RS_OK) rs_pmat_destroy(&r); /* another rank failed: this one's r exists */
  RS_CALL(err);
  for (int j = 0; j < r->nloc; j++) {
    int gj = rs_pmat_global_col(r, j);
    for (int i = 0; i < r->mloc; i++) {
      int gi = rs_pmat_global_row(r, i);
      int keep = tall ? gi <= gj : gi >= gj;
      r->a[(size_t)j * r->lld + i] = keep ? a->a[(size_t)j * a->lld + i] : 0.0;
    }
  }
  *out = r;
  return RS_OK;
}

int rs_pdsvd_values_opt(rs_pmat *a, double *s, int flags) {
  int big = a->m > a->n ? a->m : a->n, k = a->m < a->n ? a->m : a->n;
  /* Reducing to the triangular factor first pays from about max >= 5/3 min
   * (flop count 2MN^2 + 2N^3 against 4MN^2 - 4N^3/3, as LAPACK's dgesvd), and
   * the QR is BLAS-3 where the bidiagonal reduction is half BLAS-2. */
  int reduce = (flags & RS_PDSVD_FORCE_REDUCE) ||
               (!(flags & RS_PDSVD_NO_REDUCE) && 3 * (int64_t)big >= 5 * (int64_t)k);
  if (!reduce || a->m == a->n) {
    RS_CALL(rs__pdgesvd(a, s));
    return RS_OK;
  }
  rs_pmat *r = NULL;
  RS_CALL(rs__triangular_factor(a, &r));
  int err = rs__pdgesvd(r, s);
  rs_pmat_destroy(&r);
  RS_CALL(err);
  return RS_OK;
}

int rs_pdsvd_values(rs_pmat *a, double *s) {
  RS_CALL(rs_pdsvd_values_opt(a, s, 0));
  return RS_OK;
}
