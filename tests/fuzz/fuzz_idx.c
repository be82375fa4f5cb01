/* libFuzzer target: IDX files (raw or gzip), as images (3 dimensions) and as
 * labels (1), through the same reader the sweep uses. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "ranksweep/rs_data.h"
#include "ranksweep/rs_error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static char path[64];
  if (!path[0]) snprintf(path, sizeof path, "/tmp/rs-fuzz-idx-%ld", (long)getpid());
  FILE *f = fopen(path, "wb");
  if (!f) abort();
  if (size && fwrite(data, 1, size, f) != size) abort();
  fclose(f);
  for (int ndim = 1; ndim <= 3; ndim += 2) {
    int64_t n = 0, item = 0;
    unsigned char *bytes = NULL;
    if (rs_idx_read(path, ndim, &n, &item, &bytes) == RS_OK) {
      /* every byte the reader claims must be there */
      volatile unsigned sum = 0;
      for (int64_t i = 0; i < n * item; i++) sum += bytes[i];
      (void)sum;
      free(bytes);
    }
  }
  rs_error_clear();
  return 0;
}
