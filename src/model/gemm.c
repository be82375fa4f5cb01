/* Chooses the backend of each training product (train.gemm and the auto
 * rule), runs planned products, and names the backends for provenance. The
 * backends themselves live one per file (gemm_openblas.c, gemm_libxsmm.c). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ranksweep/rs_model.h"
#include "src/model/rs_gemm.h"

/* The auto rule. Measured on an AMD EPYC with AVX-512, one thread (bench_train
 * prints each product on both backends): libxsmm's kernels beat OpenBLAS
 * (either kernel) on every product of the paper's MLP and VIB steps (batch 64
 * against 10-1024 wide layers), most on the weight gradients; its advantage
 * fades once the product's operands leave the L2 cache, where OpenBLAS's
 * packing pays for itself. The bound below keeps every operand of a product
 * within about 4 MB. */
#define RS__GEMM_AUTO_MAX_ELEMS ((size_t)1 << 20)

bool rs__gemm_auto_wants(const rs__gemm_shape *s) {
  size_t a = (size_t)s->m * (size_t)s->k, b = (size_t)s->k * (size_t)s->n;
  size_t c = (size_t)s->m * (size_t)s->n;
  return a <= RS__GEMM_AUTO_MAX_ELEMS && b <= RS__GEMM_AUTO_MAX_ELEMS &&
         c <= RS__GEMM_AUTO_MAX_ELEMS;
}

void rs__gemm_plan(rs__gemm *p, rs_gemm_choice choice, rs__gemm_shape s) {
  memset(p, 0, sizeof *p);
  p->s = s;
  bool try_xsmm = rs__gemm_libxsmm != NULL &&
                  (choice == RS_GEMM_LIBXSMM || (choice == RS_GEMM_AUTO && rs__gemm_auto_wants(&s)));
  if (try_xsmm && rs__gemm_libxsmm->plan(p)) {
    p->be = rs__gemm_libxsmm;
    return;
  }
  (void)rs__gemm_openblas.plan(p);
  p->be = &rs__gemm_openblas;
}

static void rs__gemm_run_untimed(const rs__gemm *p, int m, int n, int k, const void *A,
                                 const void *B, void *C) {
  if (p->be && m == p->s.m && n == p->s.n && k == p->s.k) {
    p->be->run(p, A, B, C);
    return;
  }
  rs__gemm q = {.s = p->s, .be = &rs__gemm_openblas};
  q.s.m = m;
  q.s.n = n;
  q.s.k = k;
  rs__gemm_openblas.run(&q, A, B, C);
}

/* Wall time, not CPU time: a CPU clock is a system call of about 1.5 us on
 * the VMs we measured, 7% of an MNIST step at 28 reads; the monotonic clock is
 * read in user space. */
static bool rs__gemm_timing;
static double rs__gemm_secs, rs__gemm_flops;

static double rs__gemm_clock(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

void rs_gemm_time(bool on) { rs__gemm_timing = on; }

double rs_gemm_timed(double *flops) {
  if (flops) *flops = rs__gemm_flops;
  return rs__gemm_secs;
}

void rs__gemm_run(const rs__gemm *p, int m, int n, int k, const void *A, const void *B,
                  void *C) {
  if (!rs__gemm_timing) {
    rs__gemm_run_untimed(p, m, n, k, A, B, C);
    return;
  }
  double t0 = rs__gemm_clock();
  rs__gemm_run_untimed(p, m, n, k, A, B, C);
  rs__gemm_secs += rs__gemm_clock() - t0;
  rs__gemm_flops += 2.0 * m * n * k;
}

void rs__gemm_release(rs__gemm *p) {
  if (p->be) p->be->release(p);
  memset(p, 0, sizeof *p);
}

const char *rs__gemm_name(const rs__gemm *p) { return p->be ? p->be->name : "openblas"; }

void rs__gemm_describe(const rs__gemm *const *plans, int n, char *buf, size_t cap) {
  int nx = 0;
  for (int i = 0; i < n; i++) nx += plans[i]->be == rs__gemm_libxsmm && rs__gemm_libxsmm;
  if (nx == 0)
    snprintf(buf, cap, "openblas");
  else if (nx == n)
    snprintf(buf, cap, "libxsmm");
  else
    snprintf(buf, cap, "libxsmm %d of %d products, openblas %d", nx, n, n - nx);
}
