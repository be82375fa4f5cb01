/* Owns the floating-point state of training and measuring threads (MXCSR
 * flush-to-zero / denormals-are-zero, including OpenBLAS's worker pool) and
 * the facts about OpenBLAS's run-time kernel against what the CPU supports. */
#include "ranksweep/rs_fpenv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cblas.h>

#include "ranksweep/rs_error.h"

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#define RS__HAVE_MXCSR 1
#define RS__MXCSR_FTZ_DAZ 0x8040u /* bit 15 flush-to-zero, bit 6 denormals-are-zero */
#endif

/* OpenBLAS (pthread build) exports this without declaring it in cblas.h. */
int blas_thread_shutdown_(void);

bool rs_fpenv_flushing(void) {
#ifdef RS__HAVE_MXCSR
  return (_mm_getcsr() & RS__MXCSR_FTZ_DAZ) == RS__MXCSR_FTZ_DAZ;
#else
  return false;
#endif
}

void rs_fpenv_describe(char *buf, size_t cap) {
#ifdef RS__HAVE_MXCSR
  static const char *const round[] = {"nearest", "down", "up", "zero"}; /* MXCSR bits 13-14 */
  unsigned csr = _mm_getcsr();
  snprintf(buf, cap, "ftz=%u daz=%u round=%s", (csr >> 15) & 1u, (csr >> 6) & 1u,
           round[(csr >> 13) & 3u]);
#else
  snprintf(buf, cap, "no MXCSR");
#endif
}

int rs_fpenv_flush_denormals(bool on) {
#ifdef RS__HAVE_MXCSR
  unsigned before = _mm_getcsr();
  unsigned after = on ? before | RS__MXCSR_FTZ_DAZ : before & ~RS__MXCSR_FTZ_DAZ;
  if (after == before) return RS_OK;
  _mm_setcsr(after);
  /* The pool's threads were created (by OpenBLAS's constructor, before main)
   * with the old state; a shut-down pool restarts lazily from this thread. */
  blas_thread_shutdown_();
  return RS_OK;
#else
  if (on) return rs_error(RS_EARG, "train.flush_denormals: only supported on x86-64; set it to false");
  return RS_OK;
#endif
}

void rs_blas_set_threads(int n) { openblas_set_num_threads(n); }

int rs_blas_threads(void) { return openblas_get_num_threads(); }

const char *rs_blas_config(void) {
  const char *c = openblas_get_config();
  return c ? c : "";
}

const char *rs_blas_kernel(void) {
  const char *k = openblas_get_corename();
  return k ? k : "unknown";
}

const char *rs_cpu_best_isa(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return "avx512";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "avx2";
  if (__builtin_cpu_supports("avx")) return "avx";
  if (__builtin_cpu_supports("sse4.2")) return "sse4.2";
  return "sse2";
#else
  return "unknown";
#endif
}

const char *rs_blas_suggested_kernel(void) {
  const char *isa = rs_cpu_best_isa();
  if (!strcmp(isa, "avx512")) return "SkylakeX";
  if (!strcmp(isa, "avx2")) return "Haswell";
  if (!strcmp(isa, "avx")) return "Sandybridge";
  return NULL;
}

/* OpenBLAS's x86-64 kernels older than AVX2: what it falls back to when its
 * run-time dispatch does not recognise a CPU. */
static bool rs__kernel_generic(const char *k) {
  static const char *const generic[] = {"Prescott", "Core2", "Penryn", "Dunnington", "Nehalem",
                                        "Atom", "Katmai", "Coppermine", "Northwood",
                                        "Banias", "Opteron", "Barcelona", "Bobcat", NULL};
  for (int i = 0; generic[i]; i++)
    if (!strcasecmp(k, generic[i])) return true;
  return false;
}

bool rs_blas_kernel_is_generic(void) { return rs__kernel_generic(rs_blas_kernel()); }

const char *rs_blas_kernel_forced(void) {
  const char *e = getenv("OPENBLAS_CORETYPE");
  return e && *e ? e : "";
}

/* The vector instruction set of an OpenBLAS x86-64 kernel, ranked like
 * rs_cpu_best_isa: 3 AVX-512, 2 AVX2, 1 AVX, 0 older or unknown. */
static int rs__kernel_isa_rank(const char *k) {
  static const char *const avx512[] = {"SkylakeX", "Cooperlake", "SapphireRapids", NULL};
  static const char *const avx2[] = {"Haswell", "Zen", "SkylakeX_AVX2", NULL};
  for (int i = 0; avx512[i]; i++)
    if (!strcasecmp(k, avx512[i])) return 3;
  for (int i = 0; avx2[i]; i++)
    if (!strcasecmp(k, avx2[i])) return 2;
  if (!strcasecmp(k, "Sandybridge") || !strcasecmp(k, "Bulldozer") || !strcasecmp(k, "Piledriver") ||
      !strcasecmp(k, "Steamroller") || !strcasecmp(k, "Excavator"))
    return 1;
  return 0;
}

static int rs__isa_rank(const char *isa) {
  if (!strcmp(isa, "avx512")) return 3;
  if (!strcmp(isa, "avx2")) return 2;
  if (!strcmp(isa, "avx")) return 1;
  return 0;
}

bool rs_blas_kernel_below_cpu(void) {
  int kr = rs__kernel_isa_rank(rs_blas_kernel());
  return kr > 0 && kr < rs__isa_rank(rs_cpu_best_isa());
}

bool rs_blas_kernel_warning(char *buf, size_t cap) {
  const char *k = rs_blas_kernel();
  const char *isa = rs_cpu_best_isa();
  const char *fix = rs_blas_suggested_kernel();
  const char *forced = rs_blas_kernel_forced();
  if (*forced && rs_blas_kernel_below_cpu()) {
    /* The site's choice stands (kernels misbehave on some CPUs); say what it
     * costs and what does not depend on it. */
    snprintf(buf, cap,
             "ranksweep: warning: OPENBLAS_CORETYPE=%s selects OpenBLAS's '%s' kernel although "
             "this CPU supports %s; measured on an AVX-512 EPYC, its single-thread sgemm on the "
             "training step's shapes runs at about half the speed of the AVX-512 kernel "
             "(bench_train). train.gemm: auto or libxsmm generates the training products for "
             "this CPU whatever the variable says",
             forced, k, isa);
    return true;
  }
  if (!fix || !rs__kernel_generic(k)) return false;
  snprintf(buf, cap,
           "ranksweep: warning: OpenBLAS runs its generic '%s' kernel although this CPU supports "
           "%s (OpenBLAS does not recognise it); training is about 3x slower (bench: "
           "bench/late-phase.sh). Fix: export OPENBLAS_CORETYPE=%s before mpirun/srun "
           "(results then differ in the last bits from runs with '%s')",
           k, isa, fix, k);
  return true;
}
