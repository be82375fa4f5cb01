/* The libxsmm backend of the training products (rs_gemm.h): one kernel
 * generated at plan time for the product's exact shape and the instruction
 * set libxsmm detects on this CPU (whatever OPENBLAS_CORETYPE says); the
 * kernel runs in the calling thread, so it inherits its MXCSR (flush-to-zero). */
#include "src/model/rs_gemm.h"

#ifdef RS_HAVE_LIBXSMM
#include <libxsmm.h>
#include <stdlib.h>

/* libxsmm's kernels are column-major: the row-major C = op(A) op(B) is the
 * column-major C^T = op(B)^T op(A)^T, so B is libxsmm's first operand (its
 * TRANS_A flag is tb) and A its second (TRANS_B is ta). libxsmm 1.17 generates
 * no kernel with TRANS_A, which is the forward product A W^T (tb without ta):
 * that one runs as C^T = B A^T with A^T copied out first and C^T copied back,
 * both exact, in scratch (k x m and n x m). */
typedef struct {
  bool via_transpose;
  union {
    libxsmm_smmfunction s;
    libxsmm_dmmfunction d;
  } f;
} xs_kernel;

static bool xs_plan(rs__gemm *p) {
  const rs__gemm_shape *s = &p->s;
  bool via = s->tb && !s->ta;
  /* column-major M x N x K, first operand (lda_) times second (ldb_) */
  libxsmm_blasint M, N, K = s->k, lda_, ldb_, ldc_;
  int flags = LIBXSMM_GEMM_FLAG_BETA_0;
  if (via) { /* C^T (n x m) = B (n x k) A^T (k x m), row-major, no transposes */
    M = s->m;
    N = s->n;
    lda_ = s->m;
    ldb_ = s->ldb;
    ldc_ = s->m;
  } else {
    M = s->n;
    N = s->m;
    lda_ = s->ldb;
    ldb_ = s->lda;
    ldc_ = s->ldc;
    if (s->tb) flags |= LIBXSMM_GEMM_FLAG_TRANS_A;
    if (s->ta) flags |= LIBXSMM_GEMM_FLAG_TRANS_B;
  }
  xs_kernel *kr = calloc(1, sizeof *kr);
  if (!kr) return false;
  kr->via_transpose = via;
  bool ok;
  if (s->prec == RS_PREC_FLOAT32) {
    float one = 1.0f, zero = 0.0f;
    kr->f.s = libxsmm_smmdispatch(M, N, K, &lda_, &ldb_, &ldc_, &one, &zero, &flags, NULL);
    ok = kr->f.s != NULL;
  } else {
    double one = 1.0, zero = 0.0;
    kr->f.d = libxsmm_dmmdispatch(M, N, K, &lda_, &ldb_, &ldc_, &one, &zero, &flags, NULL);
    ok = kr->f.d != NULL;
  }
  void *scratch = NULL;
  if (ok && via) {
    size_t es = s->prec == RS_PREC_FLOAT32 ? sizeof(float) : sizeof(double);
    scratch = malloc(es * ((size_t)s->k * (size_t)s->m + (size_t)s->n * (size_t)s->m));
    ok = scratch != NULL;
  }
  if (!ok) {
    free(kr);
    free(scratch);
    return false;
  }
  p->kernel = kr;
  p->scratch = scratch;
  return true;
}

static void xs_run(const rs__gemm *p, const void *A, const void *B, void *C) {
  const rs__gemm_shape *s = &p->s;
  const xs_kernel *kr = p->kernel;
  bool f32 = s->prec == RS_PREC_FLOAT32;
  if (!kr->via_transpose) {
    if (f32)
      kr->f.s(B, A, C);
    else
      kr->f.d(B, A, C);
    return;
  }
  unsigned es = f32 ? sizeof(float) : sizeof(double);
  char *At = p->scratch, *Ct = At + (size_t)es * (size_t)s->k * (size_t)s->m;
  /* A: row-major m x k (lda) = column-major k x m; A^T: row-major k x m. */
  libxsmm_otrans(At, A, es, s->k, s->m, s->lda, s->m);
  if (f32)
    kr->f.s((const float *)(const void *)At, B, (float *)(void *)Ct);
  else
    kr->f.d((const double *)(const void *)At, B, (double *)(void *)Ct);
  /* C^T: row-major n x m = column-major m x n; C: row-major m x n (ldc). */
  libxsmm_otrans(C, Ct, es, s->m, s->n, s->m, s->ldc);
}

static void xs_release(rs__gemm *p) {
  free(p->kernel);
  free(p->scratch);
  p->kernel = p->scratch = NULL;
}

static const char *xs_target(void) {
  const char *a = libxsmm_get_target_arch();
  return a ? a : "unknown";
}

static const rs__gemm_backend xs_backend = {
    .name = "libxsmm", .plan = xs_plan, .run = xs_run, .release = xs_release,
    .target = xs_target};
const rs__gemm_backend *const rs__gemm_libxsmm = &xs_backend;
#else
const rs__gemm_backend *const rs__gemm_libxsmm = NULL;
#endif
