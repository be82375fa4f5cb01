/* libFuzzer target: NumPy .npy files (header dictionary, dtype, shape,
 * versions 1-3, truncation) through the reader the sweep uses, then the
 * input statistics every normalisation reads, so every value the reader
 * claims is touched. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "data_internal.h"
#include "ranksweep/rs_data.h"
#include "ranksweep/rs_error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static char path[64];
  if (!path[0]) snprintf(path, sizeof path, "/tmp/rs-fuzz-npy-%ld", (long)getpid());
  FILE *f = fopen(path, "wb");
  if (!f) abort();
  if (size && fwrite(data, 1, size, f) != size) abort();
  fclose(f);
  /* the cache keys on path, inode, size and mtime: two inputs of one size
   * written within the clock's resolution would look alike */
  rs_data_cache_clear();
  rs__idx_buf *b = NULL;
  if (rs__npy_get(path, &b) == RS_OK) {
    volatile unsigned sum = 0;
    size_t nbytes = (size_t)b->n * (size_t)b->itemsize * (size_t)b->elemsize;
    for (size_t i = 0; i < nbytes; i++) sum += b->bytes[i];
    (void)sum;
    (void)rs__data_stats(path, b);
    rs__idx_put(&b);
  }
  rs_data_cache_clear();
  rs_error_clear();
  return 0;
}
