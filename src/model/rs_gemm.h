/* The training step's matrix products behind one narrow interface: a plan fixes
 * one product's shape, layout and precision once per run (at model set-up) and
 * runs it every step; the model's kernels never know which library does. A
 * backend is one file (gemm_openblas.c, gemm_libxsmm.c) filling rs__gemm_backend. */
#ifndef RS_GEMM_H
#define RS_GEMM_H

#include <stdbool.h>
#include <stddef.h>

#include "ranksweep/rs_config.h"

/* One product C = op(A) op(B), row-major as in CBLAS, alpha 1 and beta 0:
 * C is m x n, op(A) m x k, op(B) k x n; ta / tb transpose A / B. */
typedef struct {
  rs_precision prec;
  bool ta, tb;
  int m, n, k, lda, ldb, ldc;
} rs__gemm_shape;

typedef struct rs__gemm_backend rs__gemm_backend;

typedef struct {
  rs__gemm_shape s;
  const rs__gemm_backend *be; /* the backend that runs it (never NULL once planned) */
  void *kernel;               /* the backend's own: a generated kernel */
  void *scratch;              /* the backend's own: work space, freed by release */
} rs__gemm;

struct rs__gemm_backend {
  const char *name;
  /* Prepares p (p->s set) for this backend; false when it cannot run that
   * product (p is then left as it was). */
  bool (*plan)(rs__gemm *p);
  void (*run)(const rs__gemm *p, const void *A, const void *B, void *C);
  void (*release)(rs__gemm *p);
  /* Instruction set the backend's code runs with here (for provenance). */
  const char *(*target)(void);
};

extern const rs__gemm_backend rs__gemm_openblas;
/* NULL when the build has no libxsmm. */
extern const rs__gemm_backend *const rs__gemm_libxsmm;

/* Plans one product under train.gemm's choice: openblas always; libxsmm when
 * it can run the product, else OpenBLAS; auto: libxsmm when rs__gemm_auto_wants
 * and it can, else OpenBLAS. Depends on the shape and the choice only (never on
 * timings), so every rank and every resume plans the same backend. */
void rs__gemm_plan(rs__gemm *p, rs_gemm_choice choice, rs__gemm_shape s);
/* The auto rule (measured: see docs/numerics.md, "Matrix-product backends"). */
bool rs__gemm_auto_wants(const rs__gemm_shape *s);
/* Runs the planned product with C = op(A) op(B) of m x n x k; a call whose
 * (m, n, k) differs from the plan's (a short batch) goes to OpenBLAS with the
 * plan's layout. */
void rs__gemm_run(const rs__gemm *p, int m, int n, int k, const void *A, const void *B,
                  void *C);
void rs__gemm_release(rs__gemm *p);
/* Name of the backend that runs p, or "openblas" for an unplanned one. */
const char *rs__gemm_name(const rs__gemm *p);
/* Backend names for provenance: "libxsmm", "openblas", or "libxsmm+openblas"
 * (and how many of the products each) of a set of plans, into buf. */
void rs__gemm_describe(const rs__gemm *const *plans, int n, char *buf, size_t cap);

#endif
