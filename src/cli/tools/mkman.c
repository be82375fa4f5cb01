/* Writes the ranksweep(1) manual page from the command table in help.c, the
 * same text as every --help: rs-cli-man VERSION OUT.1. The date is
 * SOURCE_DATE_EPOCH's when set (reproducible builds), else today's. */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "../cli.h"

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s VERSION OUT.1\n", argv[0]);
    return 2;
  }
  const char *epoch = getenv("SOURCE_DATE_EPOCH");
  time_t t = epoch ? (time_t)strtoll(epoch, NULL, 10) : time(NULL);
  char date[32];
  struct tm tm;
  strftime(date, sizeof date, "%Y-%m-%d", gmtime_r(&t, &tm));
  /* never through a symlink planted at the output path */
  int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
  FILE *out = fd >= 0 ? fdopen(fd, "w") : NULL;
  if (!out) {
    perror(argv[2]);
    return 1;
  }
  rs_cli_print_man(out, argv[1], date);
  if (fclose(out) != 0) {
    perror(argv[2]);
    return 1;
  }
  return 0;
}
