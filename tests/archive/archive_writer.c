/* Writes the synthetic sweep of synth.h into an archive, for the h5py and
 * crash tests:  archive_writer full PATH | slow PATH PIDFILE | resume PATH
 * (slow: after creation, writes its cells slowly, then waits to be killed;
 * resume: reopens and, like the engine, writes only what the masks say is
 * missing, restarting from the newest saved state; then finalizes). */
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "synth.h"

static int rank, size;

#define CALL(expr)                                                           \
  do {                                                                       \
    int e_ = (expr);                                                         \
    if (e_ != RS_OK) {                                                       \
      fprintf(stderr, "archive_writer rank %d: %s failed\n", rank, #expr);   \
      rs_error_print(e_);                                                    \
      MPI_Abort(MPI_COMM_WORLD, 1);                                          \
    }                                                                        \
  } while (0)

/* One pass over this rank's cells; skips cells whose mask is set when masks
 * are given. Shards first, the run's closing writes last, as the engine. */
static void pass(rs_archive *a, const uint8_t *sm, const uint8_t *mm, const uint8_t *rm, int delay_us) {
  int k = 0;
  for (int r = 0; r < SYN_RUNS; r++) {
    for (int c = 0; c < syn_nckpt[r]; c++) {
      for (int s = 0; s < syn_nshards(r); s++)
        if (k++ % size == rank && !(sm && sm[(r * 5 + c) * 3 + s])) {
          CALL(syn_write_shard(a, r, c, s));
          if (delay_us) usleep((useconds_t)delay_us);
        }
      if (k++ % size == rank && !(mm && mm[r * 5 + c])) {
        CALL(syn_write_metrics(a, r, c));
        if (r == 1) CALL(syn_write_weights(a, r, c));
        if (delay_us) usleep((useconds_t)delay_us);
      }
    }
    if (k++ % size == rank && !(rm && rm[r])) {
      unsigned char blob[64];
      int64_t have = -1;
      if (rm) CALL(rs_archive_read_state(a, r, INT64_MAX, &have, blob, syn_state_size(r)));
      syn_blob(r, 30, blob);
      if (have < 30) CALL(rs_archive_write_state(a, r, 30, blob, syn_state_size(r)));
      if (delay_us) usleep((useconds_t)delay_us);
      syn_blob(r, 60, blob);
      if (have < 60) CALL(rs_archive_write_state(a, r, 60, blob, syn_state_size(r)));
      if (syn_save(r) != RS_SAVE_NONE) CALL(syn_write_weights(a, r, -1));
      CALL(rs_archive_write_run_done(a, r, r == 2, 100 + r));
    }
  }
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (argc < 3 || (strcmp(argv[1], "slow") == 0 && argc < 4)) {
    if (rank == 0) fprintf(stderr, "usage: archive_writer full PATH | slow PATH PIDFILE | resume PATH\n");
    MPI_Finalize();
    return 2;
  }
  rs_archive_run runs[SYN_RUNS];
  syn_runs(runs);
  syn_desc_t syn;
  const rs_archive_desc *desc = syn_desc(&syn, runs, false);
  rs_archive_info info = {size, 1, SYN_SHARD, false, NULL, NULL, NULL};
  rs_archive *a;
  if (strcmp(argv[1], "resume") == 0) {
    /* as `run --resume`: an archive killed during creation is started over */
    CALL(rs_archive_open_or_create(MPI_COMM_WORLD, argv[2], desc, &info, true, &a, NULL));
    uint8_t sm[SYN_RUNS * 5 * 3], mm[SYN_RUNS * 5], rm[SYN_RUNS];
    CALL(rs_archive_read_masks(a, sm, mm, rm));
    pass(a, sm, mm, rm, 0);
  } else {
    CALL(rs_archive_create(MPI_COMM_WORLD, argv[2], desc, &info, &a));
    if (strcmp(argv[1], "slow") == 0) {
      char pf[1024];
      snprintf(pf, sizeof pf, "%s.%d", argv[3], rank);
      FILE *f = fopen(pf, "w");
      if (!f) MPI_Abort(MPI_COMM_WORLD, 1);
      fprintf(f, "%d\n", (int)getpid());
      fclose(f);
      pass(a, NULL, NULL, NULL, 8000);
      for (;;) pause(); /* until SIGKILL */
    }
    pass(a, NULL, NULL, NULL, 0);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  CALL(rs_archive_finalize(a, true));
  CALL(rs_archive_close(&a));
  MPI_Finalize();
  return 0;
}
