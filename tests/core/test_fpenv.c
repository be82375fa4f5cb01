/* The floating-point environment: flush-to-zero and denormals-are-zero reach
 * the calling thread, OpenBLAS's worker threads (at 1 and 2 BLAS threads) and
 * threads created afterwards; switching back restores gradual underflow. Runs
 * without fork so OpenBLAS's real thread pool is the one tested. */
#include <check.h>
#include <fenv.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../rs_check.h"
#include "ranksweep/rs_error.h"
#include "ranksweep/rs_fpenv.h"

#include <cblas.h>

enum { N = 384 }; /* large enough for OpenBLAS to split an sgemm across 2 threads */

/* C = A B with A = 1e-39 (subnormal) and B = 1: exact result 3.84e-37, a
 * normal number. With denormals-are-zero the inputs read as 0, so C = 0. Any
 * element computed by a thread without DAZ stays non-zero. */
static int nonzero_daz(int threads) {
  openblas_set_num_threads(threads);
  float *a = malloc(sizeof(float) * N * N), *b = malloc(sizeof(float) * N * N),
        *c = malloc(sizeof(float) * N * N);
  ck_assert(a && b && c);
  for (int i = 0; i < N * N; i++) a[i] = 1e-39f, b[i] = 1.0f, c[i] = -1.0f;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, N, N, 1.0f, a, N, b, N, 0.0f, c, N);
  int nz = 0;
  for (int i = 0; i < N * N; i++) nz += c[i] != 0.0f;
  free(a), free(b), free(c);
  return nz;
}

/* C = A B with A = B = 1e-21 (normal): each product 1e-42 is subnormal and the
 * sums stay below 1.2e-38, so flush-to-zero gives exactly 0. */
static int nonzero_ftz(int threads) {
  openblas_set_num_threads(threads);
  float *a = malloc(sizeof(float) * N * N), *b = malloc(sizeof(float) * N * N),
        *c = malloc(sizeof(float) * N * N);
  ck_assert(a && b && c);
  for (int i = 0; i < N * N; i++) a[i] = 1e-21f, b[i] = 1e-21f, c[i] = -1.0f;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, N, N, 1.0f, a, N, b, N, 0.0f, c, N);
  int nz = 0;
  for (int i = 0; i < N * N; i++) nz += c[i] != 0.0f;
  free(a), free(b), free(c);
  return nz;
}

START_TEST(blas_threads_flush) {
  for (int threads = 1; threads <= 2; threads++) {
    ck_assert_int_eq(rs_fpenv_flush_denormals(false), RS_OK);
    ck_assert(!rs_fpenv_flushing());
    ck_assert_msg(nonzero_daz(threads) == N * N, "gradual underflow, %d threads", threads);
    ck_assert_msg(nonzero_ftz(threads) == N * N, "gradual underflow, %d threads", threads);
    ck_assert_int_eq(rs_fpenv_flush_denormals(true), RS_OK);
    ck_assert(rs_fpenv_flushing());
    int nz = nonzero_daz(threads);
    ck_assert_msg(nz == 0, "%d threads: %d of %d elements computed without DAZ", threads, nz,
                  N * N);
    nz = nonzero_ftz(threads);
    ck_assert_msg(nz == 0, "%d threads: %d of %d elements computed without FTZ", threads, nz,
                  N * N);
  }
  /* And back: the pool restarts again with gradual underflow. */
  ck_assert_int_eq(rs_fpenv_flush_denormals(false), RS_OK);
  ck_assert_int_eq(nonzero_daz(2), N * N);
}
END_TEST

static void *thread_flag(void *arg) {
  *(int *)arg = rs_fpenv_flushing();
  return NULL;
}

START_TEST(new_threads_inherit) {
  ck_assert_int_eq(rs_fpenv_flush_denormals(true), RS_OK);
  int seen = -1;
  pthread_t th;
  ck_assert_int_eq(pthread_create(&th, NULL, thread_flag, &seen), 0);
  pthread_join(th, NULL);
  ck_assert_int_eq(seen, 1);
  ck_assert_int_eq(rs_fpenv_flush_denormals(false), RS_OK);
  ck_assert_int_eq(pthread_create(&th, NULL, thread_flag, &seen), 0);
  pthread_join(th, NULL);
  ck_assert_int_eq(seen, 0);
}
END_TEST

/* What provenance records (fp_state) is what the CPU holds: both bits follow
 * rs_fpenv_flush_denormals, and the rounding mode follows fesetround. */
START_TEST(describe_reads_back) {
#if defined(__x86_64__)
  char s[64];
  ck_assert_int_eq(rs_fpenv_flush_denormals(true), RS_OK);
  rs_fpenv_describe(s, sizeof s);
  ck_assert_str_eq(s, "ftz=1 daz=1 round=nearest");
  ck_assert_int_eq(rs_fpenv_flush_denormals(false), RS_OK);
  rs_fpenv_describe(s, sizeof s);
  ck_assert_str_eq(s, "ftz=0 daz=0 round=nearest");
  const int modes[] = {FE_DOWNWARD, FE_UPWARD, FE_TOWARDZERO};
  const char *const want[] = {"ftz=0 daz=0 round=down", "ftz=0 daz=0 round=up",
                              "ftz=0 daz=0 round=zero"};
  for (int i = 0; i < 3; i++) {
    ck_assert_int_eq(fesetround(modes[i]), 0);
    rs_fpenv_describe(s, sizeof s);
    fesetround(FE_TONEAREST);
    ck_assert_str_eq(s, want[i]);
  }
#else
  printf("describe_reads_back: no MXCSR on this CPU, nothing to read back\n");
#endif
}
END_TEST

START_TEST(kernel_facts) {
  const char *k = rs_blas_kernel();
  ck_assert(k && *k);
  const char *isa = rs_cpu_best_isa();
  ck_assert(isa && *isa);
  char line[512];
  if (rs_blas_kernel_warning(line, sizeof line)) {
    /* The warning names the kernel, the CPU's instruction set and the fix. */
    ck_assert_ptr_nonnull(strstr(line, k));
    ck_assert_ptr_nonnull(strstr(line, isa));
    ck_assert_ptr_nonnull(strstr(line, "OPENBLAS_CORETYPE="));
    ck_assert_ptr_nonnull(rs_blas_suggested_kernel());
  }
}
END_TEST

int main(void) {
  Suite *s = suite_create("fpenv");
  TCase *tc = tcase_create("fpenv");
  tcase_add_test(tc, blas_threads_flush);
  tcase_add_test(tc, new_threads_inherit);
  tcase_add_test(tc, kernel_facts);
  tcase_add_test(tc, describe_reads_back);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_set_fork_status(sr, CK_NOFORK);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
