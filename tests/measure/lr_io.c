/* Writer of the local-rank export format (manifest.txt + raw files). */
#include "lr_io.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "ranksweep/rs_error.h"

const char *lr_act_name(rs_activation a) {
  switch (a) {
    case RS_ACT_RELU: return "relu";
    case RS_ACT_TANH: return "tanh";
    case RS_ACT_IDENTITY: return "identity";
    case RS_ACT_GELU: return "gelu";
  }
  return "?";
}

static int lr_write(const char *dir, const char *name, const void *p, size_t bytes) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  if (!f) return rs_error(RS_EIO, "%s: cannot create (%s)", path, strerror(errno));
  size_t w = bytes ? fwrite(p, 1, bytes, f) : 0;
  int bad = fclose(f) != 0 || w != bytes;
  return bad ? rs_error(RS_EIO, "%s: write failed", path) : RS_OK;
}

int lr_export(const char *dir, const rs_netview *net, const double *x, int npoints,
              const rs_lr_points *res, const char *label) {
  if (mkdir(dir, 0777) != 0 && errno != EEXIST)
    return rs_error(RS_EIO, "%s: cannot create directory (%s)", dir, strerror(errno));
  char path[1024], name[64];
  snprintf(path, sizeof path, "%s/manifest.txt", dir);
  FILE *m = fopen(path, "w");
  if (!m) return rs_error(RS_EIO, "%s: cannot create", path);
  int L = net->nmeasure, ne = res->neps;
  size_t nspec = 0;
  for (int l = 1; l <= L; l++) nspec += (size_t)npoints * rs_spectrum_len(net, l);
  fprintf(m, "format ranksweep-localrank-export 1\nlabel %s\nnlayers %d\nnmeasure %d\nsizes",
          label, net->nlayers, L);
  for (int l = 0; l <= net->nlayers; l++) fprintf(m, " %d", net->sizes[l]);
  fprintf(m, "\nactivation %s\nnpoints %d\nneps %d\neps", lr_act_name(net->act), npoints, ne);
  for (int e = 0; e < ne; e++) fprintf(m, " %.17g", res->eps[e]);
  fprintf(m, "\n");
  int rc = RS_OK;
  for (int l = 1; l <= net->nlayers && rc == RS_OK; l++) {
    snprintf(name, sizeof name, "W%d.f64", l);
    rc = lr_write(dir, name, net->W[l], sizeof(double) * (size_t)net->sizes[l] * net->sizes[l - 1]);
    fprintf(m, "file W%d %s f64 %d %d\n", l, name, net->sizes[l], net->sizes[l - 1]);
    snprintf(name, sizeof name, "b%d.f64", l);
    if (rc == RS_OK) rc = lr_write(dir, name, net->b[l], sizeof(double) * (size_t)net->sizes[l]);
    fprintf(m, "file b%d %s f64 %d\n", l, name, net->sizes[l]);
  }
  if (rc == RS_OK) rc = lr_write(dir, "x.f64", x, sizeof(double) * (size_t)npoints * net->sizes[0]);
  fprintf(m, "file x x.f64 f64 %d %d\n", npoints, net->sizes[0]);
  if (rc == RS_OK)
    rc = lr_write(dir, "counts.i32", res->counts, sizeof(int32_t) * (size_t)L * npoints * (ne + 1));
  fprintf(m, "file counts counts.i32 i32 %d %d %d\n", L, npoints, ne + 1);
  if (res->spectra) {
    if (rc == RS_OK) rc = lr_write(dir, "spectra.f64", res->spectra, sizeof(double) * nspec);
    fprintf(m, "file spectra spectra.f64 f64 %zu\n", nspec);
  }
  if (res->effrank) {
    if (rc == RS_OK) rc = lr_write(dir, "effrank.f64", res->effrank, sizeof(double) * (size_t)L * npoints);
    fprintf(m, "file effrank effrank.f64 f64 %d %d\n", L, npoints);
  }
  if (res->stablerank) {
    if (rc == RS_OK) rc = lr_write(dir, "stablerank.f64", res->stablerank, sizeof(double) * (size_t)L * npoints);
    fprintf(m, "file stablerank stablerank.f64 f64 %d %d\n", L, npoints);
  }
  if (fclose(m) != 0 && rc == RS_OK) rc = rs_error(RS_EIO, "%s: write failed", path);
  return rc;
}
