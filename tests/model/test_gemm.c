/* The training products' interface (src/model/rs_gemm.h): each backend against
 * a long-double reference in every layout the step uses, the plan rules
 * (auto, fallbacks, short batches), bit-identical repeats, and that libxsmm's
 * generated code honours the calling thread's flush-to-zero state. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ranksweep/rs_error.h"
#include "ranksweep/rs_fpenv.h"
#include "ranksweep/rs_model.h"
#include "src/model/model_internal.h"
#include "tests/model/model_fixture.h"

typedef struct {
  bool ta, tb;
  int m, n, k;
} prod;

/* The step's three layouts at MNIST sizes, a VIB decoder's, a VIB encoder's
 * forward product (100 rows, a power-of-two row length for the transposes),
 * and odd sizes. */
static const prod PRODS[] = {
    {false, true, 64, 200, 784}, {true, false, 200, 784, 64}, {false, false, 64, 200, 200},
    {false, true, 100, 1024, 784},
    {false, true, 64, 10, 200},  {true, false, 10, 200, 64},  {false, false, 64, 200, 10},
    {false, true, 13, 7, 5},     {true, false, 7, 5, 13},     {false, false, 5, 13, 7},
};
#define NPRODS (int)(sizeof PRODS / sizeof PRODS[0])

static rs__gemm_shape shape_of(const prod *p, rs_precision prec) {
  /* row-major, tight leading dimensions */
  int lda = p->ta ? p->m : p->k, ldb = p->tb ? p->k : p->n;
  return (rs__gemm_shape){prec, p->ta, p->tb, p->m, p->n, p->k, lda, ldb, p->n};
}

static double get(const void *x, size_t i, rs_precision prec) {
  return prec == RS_PREC_FLOAT32 ? ((const float *)x)[i] : ((const double *)x)[i];
}

static void *filled(size_t n, rs_precision prec, unsigned seed) {
  void *x = malloc(n * (prec == RS_PREC_FLOAT32 ? 4 : 8));
  srand(seed);
  for (size_t i = 0; i < n; i++) {
    double v = (double)rand() / RAND_MAX - 0.5;
    if (prec == RS_PREC_FLOAT32) ((float *)x)[i] = (float)v;
    else ((double *)x)[i] = v;
  }
  return x;
}

/* max |C - ref| / (sum_k |a||b| u), u the precision's unit roundoff. */
static double error_in_ulps(const rs__gemm_shape *s, const void *A, const void *B, const void *C) {
  double u = s->prec == RS_PREC_FLOAT32 ? 0x1p-24 : 0x1p-53, worst = 0;
  for (int i = 0; i < s->m; i++)
    for (int j = 0; j < s->n; j++) {
      long double ref = 0, mag = 0;
      for (int k = 0; k < s->k; k++) {
        double a = get(A, s->ta ? (size_t)k * s->lda + i : (size_t)i * s->lda + k, s->prec);
        double b = get(B, s->tb ? (size_t)j * s->ldb + k : (size_t)k * s->ldb + j, s->prec);
        ref += (long double)a * b;
        mag += fabsl((long double)a * b);
      }
      double e = (double)fabsl((long double)get(C, (size_t)i * s->ldc + j, s->prec) - ref) /
                 ((double)mag * u + 1e-300);
      worst = e > worst ? e : worst;
    }
  return worst;
}

/* Loop: products x precisions x {openblas, libxsmm}. */
START_TEST(backends_match_a_reference) {
  int pi = _i % NPRODS;
  rs_precision prec = (_i / NPRODS) % 2 ? RS_PREC_FLOAT64 : RS_PREC_FLOAT32;
  rs_gemm_choice ch = _i / (2 * NPRODS) ? RS_GEMM_LIBXSMM : RS_GEMM_OPENBLAS;
  rs__gemm_shape s = shape_of(&PRODS[pi], prec);
  rs__gemm p;
  rs__gemm_plan(&p, ch, s);
  const char *want = ch == RS_GEMM_OPENBLAS || !rs__gemm_libxsmm ? "openblas" : "libxsmm";
  ck_assert_str_eq(rs__gemm_name(&p), want);
  size_t na = (size_t)(s.ta ? s.k : s.m) * s.lda, nb = (size_t)(s.tb ? s.n : s.k) * s.ldb;
  void *A = filled(na, prec, 1 + pi), *B = filled(nb, prec, 100 + pi);
  size_t es = prec == RS_PREC_FLOAT32 ? 4 : 8, nc = (size_t)s.m * s.ldc;
  void *C = malloc(nc * es), *C2 = malloc(nc * es);
  rs__gemm_run(&p, s.m, s.n, s.k, A, B, C);
  double e = error_in_ulps(&s, A, B, C);
  /* A sum of k products in some order: at most about k roundings. */
  ck_assert_msg(e <= s.k + 2, "%s %s %dx%dx%d %c%c: error %.2f x sum|ab| u (k = %d)", want,
                prec == RS_PREC_FLOAT32 ? "float32" : "float64", s.m, s.n, s.k, s.ta ? 'T' : 'N',
                s.tb ? 'T' : 'N', e, s.k);
  /* Same plan, same inputs: the same bits (no run-time choice inside). */
  rs__gemm_run(&p, s.m, s.n, s.k, A, B, C2);
  ck_assert(memcmp(C, C2, nc * es) == 0);
  rs__gemm_release(&p);
  ck_assert_ptr_null(p.be);
  free(A);
  free(B);
  free(C);
  free(C2);
}
END_TEST

START_TEST(short_batch_runs_on_openblas) {
  /* Planned for 64 rows, called with 40: OpenBLAS with the plan's layout. */
  const prod pr = {false, true, 64, 200, 784};
  rs__gemm_shape s = shape_of(&pr, RS_PREC_FLOAT32);
  rs__gemm x, o;
  rs__gemm_plan(&x, RS_GEMM_LIBXSMM, s);
  rs__gemm_shape s40 = s;
  s40.m = 40;
  rs__gemm_plan(&o, RS_GEMM_OPENBLAS, s40);
  void *A = filled((size_t)64 * 784, RS_PREC_FLOAT32, 3), *B = filled((size_t)200 * 784, RS_PREC_FLOAT32, 4);
  float *C1 = malloc(sizeof(float) * 40 * 200), *C2 = malloc(sizeof(float) * 40 * 200);
  rs__gemm_run(&x, 40, 200, 784, A, B, C1);
  rs__gemm_run(&o, 40, 200, 784, A, B, C2);
  ck_assert(memcmp(C1, C2, sizeof(float) * 40 * 200) == 0);
  rs__gemm_release(&x);
  rs__gemm_release(&o);
  free(A);
  free(B);
  free(C1);
  free(C2);
}
END_TEST

START_TEST(auto_rule) {
  const prod small = {false, true, 64, 1024, 1024}, big = {false, false, 2048, 2048, 2048};
  rs__gemm_shape a = shape_of(&small, RS_PREC_FLOAT32), b = shape_of(&big, RS_PREC_FLOAT32);
  ck_assert(rs__gemm_auto_wants(&a));
  ck_assert(!rs__gemm_auto_wants(&b));
  rs__gemm p;
  rs__gemm_plan(&p, RS_GEMM_AUTO, b);
  ck_assert_str_eq(rs__gemm_name(&p), "openblas");
  rs__gemm_release(&p);
  rs__gemm_plan(&p, RS_GEMM_AUTO, a);
  ck_assert_str_eq(rs__gemm_name(&p), rs__gemm_libxsmm ? "libxsmm" : "openblas");
  rs__gemm_release(&p);
}
END_TEST

/* libxsmm's code runs in the calling thread: with denormals-are-zero set, a
 * subnormal input counts as 0; without, it survives the product. */
START_TEST(generated_code_inherits_flush_to_zero) {
  if (!rs__gemm_libxsmm) {
    printf("generated_code_inherits_flush_to_zero: no libxsmm in this build, nothing to check\n");
    return;
  }
  const prod pr = {false, false, 16, 16, 16};
  rs__gemm_shape s = shape_of(&pr, RS_PREC_FLOAT32);
  rs__gemm p;
  rs__gemm_plan(&p, RS_GEMM_LIBXSMM, s);
  ck_assert_str_eq(rs__gemm_name(&p), "libxsmm");
  float A[256] = {0}, B[256] = {0}, C[256];
  A[0] = 1e-40f; /* subnormal */
  B[0] = 1.0f;
  ck_assert_int_eq(rs_fpenv_flush_denormals(false), RS_OK);
  rs__gemm_run(&p, 16, 16, 16, A, B, C);
  ck_assert(C[0] != 0.0f);
  ck_assert_int_eq(rs_fpenv_flush_denormals(true), RS_OK);
  rs__gemm_run(&p, 16, 16, 16, A, B, C);
  ck_assert(C[0] == 0.0f);
  ck_assert_int_eq(rs_fpenv_flush_denormals(false), RS_OK);
  rs__gemm_release(&p);
}
END_TEST

/* Whole training on either backend: float64 trajectories agree closely, and
 * the trainer names the backend in force. */
START_TEST(training_agrees_across_backends) {
  const int widths[2] = {30, 20};
  rs_config c;
  fixture_config(&c, 2, widths);
  c.train.precision = RS_PREC_FLOAT64;
  c.train.optimizer = RS_OPT_ADAMW;
  c.train.lr = 1e-3;
  c.train.batch = 16;
  rs_dataset *d = fixture_data(2, 200, 12, 4, 0, 1.0);
  double loss[2];
  const char *names[2] = {"openblas", "libxsmm"};
  for (int b = 0; b < 2; b++) {
    c.train.gemm = b ? RS_GEMM_LIBXSMM : RS_GEMM_OPENBLAS;
    rs_trainer *t;
    ck_assert_int_eq(rs_trainer_create(&c, d, &t), RS_OK);
    char name[96];
    rs_trainer_gemm_backend(t, name, sizeof name);
    ck_assert_str_eq(name, b && rs__gemm_libxsmm ? names[1] : names[0]);
    bool div;
    ck_assert_int_eq(rs_trainer_run_to(t, 100, &div), RS_OK);
    ck_assert(!div);
    loss[b] = rs_trainer_last_loss(t);
    rs_trainer_destroy(&t);
  }
  ck_assert_msg(fabs(loss[0] - loss[1]) <= 1e-9 * fabs(loss[0]), "losses %.17g and %.17g",
                loss[0], loss[1]);
  fixture_data_free(&d);
}
END_TEST

int main(void) {
  Suite *s = suite_create("gemm");
  TCase *tc = tcase_create("gemm");
  tcase_set_timeout(tc, 120);
  tcase_add_loop_test(tc, backends_match_a_reference, 0, 4 * NPRODS);
  tcase_add_test(tc, short_batch_runs_on_openblas);
  tcase_add_test(tc, auto_rule);
  tcase_add_test(tc, generated_code_inherits_flush_to_zero);
  tcase_add_test(tc, training_agrees_across_backends);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? 1 : 0;
}
