/* Build-time generator: writes a C file defining a byte array with a file's
 * exact contents (plus a terminating NUL) and its length, so a default job
 * can be compiled into the library without Python or objcopy.
 * Usage: embed INPUT OUTPUT.c SYMBOL */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s INPUT OUTPUT.c SYMBOL\n", argv[0]);
    return 2;
  }
  FILE *in = fopen(argv[1], "rb");
  if (!in) {
    perror(argv[1]);
    return 1;
  }
  /* never through a symlink planted at the output path */
  int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
  FILE *out = fd >= 0 ? fdopen(fd, "w") : NULL;
  if (!out) {
    perror(argv[2]);
    fclose(in);
    return 1;
  }
  fprintf(out, "/* Generated from %s by embed.c; do not edit. */\n#include <stddef.h>\n\n",
          argv[1]);
  fprintf(out, "const unsigned char %s_bytes[] = {", argv[3]);
  size_t n = 0;
  int c;
  while ((c = fgetc(in)) != EOF) {
    fprintf(out, "%s0x%02x,", n % 12 == 0 ? "\n  " : " ", (unsigned)c);
    n++;
  }
  fprintf(out, "%s0x00};\nconst size_t %s_len = %zu;\n", n % 12 == 0 ? "\n  " : " ", argv[3], n);
  int bad = ferror(in);
  fclose(in);
  if (fclose(out) != 0 || bad) {
    fprintf(stderr, "embed: I/O error\n");
    return 1;
  }
  return 0;
}
