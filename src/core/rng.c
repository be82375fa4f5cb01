/* Philox4x32-10 and the draws built on it. Counters, not state transitions,
 * so any stream position is reachable without replaying the stream. */
#include "ranksweep/rs_rng.h"

#include <math.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

void rs_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2],
                      uint32_t out[4]) {
  uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
  uint32_t k0 = key[0], k1 = key[1];
  for (int round = 0; round < 10; round++) {
    uint64_t p0 = (uint64_t)PHILOX_M0 * c0;
    uint64_t p1 = (uint64_t)PHILOX_M1 * c2;
    uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
    uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 += PHILOX_W0;
    k1 += PHILOX_W1;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

void rs_rng_init(rs_rng *r, uint64_t seed, rs_stream purpose, uint32_t index) {
  r->key[0] = (uint32_t)seed;
  r->key[1] = (uint32_t)(seed >> 32);
  r->ctr[0] = 0;
  r->ctr[1] = 0;
  r->ctr[2] = index;
  r->ctr[3] = (uint32_t)purpose;
  r->used = 4;
}

uint32_t rs_rng_u32(rs_rng *r) {
  if (r->used >= 4) {
    rs_philox4x32_10(r->ctr, r->key, r->buf);
    if (++r->ctr[0] == 0) r->ctr[1]++;
    r->used = 0;
  }
  return r->buf[r->used++];
}

uint64_t rs_rng_u64(rs_rng *r) {
  uint64_t hi = rs_rng_u32(r);
  return (hi << 32) | rs_rng_u32(r);
}

double rs_rng_uniform(rs_rng *r) {
  return (double)(rs_rng_u64(r) >> 11) * 0x1.0p-53;
}

double rs_rng_normal(rs_rng *r) {
  /* 1 - u lies in (0,1], so the log is finite. */
  double u1 = 1.0 - rs_rng_uniform(r);
  double u2 = rs_rng_uniform(r);
  return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

/* Philox blocks for 8 consecutive counters at once (out[word][block]), bit for
 * bit rs_philox4x32_10 of each counter. The 32 x 32 -> 64-bit products do not
 * vectorise from plain C, so an AVX2 version does them lane-wise with
 * even/odd multiplies; other CPUs run the scalar block 8 times. */
static void rs__philox8_scalar(uint64_t pos, uint32_t c2, uint32_t c3, const uint32_t key[2],
                               uint32_t out[4][8]) {
  for (int j = 0; j < 8; j++) {
    uint64_t p = pos + (uint64_t)j;
    uint32_t ctr[4] = {(uint32_t)p, (uint32_t)(p >> 32), c2, c3}, b[4];
    rs_philox4x32_10(ctr, key, b);
    for (int q = 0; q < 4; q++) out[q][j] = b[q];
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define RS__PHILOX_AVX2 1
__attribute__((target("avx2"))) static void rs__philox8_avx2(uint64_t pos, uint32_t c2in,
                                                             uint32_t c3in,
                                                             const uint32_t key[2],
                                                             uint32_t out[4][8]) {
  uint32_t lo[8], hi[8];
  for (int j = 0; j < 8; j++) {
    uint64_t p = pos + (uint64_t)j;
    lo[j] = (uint32_t)p;
    hi[j] = (uint32_t)(p >> 32);
  }
  __m256i c0 = _mm256_loadu_si256((const __m256i *)lo);
  __m256i c1 = _mm256_loadu_si256((const __m256i *)hi);
  __m256i c2 = _mm256_set1_epi32((int)c2in), c3 = _mm256_set1_epi32((int)c3in);
  const __m256i m0 = _mm256_set1_epi64x(PHILOX_M0), m1 = _mm256_set1_epi64x(PHILOX_M1);
  uint32_t k0 = key[0], k1 = key[1];
  for (int round = 0; round < 10; round++) {
    /* Even lanes' products in place, odd lanes' from the shifted words. */
    __m256i pe0 = _mm256_mul_epu32(c0, m0), po0 = _mm256_mul_epu32(_mm256_srli_epi64(c0, 32), m0);
    __m256i pe1 = _mm256_mul_epu32(c2, m1), po1 = _mm256_mul_epu32(_mm256_srli_epi64(c2, 32), m1);
    __m256i hi0 = _mm256_blend_epi32(_mm256_srli_epi64(pe0, 32), po0, 0xAA);
    __m256i lo0 = _mm256_blend_epi32(pe0, _mm256_slli_epi64(po0, 32), 0xAA);
    __m256i hi1 = _mm256_blend_epi32(_mm256_srli_epi64(pe1, 32), po1, 0xAA);
    __m256i lo1 = _mm256_blend_epi32(pe1, _mm256_slli_epi64(po1, 32), 0xAA);
    c0 = _mm256_xor_si256(_mm256_xor_si256(hi1, c1), _mm256_set1_epi32((int)k0));
    c1 = lo1;
    c2 = _mm256_xor_si256(_mm256_xor_si256(hi0, c3), _mm256_set1_epi32((int)k1));
    c3 = lo0;
    k0 += PHILOX_W0;
    k1 += PHILOX_W1;
  }
  _mm256_storeu_si256((__m256i *)out[0], c0);
  _mm256_storeu_si256((__m256i *)out[1], c1);
  _mm256_storeu_si256((__m256i *)out[2], c2);
  _mm256_storeu_si256((__m256i *)out[3], c3);
}
#endif

static void rs__philox8(uint64_t pos, uint32_t c2, uint32_t c3, const uint32_t key[2],
                        uint32_t out[4][8]) {
#ifdef RS__PHILOX_AVX2
  if (__builtin_cpu_supports("avx2")) {
    rs__philox8_avx2(pos, c2, c3, key, out);
    return;
  }
#endif
  rs__philox8_scalar(pos, c2, c3, key, out);
}

/* out[j] = sqrt(-2 lg[j]) * cs[j], j < m <= 8; lg <= 0, so the root is of
 * a value >= 0 (or -0.0) and IEEE-exact in either form. */
static void rs__box_muller8_scalar(const double *lg, const double *cs, double *out, size_t m) {
  for (size_t j = 0; j < m; j++) out[j] = sqrt(-2.0 * lg[j]) * cs[j];
}

#ifdef RS__PHILOX_AVX2
__attribute__((target("avx2"))) static void rs__box_muller8_avx2(const double *lg,
                                                                 const double *cs, double *out,
                                                                 size_t m) {
  if (m < 8) {
    rs__box_muller8_scalar(lg, cs, out, m);
    return;
  }
  const __m256d m2 = _mm256_set1_pd(-2.0);
  for (int h = 0; h < 8; h += 4) {
    __m256d r = _mm256_sqrt_pd(_mm256_mul_pd(m2, _mm256_loadu_pd(lg + h)));
    _mm256_storeu_pd(out + h, _mm256_mul_pd(r, _mm256_loadu_pd(cs + h)));
  }
}
#endif

static void rs__box_muller8(const double *lg, const double *cs, double *out, size_t m) {
#ifdef RS__PHILOX_AVX2
  if (__builtin_cpu_supports("avx2")) {
    rs__box_muller8_avx2(lg, cs, out, m);
    return;
  }
#endif
  rs__box_muller8_scalar(lg, cs, out, m);
}

void rs_rng_normals(rs_rng *r, size_t n, double *out) {
  size_t i = 0;
  /* A stream part-way into a block pairs its words across blocks: draw those
   * one at a time (nothing in the project does, but the result must match). */
  if (r->used != 4) {
    for (; i < n; i++) out[i] = rs_rng_normal(r);
    return;
  }
  /* At a block boundary each normal is exactly one block: (w0, w1) give u1,
   * (w2, w3) give u2, as in rs_rng_normal; the same libm calls round alike. */
  uint32_t w[4][8];
  while (i < n) {
    uint64_t pos = (uint64_t)r->ctr[0] | (uint64_t)r->ctr[1] << 32;
    rs__philox8(pos, r->ctr[2], r->ctr[3], r->key, w);
    size_t m = n - i < 8 ? n - i : 8;
    /* The libm calls one value at a time, then the square roots and the
     * products over all 8 values in vector lanes: the same IEEE operations
     * in the same order, so the same bits, without a square root's latency
     * between consecutive calls. */
    double lg[8], cs[8];
    for (size_t j = 0; j < m; j++) {
      uint64_t a = (uint64_t)w[0][j] << 32 | w[1][j], b = (uint64_t)w[2][j] << 32 | w[3][j];
      double u1 = 1.0 - (double)(a >> 11) * 0x1.0p-53;
      double u2 = (double)(b >> 11) * 0x1.0p-53;
      lg[j] = log(u1);
      cs[j] = cos(2.0 * M_PI * u2);
    }
    rs__box_muller8(lg, cs, out + i, m);
    /* The state a caller may persist: the last block in buf, as after the calls. */
    for (int q = 0; q < 4; q++) r->buf[q] = w[q][m - 1];
    pos += m;
    r->ctr[0] = (uint32_t)pos;
    r->ctr[1] = (uint32_t)(pos >> 32);
    i += m;
  }
}

uint64_t rs_rng_below(rs_rng *r, uint64_t n) {
  /* Rejection keeps the draw exactly uniform. */
  uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t v;
  do {
    v = rs_rng_u64(r);
  } while (v >= limit);
  return v % n;
}

void rs_rng_permutation(rs_rng *r, int64_t n, int64_t *perm) {
  for (int64_t i = 0; i < n; i++) perm[i] = i;
  for (int64_t i = n - 1; i > 0; i--) {
    int64_t j = (int64_t)rs_rng_below(r, (uint64_t)i + 1);
    int64_t t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
}
