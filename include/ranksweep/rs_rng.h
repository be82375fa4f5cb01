/* Counter-based random numbers (Philox4x32-10, Salmon et al. 2011). A stream
 * is keyed by (seed, purpose, index): its numbers depend only on that key and
 * on how many have been drawn, never on which process draws them. */
#ifndef RS_RNG_H
#define RS_RNG_H

#include <stddef.h>
#include <stdint.h>

/* Purposes: each gets its own independent stream family. */
typedef enum {
  RS_STREAM_INIT = 1,    /* weight initialisation */
  RS_STREAM_DATA = 2,    /* synthetic data generation, subset choice */
  RS_STREAM_BATCH = 3,   /* minibatch order */
  RS_STREAM_EVAL = 4,    /* choice of the evaluation points */
  RS_STREAM_NOISE = 5,   /* stochastic layers (VIB reparameterisation) */
  RS_STREAM_TEACHER = 6, /* teacher network / task definition */
} rs_stream;

/* Plain struct so that training state can be persisted by value. */
typedef struct {
  uint32_t key[2];
  uint32_t ctr[4]; /* ctr[0..1]: block position; ctr[2]: index; ctr[3]: purpose */
  uint32_t buf[4];
  uint32_t used; /* words of buf already consumed (4 = empty) */
} rs_rng;

void rs_rng_init(rs_rng *r, uint64_t seed, rs_stream purpose, uint32_t index);
/* One Philox4x32-10 block: exposed for the known-answer test. */
void rs_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2],
                      uint32_t out[4]);
uint32_t rs_rng_u32(rs_rng *r);
uint64_t rs_rng_u64(rs_rng *r);
/* Uniform in [0,1) with 53 random bits. */
double rs_rng_uniform(rs_rng *r);
/* Standard normal (Box-Muller, one value per call, no cached state). */
double rs_rng_normal(rs_rng *r);
/* n standard normals, exactly the values and the stream position of n calls
 * of rs_rng_normal, with the Philox blocks computed eight at a time. */
void rs_rng_normals(rs_rng *r, size_t n, double *out);
/* Uniform integer in [0, n), unbiased. n > 0. */
uint64_t rs_rng_below(rs_rng *r, uint64_t n);
/* Fisher-Yates permutation of 0..n-1 into perm. */
void rs_rng_permutation(rs_rng *r, int64_t n, int64_t *perm);

#endif
