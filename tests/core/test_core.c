/* Unit tests of the core: Philox known answers, stream independence and
 * position independence, the error table, the error idiom (RS_TRY,
 * RS_CHECK) and its per-thread state. */
#include <check.h>

#include "../rs_check.h"
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "ranksweep/rs_error.h"
#include "ranksweep/rs_rng.h"

START_TEST(philox_known_answers) {
  /* Random123 kat_vectors for philox4x32 with 10 rounds. */
  const uint32_t ctr[3][4] = {{0, 0, 0, 0},
                              {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu},
                              {0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}};
  const uint32_t key[3][2] = {{0, 0}, {0xffffffffu, 0xffffffffu}, {0xa4093822u, 0x299f31d0u}};
  const uint32_t want[3][4] = {{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u},
                               {0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu},
                               {0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}};
  for (int v = 0; v < 3; v++) {
    uint32_t out[4];
    rs_philox4x32_10(ctr[v], key[v], out);
    for (int i = 0; i < 4; i++)
      ck_assert_msg(out[i] == want[v][i], "vector %d word %d: got %08x want %08x",
                    v, i, out[i], want[v][i]);
  }
}
END_TEST

START_TEST(streams_are_keyed) {
  rs_rng a, b, c, d;
  rs_rng_init(&a, 7, RS_STREAM_INIT, 0);
  rs_rng_init(&b, 7, RS_STREAM_INIT, 0);
  rs_rng_init(&c, 7, RS_STREAM_BATCH, 0);
  rs_rng_init(&d, 8, RS_STREAM_INIT, 0);
  int same_c = 0, same_d = 0;
  for (int i = 0; i < 1000; i++) {
    uint32_t x = rs_rng_u32(&a);
    ck_assert_uint_eq(x, rs_rng_u32(&b));
    same_c += x == rs_rng_u32(&c);
    same_d += x == rs_rng_u32(&d);
  }
  ck_assert_int_le(same_c, 1);
  ck_assert_int_le(same_d, 1);
}
END_TEST

START_TEST(state_copy_resumes) {
  rs_rng a;
  rs_rng_init(&a, 123, RS_STREAM_DATA, 4);
  for (int i = 0; i < 13; i++) rs_rng_u32(&a);
  rs_rng saved = a; /* the state is plain data: persisting it resumes exactly */
  double x1 = rs_rng_normal(&a), x2 = rs_rng_uniform(&a);
  ck_assert(rs_rng_normal(&saved) == x1);
  ck_assert(rs_rng_uniform(&saved) == x2);
}
END_TEST

/* The batched normals are the one-at-a-time ones: values, and the whole state
 * afterwards (it is persisted by value), at any length and from a stream part
 * way into a block. Counter 0 starts just below 2^32 to cross the carry. */
START_TEST(batched_normals_match) {
  for (int start = 0; start < 3; start++)
    for (size_t n = 0; n <= 37; n += (n < 10 ? 1 : 9)) {
      rs_rng a, b;
      rs_rng_init(&a, 0x1234567890abcdefULL, RS_STREAM_NOISE, 7);
      a.ctr[0] = 0xfffffffcu;
      if (start == 1) rs_rng_u32(&a);               /* one word into a block */
      if (start == 2) (void)rs_rng_normal(&a);      /* at a block boundary, buf full */
      b = a;
      double one[40], many[40];
      for (size_t i = 0; i < n; i++) one[i] = rs_rng_normal(&a);
      rs_rng_normals(&b, n, many);
      for (size_t i = 0; i < n; i++)
        ck_assert_msg(one[i] == many[i], "start %d n %zu i %zu: %.17g != %.17g", start, n, i,
                      one[i], many[i]);
      ck_assert_msg(memcmp(&a, &b, sizeof a) == 0, "start %d n %zu: states differ", start, n);
    }
}
END_TEST

START_TEST(distributions) {
  rs_rng r;
  rs_rng_init(&r, 1, RS_STREAM_DATA, 0);
  const int n = 200000;
  double s = 0, s2 = 0, u = 0;
  for (int i = 0; i < n; i++) {
    double z = rs_rng_normal(&r);
    s += z;
    s2 += z * z;
    double v = rs_rng_uniform(&r);
    ck_assert(v >= 0.0 && v < 1.0);
    u += v;
  }
  ck_assert_double_le(fabs(s / n), 0.01);
  ck_assert_double_le(fabs(s2 / n - 1.0), 0.02);
  ck_assert_double_le(fabs(u / n - 0.5), 0.005);
  int64_t perm[50];
  int seen[50] = {0};
  rs_rng_permutation(&r, 50, perm);
  for (int i = 0; i < 50; i++) seen[perm[i]]++;
  for (int i = 0; i < 50; i++) ck_assert_int_eq(seen[i], 1);
  for (int i = 0; i < 1000; i++) ck_assert_uint_lt(rs_rng_below(&r, 7), 7);
}
END_TEST

static int fails_in_check(int v) {
  RS_CHECK(v > 0, RS_EARG, "job.yaml: train.steps: expected a positive integer, got %d", v);
  return RS_OK;
}

static int cleans_up(int v, int *cleaned) {
  int rc = RS_OK;
  RS_TRY(rc, fails_in_check(v), done);
  rc = RS_OK;
done:
  *cleaned = 1;
  return rc;
}

static void *thread_fails(void *arg) {
  rs_error_saved *saved = arg;
  rs_error(RS_ELAPACK, "thread: dgesdd failed (info 3)");
  rs_error_save(saved);
  return NULL;
}

START_TEST(error_idiom) {
  int cleaned = 0;
  rs_error_clear();
  ck_assert_int_eq(cleans_up(5, &cleaned), RS_OK);
  ck_assert_int_eq(cleaned, 1);
  cleaned = 0;
  ck_assert_int_eq(cleans_up(-2, &cleaned), RS_EARG);
  ck_assert_int_eq(cleaned, 1);
  ck_assert_str_eq(rs_error_message(), "job.yaml: train.steps: expected a positive integer, got -2");
  /* Another thread's failure leaves this thread's message alone, and reaches
   * it only through save/restore. */
  rs_error_saved saved;
  pthread_t th;
  ck_assert_int_eq(pthread_create(&th, NULL, thread_fails, &saved), 0);
  pthread_join(th, NULL);
  ck_assert_str_eq(rs_error_message(), "job.yaml: train.steps: expected a positive integer, got -2");
  ck_assert_int_eq(rs_error_restore(&saved, RS_ELAPACK), RS_ELAPACK);
  ck_assert_str_eq(rs_error_message(), "thread: dgesdd failed (info 3)");
  rs__error_mpi("MPI_Allreduce(a, b, 1, MPI_INT, MPI_MIN, comm)", "MPI_ERR_COMM: invalid communicator");
  ck_assert_str_eq(rs_error_message(), "MPI_Allreduce failed: MPI_ERR_COMM: invalid communicator");
  /* The one error -> exit code table. */
  ck_assert_int_eq(rs_exit_code(RS_OK), 0);
  ck_assert_int_eq(rs_exit_code(RS_EARG), 2);
  ck_assert_int_eq(rs_exit_code(RS_EINTERRUPTED), 3);
  ck_assert_int_eq(rs_exit_code(RS_EJOB), 1);
  ck_assert_int_eq(rs_exit_code(RS_EMPI), 1);
  ck_assert_int_eq(rs_exit_code(RS_EHDF5), 1);
}
END_TEST

START_TEST(error_table) {
  ck_assert_str_eq(rs_err_name(RS_EJOB), "RS_EJOB");
  ck_assert_str_eq(rs_strerror(RS_ENOMEM), "out of memory");
  ck_assert_int_eq(rs_error(RS_EDATA, "file %s: bad magic", "x.idx"), RS_EDATA);
  ck_assert_str_eq(rs_error_message(), "file x.idx: bad magic");
  ck_assert_int_lt(RS_EJOB, 0);
}
END_TEST

int main(void) {
  Suite *s = suite_create("core");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, philox_known_answers);
  tcase_add_test(tc, streams_are_keyed);
  tcase_add_test(tc, state_copy_resumes);
  tcase_add_test(tc, distributions);
  tcase_add_test(tc, batched_normals_match);
  tcase_add_test(tc, error_table);
  tcase_add_test(tc, error_idiom);
  suite_add_tcase(s, tc);
  return rs_check_run(s);
}
