/* The floating-point and BLAS environment of the threads that train and
 * measure: flush-to-zero / denormals-are-zero (MXCSR) for the calling thread
 * and OpenBLAS's worker threads, and what OpenBLAS kernel runs on which CPU. */
#ifndef RS_FPENV_H
#define RS_FPENV_H

#include <stdbool.h>
#include <stddef.h>

/* Sets flush-to-zero and denormals-are-zero (on) or IEEE gradual underflow
 * (off) on the calling thread. When that changes its state, OpenBLAS's worker
 * pool is shut down so that it is re-created, from this thread, with the same
 * state at the next threaded BLAS call (a thread copies the MXCSR of its
 * creator only when it is created). Threads created later by the caller
 * inherit the state. x86-64 only; elsewhere `on` is refused with RS_EARG. */
int rs_fpenv_flush_denormals(bool on);
/* Whether the calling thread flushes (both MXCSR bits set). */
bool rs_fpenv_flushing(void);
/* The calling thread's floating-point state as read back from the CPU, for
 * provenance: "ftz=1 daz=1 round=nearest" (MXCSR's flush-to-zero and
 * denormals-are-zero bits and its rounding mode: nearest, down, up, zero);
 * "no MXCSR" where there is none. */
void rs_fpenv_describe(char *buf, size_t cap);

/* OpenBLAS's own controls, named only in src/core/fpenv.c: the threads of its
 * pool (openblas_set_num_threads, openblas_get_num_threads) and its build
 * configuration (openblas_get_config, "" when it has none), recorded in
 * provenance. */
void rs_blas_set_threads(int n);
int rs_blas_threads(void);
const char *rs_blas_config(void);
/* OpenBLAS's kernel name as it runs now (openblas_get_corename). */
const char *rs_blas_kernel(void);
/* The best x86 vector instruction set this CPU supports: "avx512", "avx2",
 * "avx", "sse4.2" or "sse2" (what OpenBLAS could use if it knew the CPU). */
const char *rs_cpu_best_isa(void);
/* The kernel that OPENBLAS_CORETYPE should name for that instruction set
 * ("SkylakeX", "Haswell", "Sandybridge"), or NULL when none is better. */
const char *rs_blas_suggested_kernel(void);
/* Whether OpenBLAS runs one of its generic (pre-AVX2) x86-64 kernels now. */
bool rs_blas_kernel_is_generic(void);
/* The value of OPENBLAS_CORETYPE when the environment sets it (the kernel
 * was forced, not OpenBLAS's own pick), else "". */
const char *rs_blas_kernel_forced(void);
/* Whether the kernel in force uses a smaller vector instruction set than the
 * CPU has (e.g. Haswell's AVX2 on an AVX-512 CPU). */
bool rs_blas_kernel_below_cpu(void);
/* When OpenBLAS runs a generic kernel although the CPU has AVX2 or AVX-512,
 * or the environment forces a kernel below the CPU's instruction set, writes
 * one warning line (kernel, CPU, cost, remedy) to buf and returns true. */
bool rs_blas_kernel_warning(char *buf, size_t cap);

#endif
