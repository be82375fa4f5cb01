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

/* out (cols x rows, row-major, ld ldo) = in^T, in row-major rows x cols (ld
 * ldi); exact. Blocks of 8 x 8, the columns of `in` outermost, so that a
 * block's 8 output rows stay in L1 while the input rows pass by. libxsmm_otrans
 * walks the other way, and with a power-of-two ldo (a 1024-wide layer's
 * activations, rows 4 KB apart) its stores conflict in the cache. Measured
 * for the VIB step's first forward product (100 x 1024 x 784; AMD EPYC with
 * AVX-512, bench_train ... vib): A -> A^T 18 us with libxsmm_otrans, 47 with
 * the plain loop below, 8-11 with the AVX2 one; C^T -> C 167, 67 and 15-23. */
#define XS_TRANSPOSE(NAME, T)                                                                  \
  static void NAME(T *restrict out, const T *restrict in, int rows, int cols, int ldi,        \
                   int ldo) {                                                                \
    for (int j0 = 0; j0 < cols; j0 += 8) {                                                    \
      int j1 = j0 + 8 < cols ? j0 + 8 : cols;                                                 \
      for (int i0 = 0; i0 < rows; i0 += 8) {                                                  \
        int i1 = i0 + 8 < rows ? i0 + 8 : rows;                                               \
        for (int j = j0; j < j1; j++)                                                         \
          for (int i = i0; i < i1; i++) out[(size_t)j * ldo + i] = in[(size_t)i * ldi + j];   \
      }                                                                                       \
    }                                                                                         \
  }
XS_TRANSPOSE(xs_transpose_plain_s, float)
XS_TRANSPOSE(xs_transpose_d, double)

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define XS_TRANSPOSE_AVX2 1
/* The same walk, each 8 x 8 block through registers (unpack, shuffle, permute:
 * moves only, so the result is the same). */
__attribute__((target("avx2"))) static void xs_transpose_avx2_s(float *restrict out,
                                                                const float *restrict in,
                                                                int rows, int cols, int ldi,
                                                                int ldo) {
  int r8 = rows & ~7, c8 = cols & ~7;
  for (int j = 0; j < c8; j += 8)
    for (int i = 0; i < r8; i += 8) {
      const float *p = in + (size_t)i * ldi + j;
      float *q = out + (size_t)j * ldo + i;
      __m256 r0 = _mm256_loadu_ps(p), r1 = _mm256_loadu_ps(p + ldi);
      __m256 r2 = _mm256_loadu_ps(p + 2 * (size_t)ldi), r3 = _mm256_loadu_ps(p + 3 * (size_t)ldi);
      __m256 r4 = _mm256_loadu_ps(p + 4 * (size_t)ldi), r5 = _mm256_loadu_ps(p + 5 * (size_t)ldi);
      __m256 r6 = _mm256_loadu_ps(p + 6 * (size_t)ldi), r7 = _mm256_loadu_ps(p + 7 * (size_t)ldi);
      __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
      __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
      __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
      __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
      __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
      __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
      __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
      __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
      _mm256_storeu_ps(q, _mm256_permute2f128_ps(s0, s4, 0x20));
      _mm256_storeu_ps(q + ldo, _mm256_permute2f128_ps(s1, s5, 0x20));
      _mm256_storeu_ps(q + 2 * (size_t)ldo, _mm256_permute2f128_ps(s2, s6, 0x20));
      _mm256_storeu_ps(q + 3 * (size_t)ldo, _mm256_permute2f128_ps(s3, s7, 0x20));
      _mm256_storeu_ps(q + 4 * (size_t)ldo, _mm256_permute2f128_ps(s0, s4, 0x31));
      _mm256_storeu_ps(q + 5 * (size_t)ldo, _mm256_permute2f128_ps(s1, s5, 0x31));
      _mm256_storeu_ps(q + 6 * (size_t)ldo, _mm256_permute2f128_ps(s2, s6, 0x31));
      _mm256_storeu_ps(q + 7 * (size_t)ldo, _mm256_permute2f128_ps(s3, s7, 0x31));
    }
  /* The last rows < 8 (all columns), then the last columns < 8 of the rest. */
  for (int i = r8; i < rows; i++)
    for (int j = 0; j < cols; j++) out[(size_t)j * ldo + i] = in[(size_t)i * ldi + j];
  for (int j = c8; j < cols; j++)
    for (int i = 0; i < r8; i++) out[(size_t)j * ldo + i] = in[(size_t)i * ldi + j];
}
#endif

static void xs_transpose_s(float *restrict out, const float *restrict in, int rows, int cols,
                           int ldi, int ldo) {
#ifdef XS_TRANSPOSE_AVX2
  if (__builtin_cpu_supports("avx2")) {
    xs_transpose_avx2_s(out, in, rows, cols, ldi, ldo);
    return;
  }
#endif
  xs_transpose_plain_s(out, in, rows, cols, ldi, ldo);
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
  /* A: row-major m x k (lda), A^T: row-major k x m; C^T: row-major n x m,
   * C: row-major m x n (ldc). */
  if (f32) {
    float *At = p->scratch, *Ct = At + (size_t)s->k * (size_t)s->m;
    xs_transpose_s(At, A, s->m, s->k, s->lda, s->m);
    kr->f.s(At, B, Ct);
    xs_transpose_s(C, Ct, s->n, s->m, s->m, s->ldc);
  } else {
    double *At = p->scratch, *Ct = At + (size_t)s->k * (size_t)s->m;
    libxsmm_otrans(At, A, sizeof(double), s->k, s->m, s->lda, s->m);
    kr->f.d(At, B, Ct);
    xs_transpose_d(C, Ct, s->n, s->m, s->m, s->ldc);
  }
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
