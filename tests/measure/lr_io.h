/* Export of a network, its evaluation points and ranksweep's local-rank
 * results as raw little-endian files plus a text manifest (docs/numerics.md, "Measurement"),
 * read by the PyTorch cross-check and the benchmark script. */
#ifndef LR_IO_H
#define LR_IO_H

#include "ranksweep/rs_measure.h"

int lr_export(const char *dir, const rs_netview *net, const double *x, int npoints,
              const rs_lr_points *res, const char *label);
const char *lr_act_name(rs_activation a);

#endif
