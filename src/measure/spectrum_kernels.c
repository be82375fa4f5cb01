/* Dense singular-value kernels of the measurement module: rs_rank_eps (dgesdd),
 * the values-only SVD used per point by the fast local-rank path, and the
 * per-spectrum summaries (eps counts, NumPy-tolerance count, effective and
 * stable rank). */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <lapacke.h>

#include "measure_internal.h"
#include "ranksweep/rs_error.h"

int rs__svws_init(rs__svws *ws, int maxdim) {
  memset(ws, 0, sizeof *ws);
  int n = maxdim > 1 ? maxdim : 1;
  ws->maxdim = n;
  ws->lwork = 64 * 2 * n + 64;
  ws->d = malloc(sizeof(double) * (size_t)n);
  ws->e = malloc(sizeof(double) * (size_t)n);
  ws->tauq = malloc(sizeof(double) * (size_t)n);
  ws->taup = malloc(sizeof(double) * (size_t)n);
  ws->tau = malloc(sizeof(double) * (size_t)n);
  ws->work = malloc(sizeof(double) * (size_t)(ws->lwork > 4 * n ? ws->lwork : 4 * n));
  ws->tri = malloc(sizeof(double) * (size_t)n * (size_t)n);
  if (!ws->d || !ws->e || !ws->tauq || !ws->taup || !ws->tau || !ws->work || !ws->tri) {
    rs__svws_free(ws);
    return rs_error(RS_ENOMEM, "local rank: cannot allocate SVD workspace for %d x %d", n, n);
  }
  return RS_OK;
}

void rs__svws_free(rs__svws *ws) {
  free(ws->d); free(ws->e); free(ws->tauq); free(ws->taup);
  free(ws->tau); free(ws->work); free(ws->tri);
  memset(ws, 0, sizeof *ws);
}

/* A QR (LQ) first pays once the matrix is this much taller (wider) than square:
 * the bidiagonalisation at these sizes is BLAS-2 bound, the QR is not. */
#define RS__SV_QR_RATIO 1.6

int rs__sv_values(double *A, int lda, int m, int n, double *sv, rs__svws *ws) {
  int k = m < n ? m : n;
  if (k == 0) return RS_OK;
  RS_ASSERT(m <= ws->maxdim || n <= ws->maxdim);
  RS_ASSERT(k <= ws->maxdim);
  double *B = A;
  int ldb = lda, mb = m, nb = n;
  lapack_int info;
  if (m >= n && m > RS__SV_QR_RATIO * n) {
    info = LAPACKE_dgeqrf_work(LAPACK_COL_MAJOR, m, n, A, lda, ws->tau, ws->work, ws->lwork);
    if (info != 0) return rs_error(RS_ELAPACK, "dgeqrf failed (info %d)", (int)info);
    B = ws->tri; ldb = n; mb = nb = n;
    for (int j = 0; j < n; j++) {
      memcpy(B + (size_t)j * n, A + (size_t)j * lda, sizeof(double) * (size_t)(j + 1));
      memset(B + (size_t)j * n + j + 1, 0, sizeof(double) * (size_t)(n - j - 1));
    }
  } else if (n > m && n > RS__SV_QR_RATIO * m) {
    info = LAPACKE_dgelqf_work(LAPACK_COL_MAJOR, m, n, A, lda, ws->tau, ws->work, ws->lwork);
    if (info != 0) return rs_error(RS_ELAPACK, "dgelqf failed (info %d)", (int)info);
    B = ws->tri; ldb = m; mb = nb = m;
    for (int j = 0; j < m; j++) {
      memset(B + (size_t)j * m, 0, sizeof(double) * (size_t)j);
      memcpy(B + (size_t)j * m + j, A + (size_t)j * lda + j, sizeof(double) * (size_t)(m - j));
    }
  }
  info = LAPACKE_dgebrd_work(LAPACK_COL_MAJOR, mb, nb, B, ldb, ws->d, ws->e, ws->tauq,
                             ws->taup, ws->work, ws->lwork);
  if (info != 0) return rs_error(RS_ELAPACK, "dgebrd failed (info %d)", (int)info);
  /* A lower bidiagonal matrix (mb < nb) is the transpose of the upper one with
   * the same d and e: same singular values. */
  info = LAPACKE_dbdsqr_work(LAPACK_COL_MAJOR, 'U', k, 0, 0, 0, ws->d, ws->e, NULL, 1,
                             NULL, 1, NULL, 1, ws->work);
  if (info != 0) return rs_error(RS_ELAPACK, "dbdsqr did not converge (info %d)", (int)info);
  memcpy(sv, ws->d, sizeof(double) * (size_t)k);
  return RS_OK;
}

void rs__lr_summarize(const double *sv, int nsv, int len, int rows, int cols,
                      int neps, const double *eps, int32_t *counts,
                      double *spec, double *erank, double *srank) {
  double smax = nsv > 0 ? sv[0] : 0.0;
  double tol = smax * (double)(rows > cols ? rows : cols) * DBL_EPSILON;
  for (int e = 0; e <= neps; e++) {
    double t = e < neps ? eps[e] : tol;
    counts[e] = rs_count_above(sv, nsv, 1.0, t);
  }
  if (spec) {
    int n = nsv < len ? nsv : len;
    memcpy(spec, sv, sizeof(double) * (size_t)n);
    for (int i = n; i < len; i++) spec[i] = 0.0;
  }
  double sum = 0.0, sum2 = 0.0;
  for (int i = 0; i < nsv; i++) {
    sum += sv[i];
    sum2 += sv[i] * sv[i];
  }
  if (erank) {
    if (sum > 0.0) {
      double h = 0.0;
      for (int i = 0; i < nsv; i++) {
        double p = sv[i] / sum;
        if (p > 0.0) h -= p * log(p);
      }
      *erank = exp(h);
    } else {
      *erank = 0.0;
    }
  }
  if (srank) *srank = smax > 0.0 ? sum2 / (smax * smax) : 0.0;
}

int rs_count_above(const double *s, int n, double scale, double eps) {
  int c = 0;
  while (c < n && s[c] / scale > eps) c++;
  return c;
}

int rs_rank_eps(const double *A, int m, int n, double eps, int *rank, double *sv) {
  if (m < 0 || n < 0) return rs_error(RS_EARG, "rs_rank_eps: bad shape %d x %d", m, n);
  int k = m < n ? m : n;
  if (k == 0) {
    *rank = 0;
    return RS_OK;
  }
  /* Row-major m x n is column-major n x m (the transpose): same values. */
  double *B = malloc(sizeof(double) * (size_t)m * (size_t)n);
  double *s = malloc(sizeof(double) * (size_t)k);
  lapack_int *iw = malloc(sizeof(lapack_int) * 8 * (size_t)k);
  double wq;
  int rc = RS_OK;
  if (!B || !s || !iw) {
    rc = rs_error(RS_ENOMEM, "rs_rank_eps: cannot allocate %d x %d", m, n);
    goto done;
  }
  memcpy(B, A, sizeof(double) * (size_t)m * (size_t)n);
  lapack_int info = LAPACKE_dgesdd_work(LAPACK_COL_MAJOR, 'N', n, m, B, n, s, NULL, 1,
                                        NULL, 1, &wq, -1, iw);
  if (info != 0) {
    rc = rs_error(RS_ELAPACK, "dgesdd workspace query failed (info %d)", (int)info);
    goto done;
  }
  lapack_int lwork = (lapack_int)wq + 1;
  double *work = malloc(sizeof(double) * (size_t)lwork);
  if (!work) {
    rc = rs_error(RS_ENOMEM, "rs_rank_eps: cannot allocate workspace");
    goto done;
  }
  info = LAPACKE_dgesdd_work(LAPACK_COL_MAJOR, 'N', n, m, B, n, s, NULL, 1, NULL, 1,
                             work, lwork, iw);
  free(work);
  if (info != 0) {
    rc = rs_error(RS_ELAPACK, "dgesdd failed (info %d) on a %d x %d matrix", (int)info, m, n);
    goto done;
  }
  *rank = rs_count_above(s, k, 1.0, eps);
  if (sv) memcpy(sv, s, sizeof(double) * (size_t)k);
done:
  free(B); free(s); free(iw);
  return rc;
}
