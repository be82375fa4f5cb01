/* The representation-spectrum pass over an archive's weight snapshots
 * (`ranksweep spectrum`, or the last phase of `run` with measure.spectrum). */
#ifndef RS_SPECTRUM_PASS_H
#define RS_SPECTRUM_PASS_H

#include <mpi.h>
#include <stdbool.h>

#include "ranksweep/rs_spectrum.h"

typedef enum {
  RS_SPECTRUM_POINTS_TRAIN, /* the run's training set */
  RS_SPECTRUM_POINTS_EVAL,  /* the run's local-rank evaluation points */
  RS_SPECTRUM_POINTS_COUNT  /* a draw of `count` training points from the data source */
} rs_spectrum_points;

typedef struct {
  rs_spectrum_points points;
  int count;           /* with RS_SPECTRUM_POINTS_COUNT */
  rs_repr_kind repr;   /* post-activation (default) or pre-activation */
  bool final_only;     /* only the final weights (default); else every stored snapshot */
  int nruns;           /* 0: every finished run */
  const int *runs;
  int nckpts;          /* 0: every selected snapshot */
  const int *ckpts;
  bool quiet;
} rs_spectrum_opts;

void rs_spectrum_opts_default(rs_spectrum_opts *o);
/* Collective over comm: every rank opens the archive (MPI-IO), the /spectrum
 * datasets are created once, each (run, checkpoint, layer) spectrum is
 * computed on a BLACS grid of all ranks and written by rank 0, mask last. */
int rs_spectrum_pass(MPI_Comm comm, const char *archive, const rs_spectrum_opts *o);

#endif
