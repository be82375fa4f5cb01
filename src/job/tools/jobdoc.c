/* Regenerates the key reference (docs/reference/keys.md) from the key table:
 *   rs-job-doc               print the table
 *   rs-job-doc --update FILE rewrite the part of FILE between the markers
 * tests/job checks that the committed file matches the table. */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ranksweep/rs_job.h"

#define BEGIN_MARK "<!-- BEGIN KEY TABLE"
#define END_MARK "<!-- END KEY TABLE -->"

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 1 << 16, n = 0;
  char *b = malloc(cap);
  while (b) {
    n += fread(b + n, 1, cap - n - 1, f);
    if (n < cap - 1) break;
    char *nb = realloc(b, cap *= 2);
    if (!nb) free(b);
    b = nb;
  }
  fclose(f);
  if (b) b[n] = '\0';
  return b;
}

int main(int argc, char **argv) {
  if (argc == 1) return rs_job_describe_keys(stdout) == 0 ? 0 : 1;
  if (argc != 3 || strcmp(argv[1], "--update") != 0) {
    fprintf(stderr, "usage: %s [--update docs/reference/keys.md]\n", argv[0]);
    return 2;
  }
  char *doc = slurp(argv[2]);
  if (!doc) {
    perror(argv[2]);
    return 1;
  }
  char *b = strstr(doc, BEGIN_MARK), *e = b ? strstr(b, END_MARK) : NULL;
  char *bl = b ? strchr(b, '\n') : NULL;
  if (!b || !e || !bl || bl > e) {
    fprintf(stderr, "%s: markers '%s ...-->' and '%s' not found\n", argv[2], BEGIN_MARK, END_MARK);
    free(doc);
    return 1;
  }
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp", argv[2]);
  /* created exclusively, never through a symlink; a leftover from a killed run is named */
  int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  FILE *out = fd >= 0 ? fdopen(fd, "w") : NULL;
  if (!out) {
    perror(tmp);
    free(doc);
    return 1;
  }
  fwrite(doc, 1, (size_t)(bl + 1 - doc), out);
  rs_job_describe_keys(out);
  fputs(e, out);
  free(doc);
  if (fclose(out) != 0 || rename(tmp, argv[2]) != 0) {
    perror(argv[2]);
    return 1;
  }
  return 0;
}
