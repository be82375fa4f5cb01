/* `ranksweep show` (show.c): an archive's tables, read through the
 * archive's serial API. */
#ifndef RS_CLI_SHOW_H
#define RS_CLI_SHOW_H

#include <stdbool.h>
#include <stdio.h>

typedef struct {
  int run;      /* -1: every run; otherwise this run only */
  bool csv;     /* machine-readable: one header line, one row per run x layer x eps */
  double eps;   /* NAN: every eps of the archive; otherwise only this one (error if absent) */
  int layer;    /* -1: every layer; otherwise this hidden layer (1-based) */
} rs_show_opts;
void rs_show_opts_default(rs_show_opts *o);
/* Prints the archive at path to out: the header and run table (every run),
 * one run's curve (o->run), or CSV rows. Serial; RS_EARG for a run, layer or
 * eps the archive does not have. */
int rs_show(const char *path, const rs_show_opts *o, FILE *out);

#endif
