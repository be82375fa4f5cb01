/* Writes the networks, points and ranksweep local-rank results that the
 * PyTorch cross-check (tests/torch/test_localrank_vs_torch.py) recomputes
 * with functorch: one subdirectory per network, format in docs/numerics.md, "Measurement". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>

#include "lr_io.h"
#include "lr_nets.h"
#include "ranksweep/rs_error.h"

typedef struct {
  const char *name;
  int nlayers;
  int sizes[8];
  rs_activation act;
  lr_init init;
  double bias_std;
  int npoints;
} export_case;

static const export_case CASES[] = {
    {"relu-784-fanin", 5, {784, 200, 200, 200, 200, 10}, RS_ACT_RELU, LR_INIT_FANIN, 0.0, 64},
    {"relu-784-lowrank", 5, {784, 200, 200, 200, 200, 10}, RS_ACT_RELU, LR_INIT_LOWRANK, 0.05, 64},
    {"tanh-100-fanin", 4, {100, 120, 80, 60, 5}, RS_ACT_TANH, LR_INIT_FANIN, 0.1, 64},
    {"tanh-100-lowrank", 4, {100, 90, 90, 90, 5}, RS_ACT_TANH, LR_INIT_LOWRANK, 0.1, 64},
    {"gelu-60-bottleneck", 5, {60, 80, 20, 80, 40, 3}, RS_ACT_GELU, LR_INIT_FANIN, 0.1, 64},
};

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: lr_export OUTDIR\n");
    return 2;
  }
  const double eps[3] = {0.1, 0.01, 0.001};
  char dir[1024];
  snprintf(dir, sizeof dir, "%s", argv[1]);
  if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
    fprintf(stderr, "lr_export: %s: cannot create directory\n", dir);
    return 1;
  }
  for (size_t c = 0; c < sizeof CASES / sizeof CASES[0]; c++) {
    const export_case *k = &CASES[c];
    lr_net net;
    int L = k->nlayers - 1, N = k->npoints, rc;
    rc = lr_net_make(&net, k->nlayers, k->sizes, L, k->act, k->init, k->bias_std, 2024 + c);
    if (rc != RS_OK) {
      fprintf(stderr, "lr_export: cannot build %s\n", k->name);
      return 1;
    }
    double *x = malloc(sizeof(double) * (size_t)N * k->sizes[0]);
    lr_points(x, N, k->sizes[0], 7 + c);
    size_t nspec = 0;
    for (int l = 1; l <= L; l++) nspec += (size_t)N * rs_spectrum_len(&net.view, l);
    rs_lr_points out = {3, eps, malloc(sizeof(int32_t) * (size_t)L * N * 4),
                        malloc(sizeof(double) * nspec), malloc(sizeof(double) * (size_t)L * N),
                        malloc(sizeof(double) * (size_t)L * N)};
    rc = rs_localrank_points(&net.view, x, N, &out);
    char sub[1200];
    snprintf(sub, sizeof sub, "%s/%s", dir, k->name);
    if (rc == RS_OK) rc = lr_export(sub, &net.view, x, N, &out, k->name);
    if (rc != RS_OK) {
      rs_error_print(rc);
      return 1;
    }
    printf("%s\n", sub);
    free(x); free(out.counts); free(out.spectra); free(out.effrank); free(out.stablerank);
    lr_net_free(&net);
  }
  return 0;
}
