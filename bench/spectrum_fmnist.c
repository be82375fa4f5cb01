/* Timing of the distributed representation spectrum at full-data scale: H =
 * relu(X W^T + b) for the 60000 Fashion-MNIST training images through one
 * random hidden layer, each rank computing only its own rows, then column
 * centring and pdgesvd. Prints fill / centre / SVD times and memory per rank.
 * usage: mpirun -np 2 spectrum_fmnist [--widths 200,1024] [--threads T]
 *        [--nb 64] [--grid RxC] [--rows M] [--no-reduce] [--check] [--images FILE]
 * --no-reduce: plain pdgesvd on H (no QR first); --check: compare with a
 * serial dgesdd of the gathered H on rank 0. */
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "ranksweep/rs_data.h"
#include "ranksweep/rs_error.h"
#include "ranksweep/rs_ib.h"
#include "ranksweep/rs_rng.h"
#include "ranksweep/rs_spectrum.h"

void openblas_set_num_threads(int n);
char *openblas_get_config(void);

typedef struct {
  const unsigned char *pixels; /* n x d, all images (each rank reads the file) */
  int d, width;
  const double *w; /* width x d, row-major */
  const double *b;
  double *x; /* scratch: nb x d */
} layer_ctx;

/* Rows of H: normalised pixels through the layer, for one row block. */
static int layer_rows(void *vctx, int row0, int nrows, double *out) {
  layer_ctx *c = vctx;
  for (int i = 0; i < nrows; i++)
    for (int k = 0; k < c->d; k++)
      c->x[(size_t)i * c->d + k] =
          (c->pixels[(size_t)(row0 + i) * c->d + k] / 255.0 - 0.1307) / 0.3081;
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nrows, c->width, c->d, 1.0, c->x, c->d,
              c->w, c->d, 0.0, out, c->width);
  for (int i = 0; i < nrows; i++)
    for (int j = 0; j < c->width; j++) {
      double v = out[(size_t)i * c->width + j] + c->b[j];
      out[(size_t)i * c->width + j] = v > 0.0 ? v : 0.0;
    }
  return RS_OK;
}

static double max_over_ranks(double v) {
  MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return v;
}

static void die(int rank, int err) {
  if (rank == 0) rs_error_print(err);
  MPI_Abort(MPI_COMM_WORLD, 1);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  const char *images = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz";
  int widths[8] = {200, 1024}, nwidths = 2, threads = 1, nb = 0, nprow = 0, npcol = 0,
      check = 0, svd_flags = 0;
  long rows_limit = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--widths") && i + 1 < argc) {
      nwidths = 0;
      for (char *t = strtok(argv[++i], ","); t && nwidths < 8; t = strtok(NULL, ","))
        widths[nwidths++] = atoi(t);
    } else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
      threads = atoi(argv[++i]);
    } else if (!strcmp(argv[i], "--nb") && i + 1 < argc) {
      nb = atoi(argv[++i]);
    } else if (!strcmp(argv[i], "--grid") && i + 1 < argc) {
      if (sscanf(argv[++i], "%dx%d", &nprow, &npcol) != 2) nprow = npcol = -1;
    } else if (!strcmp(argv[i], "--rows") && i + 1 < argc) {
      rows_limit = atol(argv[++i]);
    } else if (!strcmp(argv[i], "--images") && i + 1 < argc) {
      images = argv[++i];
    } else if (!strcmp(argv[i], "--no-reduce")) {
      svd_flags = RS_PDSVD_NO_REDUCE;
    } else if (!strcmp(argv[i], "--check")) {
      check = 1;
    } else {
      if (rank == 0)
        fprintf(stderr, "usage: spectrum_fmnist [--widths W1,W2] [--threads T] [--nb NB] "
                        "[--grid RxC] [--rows M] [--no-reduce] [--check] [--images FILE]\n");
      MPI_Finalize();
      return 2;
    }
  }
  openblas_set_num_threads(threads);
  char host[256] = "?";
  gethostname(host, sizeof host);

  double t0 = MPI_Wtime();
  int64_t n, itemsize;
  unsigned char *pixels = NULL;
  int err = rs_idx_read(images, 3, &n, &itemsize, &pixels);
  if (err != RS_OK) die(rank, err);
  int m = (int)(rows_limit > 0 && rows_limit < n ? rows_limit : n), d = (int)itemsize;
  double t_read = max_over_ranks(MPI_Wtime() - t0);

  rs_pgrid *g = NULL;
  if ((err = rs_pgrid_create(MPI_COMM_WORLD, nprow, npcol, &g)) != RS_OK) die(rank, err);
  rs_pgrid_info(g, &nprow, &npcol, NULL, NULL);
  if (rank == 0) {
    printf("# spectrum_fmnist: %s, %d ranks, grid %dx%d, block %d, OpenBLAS threads %d per "
           "rank, %s\n", host, size, nprow, npcol, nb ? nb : RS_SPECTRUM_BLOCK, threads,
           svd_flags ? "plain pdgesvd" : "QR then pdgesvd when tall");
    printf("# OpenBLAS: %s; OPENBLAS_CORETYPE=%s\n", openblas_get_config(),
           getenv("OPENBLAS_CORETYPE") ? getenv("OPENBLAS_CORETYPE") : "(unset)");
    printf("# images: %s, %d x %d, read %.2f s (every rank reads the file)\n", images, m, d,
           t_read);
    printf("%6s %8s %8s %8s %8s %9s %10s %8s %8s %8s\n", "width", "fill_s", "centre_s",
           "svd_s", "H_MB/rk", "peakRSS", "s_max", "fr@0.01", "effrank", "I(s=.1)");
  }

  for (int wi = 0; wi < nwidths; wi++) {
    int width = widths[wi];
    double *w = malloc((size_t)width * d * sizeof *w), *b = calloc((size_t)width, sizeof *b);
    rs_rng r;
    rs_rng_init(&r, 0, RS_STREAM_INIT, (uint32_t)width); /* same layer whatever the list */
    for (size_t k = 0; k < (size_t)width * d; k++) w[k] = rs_rng_normal(&r) / sqrt((double)d);
    layer_ctx c = {.pixels = pixels, .d = d, .width = width, .w = w, .b = b};
    c.x = malloc((size_t)(nb ? nb : RS_SPECTRUM_BLOCK) * d * sizeof *c.x);

    rs_pmat *h = NULL;
    if ((err = rs_pmat_create(g, m, width, nb, &h)) != RS_OK) die(rank, err);
    MPI_Barrier(MPI_COMM_WORLD);
    double t1 = MPI_Wtime();
    if ((err = rs_pmat_fill_rows(h, layer_rows, &c)) != RS_OK) die(rank, err);
    double t_fill = max_over_ranks(MPI_Wtime() - t1);
    double *ref = NULL;
    if (check) { /* the same H gathered, for a serial dgesdd comparison */
      ref = malloc((size_t)m * width * sizeof *ref);
      rs_pmat_gather(h, ref);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    t1 = MPI_Wtime();
    if ((err = rs_pmat_center_columns(h, NULL)) != RS_OK) die(rank, err);
    double t_centre = max_over_ranks(MPI_Wtime() - t1);
    int k = m < width ? m : width;
    double *s = malloc((size_t)k * sizeof *s);
    MPI_Barrier(MPI_COMM_WORLD);
    t1 = MPI_Wtime();
    if ((err = rs_pdsvd_values_opt(h, s, svd_flags)) != RS_OK) die(rank, err);
    double t_svd = max_over_ranks(MPI_Wtime() - t1);
    double hmb = max_over_ranks((double)rs_pmat_local_bytes(h) / 1048576.0);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double rss = max_over_ranks(ru.ru_maxrss / 1024.0);
    if (rank == 0)
      printf("%6d %8.2f %8.3f %8.2f %8.1f %9.1f %10.4g %8d %8.2f %8.3f\n", width, t_fill,
             t_centre, t_svd, hmb, rss, s[0], rs_ib_feature_rank(s, k, m, 0.01),
             rs_ib_effective_rank(s, k), rs_ib_gauss_channel(s, k, m, 0.1));
    if (check && rank == 0) {
      double *mu = calloc((size_t)width, sizeof *mu), *sref = malloc((size_t)k * sizeof *sref);
      for (int i = 0; i < m; i++)
        for (int j = 0; j < width; j++) mu[j] += ref[(size_t)i * width + j];
      for (int i = 0; i < m; i++)
        for (int j = 0; j < width; j++) ref[(size_t)i * width + j] -= mu[j] / m;
      double t2 = MPI_Wtime();
      LAPACKE_dgesdd(LAPACK_ROW_MAJOR, 'N', m, width, ref, width, sref, NULL, m, NULL, width);
      double t_ser = MPI_Wtime() - t2, diff = 0;
      for (int i = 0; i < k; i++) diff = fmax(diff, fabs(s[i] - sref[i]));
      printf("# width %d: serial dgesdd on rank 0 %.2f s; max |s - s_dgesdd| / s_max = %.3g\n",
             width, t_ser, diff / sref[0]);
      free(mu);
      free(sref);
    }
    free(ref);
    free(s);
    rs_pmat_destroy(&h);
    free(w);
    free(b);
    free(c.x);
  }
  rs_pgrid_destroy(&g);
  free(pixels);
  MPI_Finalize();
  return 0;
}
