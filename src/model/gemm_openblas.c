/* The OpenBLAS backend of the training products (rs_gemm.h): a plan is its
 * shape; each run is one cblas_?gemm call. Also every other backend's
 * fallback, so it accepts every product. */
#include <cblas.h>

#include "src/model/rs_gemm.h"

char *openblas_get_corename(void);

static bool ob_plan(rs__gemm *p) {
  (void)p;
  return true;
}

static void ob_run(const rs__gemm *p, const void *A, const void *B, void *C) {
  const rs__gemm_shape *s = &p->s;
  enum CBLAS_TRANSPOSE ta = s->ta ? CblasTrans : CblasNoTrans;
  enum CBLAS_TRANSPOSE tb = s->tb ? CblasTrans : CblasNoTrans;
  if (s->prec == RS_PREC_FLOAT32)
    cblas_sgemm(CblasRowMajor, ta, tb, s->m, s->n, s->k, 1.0f, A, s->lda, B, s->ldb, 0.0f, C,
                s->ldc);
  else
    cblas_dgemm(CblasRowMajor, ta, tb, s->m, s->n, s->k, 1.0, A, s->lda, B, s->ldb, 0.0, C,
                s->ldc);
}

static void ob_release(rs__gemm *p) { (void)p; }

static const char *ob_target(void) {
  const char *k = openblas_get_corename();
  return k ? k : "unknown";
}

const rs__gemm_backend rs__gemm_openblas = {
    .name = "openblas", .plan = ob_plan, .run = ob_run, .release = ob_release,
    .target = ob_target};
