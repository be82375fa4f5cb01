/* libFuzzer target: opening an archive and showing it (every run, then run
 * 0 alone), the path every reader of a possibly damaged file takes. HDF5 is
 * not instrumented, but its crashes and its allocations still show. */
#include <mpi.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "ranksweep/rs_archive.h"
#include "ranksweep/rs_error.h"
#include "show.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  setenv("HDF5_USE_FILE_LOCKING", "FALSE", 1);
  int provided;
  MPI_Init_thread(NULL, NULL, MPI_THREAD_SINGLE, &provided);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static char path[64];
  static FILE *sink = NULL;
  if (!path[0]) snprintf(path, sizeof path, "/tmp/rs-fuzz-archive-%ld.h5", (long)getpid());
  if (!sink) sink = fopen("/dev/null", "w");
  FILE *f = fopen(path, "wb");
  if (!f) abort();
  if (size && fwrite(data, 1, size, f) != size) abort();
  fclose(f);
  rs_show_opts o;
  rs_show_opts_default(&o);
  (void)rs_show(path, &o, sink);
  o.run = 0;
  (void)rs_show(path, &o, sink);
  rs_archive_status st;
  (void)rs_archive_probe(path, &st);
  rs_error_clear();
  return 0;
}
