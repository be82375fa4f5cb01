/* SHA-256 (FIPS 180-4, src/job/sha256.c): the fingerprint of a job's text and
 * of each run's resolved configuration, and the checksum of its data files.
 * Internal: the job module and the engine (the archive's description). */
#ifndef RS_JOB_SHA256_H
#define RS_JOB_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  uint32_t h[8];
  uint64_t nbytes;
  unsigned char buf[64];
  size_t nbuf;
} rs__sha256;
void rs__sha256_init(rs__sha256 *s);
void rs__sha256_update(rs__sha256 *s, const void *data, size_t len);
void rs__sha256_final(rs__sha256 *s, unsigned char out[32]);
/* out receives 64 lowercase hex digits and a NUL. */
void rs__sha256_hex(const void *data, size_t len, char out[65]);

/* The same, for the engine: of len bytes, and of a whole file (RS_EIO naming
 * the file when it cannot be read). */
void rs_sha256_hex(const void *data, size_t len, char out[65]);
int rs_sha256_file(const char *path, char out[65]);

#endif
